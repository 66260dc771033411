// SPDX-License-Identifier: Apache-2.0
// The simcom-a76xx modem plugin against a scripted AtChannel (its parsers:
// modem_a76xx_parsers_test.cpp): bring-up, plain sockets (CIPSEND with exactly len bytes, CIPRXGET
// counted reads that loop while bytes remain), TLS sockets (SSL context with SNI, CCHSEND, CCHRECV
// with data URCs), provisioning and the plain-words error tables.
#include <gtest/gtest.h>

#include <array>
#include <optional>

#include "a76xx_commands.hpp"
#include "a76xx_driver.hpp"
#include "a76xx_parsers.hpp"
#include "modem_a76xx_test_support.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::simcom_a76xx {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- driver fixture ---------------------------------------------------------------------------

class A76xxDriverTest : public uplinkd::testing::ModemDriverTest<A76xxDriver, A76xxTiming> {
  protected:
    A76xxDriverTest() : ModemDriverTest(fastTiming()) {}

    /// Echo off, numeric errors, the SIM, the PDP context with the APN.
    const AtScript kUntilApn =
        kEchoOff + kSimReady + AtScript{{"AT+CGDCONT=1,\"IP\",\"internet.example\""}};
    /// ... then registered on LTE.
    const AtScript kUntilRegistered =
        kUntilApn + AtScript{{"AT+CEREG?", {"+CEREG: 0,1"}}, {"AT+CGREG?", {"+CGREG: 0,2"}}};

    /// Manual receive, the network opened, no link left over.
    const AtScript kNetworkOpen = {
        {"AT+CIPRXGET=1"}, {.command = "AT+NETOPEN", .urcs = {"+NETOPEN: 0"}}, {"AT+CIPOPEN?"}};

    void scriptStartUntilRegistered() { expectScript(at_, kUntilRegistered); }

    /// A started driver (network open).
    void started() { expectStart(kUntilRegistered + kNetworkOpen, succeeds()); }

    /// A started driver with TCP link 0 open to the plain broker (null after a test failure).
    ByteStreamPtr startedWithTcp() {
        started();
        return openTcp();
    }

    ByteStreamPtr openTcp(int link = 0) {
        const std::string l = std::to_string(link);
        return openAfter({{.command = "AT+CIPOPEN=" + l + ",\"TCP\",\"broker.example.com\",1883",
                           .urcs = {"+CIPOPEN: " + l + ",0"}}},
                         kPlainBroker);
    }

    void scriptTlsSetup(bool list = true, bool client = false) {
        at_.expect("AT+CCHSET=1,1");
        at_.expect("AT+CCHSTART").urcAfter("+CCHSTART: 0");
        if (list) {
            auto& l = at_.expect("AT+CCERTLIST").line("+CCERTLIST: \"uplinkd_ca.pem\"");
            if (client) {
                l.line("+CCERTLIST: \"uplinkd_cert.pem\"").line("+CCERTLIST: \"uplinkd_key.pem\"");
            }
        }
    }

    void scriptSslContext(int session, bool client = false) {
        expectCommands(at_, sslContextSteps(client, 1s));
        at_.expect("AT+CCHSSLCFG=" + std::to_string(session) + ",0");
    }

    ByteStreamPtr openTls(int session = 0) {
        const std::string s = std::to_string(session);
        return openAfter({{.command = "AT+CCHOPEN=" + s + ",\"broker.example.com\",8883,2",
                           .urcs = {"+CCHOPEN: " + s + ",0"}}},
                         kTlsBroker);
    }
};

// ---- start ------------------------------------------------------------------------------------

TEST_F(A76xxDriverTest, StartSetsManualReceiveBeforeNetopen) {
    expectStart(kUntilApn + AtScript{{"AT+CEREG?", {"+CEREG: 0,2"}},
                                     {"AT+CGREG?", {"+CGREG: 0,2"}},
                                     {"AT+CEREG?", {"+CEREG: 0,0"}},
                                     // registered on 2G/3G only: fine
                                     {"AT+CGREG?", {"+CGREG: 0,5"}},
                                     {"AT+CIPRXGET=1"},
                                     {.command = "AT+NETOPEN", .urcs = {"+NETOPEN: 0"}},
                                     {"AT+CIPOPEN?"}},
                succeeds());
}

TEST_F(A76xxDriverTest, StartSendsApnCredentials) {
    settings_.apn_user = "user";
    settings_.apn_password = "pw";
    expectStart(kUntilApn + AtScript{{"AT+CGAUTH=1,1,\"user\",\"pw\"", {}, "ERROR"}},
                fails("", {"AT+CGAUTH"}, {"\"pw\""}));
}

TEST_F(A76xxDriverTest, StartCopesWithAnOpenNetworkFromAnEarlierRun) {
    expectStart(kUntilRegistered +
                    AtScript{// refused while the network is open
                             {"AT+CIPRXGET=1", {}, "ERROR"},
                             {.command = "AT+NETCLOSE", .urcs = {"+NETCLOSE: 0"}},
                             {"AT+CIPRXGET=1"},
                             {"AT+NETOPEN", {}, "ERROR"},
                             {"AT+NETOPEN?", {"+NETOPEN: 1"}},
                             // Links of the earlier run are still open in the module: they are
                             // closed.
                             {"AT+CIPOPEN?",
                              {"+CIPOPEN: 0,\"TCP\",\"10.0.0.1\",1883,-1", "+CIPOPEN: 1",
                               "+CIPOPEN: 7,\"TCP\",\"10.0.0.1\",1883,-1"}},
                             {"AT+CIPCLOSE=0"},
                             {"AT+CIPCLOSE=7", {}, "ERROR"}},
                succeeds());
}

TEST_F(A76xxDriverTest, StartTakesAlreadyOpenedAsSuccess) {
    expectStart(
        kUntilRegistered + AtScript{{"AT+CIPRXGET=1"},
                                    {"AT+NETOPEN", {}, "+IP ERROR: Network is already opened"},
                                    {"AT+CIPOPEN?"}},
        succeeds());
}

TEST_F(A76xxDriverTest, StartExplainsANetopenFailure) {
    expectStart(kUntilRegistered +
                    AtScript{{"AT+CIPRXGET=1"}, {.command = "AT+NETOPEN", .urcs = {"+NETOPEN: 1"}}},
                fails("", {"network failure", "apn"}));
}

TEST_F(A76xxDriverTest, StartWithoutSimSaysSo) {
    expectStart(kEchoOff + AtScript{{"AT+CPIN?", {}, "+CME ERROR: 10"}}, fails("no_sim"));
}

// ---- plain sockets ----------------------------------------------------------------------------

TEST_F(A76xxDriverTest, TcpWriteSendsExactlyLenBytesAndWaitsForTheConfirmation) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    const std::string n = std::to_string(kBinary.size());
    at_.expect("AT+CIPSEND=0," + n)
        .expectPrompt(">")
        .expectPayload(kBinary)
        .expectTerminator("")
        .urcAfter("+CIPSEND: 0," + n + "," + n);
    const Status w = write(*s, kBinary);
    EXPECT_TRUE(w) << w.error().message;
    EXPECT_EQ(at_.written().at(0), kBinary);
    at_.expect("AT+CIPCLOSE=0").urcAfter("+CIPCLOSE: 0,0");
}

TEST_F(A76xxDriverTest, TcpChunksA5KWrite) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    const std::string big = byteRamp(5 * 1024, 31, 7);
    for (const auto& piece : piecesOf(big, {1460, 1460, 1460, 740})) {
        const std::string n = std::to_string(piece.size());
        at_.expect("AT+CIPSEND=0," + n).expectPayload(piece).urcAfter("+CIPSEND: 0," + n + "," + n);
    }
    const Status w = write(*s, big);
    EXPECT_TRUE(w);
    std::string all;
    for (const auto& c : at_.written()) {
        all += c;
    }
    EXPECT_TRUE(all == big);
    at_.expect("AT+CIPCLOSE=0");
}

TEST_F(A76xxDriverTest, TcpPartialAndRefusedSends) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    // The module takes 4 of 10 bytes, then has a full buffer once, then takes the rest.
    at_.expect("AT+CIPSEND=0,10").expectPayload("0123456789").urcAfter("+CIPSEND: 0,10,4");
    at_.expect("AT+CIPSEND=0,6").expectPayload("456789").urcAfter("+CIPSEND: 0,6,0");
    at_.expect("AT+CIPSEND=0,6").expectPayload("456789").urcAfter("+CIPSEND: 0,6,6");
    const std::string data = "0123456789";
    const Status w = write(*s, data);
    EXPECT_TRUE(w) << w.error().message;
    // A disconnected link.
    at_.expect("AT+CIPSEND=0,2").urcAfter("+CIPSEND: 0,2,-1");
    expectOutcome(write(*s, "ab"), fails("eof"));
    at_.expect("AT+CIPCLOSE=0");
}

TEST_F(A76xxDriverTest, TcpReadLoopsWhileBytesRemainThenEof) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    const std::string second(7, 'z');
    at_.expect("AT+CIPRXGET=2,0,1500")
        .line("+CIPRXGET: 2,0," + std::to_string(kBinary.size()) + ",7")
        .replyData(kBinary);
    at_.expect("AT+CIPRXGET=2,0,1500").line("+CIPRXGET: 2,0,7,0").replyData(second);
    const auto first = readAnnounced(*s, "+CIPRXGET: 1,0");
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, kBinary);
    // The rest was fetched without another URC.
    const auto rest = readOnce(*s);
    ASSERT_TRUE(rest);
    EXPECT_EQ(*rest, second);
    // The server closes.
    EXPECT_TRUE(at_.injectUrc("+IPCLOSE: 0,1"));
    expectOutcome(readOnce(*s), fails("eof"));
    WriteResult w;
    s->asyncWrite(bytesOf(second), w.keep());
    drain(loop_);
    ASSERT_TRUE(w.s.has_value());
    EXPECT_EQ(w.s->error().code, "eof");
    // The module closed the link and holds nothing for it: no AT+CIPCLOSE (it would only fail).
    s.reset();
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
    // The link is free at once: the next open may take it (round robin gives link 1).
    auto t = openTcp(1);
    ASSERT_TRUE(t);
    at_.expect("AT+CIPCLOSE=1");
}

TEST_F(A76xxDriverTest, APeerClosedLinkThatMayStillHoldBytesIsClosed) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    at_.expect("AT+CIPRXGET=2,0,1500").line("+CIPRXGET: 2,0,3,0").replyData("abc");
    const auto first = readAnnounced(*s, "+CIPRXGET: 1,0");
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, "abc");
    // More bytes are announced (the driver starts fetching them), the peer closes, and the
    // application closes before the fetch ended: the module may still hold bytes for the link,
    // so AT+CIPCLOSE frees it.
    at_.expect("AT+CIPRXGET=2,0,1500").line("+CIPRXGET: 2,0,3,0").replyData("def");
    EXPECT_TRUE(at_.injectUrc("+CIPRXGET: 1,0"));
    EXPECT_TRUE(at_.injectUrc("+IPCLOSE: 0,1"));
    at_.expect("AT+CIPCLOSE=0").urcAfter("+CIPCLOSE: 0,0");
    s.reset();
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
}

TEST_F(A76xxDriverTest, ALinkClosedForASendTimeoutIsNotClosedAgain) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    EXPECT_TRUE(at_.injectUrc("+IPCLOSE: 0,2"));
    expectOutcome(readOnce(*s), fails("io"));
    s.reset();
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
}

TEST_F(A76xxDriverTest, ADataUrcDuringAReadIsNotLost) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    // New bytes arrive while the first read runs: the module announces them before its answer.
    at_.expect("AT+CIPRXGET=2,0,1500")
        .line("+CIPRXGET: 2,0,3,0")
        .replyData("abc")
        .urcBefore("+CIPRXGET: 1,0");
    at_.expect("AT+CIPRXGET=2,0,1500").line("+CIPRXGET: 2,0,3,0").replyData("def");
    at_.injectUrc("+CIPRXGET: 1,0");
    EXPECT_EQ(readAtLeast(*s, 6), "abcdef");
    at_.expect("AT+CIPCLOSE=0");
}

TEST_F(A76xxDriverTest, TcpReadWithNothingBufferedWaits) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    at_.expect("AT+CIPRXGET=2,0,1500").error("+IP ERROR: No data");
    const auto rd = startRead(*s, 8);
    at_.injectUrc("+CIPRXGET: 1,0");
    drain(loop_);
    EXPECT_FALSE(rd->r.has_value());
    at_.expect("AT+CIPCLOSE=0");
    s->close();
    drain(loop_);
    ASSERT_TRUE(rd->r.has_value());
    EXPECT_EQ(rd->r->error().code, "closed");
}

TEST_F(A76xxDriverTest, TcpOpenFailuresAndLinkChoice) {
    started();
    at_.expect("AT+CIPOPEN=0,\"TCP\",\"nowhere.invalid\",1883").urcAfter("+CIPOPEN: 0,11");
    expectOutcome(open({"nowhere.invalid", 1883, false, ""}), fails("dns", {"nowhere.invalid"}));
    // Links are taken round robin, so a link that was just closed is not reused at once.
    auto a = openTcp(1);
    auto b = openTcp(2);
    ASSERT_TRUE(a && b);
    at_.expect("AT+CIPCLOSE=1");
    a.reset();
    auto c = openTcp(3);
    ASSERT_TRUE(c);
    at_.expect("AT+CIPCLOSE=2");
    at_.expect("AT+CIPCLOSE=3");
    b.reset();
    c.reset();
}

TEST_F(A76xxDriverTest, AnOpenWithoutResultFreesTheLink) {
    started();
    at_.expect("AT+CIPOPEN=0,\"TCP\",\"slow.example\",1883");  // no +CIPOPEN follows
    at_.expect("AT+CIPCLOSE=0").error("ERROR");
    expectOutcome(open({"slow.example", 1883, false, ""}), fails("timeout", {"+CIPOPEN"}));
}

TEST_F(A76xxDriverTest, OneReadAndOneWriteMayBeOutstandingTogether) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    at_.expect("AT+CIPSEND=0,5").expectPayload("hello").urcAfter("+CIPSEND: 0,5,5");
    at_.expect("AT+CIPRXGET=2,0,1500").line("+CIPRXGET: 2,0,5,0").replyData("world");
    expectReadAndWriteTogether(*s, "hello", "+CIPRXGET: 1,0", "world");
    at_.expect("AT+CIPCLOSE=0");
}

TEST_F(A76xxDriverTest, SocketsFailWhenTheModuleRestarts) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    ASSERT_NO_FATAL_FAILURE(expectRestartFailsReads(*s, "*ATREADY: 1"));
    s.reset();  // the link is gone with the reset: nothing is sent
    // The next open opens the network again.
    at_.expect("AT+NETOPEN").urcAfter("+NETOPEN: 0");
    auto t = openTcp(1);
    ASSERT_TRUE(t);
    at_.expect("AT+CIPCLOSE=1");
}

// ---- TLS sockets ------------------------------------------------------------------------------

TEST_F(A76xxDriverTest, TlsOpenConfiguresTheContextWithSniThenSendsAndReceives) {
    started();
    scriptTlsSetup();
    scriptSslContext(0);
    auto s = openTls(0);
    ASSERT_TRUE(s);
    EXPECT_NE(s->describe().find("SNI broker.example.com"), std::string::npos);

    const std::string n = std::to_string(kBinary.size());
    at_.expect("AT+CCHSEND=0," + n)
        .expectPrompt(">")
        .expectPayload(kBinary)
        .urcAfter("+CCHSEND: 0,0");
    const Status w = write(*s, kBinary);
    EXPECT_TRUE(w) << w.error().message;

    // Receive: the event, how much is cached, then the bytes as data URCs and the end URC.
    at_.expect("AT+CCHRECV?").line("+CCHRECV: LEN," + n + ",0");
    at_.expect("AT+CCHRECV=0," + n)
        .urcAfterWithData("+CCHRECV: DATA,0,12", kBinary.substr(0, 12))
        .urcAfterWithData("+CCHRECV: DATA,0," + std::to_string(kBinary.size() - 12),
                          kBinary.substr(12))
        .urcAfter("+CCHRECV: 0,0");
    at_.expect("AT+CCHRECV?").line("+CCHRECV: LEN,0,0");
    std::string got;
    std::array<uint8_t, 64> buf{};
    ReadResult rd;
    s->asyncRead(buf, rd.keep());
    at_.injectUrc("+CCHEVENT: 0,RECV EVENT");
    while (got.size() < kBinary.size()) {
        ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
        ASSERT_TRUE(*rd.r);
        got.append(reinterpret_cast<char*>(buf.data()), **rd.r);
        rd.r.reset();
        if (got.size() < kBinary.size()) {
            s->asyncRead(buf, rd.keep());
        }
    }
    EXPECT_EQ(got, kBinary);
    drain(loop_);

    at_.injectUrc("+CCH_PEER_CLOSED: 0");
    expectOutcome(readOnce(*s), fails("eof"));
    at_.expect("AT+CCHCLOSE=0").urcAfter("+CCHCLOSE: 0,0");
    s->close();
}

TEST_F(A76xxDriverTest, TlsHandshakeErrorMentionsSniAndTheCa) {
    started();
    scriptTlsSetup();
    scriptSslContext(0);
    at_.expect("AT+CCHOPEN=0,\"broker.example.com\",8883,2").urcAfter("+CCHOPEN: 0,15");
    expectOutcome(open({"broker.example.com", 8883, true, ""}),
                  fails("tls_handshake", {"SNI", "tls.ca_file"}));
    // The service and the certificate list are kept; the next session is 1.
    scriptSslContext(1);
    at_.expect("AT+CCHOPEN=1,\"broker.example.com\",8883,2").urcAfter("+CCHOPEN: 1,0");
    auto ok = open({"broker.example.com", 8883, true, ""});
    ASSERT_TRUE(ok) << ok.error().message;
    at_.expect("AT+CCHCLOSE=1");
}

TEST_F(A76xxDriverTest, TlsWithoutCaInTheStoreSaysWhatToProvision) {
    started();
    scriptTlsSetup(false);
    at_.expect("AT+CCERTLIST").line("+CCERTLIST: \"other.pem\"");
    expectOutcome(open({"broker.example.com", 8883, true, ""}),
                  fails("tls_no_ca", {"tls.ca_file"}));
}

TEST_F(A76xxDriverTest, TlsRestartsAnSslServiceLeftRunning) {
    started();
    at_.expect("AT+CCHSET=1,1").error("ERROR");
    at_.expect("AT+CCHSTART").error("ERROR");
    at_.expect("AT+CCHSTOP").urcAfter("+CCHSTOP: 0");
    at_.expect("AT+CCHSET=1,1");
    at_.expect("AT+CCHSTART").urcAfter("+CCHSTART: 0");
    at_.expect("AT+CCERTLIST")
        .line("+CCERTLIST: \"uplinkd_ca.pem\"")
        .line("+CCERTLIST: \"uplinkd_cert.pem\"")
        .line("+CCERTLIST: \"uplinkd_key.pem\"");
    scriptSslContext(0, true);  // client certificate present: authmode 2
    auto s = openTls(0);
    ASSERT_TRUE(s);
    at_.expect("AT+CCHCLOSE=0");
}

// ---- provisioning -----------------------------------------------------------------------------

const std::string kCa = "-----BEGIN CERTIFICATE-----\nQ0FDQQ==\n-----END CERTIFICATE-----\n";
const std::string kCert = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const std::string kKey = "-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n";

TEST_F(A76xxDriverTest, ProvisionDownloadsTheFilesAndChecksTheList) {
    at_.expect("AT+CCERTDOWN=\"uplinkd_ca.pem\"," + std::to_string(kCa.size()))
        .expectPrompt(">")
        .expectPayload(kCa)
        .expectTerminator("");
    at_.expect("AT+CCERTDOWN=\"uplinkd_cert.pem\"," + std::to_string(kCert.size()))
        .expectPayload(kCert);
    at_.expect("AT+CCERTDOWN=\"uplinkd_key.pem\"," + std::to_string(kKey.size()))
        .expectPayload(kKey);
    at_.expect("AT+CCERTLIST")
        .line("+CCERTLIST: \"uplinkd_ca.pem\"")
        .line("+CCERTLIST: \"uplinkd_cert.pem\"")
        .line("+CCERTLIST: \"uplinkd_key.pem\"");
    // CR+LF input is sent with LF line ends, exactly as many bytes as announced.
    std::string ca_crlf =
        "-----BEGIN CERTIFICATE-----\r\nQ0FDQQ==\r\n-----END CERTIFICATE-----\r\n";
    const Status result = provision({ca_crlf, kCert, kKey});
    EXPECT_TRUE(result) << result.error().message;
}

TEST_F(A76xxDriverTest, ProvisionWithoutClientCertRemovesStaleFilesAndDetectsAMissingCa) {
    at_.expect("AT+CCERTDOWN=\"uplinkd_ca.pem\"," + std::to_string(kCa.size())).expectPayload(kCa);
    at_.expect("AT+CCERTDELE=\"uplinkd_cert.pem\"").error("ERROR");
    at_.expect("AT+CCERTDELE=\"uplinkd_key.pem\"").error("ERROR");
    at_.expect("AT+CCERTLIST");
    expectOutcome(provision({kCa, "", ""}), fails("provision_mismatch"));

    expectOutcome(provision({"garbage", "", ""}), fails("bad_pem"));
}

// ---- info, explain, plugin --------------------------------------------------------------------

TEST_F(A76xxDriverTest, InfoCollectsWhatTheModuleSays) {
    expectScript(at_, a7670Identity() + AtScript{{"AT+CICCID", {"+ICCID: 89860000000000000000"}},
                                                 {"AT+CPIN?", {}, "+CME ERROR: 10"},
                                                 {"AT+CEREG?", {"+CEREG: 0,2"}},
                                                 {"AT+CGREG?", {"+CGREG: 0,1"}},
                                                 {"AT+CSQ", {"+CSQ: 99,99"}},
                                                 {"AT+COPS?", {"+COPS: 0"}}});  // not registered
    const Result<ModemInfo> answer = info();
    ASSERT_TRUE(answer);
    const ModemInfo& i = answer.value();
    EXPECT_EQ(i.model, "A7670E-LASE");
    EXPECT_EQ(i.firmware, "A011B07A7670M7_F");
    EXPECT_EQ(i.iccid, "89860000000000000000");
    EXPECT_EQ(i.sim, "not inserted");
    EXPECT_EQ(i.registration, "registered (home)");
    EXPECT_EQ(i.signal_dbm, 0);
    EXPECT_TRUE(modem_common::matchesModel(i.model, match().model_patterns));
}

TEST(A76xxPlugin, DescriptorAndCreate) {
    const PluginDescriptor* d = descriptor();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->kind, PluginKind::Modem);
    EXPECT_STREQ(d->name, "simcom-a76xx");
    const auto* api = static_cast<const ModemPluginApi*>(d->api);
    EXPECT_TRUE(api->match->supports_tls_offload);
    EXPECT_EQ(api->match->model_patterns, (std::vector<std::string>{"A7670", "A7672", "SIM7600"}));
    EXPECT_TRUE(modem_common::matchesModel("SIMCOM_SIM7600G-H", api->match->model_patterns));
    asio::io_context loop;
    ScriptedAtChannel at(loop);
    auto ok = api->create(loop, at, testing::apnSettings("internet", "u", "p", "1234"));
    ASSERT_TRUE(ok);
    EXPECT_EQ((*ok)->maxSendChunk(), 1460u);
    EXPECT_NE((*ok)->explain("+CCHOPEN: 0,15").find("SNI"), std::string::npos);
    EXPECT_FALSE(api->create(loop, at, testing::apnSettings("internet", "u\r\n", "p")));
}

}  // namespace
}  // namespace uplinkd::plugins::simcom_a76xx
