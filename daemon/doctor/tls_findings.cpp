// SPDX-License-Identifier: Apache-2.0
#include "doctor/tls_findings.hpp"

#include <openssl/x509_vfy.h>

#include <chrono>
#include <ctime>
#include <utility>

#include "tls/tls_explain.hpp"
#include "uplinkd/time_text.hpp"

namespace uplinkd::doctor {

namespace {

Finding finding(const char* id, CheckOutcome outcome, std::string found, std::string fix = {}) {
    return Finding{CheckLayer::Tls, id, outcome, std::move(found), std::move(fix)};
}

/// "2026-12-05" (the day of formatUtc).
std::string day(std::time_t t) {
    return formatUtc(t).substr(0, 10);
}

std::string chainText(const TlsProbe& p) {
    if (p.chain.empty()) {
        return "no certificate received";
    }
    std::string s;
    for (size_t i = 0; i < p.chain.size(); ++i) {
        s += (i == 0 ? "" : "; ") + std::string("[") + std::to_string(i) + "] " + p.chain[i];
    }
    return s;
}

std::string trustText(const TlsOptions& o) {
    return o.ca_file.empty() ? "the system's trusted CAs (no ca_file set)"
                             : "ca_file \"" + o.ca_file + "\"";
}

std::string alpnFix(const RouteUnderTest& r, const std::string& alpn) {
    return "set " + setting(r, "tls", "alpn") + " = [\"" + alpn +
           "\"] to keep this port (AWS IoT needs ALPN x-amzn-mqtt-ca on port 443), or set " +
           setting(r, "cloud", "port") + " = 8883, where no ALPN is needed";
}

Finding chainFailure(const RouteUnderTest& r, const TlsOptions& o, const TlsProbe& p) {
    const TlsFacts& f = p.facts;
    std::string found = explainVerifyError(f) + "; checked against " + trustText(o) +
                        "; chain as received: " + chainText(p);
    std::string fix;
    switch (f.verify_error) {
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            fix = "set " + hostSetting(r) + " to a name the broker's certificate holds, or " +
                  setting(r, "tls", "server_name") + " to that name";
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
        case X509_V_ERR_CERT_HAS_EXPIRED:
            fix =
                "set the gateway's clock right (NTP, e.g. `timedatectl set-ntp true`); if the "
                "clock is right, the broker's certificate is out of date";
            break;
        default:
            fix =
                "put the root CA of the broker's chain (the self-signed certificate at its top) "
                "in " +
                setting(r, "tls", "ca_file") +
                (o.ca_file.empty() ? "" : " (now \"" + o.ca_file + "\")");
            break;
    }
    return finding("tls.chain", CheckOutcome::Fail, found, fix);
}

Finding clientCertFailure(const RouteUnderTest& r, const TlsProbe& p, bool missing) {
    const std::string certs =
        setting(r, "tls", "cert_file") + " and " + setting(r, "tls", "key_file");
    std::string found = explainAlert(p.facts);
    if (p.cert_rejected_after_handshake) {
        found += "; the broker said so right after the handshake (TLS 1.3)";
    }
    if (missing) {
        return finding(
            "tls.client_cert", CheckOutcome::Fail, found,
            "set " + certs + " to the device certificate registered with the broker and its key");
    }
    return finding("tls.client_cert", CheckOutcome::Fail, found,
                   "set " + certs +
                       " to a certificate the broker trusts (issued by or registered with the "
                       "CA it knows, active) and its key");
}

}  // namespace

std::vector<Finding> handshakeFindings(const RouteUnderTest& r, const TlsOptions& o,
                                       const TlsProbe& p, const std::string& uplink) {
    std::vector<Finding> out;
    out.push_back(finding("tls.handshake", CheckOutcome::Ok,
                          p.version + " with " + p.cipher + " over " + uplink));

    std::string chain = "the chain as received: " + chainText(p) + "; it verifies against " +
                        trustText(o) + " for the name \"" + o.server_name + "\"";
    CheckOutcome chain_outcome = CheckOutcome::Ok;
    std::string chain_fix;
    if (p.leaf_validity) {
        const std::time_t now = std::chrono::system_clock::to_time_t(r.now);
        const auto [from, until] = *p.leaf_validity;
        chain += "; the broker's certificate is valid from " + day(from) + " to " + day(until);
        if (now < from || now > until) {
            chain_outcome = CheckOutcome::Warn;
            chain += ", and the doctor's clock (" + day(now) + ") is outside that";
            chain_fix = "set the gateway's clock right (NTP, e.g. `timedatectl set-ntp true`)";
        }
    }
    out.push_back(finding("tls.chain", chain_outcome, chain, chain_fix));

    out.push_back(finding("tls.sni", CheckOutcome::Ok,
                          p.facts.sni_sent
                              ? "sent the server name \"" + o.server_name + "\" (SNI)"
                              : "no server name sent (the host is an IP address); the broker did "
                                "not need one"));

    if (!p.alpn_selected.empty()) {
        out.push_back(finding(
            "tls.alpn", CheckOutcome::Ok,
            "offered " + p.facts.alpn_offered + "; the broker agreed \"" + p.alpn_selected + "\""));
    } else if (!p.facts.alpn_offered.empty()) {
        out.push_back(finding(
            "tls.alpn", CheckOutcome::Ok,
            "offered " + p.facts.alpn_offered + "; the broker agreed none (it does not use ALPN)"));
    } else {
        out.push_back(
            finding("tls.alpn", CheckOutcome::Ok, "none offered, and the broker needed none"));
    }

    const bool configured = !o.cert_file.empty();
    if (p.facts.cert_requested && configured) {
        out.push_back(finding(
            "tls.client_cert", CheckOutcome::Ok,
            "the broker asked for a client certificate and accepted \"" + o.cert_file + "\""));
    } else if (p.facts.cert_requested) {
        out.push_back(finding("tls.client_cert", CheckOutcome::Ok,
                              "the broker asked for a client certificate but goes on without "
                              "one (none configured)"));
    } else if (configured) {
        out.push_back(finding(
            "tls.client_cert", CheckOutcome::Warn,
            "a client certificate is configured (\"" + o.cert_file +
                "\") but the broker did not ask for one: it will not identify this device",
            "check " + hostSetting(r) + " (the broker that knows this certificate), or leave out " +
                setting(r, "tls", "cert_file") + " and key_file"));
    } else {
        out.push_back(
            finding("tls.client_cert", CheckOutcome::Ok, "not asked for, none configured"));
    }
    return out;
}

Finding failureFinding(const RouteUnderTest& r, const BrokerEndpoint& ep, const TlsOptions& o,
                       const TlsProbe& p) {
    const TlsFacts& f = p.facts;
    const std::string port = std::to_string(ep.port);
    if (f.verify_error != 0) {
        return chainFailure(r, o, p);
    }
    if (f.alert_received > 0) {
        switch (f.alert_received) {
            case 116:
                return clientCertFailure(r, p, !f.client_cert_configured);
            case 40:
                if (f.cert_requested) {
                    return clientCertFailure(r, p, !f.client_cert_configured);
                }
                break;
            case 42:
            case 43:
            case 44:
            case 45:
            case 46:
            case 48:
            case 49:
                return clientCertFailure(r, p, false);
            case 120:
                return finding("tls.alpn", CheckOutcome::Fail, explainAlert(f),
                               alpnFix(r, "x-amzn-mqtt-ca"));
            case 112:
                return finding("tls.sni", CheckOutcome::Fail, explainAlert(f),
                               "set " + hostSetting(r) + " or " + setting(r, "tls", "server_name") +
                                   " to the broker's own host name");
            default:
                break;
        }
        return finding("tls.handshake", CheckOutcome::Fail, explainTlsFailure(f),
                       f.alert_received == 40 || f.alert_received == 70 || f.alert_received == 71
                           ? "the broker shares no TLS version (1.2 or 1.3) or cipher suite with "
                             "uplinkd: fix the broker, or widen " +
                                 setting(r, "tls", "ciphers_tls12")
                           : "check " + setting(r, "cloud", "port") + " and " + hostSetting(r));
    }
    if (p.answer.timed_out) {
        return finding(
            "tls.handshake", CheckOutcome::Fail,
            "port " + port +
                " accepted the connection but did not answer the TLS "
                "ClientHello within " +
                std::to_string(kStepTimeout.count() / 1000) + " s",
            "check " + setting(r, "cloud", "port") + ": it may not be the broker's TLS port");
    }
    return finding("tls.handshake", CheckOutcome::Fail,
                   "port " + port + " answered the TLS ClientHello with bytes that are not TLS" +
                       (p.answer.first_byte == 0x20 ? " (an MQTT CONNACK: plain MQTT)" : "") +
                       ": " + explainTlsFailure(f),
                   "set " + setting(r, "cloud", "port") +
                       " to the broker's TLS port (8883), or tls = false for a plain port");
}

Finding sniMissing(const RouteUnderTest& r, const BrokerEndpoint& ep, const TlsProbe& p) {
    (void)p;
    const std::string why = isIpAddress(ep.host)
                                ? "the host " + ep.host + " is an IP address, so no SNI was sent"
                                : "no server name is configured, so no SNI was sent";
    return finding("tls.sni", CheckOutcome::Fail,
                   "the broker closed the connection right after the ClientHello without a "
                   "word; " +
                       why +
                       ", and brokers behind a front end that routes by SNI (HiveMQ Cloud, AWS "
                       "IoT) do exactly that",
                   "set " + setting(r, "tls", "server_name") +
                       " to the broker's host name (or use that name in " + hostSetting(r) + ")");
}

Finding sniRefused(const RouteUnderTest& r, const TlsOptions& o, const TlsProbe& p) {
    (void)p;
    return finding("tls.sni", CheckOutcome::Fail,
                   "the broker closed the connection right after a ClientHello with the server "
                   "name \"" +
                       o.server_name +
                       "\" (SNI), but answers one without SNI: it does not serve that name",
                   "set " + setting(r, "tls", "server_name") + " (or " + hostSetting(r) +
                       ") to the name the broker serves");
}

Finding alpnNeeded(const RouteUnderTest& r, const BrokerEndpoint& ep, const std::string& alpn) {
    return finding("tls.alpn", CheckOutcome::Fail,
                   "port " + std::to_string(ep.port) +
                       " closed the connection right after a ClientHello without ALPN, with "
                       "and without SNI, and answers one that offers ALPN \"" +
                       alpn + "\"",
                   alpnFix(r, alpn));
}

Finding closedAfterHello(const RouteUnderTest& r, const BrokerEndpoint& ep, const TlsOptions& o,
                         const TlsProbe& p) {
    (void)p;
    return finding("tls.handshake", CheckOutcome::Fail,
                   "port " + std::to_string(ep.port) +
                       " closed the connection right after the ClientHello, with the server "
                       "name \"" +
                       o.server_name + "\", without it" +
                       (o.alpn.empty() ? ", and with the ALPN protocols tried" : "") +
                       ": it may not speak TLS, a front end may not serve that name, or a "
                       "firewall refuses this client",
                   "check " + setting(r, "tls", "server_name") + " (the name the broker serves), " +
                       setting(r, "cloud", "port") + " and " + hostSetting(r));
}

}  // namespace uplinkd::doctor
