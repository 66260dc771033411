// SPDX-License-Identifier: Apache-2.0
// The doctor's modem findings from tables of module states: each case names the check that must
// fail (or warn), what its `found` and `fix` must say, and what must be skipped after it.
#include <gtest/gtest.h>

#include <functional>

#include "doctor/modem_findings.hpp"

namespace uplinkd::doctor {
namespace {

constexpr int64_t kNow = 1'796'000'000;  // 2026-11-30

ConfiguredCert caCert() {
    return {.setting = "[routes.cloud.tls] ca_file",
            .path = "/etc/uplinkd/ca.pem",
            .subject = "CN=uplinkd test CA",
            .sha256 = "aa11",
            .not_before = kNow - 86400,
            .not_after = kNow + 365 * 86400,
            .parsed = true,
            .size = 1184};
}

/// A healthy BG96 on a module-TLS route.
ModemFacts healthy() {
    ModemFacts f;
    f.uplink = "lte";
    f.route = "cloud";
    f.driver = "quectel-bg9x";
    f.device = "/dev/ttyUSB2";
    f.module_tls = true;
    f.state = "ready";
    f.line_open = true;
    f.answered = true;
    ModemInfo i;
    i.manufacturer = "Quectel";
    i.model = "BG96";
    i.firmware = "BG96MAR02A07M1G";
    i.sim = "ready";
    i.iccid = "8949";
    i.registration = "registered (home)";
    i.operator_name = "26201";
    i.access_technology = "LTE-M";
    i.signal_dbm = -73;
    i.clock_unix = kNow + 10;
    i.tls_sni = "sent";
    ModemInfo::StoreEntry e;
    e.slot = "UFS:uplinkd_ca.pem";
    e.kind = "root CA";
    e.size = 1184;
    i.store.push_back(e);
    i.store_read = true;
    f.info = i;
    f.ca = caCert();
    f.uplinkd_wrote = true;
    f.system_now = kNow;
    return f;
}

const Finding* byId(const std::vector<Finding>& v, const std::string& id) {
    for (const auto& f : v) {
        if (f.id == id) {
            return &f;
        }
    }
    return nullptr;
}

TEST(DoctorModemFindings, AHealthyModuleIsOkEverywhere) {
    const auto v = modemFindings(healthy());
    std::vector<std::string> ids;
    for (const auto& f : v) {
        ids.push_back(f.id);
        EXPECT_EQ(f.layer, CheckLayer::Modem);
        EXPECT_EQ(f.outcome, CheckOutcome::Ok) << f.id << ": " << f.found;
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"modem.module", "modem.sim", "modem.registration",
                                             "modem.signal", "modem.bearer", "modem.clock",
                                             "modem.tls_sni", "modem.store"}));
    EXPECT_NE(byId(v, "modem.module")->found.find("BG96 (Quectel), firmware BG96MAR02A07M1G"),
              std::string::npos);
    EXPECT_NE(byId(v, "modem.store")->found.find("compared by presence and size"),
              std::string::npos);
}

struct Case {
    const char* name;
    std::function<void(ModemFacts&)> change;
    const char* id;  ///< the finding that must carry `outcome`
    CheckOutcome outcome;
    const char* found;    ///< a part of its found
    const char* fix;      ///< a part of its fix ("" for ok)
    const char* skipped;  ///< a later check that must say skipped ("" for none)
};

const Case kCases[] = {
    {"no answer",
     [](ModemFacts& f) {
         f.answered = false;
         f.info.reset();
         f.info_error = "timeout";
     },
     "modem.module", CheckOutcome::Fail, "does not answer AT", "[uplinks.lte] baud", "modem.sim"},
    {"line not open",
     [](ModemFacts& f) {
         f.line_open = false;
         f.answered = false;
         f.info.reset();
     },
     "modem.module", CheckOutcome::Fail, "/dev/ttyUSB2 is not open", "[uplinks.lte] device",
     "modem.sim"},
    {"no SIM",
     [](ModemFacts& f) {
         f.info->sim = "not inserted";
         f.state = "waiting";
     },
     "modem.sim", CheckOutcome::Fail, "no SIM card", "Insert a SIM card", "modem.registration"},
    {"PIN", [](ModemFacts& f) { f.info->sim = "PIN required"; }, "modem.sim", CheckOutcome::Fail,
     "asks for its PIN", "[uplinks.lte] pin", "modem.registration"},
    {"denied",
     [](ModemFacts& f) {
         f.info->registration = "denied";
         f.state = "waiting";
     },
     "modem.registration", CheckOutcome::Fail, "denied the registration", "operator",
     "modem.bearer"},
    {"searching", [](ModemFacts& f) { f.info->registration = "searching"; }, "modem.registration",
     CheckOutcome::Fail, "still searching", "antenna", "modem.bearer"},
    {"roaming", [](ModemFacts& f) { f.info->registration = "registered (roaming)"; },
     "modem.registration", CheckOutcome::Ok, "roaming", "", ""},
    {"weak signal", [](ModemFacts& f) { f.info->signal_dbm = -109; }, "modem.signal",
     CheckOutcome::Warn, "-109 dBm", "antenna", ""},
    {"bearer down",
     [](ModemFacts& f) {
         f.state = "waiting";
         f.problem = "PDP context: +CME ERROR: 30";
     },
     "modem.bearer", CheckOutcome::Fail, "+CME ERROR: 30", "[uplinks.lte] apn", ""},
    {"clock off", [](ModemFacts& f) { f.info->clock_unix = kNow + 3600; }, "modem.clock",
     CheckOutcome::Warn, "60 min ahead of the system clock", "AT+CCLK", ""},
    {"clock before the CA", [](ModemFacts& f) { f.info->clock_unix = kNow - 20 * 365 * 86400; },
     "modem.clock", CheckOutcome::Fail, "outside the validity of [routes.cloud.tls] ca_file",
     "AT+CCLK", ""},
    {"clock far off, uplinkd does TLS",
     [](ModemFacts& f) {
         f.module_tls = false;
         f.info->clock_unix = kNow - 20 * 365 * 86400;
     },
     "modem.clock", CheckOutcome::Warn, "behind the system clock", "AT+CCLK", ""},
    {"no SNI", [](ModemFacts& f) { f.info->tls_sni = "not sent: this firmware has no \"sni\""; },
     "modem.tls_sni", CheckOutcome::Fail, "does not send SNI", "tls = \"local\"", ""},
    {"store erased", [](ModemFacts& f) { f.info->store.clear(); }, "modem.store",
     CheckOutcome::Fail, "holds no root CA although uplinkd wrote", "Restart uplinkd", ""},
    {"store empty before the first connection",
     [](ModemFacts& f) {
         f.info->store.clear();
         f.uplinkd_wrote = false;
     },
     "modem.store", CheckOutcome::Warn, "at the route's next connection",
     "[routes.cloud.tls] ca_file", ""},
    {"another root by fingerprint", [](ModemFacts& f) { f.info->store[0].sha256 = "bb22"; },
     "modem.store", CheckOutcome::Fail, "compared by SHA-256 fingerprint", "Restart uplinkd", ""},
    {"same root by fingerprint", [](ModemFacts& f) { f.info->store[0].sha256 = "aa11"; },
     "modem.store", CheckOutcome::Ok, "compared by SHA-256 fingerprint", "", ""},
    {"another root by subject",
     [](ModemFacts& f) {
         f.info->store[0].subject = "CN=Other CA";
         f.info->store[0].size = -1;  // a module that shows only the subject
     },
     "modem.store", CheckOutcome::Fail, "is CN=Other CA, not", "Restart uplinkd", ""},
    {"Wi-Fi not associated",
     [](ModemFacts& f) {
         f.wifi = true;
         f.state = "waiting";
         f.problem = "join failed";
         f.info->ssid = "plant";
     },
     "modem.wifi", CheckOutcome::Fail, "SSID \"plant\"", "ssid and psk_file", ""},
};

TEST(DoctorModemFindings, EachFailureAtItsCheckWithTheFix) {
    for (const auto& c : kCases) {
        SCOPED_TRACE(c.name);
        ModemFacts f = healthy();
        c.change(f);
        const auto v = modemFindings(f);
        const Finding* got = byId(v, c.id);
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(got->outcome, c.outcome) << got->found;
        EXPECT_NE(got->found.find(c.found), std::string::npos) << got->found;
        EXPECT_NE(got->fix.find(c.fix), std::string::npos) << got->fix;
        if (c.outcome == CheckOutcome::Ok) {
            EXPECT_TRUE(got->fix.empty()) << got->fix;
        }
        if (*c.skipped != '\0') {
            const Finding* s = byId(v, c.skipped);
            ASSERT_NE(s, nullptr);
            EXPECT_EQ(s->outcome, CheckOutcome::Skipped);
            EXPECT_EQ(s, &v.back()) << "nothing is examined after the skip";
        }
        for (const auto& x : v) {
            if (x.outcome == CheckOutcome::Fail || x.outcome == CheckOutcome::Warn) {
                EXPECT_FALSE(x.fix.empty()) << x.id;
            }
        }
    }
}

TEST(DoctorModemFindings, AStoreTheDriverDoesNotReadIsSkippedNotMissing) {
    ModemFacts f = healthy();
    f.info->store.clear();
    f.info->store_read = false;
    const auto v = modemFindings(f);
    ASSERT_NE(byId(v, "modem.store"), nullptr);
    EXPECT_EQ(byId(v, "modem.store")->outcome, CheckOutcome::Skipped);
    EXPECT_NE(byId(v, "modem.store")->found.find("does not read the module's store"),
              std::string::npos);
}

TEST(DoctorModemFindings, RoutesWithoutModuleTlsHaveNoStoreOrSniCheck) {
    ModemFacts f = healthy();
    f.module_tls = false;
    const auto v = modemFindings(f);
    EXPECT_EQ(byId(v, "modem.store"), nullptr);
    EXPECT_EQ(byId(v, "modem.tls_sni"), nullptr);
}

}  // namespace
}  // namespace uplinkd::doctor
