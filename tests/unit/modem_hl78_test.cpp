// SPDX-License-Identifier: Apache-2.0
// The sierra-hl78 modem plugin against a scripted AtChannel: parsers from tables (with hostile
// input), bring-up, sockets (binary payloads, the EOF pattern rule, chunking, the ByteStream
// contract), provisioning (CR+LF, read-back compare) and the plain-words error tables.
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

// ---- driver fixture ---------------------------------------------------------------------------

Hl78Timing fastTiming() {
    Hl78Timing t;
    t.command = 1s;
    t.sim_retry = 1ms;
    t.sim_busy_retries = 3;
    t.registration_poll = 2ms;
    t.registration_timeout = 100ms;
    t.denied_polls = 3;
    t.bearer_up = 1s;
    t.connect = 1s;
    t.send = 1s;
    t.receive = 1s;
    t.cert_store = 1s;
    return t;
}

class Hl78DriverTest : public uplinkd::testing::ModemDriverTest<Hl78Driver, Hl78Timing> {
  protected:
    Hl78DriverTest() : ModemDriverTest(fastTiming()) {}

    /// Echo off, numeric errors, the pattern, then the module's sessions are listed (none).
    const AtScript kInit =
        kEchoOff + AtScript{{"AT+KPATTERN=\"--EOF--Pattern--\""}, {"AT+KTCPSTAT"}};
    const AtScript kRegistered = {{"AT+CEREG?", {"+CEREG: 0,1"}}};
    /// The bearer's AT+KCNXCFG with the APN (AT+KCNXUP follows).
    const AtScript kBearerCfg = {{"AT+KCNXCFG=1,\"GPRS\",\"internet.example\""}};
    /// AT+KCNXUP answered by `ind`.
    static AtScript bearerUp(const std::string& ind) {
        return {{.command = "AT+KCNXUP=1", .urcs = {ind}}};
    }

    void scriptInit() { expectScript(at_, kInit); }

    /// The crypto profile written before a TLS session.
    void scriptCrypto() { at_.expect("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0"); }

    /// The bearer: AT+KCNXCFG with the APN, then AT+KCNXUP, whose answer the caller adds.
    ScriptedAtChannel::Step& scriptBearer() {
        at_.expect("AT+KCNXCFG=1,\"GPRS\",\"internet.example\"");
        return at_.expect("AT+KCNXUP=1");
    }

    /// A socket's close: AT+KTCPCLOSE, then AT+KTCPDEL frees the session.
    void scriptClose(int id = 1) {
        at_.expect("AT+KTCPCLOSE=" + std::to_string(id));
        at_.expect("AT+KTCPDEL=" + std::to_string(id));
    }

    ByteStreamPtr openPlain(int id = 1) {
        at_.expect("AT+KTCPCFG=1,0,\"broker.example.com\",1883")
            .line("+KTCPCFG: " + std::to_string(id));
        at_.expect("AT+KTCPCNX=" + std::to_string(id))
            .urcAfter("+KTCP_IND: " + std::to_string(id) + ",1");
        auto r = open({"broker.example.com", 1883, false, ""});
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? std::move(r.value()) : nullptr;
    }
};

// ---- start ------------------------------------------------------------------------------------

TEST_F(Hl78DriverTest, StartRunsTheBringUpSequence) {
    expectStart(
        kInit + kSimReady +
            AtScript{{"AT+CEREG?", {"+CEREG: 0,2"}},
                     {"AT+CEREG?", {"+CEREG: 0,2"}},
                     {"AT+CEREG?", {"+CEREG: 0,1"}},
                     {"AT+KCNXCFG=1,\"GPRS\",\"internet.example\""},
                     {.command = "AT+KCNXUP=1", .urcs = {"+KCNX_IND: 1,4", "+KCNX_IND: 1,1"}}},
        succeeds());
}

TEST_F(Hl78DriverTest, StartSendsApnCredentialsButNeverShowsThem) {
    settings_.apn_user = "user";
    settings_.apn_password = "s3cret";
    expectStart(kInit + kSimReady +
                    AtScript{{"AT+CEREG?", {"+CEREG: 0,5"}},
                             {"AT+KCNXCFG=1,\"GPRS\",\"internet.example\",\"user\",\"s3cret\"",
                              {},
                              "+CME ERROR: 916"}},
                fails("", {"out of range", "apn"}, {"s3cret"}));
}

TEST_F(Hl78DriverTest, StartToleratesFirmwareWithoutKcnxup) {
    expectStart(
        kInit + kSimReady + kRegistered + kBearerCfg + AtScript{{"AT+KCNXUP=1", {}, "ERROR"}},
        succeeds());
}

TEST_F(Hl78DriverTest, StartFailsWhenTheBearerIsRefused) {
    expectStart(kInit + kSimReady + kRegistered + kBearerCfg + bearerUp("+KCNX_IND: 1,2"),
                fails("", {"check apn"}));
}

TEST_F(Hl78DriverTest, StartWithoutSimSaysSo) {
    expectStart(kInit + AtScript{{"AT+CPIN?", {}, "+CME ERROR: 10"}},
                fails("no_sim", {"no SIM card"}));
}

TEST_F(Hl78DriverTest, StartRetriesABusySim) {
    expectStart(kInit + AtScript{{"AT+CPIN?", {}, "+CME ERROR: 14"}} + kSimReady + kRegistered +
                    kBearerCfg + bearerUp("+KCNX_IND: 1,1"),
                succeeds());
}

TEST_F(Hl78DriverTest, StartEntersThePinOnceAndNeverRetriesARefusedOne) {
    settings_.pin = "1234";
    expectStart(kInit + AtScript{{"AT+CPIN?", {"+CPIN: SIM PIN"}},
                                 {"AT+CPIN=\"1234\"", {}, "+CME ERROR: 16"}},
                fails("sim_pin", {"pin_file"}, {"1234"}));
    // The next start does not try the refused PIN again.
    expectStart(kInit + AtScript{{"AT+CPIN?", {"+CPIN: SIM PIN"}}}, fails("", {"not sent again"}));
}

TEST_F(Hl78DriverTest, StartEntersAPin) {
    settings_.pin = "1234";
    expectStart(kInit + AtScript{{"AT+CPIN?", {"+CPIN: SIM PIN"}}, {"AT+CPIN=\"1234\""}} +
                    kSimReady + kRegistered + kBearerCfg + bearerUp("+KCNX_IND: 1,1"),
                succeeds());
}

TEST_F(Hl78DriverTest, StartReportsABlockedSimAndAMissingPin) {
    expectStart(kInit + AtScript{{"AT+CPIN?", {"+CPIN: SIM PUK"}}}, fails("sim_blocked"));
    expectStart(kInit + AtScript{{"AT+CPIN?", {"+CPIN: SIM PIN"}}}, fails("", {"pin_file"}));
}

TEST_F(Hl78DriverTest, StartReportsDeniedRegistration) {
    expectStart(kInit + kSimReady + repeat({"AT+CEREG?", {"+CEREG: 0,3"}}, 3),
                fails("registration_denied", {"denied"}));
}

TEST_F(Hl78DriverTest, StartGivesUpRegistrationAfterTheBound) {
    // The poll runs every 2 ms for 100 ms: script more searching answers than can be used.
    expectStart(kInit + kSimReady + repeat({"AT+CEREG?", {"+CEREG: 0,2"}}, 200),
                fails("not_registered", {"last state: searching", "antenna"}));
    EXPECT_GT(at_.remaining(), 100u);  // bounded: it stopped polling
    at_.forgetScript();
}

TEST_F(Hl78DriverTest, StartFailsWhenTheModuleIsSilent) {
    expectStart({{.command = "ATE0", .timeout = true}}, fails("at_timeout", {"ATE0"}));
}

// ---- sockets ----------------------------------------------------------------------------------

TEST_F(Hl78DriverTest, OpenWriteReadCloseWithBinaryPayloads) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    EXPECT_NE(s->describe().find("broker.example.com:1883"), std::string::npos);

    // Write: n counts the payload only; the pattern follows it.
    at_.expect("AT+KTCPSND=1," + std::to_string(kBinary.size()))
        .expectPrompt("CONNECT")
        .expectPayload(kBinary)
        .expectTerminator(kPattern);
    const Status w = write(*s, kBinary);
    EXPECT_TRUE(w);
    ASSERT_EQ(at_.written().size(), 1u);
    EXPECT_EQ(at_.written()[0], kBinary + kPattern);

    // Read: +KTCP_DATA, then AT+KTCPRCV for what is there.
    at_.expect("AT+KTCPRCV=1," + std::to_string(kBinary.size())).replyData(kBinary);
    std::array<uint8_t, 64> buf{};
    ReadResult rd;
    s->asyncRead(buf, [&](Result<size_t> r) { rd.r = r; });
    drain(loop_);
    EXPECT_FALSE(rd.r.has_value());  // nothing yet
    EXPECT_TRUE(at_.injectUrc("+KTCP_DATA: 1," + std::to_string(kBinary.size())));
    ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
    ASSERT_TRUE(*rd.r);
    ASSERT_EQ(**rd.r, kBinary.size());
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), **rd.r), kBinary);

    // The server closes: reads end in "eof", writes fail.
    EXPECT_TRUE(at_.injectUrc("+KTCP_NOTIF: 1,4"));
    rd.r.reset();
    s->asyncRead(buf, [&](Result<size_t> r) { rd.r = r; });
    ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
    ASSERT_FALSE(*rd.r);
    EXPECT_EQ(rd.r->error().code, "eof");

    scriptClose();
    s->close();
    drain(loop_);
}

TEST_F(Hl78DriverTest, ChunksA5KWriteAndNeverCountsThePattern) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    std::string big(5 * 1024, '\0');
    for (size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>((i * 7 + 13) % 256);
    }
    size_t pos = 0;
    for (const size_t n : {1500u, 1500u, 1500u, 620u}) {
        at_.expect("AT+KTCPSND=1," + std::to_string(n))
            .expectPrompt("CONNECT")
            .expectPayload(big.substr(pos, n))
            .expectTerminator(kPattern);
        pos += n;
    }
    const Status w = write(*s, big);
    EXPECT_TRUE(w);
    std::string all;
    for (const auto& chunk : at_.written()) {
        ASSERT_TRUE(chunk.ends_with(kPattern));
        all += chunk.substr(0, chunk.size() - kPattern.size());
    }
    EXPECT_TRUE(all == big);
    scriptClose();
}

TEST_F(Hl78DriverTest, APayloadHoldingThePatternIsSplitAroundIt) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    const std::string data = "abc" + kPattern + "def";
    at_.expect("AT+KTCPSND=1,4").expectPayload("abc-");
    at_.expect("AT+KTCPSND=1,18").expectPayload(data.substr(4));
    const Status w = write(*s, data);
    EXPECT_TRUE(w);
    scriptClose();
}

TEST_F(Hl78DriverTest, OneReadAndOneWriteMayBeOutstandingTogether) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    std::array<uint8_t, 16> buf{};
    ReadResult rd;
    WriteResult w;
    s->asyncRead(buf, [&](Result<size_t> r) { rd.r = r; });
    at_.expect("AT+KTCPSND=1,5").expectPayload("hello");
    at_.expect("AT+KTCPRCV=1,5").replyData("world");
    const std::string out = "hello";
    s->asyncWrite(bytesOf(out), [&](Status st) { w.s = st; });
    at_.injectUrc("+KTCP_DATA: 1,5");
    ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value() && w.s.has_value(); }));
    EXPECT_TRUE(*w.s);
    ASSERT_TRUE(*rd.r);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), **rd.r), "world");
    scriptClose();
}

TEST_F(Hl78DriverTest, HandlersAreNeverRunInline) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    // Bytes waiting in the stream: the read could complete at once, but must be posted.
    at_.expect("AT+KTCPRCV=1,10").replyData("0123456789");
    std::array<uint8_t, 4> small{};
    ReadResult first;
    s->asyncRead(small, [&](Result<size_t> r) { first.r = r; });
    at_.injectUrc("+KTCP_DATA: 1,10");
    ASSERT_TRUE(runUntil(loop_, [&] { return first.r.has_value(); }));
    ReadResult second;
    s->asyncRead(small, [&](Result<size_t> r) { second.r = r; });
    EXPECT_FALSE(second.r.has_value()) << "the read handler ran inside asyncRead";
    WriteResult empty;
    s->asyncWrite({}, [&](Status st) { empty.s = st; });
    EXPECT_FALSE(empty.s.has_value()) << "the write handler ran inside asyncWrite";
    drain(loop_);
    ASSERT_TRUE(second.r.has_value());
    EXPECT_EQ(**second.r, 4u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(small.data()), 4), "4567");
    scriptClose();
}

TEST_F(Hl78DriverTest, CloseFailsPendingHandlersWithClosed) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    std::array<uint8_t, 16> buf{};
    ReadResult rd;
    WriteResult w;
    s->asyncRead(buf, [&](Result<size_t> r) { rd.r = r; });
    at_.expect("AT+KTCPSND=1,5");
    const std::string out = "hello";
    s->asyncWrite(bytesOf(out), [&](Status st) { w.s = st; });
    scriptClose();
    s->close();
    EXPECT_FALSE(rd.r.has_value());  // posted, not inline
    drain(loop_);
    ASSERT_TRUE(rd.r.has_value());
    ASSERT_TRUE(w.s.has_value());
    EXPECT_EQ(rd.r->error().code, "closed");
    EXPECT_EQ(w.s->error().code, "closed");
    // Later operations fail the same way.
    const auto later = readNow(*s, buf);
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(later->error().code, "closed");
}

TEST_F(Hl78DriverTest, NothingRunsAfterTheStreamIsDestroyed) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    std::array<uint8_t, 16> buf{};
    bool ran = false;
    at_.expect("AT+KTCPRCV=1,3").replyData("abc");
    s->asyncRead(buf, [&](Result<size_t>) { ran = true; });
    at_.injectUrc("+KTCP_DATA: 1,3");  // the fetch is under way
    scriptClose();
    s.reset();
    drain(loop_);
    EXPECT_FALSE(ran);
    // URCs for the session after its end are ignored.
    at_.injectUrc("+KTCP_DATA: 1,3");
    at_.injectUrc("+KTCP_NOTIF: 1,4");
    drain(loop_);
}

TEST_F(Hl78DriverTest, RemoteCloseStillDeliversBufferedBytes) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    at_.injectUrc("+KTCP_DATA: 1,3");
    at_.expect("AT+KTCPRCV=1,3").replyData("xyz");
    at_.injectUrc("+KTCP_NOTIF: 1,4");
    std::array<uint8_t, 16> buf{};
    ReadResult rd;
    s->asyncRead(buf, [&](Result<size_t> r) { rd.r = r; });
    ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
    ASSERT_TRUE(*rd.r);
    EXPECT_EQ(**rd.r, 3u);
    rd.r.reset();
    s->asyncRead(buf, [&](Result<size_t> r) { rd.r = r; });
    ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
    EXPECT_EQ(rd.r->error().code, "eof");
    scriptClose();
}

TEST_F(Hl78DriverTest, ReadsLargeBuffersInChunksAndFollowsTheCount) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    const std::string a(1500, 'a');
    const std::string b(500, 'b');
    at_.expect("AT+KTCPRCV=1,1500").replyData(a);
    at_.expect("AT+KTCPRCV=1,500").replyData(b);
    at_.injectUrc("+KTCP_DATA: 1,2000");
    EXPECT_EQ(readAtLeast(*s, 2000), a + b);
    scriptClose();
}

TEST_F(Hl78DriverTest, ADataUrcDuringAReadIsNotLost) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    at_.expect("AT+KTCPRCV=1,3").replyData("abc").urcBefore("+KTCP_DATA: 1,3");
    // That count may already be spent: the module is asked how many bytes it holds.
    at_.expect("AT+KTCPSTAT=1").line("+KTCPSTAT: 3,-1,0,3");
    at_.expect("AT+KTCPRCV=1,3").replyData("def");
    at_.injectUrc("+KTCP_DATA: 1,3");
    EXPECT_EQ(readAtLeast(*s, 6), "abcdef");
    scriptClose();
}

TEST_F(Hl78DriverTest, ASpentCountIsNeverAskedFor) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    // The URC crossed the read and announced bytes the read already took.
    at_.expect("AT+KTCPRCV=1,3").replyData("abc").urcBefore("+KTCP_DATA: 1,3");
    at_.expect("AT+KTCPSTAT=1").line("+KTCPSTAT: 3,-1,0,0");
    at_.injectUrc("+KTCP_DATA: 1,3");
    EXPECT_EQ(readAtLeast(*s, 3), "abc");
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
    scriptClose();
}

TEST_F(Hl78DriverTest, ReadsAreByteCountedWhateverTheBytes) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    // A peer's payload that holds the end pattern, a URC and final results.
    const std::string hostile =
        "--EOF--Pattern--\r\n+KTCP_NOTIF: 1,4\r\nOK\r\nERROR\r\n> CONNECT\r\n+++\r\n+KSUP: 0\r\n";
    at_.expect("AT+KTCPRCV=1," + std::to_string(hostile.size())).replyData(hostile);
    at_.injectUrc("+KTCP_DATA: 1," + std::to_string(hostile.size()));
    EXPECT_EQ(readAtLeast(*s, hostile.size()), hostile);
    scriptClose();
}

TEST_F(Hl78DriverTest, ALengthMismatchBreaksTheStream) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    at_.injectUrc("+KTCP_NOTIF: 1,8");
    WriteResult w;
    const std::string out = "x";
    s->asyncWrite(bytesOf(out), [&](Status st) { w.s = st; });
    drain(loop_);
    ASSERT_TRUE(w.s.has_value());
    EXPECT_EQ(w.s->error().code, "modem_protocol");
    scriptClose();
}

TEST_F(Hl78DriverTest, ConnectResultMayArriveBeforeOk) {
    at_.expect("AT+KTCPCFG=1,0,\"broker.example.com\",1883").line("+KTCPCFG: 2");
    at_.expect("AT+KTCPCNX=2").urcBefore("+KTCP_IND: 2,1");
    auto r = open({"broker.example.com", 1883, false, ""});
    ASSERT_TRUE(r) << r.error().message;
    scriptClose(2);
}

TEST_F(Hl78DriverTest, OpenFailuresAreExplained) {
    at_.expect("AT+KTCPCFG=1,0,\"nowhere.invalid\",1883").line("+KTCPCFG: 1");
    at_.expect("AT+KTCPCNX=1").urcAfter("+KTCP_NOTIF: 1,3");
    at_.expect("AT+KTCPDEL=1");
    auto r = open({"nowhere.invalid", 1883, false, ""});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "dns");
    EXPECT_NE(r.error().message.find("nowhere.invalid"), std::string::npos);

    // No session left: the error says so with a code the supervisor counts, and the sessions
    // nobody owns (left by a hang) are freed for the next attempt.
    at_.expect("AT+KTCPCFG=1,0,\"broker.example.com\",1883").error("+CME ERROR: 912");
    at_.expect("AT+KTCPSTAT").line("+KTCPSTAT: 1,3,-1,0,0").line("+KTCPSTAT: 4,1,-1,0,0");
    scriptClose(1);
    at_.expect("AT+KTCPDEL=4");
    r = open({"broker.example.com", 1883, false, ""});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "modem_no_sessions");
    EXPECT_NE(r.error().message.find("all sessions are in use"), std::string::npos)
        << r.error().message;
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
}

TEST_F(Hl78DriverTest, StartDeletesTheSessionsItDoesNotOwn) {
    at_.expect("ATE0");
    at_.expect("AT+CMEE=1");
    at_.expect("AT+KPATTERN=\"--EOF--Pattern--\"");
    // Sessions of a module that hung: their close was lost.
    at_.expect("AT+KTCPSTAT").line("+KTCPSTAT: 2,3,-1,0,10").line("+KTCPSTAT: 5,1,-1,0,0");
    scriptClose(2);              // connected: closed, then deleted
    at_.expect("AT+KTCPDEL=5");  // only defined: deleted

    at_.expect("AT+CPIN?").line("+CPIN: READY");
    at_.expect("AT+CEREG?").line("+CEREG: 0,1");
    scriptBearer().urcAfter("+KCNX_IND: 1,1");
    const Status st = start();
    EXPECT_TRUE(st) << st.error().message;
}

TEST_F(Hl78DriverTest, ARestartDuringStartEndsIt) {
    scriptInit();
    at_.expect("AT+CPIN?").line("+CPIN: READY");
    for (int i = 0; i < 100; ++i) {
        at_.expect("AT+CEREG?").line("+CEREG: 0,2");
    }
    std::optional<Status> st;
    driver().start([&](Status s) { st = std::move(s); });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.commands().size() >= 6; }));
    ASSERT_TRUE(at_.injectBoot("+KSUP: 0"));
    ASSERT_TRUE(runUntil(loop_, [&] { return st.has_value(); }));
    at_.forgetScript();
    ASSERT_FALSE(*st);
    EXPECT_EQ(st->error().code, "at_reset");
    EXPECT_NE(st->error().message.find("+KSUP: 0"), std::string::npos) << st->error().message;
}

TEST_F(Hl78DriverTest, TlsCertificateErrorNamesTheMissingCa) {
    scriptCrypto();
    at_.expect("AT+KTCPCFG=1,3,\"broker.example.com\",8883,,,,,1").line("+KTCPCFG: 1");
    at_.expect("AT+KTCPCNX=1").urcAfter("+KTCP_NOTIF: 1,15");
    at_.expect("AT+KTCPDEL=1");
    auto r = open({"broker.example.com", 8883, true, "broker.example.com"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "tls_untrusted");
    const std::string& m = r.error().message;
    EXPECT_NE(m.find("does not trust"), std::string::npos) << m;
    EXPECT_NE(m.find("the module's root CA store does not hold the CA that signed "
                     "broker.example.com's certificate: check tls.ca_file"),
              std::string::npos)
        << m;
}

TEST_F(Hl78DriverTest, TlsSocketUsesMode3TheCryptoProfileAndTheHostAsServerName) {
    // TLS 1.2, ECDHE with RSA or ECDSA, AEAD ciphers, the server verified against root CA 0;
    // the session names the profile.
    scriptCrypto();
    at_.expect("AT+KTCPCFG=1,3,\"broker.example.com\",8883,,,,,1").line("+KTCPCFG: 1");
    at_.expect("AT+KTCPCNX=1").urcAfter("+KTCP_IND: 1,1");
    auto r = open({"broker.example.com", 8883, true, ""});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_NE((*r)->describe().find("TLS"), std::string::npos);
    scriptClose();
    (*r)->close();
    // A different server name cannot be given to this module.
    auto refused = open({"10.0.0.1", 8883, true, "broker.example.com"});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "unsupported");
    // Host names that would break the command line are refused before anything is sent.
    auto bad = open({"evil\",\"x", 1883, false, ""});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, "bad_host");
}

TEST_F(Hl78DriverTest, OlderFirmwareGetsTheProfileWithoutTheRootIndex) {
    at_.expect("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0").error("+CME ERROR: 915");
    at_.expect("AT+KSSLCRYPTO=1,8,3,25392,12,4,1");
    at_.expect("AT+KTCPCFG=1,3,\"broker.example.com\",8883,,,,,1").line("+KTCPCFG: 1");
    at_.expect("AT+KTCPCNX=1").urcAfter("+KTCP_IND: 1,1");
    auto r = open({"broker.example.com", 8883, true, ""});
    ASSERT_TRUE(r) << r.error().message;
    scriptClose();
    (*r)->close();
    drain(loop_);
    // A profile the module refuses in both forms: no session is configured.
    at_.expect("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0").error("+CME ERROR: 916");
    at_.expect("AT+KSSLCRYPTO=1,8,3,25392,12,4,1").error("+CME ERROR: 916");
    auto refused = open({"broker.example.com", 8883, true, ""});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("TLS crypto profile"), std::string::npos)
        << refused.error().message;
}

TEST_F(Hl78DriverTest, SocketsFailWhenTheModuleRestartsOrTheDriverGoes) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    ASSERT_TRUE(at_.injectBoot("+KSUP: 0"));
    std::array<uint8_t, 8> buf{};
    const auto rd = readNow(*s, buf);
    ASSERT_TRUE(rd.has_value());
    EXPECT_EQ(rd->error().code, "modem_reset");
    s->close();  // the session is gone with the reset: nothing is sent
    drain(loop_);

    auto t = openPlain(2);
    ASSERT_TRUE(t);
    driver_.reset();
    const auto after = readNow(*t, buf);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->error().code, "closed");
    t.reset();
    drain(loop_);
}

// ---- provisioning -----------------------------------------------------------------------------

const std::string kCaLf =
    "-----BEGIN CERTIFICATE-----\nTUlJQ2FEQ0NBZ0NnQXdJQkFnSVVmYWtlQ0E=\nQUJDREVGRw==\n"
    "-----END CERTIFICATE-----\n";
const std::string kCaCrLf =
    "-----BEGIN CERTIFICATE-----\r\nTUlJQ2FEQ0NBZ0NnQXdJQkFnSVVmYWtlQ0E=\r\nQUJDREVGRw==\r\n"
    "-----END CERTIFICATE-----\r\n";
const std::string kCertCrLf =
    "-----BEGIN CERTIFICATE-----\r\nQ0xJRU5U\r\n-----END CERTIFICATE-----\r\n";
const std::string kKeyCrLf = "-----BEGIN PRIVATE KEY-----\r\nS0VZ\r\n-----END PRIVATE KEY-----\r\n";

std::vector<std::string> listing(const std::string& kind, int index, const std::string& pem) {
    std::vector<std::string> lines = {kind + "," + std::to_string(index) + "," +
                                      std::to_string(pem.size())};
    size_t pos = 0;
    while (pos < pem.size()) {
        const size_t end = pem.find("\r\n", pos);
        lines.push_back(pem.substr(pos, end - pos));
        pos = end + 2;
    }
    return lines;
}

TEST_F(Hl78DriverTest, ProvisionWritesCrLfPemAndComparesTheReadBack) {
    at_.expect("AT+KCERTSTORE=0," + std::to_string(kCaCrLf.size()))
        .expectPrompt("CONNECT")
        .expectPayload(kCaCrLf)
        .expectTerminator(kPattern);
    at_.expect("AT+KCERTSTORE=1," + std::to_string(kCertCrLf.size())).expectPayload(kCertCrLf);
    at_.expect("AT+KPRIVKSTORE=0," + std::to_string(kKeyCrLf.size())).expectPayload(kKeyCrLf);
    auto& read = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    for (const auto& l : listing("root_cert", 0, kCaCrLf)) {
        read.line(l);
    }
    for (const auto& l : listing("local_cert", 0, kCertCrLf)) {
        read.line(l);
    }
    // LF line ends and text around the blocks (as openssl writes them) are normalised.
    ModemCredentials creds{"Subject: test CA\n" + kCaLf,
                           "-----BEGIN CERTIFICATE-----\nQ0xJRU5U\n-----END CERTIFICATE-----",
                           "-----BEGIN PRIVATE KEY-----\r\nS0VZ\r\n-----END PRIVATE KEY-----\n"};
    Status result = provision(creds);
    EXPECT_TRUE(result) << result.error().message;
    ASSERT_EQ(at_.written().size(), 3u);
    EXPECT_EQ(at_.written()[0], kCaCrLf + kPattern);
}

TEST_F(Hl78DriverTest, ProvisionDetectsAReadBackMismatch) {
    at_.expect("AT+KCERTSTORE=0," + std::to_string(kCaCrLf.size())).expectPayload(kCaCrLf);
    at_.expect("AT+KCERTDELETE=1").error("+CME ERROR: 910");  // nothing to delete: ignored
    std::string other = kCaCrLf;
    other[40] = 'X';
    auto& read = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    for (const auto& l : listing("root_cert", 0, other)) {
        read.line(l);
    }
    Status result = provision({kCaLf, "", ""});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, "provision_mismatch");
    EXPECT_NE(result.error().message.find("tls.ca_file"), std::string::npos);
}

TEST_F(Hl78DriverTest, ProvisionStoresSeveralRootsByIndexAndExplainsRefusals) {
    const std::string second =
        "-----BEGIN CERTIFICATE-----\r\nU0VDT05E\r\n-----END CERTIFICATE-----\r\n";
    at_.expect("AT+KCERTSTORE=0," + std::to_string(kCaCrLf.size()) + ",0").expectPayload(kCaCrLf);
    at_.expect("AT+KCERTSTORE=0," + std::to_string(second.size()) + ",1").error("+CME ERROR: 930");
    Status result = provision({kCaLf + second, "", ""});
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("root CA #1"), std::string::npos)
        << result.error().message;
    EXPECT_NE(result.error().message.find("not a certificate"), std::string::npos)
        << result.error().message;

    // Bad input never reaches the module.
    result = provision({"not a certificate", "", ""});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, "bad_pem");
    result = provision({kCaLf, kCertCrLf, ""});
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("key_file"), std::string::npos);
}

// ---- info, explain, plugin --------------------------------------------------------------------

TEST_F(Hl78DriverTest, InfoCollectsWhatTheModuleSays) {
    at_.expect("AT+CGMI").line("Sierra Wireless");
    at_.expect("AT+CGMM").line("HL7802");
    at_.expect("AT+CGMR").line("HL7800.4.6.9.4");
    at_.expect("AT+CGSN").line("351234567890123");
    at_.expect("AT+CCID").line("+CCID: 8944500000000000000");
    at_.expect("AT+CPIN?").line("+CPIN: READY");
    at_.expect("AT+CEREG?").line("+CEREG: 0,5");
    at_.expect("AT+CSQ").line("+CSQ: 20,99");
    const Result<ModemInfo> answer = info();
    ASSERT_TRUE(answer);
    const ModemInfo& i = answer.value();
    EXPECT_EQ(i.manufacturer, "Sierra Wireless");
    EXPECT_EQ(i.model, "HL7802");
    EXPECT_EQ(i.firmware, "HL7800.4.6.9.4");
    EXPECT_EQ(i.imei, "351234567890123");
    EXPECT_EQ(i.iccid, "8944500000000000000");
    EXPECT_EQ(i.sim, "ready");
    EXPECT_EQ(i.registration, "registered (roaming)");
    EXPECT_EQ(i.signal_dbm, -73);
}

TEST_F(Hl78DriverTest, InfoFailsOnlyWhenTheModuleIsSilent) {
    at_.expect("AT+CGMI").timesOut();
    at_.expect("AT+CGMM").timesOut();
    const Result<ModemInfo> answer = info();
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().code, "at_timeout");
}

TEST_F(Hl78DriverTest, ExplainAndLimits) {
    EXPECT_EQ(driver().maxSendChunk(), 1500u);
    EXPECT_NE(driver().explain("+CME ERROR: 913").find("timeout"), std::string::npos);
    EXPECT_NE(driver().explain("+KTCP_NOTIF: 1,15").find("tls.ca_file"), std::string::npos);
}

TEST(Hl78Plugin, DescriptorAndCreate) {
    const PluginDescriptor* d = descriptor();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->abi_version, kPluginAbiVersion);
    EXPECT_EQ(d->kind, PluginKind::Modem);
    EXPECT_STREQ(d->name, "sierra-hl78");
    const auto* api = static_cast<const ModemPluginApi*>(d->api);
    ASSERT_NE(api->match, nullptr);
    EXPECT_TRUE(api->match->supports_tls_offload);
    EXPECT_EQ(api->match->model_patterns, (std::vector<std::string>{"HL7800", "HL7802", "HL7812"}));
    asio::io_context loop;
    ScriptedAtChannel at(loop);
    auto ok = api->create(loop, at, testing::apnSettings("internet"));
    EXPECT_TRUE(ok);
    auto bad = api->create(loop, at, testing::apnSettings("inter\"net"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, "config");
    EXPECT_NE(bad.error().message.find("apn"), std::string::npos);
}

}  // namespace
}  // namespace uplinkd::plugins::sierra_hl78
