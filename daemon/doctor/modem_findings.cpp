// SPDX-License-Identifier: Apache-2.0
#include "doctor/modem_findings.hpp"

#include <cstdlib>

#include "uplinkd/time_text.hpp"

namespace uplinkd::doctor {

namespace {

Finding finding(std::string id, CheckOutcome outcome, std::string found, std::string fix = {}) {
    return Finding{CheckLayer::Modem, std::move(id), outcome, std::move(found), std::move(fix)};
}

/// "[uplinks.lte]"
std::string section(const ModemFacts& f) {
    return "[uplinks." + f.uplink + "]";
}

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
        if (p.empty()) {
            continue;
        }
        out += (out.empty() ? "" : ", ") + p;
    }
    return out;
}

Finding moduleFinding(const ModemFacts& f) {
    const std::string sec = section(f);
    const auto module = [](CheckOutcome outcome, std::string found, std::string fix = {}) {
        return finding("modem.module", outcome, std::move(found), std::move(fix));
    };
    if (f.state == "unavailable") {
        return module(CheckOutcome::Fail, "the " + f.driver + " driver is not usable: " + f.problem,
                      "Set " + sec +
                          " driver to an installed modem plugin (uplinkctl modem drivers lists "
                          "them).");
    }
    if (!f.line_open) {
        return module(CheckOutcome::Fail,
                      "the serial line " + f.device + " is not open: " + f.problem,
                      "Set " + sec +
                          " device to the module's serial port and give the uplinkd user access "
                          "to it (group dialout).");
    }
    if (!f.answered) {
        return module(CheckOutcome::Fail,
                      "the module on " + f.device + " does not answer AT" +
                          (f.info_error.empty() ? "" : " (" + f.info_error + ")") +
                          (f.problem.empty() ? "" : "; " + f.problem),
                      "Check the module's power and " + sec +
                          " baud and flow_control (and the power lines of [uplinks." + f.uplink +
                          ".power]).");
    }
    if (!f.info) {
        return module(CheckOutcome::Warn,
                      "the module answers AT on " + f.device +
                          " but its identity could not be read: " + f.info_error,
                      "Check that " + sec +
                          " driver matches the module (uplinkctl modem at ATI shows what it is).");
    }
    const ModemInfo& i = *f.info;
    std::string what = i.model.empty() ? std::string("a module") : i.model;
    if (!i.manufacturer.empty()) {
        what += " (" + i.manufacturer + ")";
    }
    return module(CheckOutcome::Ok, what + ", firmware " + (i.firmware.empty() ? "?" : i.firmware) +
                                        ", answers AT on " + f.device + " (driver " + f.driver +
                                        ")");
}

Finding simFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    const std::string sec = section(f);
    if (i.sim == "ready") {
        return finding("modem.sim", CheckOutcome::Ok,
                       "SIM ready" + (i.iccid.empty() ? std::string() : ", ICCID " + i.iccid));
    }
    if (i.sim.empty()) {
        return finding("modem.sim", CheckOutcome::Warn,
                       "the module did not say whether a SIM is ready (AT+CPIN? gave no answer)",
                       "Check the SIM card in the module of " + sec + ".");
    }
    if (i.sim == "PIN required") {
        return finding("modem.sim", CheckOutcome::Fail, "the SIM asks for its PIN",
                       "Set " + sec + " pin to the SIM's PIN (or remove the PIN from the SIM).");
    }
    if (i.sim.starts_with("PUK")) {
        return finding("modem.sim", CheckOutcome::Fail, "the SIM is blocked: " + i.sim,
                       "Unblock the SIM with its PUK in a phone, then set " + sec + " pin.");
    }
    if (i.sim == "not inserted") {
        return finding("modem.sim", CheckOutcome::Fail, "no SIM card: the module says not inserted",
                       "Insert a SIM card into the module of " + sec +
                           " (contacts down, fully in its holder) and restart the module.");
    }
    return finding("modem.sim", CheckOutcome::Fail, "SIM: " + i.sim,
                   "Check the SIM card in the module of " + sec + " and " + sec + " pin.");
}

Finding registrationFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    const std::string sec = section(f);
    const std::string where = joined({i.operator_name.empty() ? "" : "operator " + i.operator_name,
                                      i.access_technology, i.band});
    const std::string detail = where.empty() ? "" : " (" + where + ")";
    if (i.registration == "registered (home)") {
        return finding("modem.registration", CheckOutcome::Ok,
                       "registered on its home network" + detail);
    }
    if (i.registration == "registered (roaming)") {
        return finding("modem.registration", CheckOutcome::Ok, "registered, roaming" + detail);
    }
    if (i.registration == "denied") {
        return finding("modem.registration", CheckOutcome::Fail,
                       "the network denied the registration" + detail +
                           ": the SIM is not allowed on it (no subscription, barred, or no "
                           "roaming agreement)",
                       "Ask the SIM's operator to enable its data subscription (and roaming), or "
                       "use another SIM in the module of " +
                           sec + ".");
    }
    if (i.registration == "searching") {
        return finding("modem.registration", CheckOutcome::Fail,
                       "not registered: the module is still searching for a network" + detail +
                           (f.still_starting ? " after the doctor's wait" : ""),
                       "Check the antenna and the coverage for the module's radio technology, "
                       "and that the SIM's operator serves it (LTE-M / NB-IoT need a matching "
                       "subscription).");
    }
    if (i.registration.empty()) {
        return finding("modem.registration", CheckOutcome::Warn,
                       "the module did not report its registration",
                       "Check the module of " + sec + " with uplinkctl modem info.");
    }
    return finding("modem.registration", CheckOutcome::Fail,
                   "not registered: " + i.registration + detail,
                   "Check the SIM and the antenna of the module of " + sec + ".");
}

Finding signalFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    const int dbm = f.wifi ? i.wifi_rssi_dbm : i.signal_dbm;
    const std::string id = "modem.signal";
    if (dbm == 0) {
        return finding(id, CheckOutcome::Ok, "the module does not report the signal strength");
    }
    const std::string level = std::to_string(dbm) + " dBm";
    if (dbm < kWeakSignalDbm) {
        return finding(id, CheckOutcome::Warn,
                       "weak signal: " + level + " (below " + std::to_string(kWeakSignalDbm) +
                           " dBm: expect dropped connections and slow transfers)",
                       "Move the antenna of the module of " + section(f) +
                           " or use an external one with a cable to a better place.");
    }
    return finding(id, CheckOutcome::Ok, level);
}

Finding bearerFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    const std::string sec = section(f);
    const std::string ip = i.ip_address.empty() ? "" : ", IP " + i.ip_address;
    if (f.wifi) {
        const std::string what = joined(
            {i.ssid.empty() ? "" : "SSID \"" + i.ssid + "\"",
             i.wifi_rssi_dbm == 0 ? "" : "RSSI " + std::to_string(i.wifi_rssi_dbm) + " dBm"});
        const std::string detail = what.empty() ? "" : " (" + what + ")";
        if (f.state == "ready") {
            return finding(
                "modem.wifi", CheckOutcome::Ok,
                (i.association.empty() ? std::string("associated") : i.association) + detail + ip);
        }
        return finding("modem.wifi", CheckOutcome::Fail,
                       "not associated" + detail + ": " + f.problem,
                       "Check " + sec +
                           " ssid and psk_file against the access point, and that "
                           "it is in range.");
    }
    if (f.state == "ready") {
        return finding("modem.bearer", CheckOutcome::Ok, "data connection (PDP context) up" + ip);
    }
    return finding("modem.bearer", CheckOutcome::Fail, "no data connection: " + f.problem,
                   "Check " + sec +
                       " apn (and apn_user / apn_password) against the SIM "
                       "operator's settings.");
}

Finding clockFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    if (!i.clock_unix) {
        return finding("modem.clock", CheckOutcome::Skipped,
                       "the " + f.driver + " driver does not read the module's clock");
    }
    const int64_t clock = *i.clock_unix;
    const int64_t off = clock - f.system_now;
    const std::string found = "the module's clock is " + formatUtc(clock) + ", " +
                              durationText(off) + (off >= 0 ? " ahead of" : " behind") +
                              " the system clock";
    if (f.module_tls) {
        for (const auto* cert : {&f.ca, &f.client_cert}) {
            if (!*cert || !(*cert)->parsed) {
                continue;
            }
            const ConfiguredCert& c = **cert;
            if (clock < c.not_before || clock > c.not_after) {
                return finding(
                    "modem.clock", CheckOutcome::Fail,
                    found + ": outside the validity of " + c.setting + " \"" + c.path + "\" (" +
                        formatUtc(c.not_before) + " to " + formatUtc(c.not_after) +
                        "), so the module's TLS refuses the connection",
                    "Set the module's clock (uplinkctl modem " + f.uplink +
                        " at 'AT+CCLK=\"yy/MM/dd,hh:mm:ss+00\"') or let it take the network time "
                        "(NITZ) once registered.");
            }
        }
    }
    if (std::llabs(off) > kClockWarnSeconds) {
        return finding("modem.clock", CheckOutcome::Warn, found,
                       "Set the module's clock (uplinkctl modem " + f.uplink +
                           " at 'AT+CCLK=\"yy/MM/dd,hh:mm:ss+00\"') or let it take the network "
                           "time (NITZ) once registered.");
    }
    return finding("modem.clock", CheckOutcome::Ok, found);
}

Finding sniFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    if (i.tls_sni.starts_with("not sent")) {
        return finding("modem.tls_sni", CheckOutcome::Fail,
                       "the module's TLS does not send SNI: " + i.tls_sni.substr(10) +
                           "; brokers behind a name-routing gate (HiveMQ Cloud, AWS IoT) refuse it "
                           "and uplinkd does not try without",
                       "Set " + section(f) +
                           " tls = \"local\" (uplinkd does TLS with SNI over a plain module "
                           "socket), or update the module's firmware.");
    }
    return finding("modem.tls_sni", CheckOutcome::Ok, "SNI " + i.tls_sni);
}

/// The entry of the store that should hold `cert`, by kind.
const ModemInfo::StoreEntry* entryOfKind(const ModemInfo& i, const std::string& kind) {
    for (const auto& e : i.store) {
        if (e.kind == kind) {
            return &e;
        }
    }
    return nullptr;
}

Finding storeFinding(const ModemFacts& f) {
    const ModemInfo& i = *f.info;
    const ConfiguredCert& ca = *f.ca;
    const std::string from =
        ca.setting + " \"" + ca.path + "\"" + (ca.subject.empty() ? "" : " (" + ca.subject + ")");
    // What a mismatch means depends on whether uplinkd will write the file again by itself.
    const std::string rewrite =
        "uplinkd writes " + from + " into the module at the route's next connection";
    const CheckOutcome bad = f.uplinkd_wrote ? CheckOutcome::Fail : CheckOutcome::Warn;
    const std::string fix =
        f.uplinkd_wrote
            ? "Restart uplinkd (systemctl restart uplinkd) so that it writes " + ca.setting +
                  " into the module again; if this comes back, the module loses its store "
                  "(firmware update, factory reset)."
            : "Nothing to change if the route then connects; else check that " + ca.setting +
                  " is the root CA of the broker's chain.";
    if (!i.store_read) {
        return finding("modem.store", CheckOutcome::Skipped,
                       "the " + f.driver +
                           " driver does not read the module's store; the TLS "
                           "check shows whether the module holds the root CA of " +
                           from);
    }
    const auto* e = entryOfKind(i, "root CA");
    if (e == nullptr) {
        return finding("modem.store", bad,
                       "the module's certificate store holds no root CA" +
                           std::string(f.uplinkd_wrote ? " although uplinkd wrote " + from +
                                                             " into it: it was erased"
                                                       : "; " + rewrite),
                       fix);
    }
    const std::string slot = "\"" + e->slot + "\"";
    if (!e->sha256.empty() && ca.parsed) {
        if (e->sha256 == ca.sha256) {
            return finding(
                "modem.store", CheckOutcome::Ok,
                "root CA " + slot + " is " + from + " (compared by SHA-256 fingerprint)");
        }
        return finding("modem.store", bad,
                       "root CA " + slot + " differs from " + from +
                           " (compared by SHA-256 fingerprint" +
                           (e->subject.empty() ? "" : "; the module holds " + e->subject) + ")" +
                           (f.uplinkd_wrote ? "" : "; " + rewrite),
                       fix);
    }
    if (e->size >= 0) {
        return finding("modem.store", CheckOutcome::Ok,
                       "root CA " + slot + " present, " + std::to_string(e->size) + " bytes (" +
                           ca.setting + " holds " + std::to_string(ca.size) +
                           "; compared by presence and size only: the module does not show the "
                           "content, and uplinkd stores only the certificate blocks)" +
                           (f.uplinkd_wrote ? ", written by this uplinkd" : ""));
    }
    if (!e->subject.empty() && !ca.subject.empty()) {
        if (e->subject == ca.subject) {
            return finding("modem.store", CheckOutcome::Ok,
                           "root CA " + slot + " is " + ca.subject + " as in " + ca.setting +
                               " (compared by subject: the module shows "
                               "neither content nor size)");
        }
        return finding("modem.store", bad,
                       "root CA " + slot + " is " + e->subject + ", not " + from +
                           " (compared by subject)" + (f.uplinkd_wrote ? "" : "; " + rewrite),
                       fix);
    }
    return finding("modem.store", CheckOutcome::Ok,
                   "root CA " + slot +
                       " present (compared by presence only: the module shows "
                       "neither content nor size)");
}

}  // namespace

std::vector<Finding> modemFindings(const ModemFacts& f) {
    std::vector<Finding> out;
    out.push_back(moduleFinding(f));
    if (out.back().outcome == CheckOutcome::Fail || !f.info) {
        if (out.back().outcome == CheckOutcome::Fail) {
            out.push_back(
                finding(f.wifi ? "modem.wifi" : "modem.sim", CheckOutcome::Skipped,
                        "skipped: the module of uplink " + f.uplink + " cannot be examined"));
        }
        return out;
    }
    if (!f.wifi) {
        out.push_back(simFinding(f));
        if (out.back().outcome == CheckOutcome::Fail) {
            out.push_back(finding("modem.registration", CheckOutcome::Skipped,
                                  "skipped: no registration without a usable SIM"));
            return out;
        }
        out.push_back(registrationFinding(f));
        if (out.back().outcome == CheckOutcome::Fail) {
            out.push_back(signalFinding(f));
            out.push_back(finding("modem.bearer", CheckOutcome::Skipped,
                                  "skipped: no data connection without a registration"));
            return out;
        }
    }
    out.push_back(signalFinding(f));
    out.push_back(bearerFinding(f));
    out.push_back(clockFinding(f));
    if (f.module_tls) {
        if (!f.info->tls_sni.empty()) {
            out.push_back(sniFinding(f));
        }
        if (f.ca) {
            out.push_back(storeFinding(f));
        }
    }
    return out;
}

}  // namespace uplinkd::doctor
