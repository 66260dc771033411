// SPDX-License-Identifier: Apache-2.0
// The sierra-hl78 plugin's parsers, command builders and error tables from tables (with hostile
// input), and the rule that keeps the EOF pattern out of a payload.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <optional>

#include "hl78_commands.hpp"
#include "hl78_driver.hpp"
#include "hl78_parsers.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::sierra_hl78 {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

const std::string kPattern(kEofPattern);

// ---- parsers ----------------------------------------------------------------------------------

TEST(Hl78Parsers, KtcpCfg) {
    const std::vector<std::pair<std::string, int>> good = {
        {"+KTCPCFG: 1", 1}, {"+KTCPCFG:3", 3}, {"+KTCPCFG: 255", 255}, {"  +KTCPCFG: 2\r", 2}};
    for (const auto& [line, id] : good) {
        const auto r = parseKtcpCfg(line);
        ASSERT_TRUE(r) << line << ": " << r.error().message;
        EXPECT_EQ(*r, id) << line;
    }
    for (const std::string& line : std::vector<std::string>{
             "", "+KTCPCFG:", "+KTCPCFG: 0", "+KTCPCFG: 256", "+KTCPCFG: -1", "+KTCPCFG: 1,2",
             "+KTCPCFG: abc", "+KTCPCFG: 99999999999999999999999", "KTCPCFG: 1", "+KTCPCFG: 1x",
             "+KTCPCFG: \"1\"", std::string("+KTCPCFG: 1\0", 12), "+KTCP_DATA: 1,5"}) {
        const auto r = parseKtcpCfg(line);
        EXPECT_FALSE(r) << "accepted \"" << line << "\"";
        if (!r) {
            EXPECT_EQ(r.error().code, "bad_reply");
        }
    }
}

TEST(Hl78Parsers, SocketUrcs) {
    auto n = parseKtcpNotif("+KTCP_NOTIF: 1,4");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->session, 1);
    EXPECT_EQ(n->code, 4);
    n = parseKtcpNotif("+KTCP_NOTIF: 2, 15");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->code, 15);
    for (const char* bad :
         {"+KTCP_NOTIF: 1", "+KTCP_NOTIF: ,4", "+KTCP_NOTIF: 1,x", "+KTCP_NOTIF: 1,-4",
          "+KTCP_NOTIF: 1,999", "+KTCP_NOTIF:", "+KTCP_IND: 1,1"}) {
        EXPECT_FALSE(parseKtcpNotif(bad)) << bad;
    }
    auto d = parseKtcpData("+KTCP_DATA: 1,1500");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->session, 1);
    EXPECT_EQ(d->available, 1500u);
    d = parseKtcpData("+KTCP_DATA: 2,10,\"extra\"");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->available, 10u);
    for (const char* bad : {"+KTCP_DATA: 1,-5", "+KTCP_DATA: 1,99999999999", "+KTCP_DATA: 1",
                            "+KTCP_DATA: 300,1", "+KTCP_DATA: 1,1e3"}) {
        EXPECT_FALSE(parseKtcpData(bad)) << bad;
    }
    const auto i = parseKtcpInd("+KTCP_IND: 3,1");
    ASSERT_TRUE(i);
    EXPECT_EQ(i->session, 3);
    EXPECT_EQ(i->status, 1);
    EXPECT_FALSE(parseKtcpInd("+KTCP_IND: 3"));
    const auto k = parseKcnxInd("+KCNX_IND: 1,5,30");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->status, 5);
    EXPECT_FALSE(kcnxFinal(5));
    EXPECT_TRUE(kcnxFinal(1));
    EXPECT_TRUE(kcnxFinal(2));
    const auto s = parseKsup("+KSUP: 0");
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, 0);
    EXPECT_FALSE(parseKsup("+KSUP: x"));
}

TEST(Hl78Parsers, SessionListingAndCounts) {
    EXPECT_EQ(parseKtcpStatList({"+KTCPSTAT: 1,3,-1,0,0", "+KTCPSTAT: 6,1,-1,0,12", "OK",
                                 "+KTCPSTAT: 3,-1,0,0", "+KTCPSTAT: x,1,-1,0,0",
                                 "+KTCPSTAT: 0,1,-1,0,0", "+KCNX_IND: 1,1"}),
              (std::vector<ListedSession>{{1, 3}, {6, 1}}));
    EXPECT_TRUE(parseKtcpStatList({}).empty());
    const auto st = parseKtcpStat("+KTCPSTAT: 3,-1,0,1500");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->status, 3);
    EXPECT_EQ(st->received, 1500u);
    for (const char* bad : {"+KTCPSTAT: 1,3,-1,0,0", "+KTCPSTAT: 3,-1,0,-5", "+KTCPSTAT:", "x"}) {
        EXPECT_FALSE(parseKtcpStat(bad)) << bad;
    }
    for (const char* yes :
         {"+CME ERROR: 912", "+CME ERROR: 902", "+KTCP_NOTIF: 1,11", "+KTCP_NOTIF: 2,1"}) {
        EXPECT_TRUE(noSessionsLeft(yes)) << yes;
    }
    for (const char* no : {"+CME ERROR: 910", "ERROR", "+KTCP_NOTIF: 1,4", "", "912"}) {
        EXPECT_FALSE(noSessionsLeft(no)) << no;
    }
}

TEST(Hl78Commands, CryptoProfileAndTlsSession) {
    EXPECT_EQ(ksslcryptoCommand(kTlsProfile, false, true), "AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0");
    EXPECT_EQ(ksslcryptoCommand(kTlsProfile, true, true), "AT+KSSLCRYPTO=1,8,3,25392,12,4,3,0");
    EXPECT_EQ(ksslcryptoCommand(kTlsProfile, false, false), "AT+KSSLCRYPTO=1,8,3,25392,12,4,1");
    EXPECT_EQ(ktcpcfgCommand(kModeTlsClient, "h.example", 8883),
              "AT+KTCPCFG=1,3,\"h.example\",8883,,,,,1");
    EXPECT_EQ(ktcpcfgCommand(kModePlainClient, "h.example", 1883),
              "AT+KTCPCFG=1,0,\"h.example\",1883");
}

TEST(Hl78Parsers, Cereg) {
    struct Case {
        std::string line;
        std::optional<RegState> want;
    };
    const std::vector<Case> reads = {
        {"+CEREG: 0,1", RegState::Home},
        {"+CEREG: 2,5,\"1A2B\",\"01A2B3C4\",7", RegState::Roaming},
        {"+CEREG: 5,2,\"FFFE\",\"FFFFFFFF\",9,,,\"00000000\",\"00111000\"", RegState::Searching},
        {"+CEREG: 0,3", RegState::Denied},
        {"+CEREG: 0,0", RegState::NotSearching},
        {"+CEREG: 0,11", RegState::Unknown},
        {"+CEREG: 1", std::nullopt},
        {"+CEREG: x,1", std::nullopt},
        {"+CEREG: 0,12", std::nullopt},
        {"+CEREG: 0,-1", std::nullopt},
        {"+CEREG:", std::nullopt},
        {"+CGREG: 0,1", std::nullopt},
        {"+CEREG: 0,\"1\"", std::nullopt},
    };
    for (const auto& c : reads) {
        const auto r = parseCeregRead(c.line);
        EXPECT_EQ(r.ok(), c.want.has_value()) << c.line;
        if (r && c.want) {
            EXPECT_EQ(*r, *c.want) << c.line;
        }
    }
    auto u = parseCeregUrc("+CEREG: 1,\"1A2B\",\"01A2B3C4\",7");
    ASSERT_TRUE(u);
    EXPECT_EQ(*u, RegState::Home);
    u = parseCeregUrc("+CEREG: 2");
    ASSERT_TRUE(u);
    EXPECT_EQ(*u, RegState::Searching);
    EXPECT_FALSE(parseCeregUrc("+CEREG: "));
    EXPECT_FALSE(parseCeregUrc("+CEREG: 7x"));
}

TEST(Hl78Parsers, Csq) {
    const std::vector<std::pair<std::string, std::optional<int>>> good = {
        {"+CSQ: 20,99", -73},
        {"+CSQ: 0,0", -113},
        {"+CSQ: 31,7", -51},
        {"+CSQ: 99,99", std::nullopt}};
    for (const auto& [line, dbm] : good) {
        const auto r = parseCsq(line);
        ASSERT_TRUE(r) << line;
        EXPECT_EQ(r->dbm(), dbm) << line;
    }
    for (const char* bad : {"+CSQ: 32,0", "+CSQ: 20", "+CSQ: 20,99,1", "+CSQ: -1,0", "+CSQ: ,",
                            "+CSQ: 20,8", "CSQ: 20,99", "+CSQ: 1000000000000000000000,0"}) {
        EXPECT_FALSE(parseCsq(bad)) << bad;
    }
}

TEST(Hl78Parsers, Identity) {
    auto id = parseIdentity({"Manufacturer: Sierra Wireless", "Model: HL7802",
                             "Revision: HL7800.4.6.9.4", "IMEI: 351234567890123", ""});
    EXPECT_EQ(id.manufacturer, "Sierra Wireless");
    EXPECT_EQ(id.model, "HL7802");
    EXPECT_EQ(id.firmware, "HL7800.4.6.9.4");
    EXPECT_EQ(id.imei, "351234567890123");
    id = parseIdentity({"HL7812", "4.7.1.0"});
    EXPECT_EQ(id.model, "HL7812");
    EXPECT_TRUE(modem_common::matchesModel(id.model, match().model_patterns));
    EXPECT_TRUE(modem_common::matchesModel("hl7800-m", match().model_patterns));
    EXPECT_FALSE(modem_common::matchesModel("A7670E-LASE", match().model_patterns));
    EXPECT_FALSE(modem_common::matchesModel("", match().model_patterns));
    const auto v = modem_common::parseIdentityValue({"", "+CGMM: \"HL7802\""}, "+CGMM:");
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, "HL7802");
    EXPECT_FALSE(modem_common::parseIdentityValue({"", " "}, "+CGMM:"));
}

TEST(Hl78Parsers, CertStoreList) {
    const auto r =
        parseCertStoreList({"+KCERTSTORE:", "root_cert,0,45", "-----BEGIN CERTIFICATE-----", "QUJD",
                            "-----END CERTIFICATE-----", "local_cert,0,12",
                            "-----BEGIN CERTIFICATE-----", "REVG", "-----END CERTIFICATE-----"});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].kind, StoredCert::Kind::Root);
    EXPECT_EQ((*r)[0].index, 0);
    EXPECT_EQ((*r)[0].length, 45u);
    EXPECT_EQ((*r)[0].lines.size(), 3u);
    EXPECT_EQ((*r)[1].kind, StoredCert::Kind::Local);
    EXPECT_EQ((*r)[1].lines[1], "REVG");
    const auto empty = parseCertStoreList({"+KCERTSTORE:"});
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
    EXPECT_FALSE(parseCertStoreList({"+KCERTSTORE:", "root_cert,x,45"}));
    EXPECT_FALSE(parseCertStoreList({"+KCERTSTORE:", "root_cert,0"}));
    EXPECT_FALSE(parseCertStoreList({"garbage"}));
}

TEST(Hl78Parsers, ErrorTablesHaveWords) {
    for (int code = 0; code <= 15; ++code) {
        EXPECT_FALSE(ktcpNotifWords(code).empty()) << code;
    }
    EXPECT_TRUE(ktcpNotifWords(16).empty());
    EXPECT_TRUE(ktcpNotifWords(-1).empty());
    for (int code = 902; code <= 932; ++code) {
        EXPECT_FALSE(kCommandErrorWords(code).empty()) << code;
    }
    EXPECT_TRUE(kCommandErrorWords(901).empty());
    EXPECT_TRUE(kCommandErrorWords(933).empty());
    EXPECT_EQ(kCommandErrorWords(910), "bad session ID");
    EXPECT_EQ(ktcpNotifWords(3), "DNS error: the module could not resolve the host name");
}

TEST(Hl78Parsers, ExplainLines) {
    uplinkd::testing::expectExplained(
        &explainLine, {
                          {"+CME ERROR: 910", {"bad session ID", "+CME ERROR: 910"}},
                          {"+CME ERROR: 931", {"line ends"}},
                          {"+CME ERROR: 10", {"no SIM card"}},
                          {"+CME ERROR: 4711", {"module error 4711"}},
                          {"+CME ERROR: SIM not inserted", {"SIM not inserted"}},
                          {"+KTCP_NOTIF: 1,15", {"does not trust", "root CA", "tls.ca_file"}},
                          {"+KTCP_NOTIF: 1,13", {"handshake", "tls = \"local\""}},
                          {"+KTCP_NOTIF: 2,3", {"DNS"}},
                          {"+KTCP_NOTIF: 2,99", {"socket error 99"}},
                          {"+KCNX_IND: 1,2", {"apn"}},
                          {"+KSUP: 2", {"restarted", "no SIM"}},
                          {"ERROR", {"refused"}},
                          {"something \x01 odd", {"something"}},
                      });
}

TEST(Hl78Parsers, SafeSendLengthKeepsThePatternOutOfThePayload) {
    struct Case {
        std::string data;
        size_t max;
        size_t want;
    };
    const std::vector<Case> cases = {
        {"hello", 1500, 5},
        {std::string(3000, 'x'), 1500, 1500},
        {"ab" + kPattern + "cd", 1500, 3},  // cut after the pattern's first byte
        {kPattern, 1500, 1},
        {"ab--EOF--Pattern-", 1500, 3},    // would match early together with the terminator
        {"ab--EOF--Pattern", 1500, 3},     // likewise (the pattern starts and ends with "--")
        {"ab--EOF--Pattern--x", 1500, 3},  // the whole pattern inside
        {"abc-", 1500, 4},                 // harmless
        {"abc--", 1500, 5},                // harmless
        {"", 1500, 0},
    };
    for (const auto& c : cases) {
        const size_t n = safeSendLength(bytesOf(c.data), c.max, kPattern);
        EXPECT_EQ(n, c.want) << "\"" << c.data << "\"";
        // Whatever the cut: the module finds the pattern exactly after the payload.
        if (n > 0) {
            const std::string sent = c.data.substr(0, n) + kPattern;
            EXPECT_EQ(sent.find(kPattern), n) << "\"" << c.data << "\"";
        }
    }
    // Sending everything chunk by chunk reaches the end and never splits wrongly.
    const std::string tricky = "x" + kPattern + kPattern.substr(0, 15) + kPattern + "--" + "end";
    size_t pos = 0;
    int chunks = 0;
    while (pos < tricky.size()) {
        const auto rest = bytesOf(tricky).subspan(pos);
        const size_t n = safeSendLength(rest, 7, kPattern);
        ASSERT_GE(n, 1u);
        ASSERT_LE(n, 7u);
        const std::string sent = tricky.substr(pos, n) + kPattern;
        EXPECT_EQ(sent.find(kPattern), n);
        pos += n;
        ASSERT_LT(++chunks, 100);
    }
}

}  // namespace
}  // namespace uplinkd::plugins::sierra_hl78
