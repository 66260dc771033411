// SPDX-License-Identifier: Apache-2.0
#include "tls/tls_explain.hpp"

#include <openssl/x509_vfy.h>

#include <array>
#include <utility>

namespace uplinkd {

namespace {

struct AlertRow {
    int code;
    const char* name;
};

// RFC 8446 §6 and RFC 5246 §7.2 alert descriptions.
constexpr std::array kAlerts{
    AlertRow{0, "close_notify"},
    AlertRow{10, "unexpected_message"},
    AlertRow{20, "bad_record_mac"},
    AlertRow{22, "record_overflow"},
    AlertRow{40, "handshake_failure"},
    AlertRow{42, "bad_certificate"},
    AlertRow{43, "unsupported_certificate"},
    AlertRow{44, "certificate_revoked"},
    AlertRow{45, "certificate_expired"},
    AlertRow{46, "certificate_unknown"},
    AlertRow{47, "illegal_parameter"},
    AlertRow{48, "unknown_ca"},
    AlertRow{49, "access_denied"},
    AlertRow{50, "decode_error"},
    AlertRow{51, "decrypt_error"},
    AlertRow{70, "protocol_version"},
    AlertRow{71, "insufficient_security"},
    AlertRow{80, "internal_error"},
    AlertRow{86, "inappropriate_fallback"},
    AlertRow{90, "user_canceled"},
    AlertRow{109, "missing_extension"},
    AlertRow{110, "unsupported_extension"},
    AlertRow{112, "unrecognized_name"},
    AlertRow{113, "bad_certificate_status_response"},
    AlertRow{115, "unknown_psk_identity"},
    AlertRow{116, "certificate_required"},
    AlertRow{120, "no_application_protocol"},
};

std::string alertTag(int alert) {
    return "TLS alert " + std::to_string(alert) + " " + tlsAlertName(alert);
}

std::string verifyTag(const TlsFacts& f) {
    std::string s = "verify error " + std::to_string(f.verify_error) + " \"" +
                    X509_verify_cert_error_string(f.verify_error) + "\"";
    if (f.verify_depth >= 0) {
        s += " at depth " + std::to_string(f.verify_depth);
    }
    return s;
}

}  // namespace

std::string tlsAlertName(int alert) {
    for (const auto& row : kAlerts) {
        if (row.code == alert) {
            return row.name;
        }
    }
    return "alert_" + std::to_string(alert);
}

std::string explainVerifyError(const TlsFacts& f) {
    const std::string tag = " (" + verifyTag(f) + ")";
    const std::string subject = f.verify_subject.empty() ? "" : " \"" + f.verify_subject + "\"";
    const std::string issuer = f.verify_issuer.empty() ? "" : " \"" + f.verify_issuer + "\"";
    switch (f.verify_error) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
            return "the broker's certificate" + subject + " was issued by" + issuer +
                   ", which is not in the trusted CAs: put the root CA of that chain in "
                   "tls.ca_file" +
                   tag;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
            return "the trusted CAs hold an intermediate but not the root it chains to: add the "
                   "root CA" +
                   issuer + " to tls.ca_file" + tag;
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return "the broker presented a self-signed certificate" + subject +
                   " that is not trusted: put that certificate (or its CA) in tls.ca_file, or the "
                   "broker is presenting a default certificate because of a wrong SNI name" +
                   tag;
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            return "the broker's chain ends in the root" + subject +
                   ", which is not in the trusted CAs: put that root CA in tls.ca_file" + tag;
        case X509_V_ERR_HOSTNAME_MISMATCH:
            return "the broker's certificate" +
                   (f.peer_subject.empty() ? std::string() : " \"" + f.peer_subject + "\"") +
                   " is not valid for the name \"" + f.server_name +
                   "\": check the host name (or set tls.server_name to the name in the "
                   "certificate)" +
                   tag;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "a certificate" + subject +
                   " is not valid yet: is this gateway's clock right (NTP)?" + tag;
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "a certificate" + subject +
                   " has expired (or this gateway's clock is far ahead)" + tag;
        default:
            return "the broker's certificate was rejected" + tag;
    }
}

std::string explainAlert(const TlsFacts& f) {
    const std::string tag = " (" + alertTag(f.alert_received) + ")";
    switch (f.alert_received) {
        case 116:
            return f.client_cert_configured
                       ? "the broker requires a client certificate and did not get a usable one" +
                             tag
                       : "the broker requires a client certificate, but none is configured: set "
                         "tls.cert_file and tls.key_file" +
                             tag;
        case 40:
            if (f.cert_requested && !f.client_cert_configured) {
                return "the broker requires a client certificate, but none is configured: set "
                       "tls.cert_file and tls.key_file" +
                       tag;
            }
            return "the broker refused the TLS handshake: no common TLS version or cipher, or a "
                   "client certificate it wants was not sent" +
                   tag;
        case 42:
        case 46:
            return "the broker rejected the client certificate (not registered, not activated, "
                   "or the wrong file)" +
                   tag;
        case 45:
            return "the broker says the client certificate has expired" + tag;
        case 44:
            return "the broker says the client certificate was revoked" + tag;
        case 48:
            return "the broker does not trust the issuer of the client certificate: register "
                   "its CA with the broker, or use a certificate the broker issued" +
                   tag;
        case 112:
            return f.sni_sent ? "the broker does not serve the name \"" + f.server_name +
                                    "\" given in SNI: check the host name" + tag
                              : "the broker needs SNI (the server name in the TLS handshake), "
                                "and none was sent" +
                                    tag;
        case 109:
            return "the broker needs a TLS extension that was not sent (often SNI)" + tag;
        case 120:
            return "the broker does not accept the ALPN protocol offered (\"" + f.alpn_offered +
                   "\"): check the port and tls.alpn (AWS IoT on port 443 needs "
                   "x-amzn-mqtt-ca)" +
                   tag;
        case 70:
            return "the broker does not support TLS 1.2 or newer" + tag;
        default:
            return "the broker ended the TLS connection" + tag;
    }
}

std::string explainTlsFailure(const TlsFacts& f) {
    if (f.verify_error != 0) {
        return explainVerifyError(f);
    }
    if (f.alert_received > 0) {
        return explainAlert(f);
    }
    if (f.cert_requested && !f.client_cert_configured) {
        return "the broker asked for a client certificate, none is configured (set tls.cert_file "
               "and tls.key_file), and then it closed the connection";
    }
    std::string s = "the TLS handshake failed";
    if (!f.openssl_error.empty()) {
        s += ": " + f.openssl_error;
    }
    if (f.openssl_error.find("wrong version number") != std::string::npos) {
        s += " (the port does not speak TLS: is it a plain MQTT port such as 1883?)";
    } else if (f.openssl_error.find("unexpected eof") != std::string::npos) {
        s += " (the other side closed the connection during the handshake: a plain MQTT port, a "
             "firewall, or an SNI-routing proxy that does not know the name)";
    }
    return s;
}

}  // namespace uplinkd
