// SPDX-License-Identifier: Apache-2.0
// The sierra-hl78 modem plugin against a scripted AtChannel (its parsers and tables:
// modem_hl78_parsers_test.cpp; provisioning and info: modem_hl78_store_test.cpp): bring-up and
// sockets (binary payloads, the EOF pattern rule, chunking, the ByteStream contract, TLS).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <optional>

#include "hl78_commands.hpp"
#include "hl78_driver.hpp"
#include "hl78_parsers.hpp"
#include "modem_hl78_test_fixture.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::sierra_hl78 {
namespace {

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
    const auto got = readAnnounced(*s, "+KTCP_DATA: 1," + std::to_string(kBinary.size()));
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), kBinary.size());
    EXPECT_EQ(*got, kBinary);

    // The server closes: reads end in "eof", writes fail.
    EXPECT_TRUE(at_.injectUrc("+KTCP_NOTIF: 1,4"));
    expectOutcome(readOnce(*s), fails("eof"));

    scriptClose();
    s->close();
    drain(loop_);
}

TEST_F(Hl78DriverTest, ChunksA5KWriteAndNeverCountsThePattern) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    const std::string big = byteRamp(5 * 1024, 7, 13);
    for (const auto& piece : piecesOf(big, {1500, 1500, 1500, 620})) {
        at_.expect("AT+KTCPSND=1," + std::to_string(piece.size()))
            .expectPrompt("CONNECT")
            .expectPayload(piece)
            .expectTerminator(kPattern);
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
    at_.expect("AT+KTCPSND=1,5").expectPayload("hello");
    at_.expect("AT+KTCPRCV=1,5").replyData("world");
    expectReadAndWriteTogether(*s, "hello", "+KTCP_DATA: 1,5", "world");
    scriptClose();
}

TEST_F(Hl78DriverTest, HandlersAreNeverRunInline) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    // Bytes waiting in the stream: the read could complete at once, but must be posted.
    at_.expect("AT+KTCPRCV=1,10").replyData("0123456789");
    const auto first = startRead(*s, 4);
    at_.injectUrc("+KTCP_DATA: 1,10");
    ASSERT_TRUE(runUntil(loop_, [&] { return first->r.has_value(); }));
    const auto second = startRead(*s, 4);
    EXPECT_FALSE(second->r.has_value()) << "the read handler ran inside asyncRead";
    WriteResult empty;
    s->asyncWrite({}, empty.keep());
    EXPECT_FALSE(empty.s.has_value()) << "the write handler ran inside asyncWrite";
    drain(loop_);
    ASSERT_TRUE(second->r.has_value());
    EXPECT_EQ(**second->r, 4u);
    EXPECT_EQ(second->bytes(), "4567");
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
    const auto got = readOnce(*s, 16);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->size(), 3u);
    expectOutcome(readOnce(*s, 16), fails("eof"));
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

/// A data URC that came during a read: its count may already be spent (the read took those
/// bytes), so the module is asked how many it still holds (AT+KTCPSTAT) and only those are read.
struct DataUrcDuringARead {
    const char* what;
    const char* status;  ///< the answer to AT+KTCPSTAT=1
    std::string rest;    ///< the bytes the module still holds (empty: nothing is asked for)
};

class Hl78DataUrcDuringARead : public Hl78DriverTest,
                               public ::testing::WithParamInterface<DataUrcDuringARead> {};

TEST_P(Hl78DataUrcDuringARead, ReadsWhatTheModuleStillHolds) {
    const DataUrcDuringARead& c = GetParam();
    auto s = openPlain();
    ASSERT_TRUE(s);
    at_.expect("AT+KTCPRCV=1,3").replyData("abc").urcBefore("+KTCP_DATA: 1,3");
    at_.expect("AT+KTCPSTAT=1").line(c.status);
    if (!c.rest.empty()) {
        at_.expect("AT+KTCPRCV=1," + std::to_string(c.rest.size())).replyData(c.rest);
    }
    at_.injectUrc("+KTCP_DATA: 1,3");
    EXPECT_EQ(readAtLeast(*s, 3 + c.rest.size()), "abc" + c.rest);
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
    scriptClose();
}

INSTANTIATE_TEST_SUITE_P(Cases, Hl78DataUrcDuringARead,
                         ::testing::Values(DataUrcDuringARead{"ADataUrcDuringAReadIsNotLost",
                                                              "+KTCPSTAT: 3,-1,0,3", "def"},
                                           DataUrcDuringARead{"ASpentCountIsNeverAskedFor",
                                                              "+KTCPSTAT: 3,-1,0,0", ""}),
                         [](const auto& c) { return std::string(c.param.what); });

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
    auto r = open(kPlainBroker);
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
    scriptCloseAndDelete(1);
    at_.expect("AT+KTCPDEL=4");
    r = open(kPlainBroker);
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
    scriptCloseAndDelete(2);     // connected: closed, then deleted
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
    auto r = open(kTlsBroker);
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
    expectOutcome(open({"evil\",\"x", 1883, false, ""}), fails("bad_host"));
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
    expectOutcome(open({"broker.example.com", 8883, true, ""}), fails("", {"TLS crypto profile"}));
}

TEST_F(Hl78DriverTest, SocketsFailWhenTheModuleRestartsOrTheDriverGoes) {
    auto s = openPlain();
    ASSERT_TRUE(s);
    ASSERT_NO_FATAL_FAILURE(expectRestartFailsReads(*s, "+KSUP: 0"));
    s->close();  // the session is gone with the reset: nothing is sent
    drain(loop_);

    auto t = openPlain(2);
    ASSERT_TRUE(t);
    driver_.reset();
    std::array<uint8_t, 8> buf{};
    const auto after = readNow(*t, buf);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->error().code, "closed");
    t.reset();
    drain(loop_);
}

}  // namespace
}  // namespace uplinkd::plugins::sierra_hl78
