// SPDX-License-Identifier: Apache-2.0
// The sierra-hl78 modem plugin against a scripted AtChannel (its parsers and tables:
// modem_hl78_parsers_test.cpp): bring-up, sockets (binary payloads, the EOF pattern rule, chunking,
// the ByteStream contract), provisioning (CR+LF, read-back compare) and the plain-words error
// tables.
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
        return openOk({"broker.example.com", 1883, false, ""});
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
    s->asyncRead(buf, rd.keep());
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
    s->asyncRead(buf, rd.keep());
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
    s->asyncRead(buf, rd.keep());
    at_.expect("AT+KTCPSND=1,5").expectPayload("hello");
    at_.expect("AT+KTCPRCV=1,5").replyData("world");
    const std::string out = "hello";
    s->asyncWrite(bytesOf(out), w.keep());
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
    s->asyncRead(small, first.keep());
    at_.injectUrc("+KTCP_DATA: 1,10");
    ASSERT_TRUE(runUntil(loop_, [&] { return first.r.has_value(); }));
    ReadResult second;
    s->asyncRead(small, second.keep());
    EXPECT_FALSE(second.r.has_value()) << "the read handler ran inside asyncRead";
    WriteResult empty;
    s->asyncWrite({}, empty.keep());
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
    s->asyncRead(buf, rd.keep());
    at_.expect("AT+KTCPSND=1,5");
    const std::string out = "hello";
    s->asyncWrite(bytesOf(out), w.keep());
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
    s->asyncRead(buf, rd.keep());
    ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
    ASSERT_TRUE(*rd.r);
    EXPECT_EQ(**rd.r, 3u);
    rd.r.reset();
    s->asyncRead(buf, rd.keep());
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
    s->asyncWrite(bytesOf(out), w.keep());
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
