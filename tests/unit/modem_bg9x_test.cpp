// SPDX-License-Identifier: Apache-2.0
// The quectel-bg9x modem plugin against a scripted AtChannel (its parsers and code tables:
// modem_bg9x_parsers_test.cpp): bring-up, plain sockets (QISEND with exactly len bytes after ">",
// QIRD counted reads until 0), TLS sockets (SSL context with SNI always on, QSSLSEND, QSSLRECV),
// the store (QFDEL + QFUPL checked against +QFUPL), the module's clock against the certificates,
// the module's MQTT client (QMTCFG, QMTOPEN/QMTCONN, QMTPUB length form, +QMTRECV both forms,
// +QMTSTAT) and module resets in the middle.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <optional>

#include "bg9x_commands.hpp"
#include "bg9x_driver.hpp"
#include "bg9x_errors.hpp"
#include "bg9x_parsers.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::quectel_bg9x {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- certificates for the clock check ---------------------------------------------------------

/// A self-signed EC certificate valid from `from` to `to` (seconds since 1970), as PEM.
std::string makeCert(std::time_t from, std::time_t to) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    ASN1_TIME_set(X509_getm_notBefore(x), from);
    ASN1_TIME_set(X509_getm_notAfter(x), to);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("test root"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(key);
    return pem;
}

const std::string kKey =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    "-----END PRIVATE KEY-----\n";

// ---- driver fixture ---------------------------------------------------------------------------

Bg9xTiming fastTiming() {
    Bg9xTiming t;
    t.command = 1s;
    t.sim_retry = 1ms;
    t.registration_poll = 2ms;
    t.registration_timeout = 200ms;
    t.pdp_activate = 1s;
    t.connect = 1s;
    t.tls_connect = 1s;
    t.send = 1s;
    t.send_retry = 1ms;
    t.send_retries = 3;
    t.receive = 1s;
    t.file_upload = 1s;
    t.mqtt_open = 1s;
    t.mqtt_connect = 1s;
    t.mqtt_ack = 1s;
    t.mqtt_close = 1s;
    return t;
}

class Bg9xDriverTest : public uplinkd::testing::ModemDriverTest<Bg9xDriver, Bg9xTiming> {
  protected:
    Bg9xDriverTest() : ModemDriverTest(fastTiming()) {}

    /// Echo off, numeric errors, the SIM, the context with the APN, registered on LTE.
    const AtScript kUntilRegistered = kEchoOff + kSimReady +
                                      AtScript{{"AT+QICSGP=1,1,\"internet.example\",\"\",\"\",0"},
                                               {"AT+CEREG?", {"+CEREG: 0,1"}},
                                               {"AT+CGREG?", {"+CGREG: 0,0"}}};
    /// The PDP context is active already.
    const AtScript kActive = {{"AT+QIACT?", {"+QIACT: 1,1,1,\"10.0.0.2\""}}};

    void scriptStartUntilRegistered() { expectScript(at_, kUntilRegistered); }

    void started() { expectStart(kUntilRegistered + kActive, succeeds()); }

    ByteStreamPtr openTcp(int id = 0) {
        const std::string i = std::to_string(id);
        at_.expect("AT+QIOPEN=1," + i + ",\"TCP\",\"broker.example.com\",1883,0,0")
            .urcAfter("+QIOPEN: " + i + ",0");
        return openOk({"broker.example.com", 1883, false, ""});
    }

    void scriptSslContext(bool client = false) {
        expectCommands(at_, sslContextSteps(client, 1s));
        at_.expect("AT+QSSLCFG=\"sni\",1,1");
    }

    ByteStreamPtr openTls(int id = 0) {
        const std::string i = std::to_string(id);
        at_.expect("AT+QSSLOPEN=1,1," + i + ",\"broker.example.com\",8883,0")
            .urcAfter("+QSSLOPEN: " + i + ",0");
        return openOk({"broker.example.com", 8883, true, "broker.example.com"});
    }

    ModemMqtt& mqtt() { return *driver().mqtt(); }

    Status mqttCall(const std::function<void(ModemMqtt::StatusDone)>& call) {
        return uplinkd::testing::await<void>(loop_, call);
    }

    ModemMqttConnect connectParams(bool tls = true) {
        ModemMqttConnect p;
        p.host = "broker.example.com";
        p.port = tls ? 8883 : 1883;
        p.tls = tls;
        p.server_name = p.host;
        p.client_id = "dev1";
        p.keep_alive_s = 60;
        return p;
    }

    void scriptMqttConnect(bool tls = true, bool ssl_listed = true) {
        at_.expect("AT+QMTCLOSE=0").error("ERROR");  // nothing held from before
        if (tls && ssl_listed) {
            at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
            scriptSslContext();
        }
        for (const auto& s : mqttConfigSteps(tls, 60, true, 30, 1s)) {
            at_.expect(s.command);
        }
        at_.expect(std::string("AT+QMTOPEN=0,\"broker.example.com\",") + (tls ? "8883" : "1883"))
            .urcAfter("+QMTOPEN: 0,0");
        at_.expect("AT+QMTCONN=0,\"dev1\"").urcAfter("+QMTCONN: 0,0,0");
    }

    /// A started driver whose MQTT client is connected (TLS); messages and losses are kept.
    void mqttConnected() {
        started();
        scriptMqttConnect();
        ModemMqttEvents ev;
        ev.message = [this](std::string topic, std::string payload, int, bool) {
            messages_.emplace_back(std::move(topic), std::move(payload));
        };
        ev.lost = [this](Error e) { lost_.push_back(std::move(e)); };
        const Status s = mqttCall([&](auto done) { mqtt().connect(connectParams(), ev, done); });
        ASSERT_TRUE(s) << s.error().message;
    }

    std::vector<std::pair<std::string, std::string>> messages_;
    std::vector<Error> lost_;
};

// ---- start ------------------------------------------------------------------------------------

TEST_F(Bg9xDriverTest, StartActivatesThePdpContextWhenItIsNotActive) {
    settings_.apn_user = "user";
    settings_.apn_password = "pw";
    expectStart(kEchoOff + kSimReady +
                    AtScript{{"AT+QICSGP=1,1,\"internet.example\",\"user\",\"pw\",1"},
                             {"AT+CEREG?", {"+CEREG: 0,2"}},
                             {"AT+CGREG?", {"+CGREG: 0,2"}},
                             {"AT+CEREG?", {"+CEREG: 0,5"}},
                             {"AT+CGREG?", {"+CGREG: 0,0"}},
                             {"AT+QIACT?"},
                             {"AT+QIACT=1"}},
                succeeds());
}

TEST_F(Bg9xDriverTest, StartExplainsAFailedActivation) {
    expectStart(kUntilRegistered + AtScript{{"AT+QIACT?"}, {"AT+QIACT=1", {}, "+CME ERROR: 561"}},
                fails("", {"apn"}, {"\"internet.example\""}));
}

TEST_F(Bg9xDriverTest, StartWithMqttOffloadChecksTheMqttClient) {
    settings_.mqtt_offload = true;
    expectStart(kUntilRegistered + kActive + AtScript{{"AT+QMTCFG=\"version\",0,4", {}, "ERROR"}},
                fails("mqtt_unsupported", {"mqtt = \"uplinkd\""}));
}

TEST_F(Bg9xDriverTest, ABootIndicationDuringStartEndsIt) {
    at_.expect("ATE0");
    at_.expect("AT+CMEE=1").timesOut();
    std::optional<Status> result;
    driver().start([&](Status s) { result = s; });
    drain(loop_);
    at_.forgetScript();
    EXPECT_TRUE(at_.injectBoot("APP RDY"));
    ASSERT_TRUE(runUntil(loop_, [&] { return result.has_value(); }));
    EXPECT_FALSE(*result);
}

TEST_F(Bg9xDriverTest, InfoShowsAccessTechnologyBandAndStore) {
    at_.expect("AT+CGMI").line("Quectel");
    at_.expect("AT+CGMM").line("BG96");
    at_.expect("AT+CGMR").line("BG96MAR02A07M1G");
    at_.expect("AT+CGSN").line("866425031234567");
    at_.expect("AT+QCCID").line("+QCCID: 89490200001234567890");
    at_.expect("AT+CPIN?").line("+CPIN: READY");
    at_.expect("AT+CEREG?").line("+CEREG: 2,5,\"1A2B\",\"01A2D001\",8");
    at_.expect("AT+CGREG?").line("+CGREG: 0,0");
    at_.expect("AT+CSQ").line("+CSQ: 20,99");
    at_.expect("AT+COPS?").line("+COPS: 0,0,\"Vodafone.de\",8");
    at_.expect("AT+QNWINFO").line("+QNWINFO: \"CAT-NB1\",\"26202\",\"LTE BAND 8\",3740");
    at_.expect("AT+QFLST=\"*\"")
        .line("+QFLST: \"UFS:uplinkd_ca.pem\",1184")
        .line("+QFLST: \"UFS:uplinkd_key.pem\",241");
    at_.expect("AT+CCLK?").line("+CCLK: \"26/12/04,22:50:16+04\"");
    at_.expect("AT+QSSLCFG=\"sni\",1").line("+QSSLCFG: \"sni\",1,1");
    const auto r = info();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->model, "BG96");
    EXPECT_EQ(r->iccid, "89490200001234567890");
    EXPECT_EQ(r->operator_name, "Vodafone.de");
    EXPECT_EQ(r->access_technology, "NB-IoT");  // AT+QNWINFO wins over the +CEREG AcT
    EXPECT_EQ(r->band, "LTE BAND 8");
    EXPECT_EQ(r->signal_dbm, -73);
    ASSERT_EQ(r->store.size(), 2u);
    EXPECT_EQ(r->store[0].slot, "UFS:uplinkd_ca.pem");
    EXPECT_EQ(r->store[0].kind, "root CA");
    EXPECT_EQ(r->store[1].kind, "private key");
    EXPECT_EQ(r->store[0].size, 1184);  // compared by size: the module cannot show a file
    EXPECT_TRUE(r->store[0].sha256.empty());
    ASSERT_TRUE(r->clock_unix);
    EXPECT_EQ(formatUtc(static_cast<std::time_t>(*r->clock_unix)), "2026-12-04 21:50:16 UTC");
    EXPECT_TRUE(r->tls_sni.starts_with("sent")) << r->tls_sni;
}

TEST_F(Bg9xDriverTest, InfoSaysWhenTheFirmwareCannotSendSniAndLeavesABadClockOut) {
    for (const char* c :
         {"AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN", "AT+QCCID", "AT+CPIN?", "AT+CEREG?",
          "AT+CGREG?", "AT+CSQ", "AT+COPS?", "AT+QNWINFO", "AT+QFLST=\"*\""}) {
        at_.expect(c);
    }
    at_.expect("AT+CCLK?").line("+CCLK: \"26/13/04,22:50:16+04\"");
    at_.expect("AT+QSSLCFG=\"sni\",1").error("ERROR");
    const auto r = info();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->clock_unix);
    EXPECT_TRUE(r->tls_sni.starts_with("not sent: this firmware has no \"sni\" setting"))
        << r->tls_sni;
}

// ---- plain sockets ----------------------------------------------------------------------------

TEST_F(Bg9xDriverTest, TcpWriteSendsExactlyLenBytesAfterThePrompt) {
    started();
    auto s = openTcp();
    ASSERT_TRUE(s);
    const std::string n = std::to_string(kBinary.size());
    at_.expect("AT+QISEND=0," + n).expectPrompt(">").expectPayload(kBinary).error("SEND FAIL");
    at_.expect("AT+QISEND=0," + n).expectPrompt(">").expectPayload(kBinary);  // SEND OK
    const Status w = write(*s, kBinary);
    EXPECT_TRUE(w) << w.error().message;
    EXPECT_EQ(at_.written().back(), kBinary);  // no Ctrl-Z after it
    at_.expect("AT+QICLOSE=0");
}

TEST_F(Bg9xDriverTest, TcpReadTakesCountedBytesUntilTheModuleHasNoMore) {
    started();
    auto s = openTcp();
    ASSERT_TRUE(s);
    at_.expect("AT+QIRD=0,1500")
        .line("+QIRD: " + std::to_string(kBinary.size()))
        .replyData(kBinary);
    at_.expect("AT+QIRD=0,1500").line("+QIRD: 2").replyData("OK");
    at_.expect("AT+QIRD=0,1500").line("+QIRD: 0");
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"recv\",0"));
    EXPECT_EQ(readAtLeast(*s, kBinary.size() + 2), kBinary + "OK");
    drain(loop_);
    at_.expect("AT+QICLOSE=0");
}

TEST_F(Bg9xDriverTest, TcpPeerCloseEndsReadsWithEof) {
    started();
    auto s = openTcp();
    ASSERT_TRUE(s);
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"closed\",0"));
    std::array<uint8_t, 16> buf{};
    auto r = uplinkd::testing::await<size_t>(loop_, [&](auto done) { s->asyncRead(buf, done); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "eof");
    at_.expect("AT+QICLOSE=0");
    s.reset();
    drain(loop_);
}

TEST_F(Bg9xDriverTest, TcpOpenFailureIsExplainedAndTheIdFreed) {
    started();
    at_.expect("AT+QIOPEN=1,0,\"TCP\",\"nowhere.example\",1883,0,0").urcAfter("+QIOPEN: 0,565");
    at_.expect("AT+QICLOSE=0");
    auto r = open({"nowhere.example", 1883, false, ""});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "dns");
    EXPECT_NE(r.error().message.find("nowhere.example"), std::string::npos);
}

TEST_F(Bg9xDriverTest, PdpDeactivationBreaksSocketsAndTheNextOpenActivatesAgain) {
    started();
    auto s = openTcp();
    ASSERT_TRUE(s);
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"pdpdeact\",1"));
    const Status w = write(*s, "x");
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, "network");
    s.reset();
    at_.expect("AT+QIACT?");
    at_.expect("AT+QIACT=1");
    auto s2 = openTcp(1);
    ASSERT_TRUE(s2);
    at_.expect("AT+QICLOSE=1");
}

TEST_F(Bg9xDriverTest, AModuleResetMidStreamBreaksTheSocket) {
    started();
    auto s = openTcp();
    ASSERT_TRUE(s);
    std::optional<Status> w;
    const std::string data = "hello";
    s->asyncWrite(bytesOf(data), [&](Status st) { w = st; });
    EXPECT_TRUE(at_.injectBoot("RDY"));
    ASSERT_TRUE(runUntil(loop_, [&] { return w.has_value(); }));
    ASSERT_FALSE(*w);
    EXPECT_EQ(w->error().code, "modem_reset");
    const Status again = write(*s, "x");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, "modem_reset");
}

// ---- TLS by the module ------------------------------------------------------------------------

TEST_F(Bg9xDriverTest, TlsOpenSetsTheSslContextWithSniThenSendsAndReceivesBinary) {
    started();
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
    scriptSslContext();
    auto s = openTls();
    ASSERT_TRUE(s);
    const std::string n = std::to_string(kBinary.size());
    at_.expect("AT+QSSLSEND=0," + n).expectPrompt(">").expectPayload(kBinary);
    EXPECT_TRUE(write(*s, kBinary));
    at_.expect("AT+QSSLRECV=0,1500").line("+QSSLRECV: " + n).replyData(kBinary);
    at_.expect("AT+QSSLRECV=0,1500").line("+QSSLRECV: 0");
    EXPECT_TRUE(at_.injectUrc("+QSSLURC: \"recv\",0"));
    EXPECT_EQ(readAtLeast(*s, kBinary.size()), kBinary);
    drain(loop_);
    // The SSL context stays set for the next session.
    auto s2 = openTls(1);
    ASSERT_TRUE(s2);
    at_.expect("AT+QSSLCLOSE=0");
    at_.expect("AT+QSSLCLOSE=1");
    s.reset();
    s2.reset();
    drain(loop_);
}

TEST_F(Bg9xDriverTest, AFirmwareWithoutSniIsRefusedInPlainWords) {
    started();
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
    for (const auto& st : sslContextSteps(false, 1s)) {
        at_.expect(st.command);
    }
    at_.expect("AT+QSSLCFG=\"sni\",1,1").error("ERROR");
    auto r = open({"broker.example.com", 8883, true, "broker.example.com"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "tls_no_sni");
    EXPECT_NE(r.error().message.find("this firmware cannot send SNI: use tls = \"local\""),
              std::string::npos)
        << r.error().message;
}

TEST_F(Bg9xDriverTest, TlsWithoutARootCaInTheStoreSaysSo) {
    started();
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:other.pem\",10");
    auto r = open({"broker.example.com", 8883, true, "broker.example.com"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "tls_no_ca");
    EXPECT_NE(r.error().message.find("tls.ca_file"), std::string::npos);
}

TEST_F(Bg9xDriverTest, TlsHandshakeFailureNamesTheCauses) {
    started();
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
    scriptSslContext();
    at_.expect("AT+QSSLOPEN=1,1,0,\"broker.example.com\",8883,0").urcAfter("+QSSLOPEN: 0,566");
    at_.expect("AT+QSSLCLOSE=0");
    auto r = open({"broker.example.com", 8883, true, "broker.example.com"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "tls_handshake");
    for (const char* part : {"root CA", "tls.ca_file", "clock", "SNI"}) {
        EXPECT_NE(r.error().message.find(part), std::string::npos) << r.error().message;
    }
}

TEST_F(Bg9xDriverTest, AServerNameOtherThanTheHostIsRefused) {
    auto r = open({"10.0.0.1", 8883, true, "broker.example.com"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "unsupported");
}

// ---- provisioning -----------------------------------------------------------------------------

TEST_F(Bg9xDriverTest, ProvisionUploadsExactBytesChecksThemAndTheClock) {
    const std::time_t now = 1'800'000'000;  // 2027-01-15
    const std::string ca = makeCert(now - 86400, now + 86400 * 365);
    const std::string cert = makeCert(now - 86400, now + 86400 * 30);
    const std::string n_ca = std::to_string(ca.size());
    at_.expect("AT+QFDEL=\"UFS:uplinkd_ca.pem\"").error("+CME ERROR: 405");
    at_.expect("AT+QFUPL=\"UFS:uplinkd_ca.pem\"," + n_ca + ",1")
        .expectPrompt("CONNECT")
        .expectPayload(ca)
        .line("+QFUPL: " + n_ca + "," + [&] {
            char hex[8];
            std::snprintf(hex, sizeof hex, "%x", xorChecksum(ca));
            return std::string(hex);
        }());
    at_.expect("AT+QFDEL=\"UFS:uplinkd_cert.pem\"");
    at_.expect("AT+QFUPL=\"UFS:uplinkd_cert.pem\"," + std::to_string(cert.size()) + ",1")
        .expectPrompt("CONNECT")
        .expectPayload(cert)
        .line("+QFUPL: " + std::to_string(cert.size()));  // no checksum given: size only
    at_.expect("AT+QFDEL=\"UFS:uplinkd_key.pem\"");
    at_.expect("AT+QFUPL=\"UFS:uplinkd_key.pem\"," + std::to_string(kKey.size()) + ",1")
        .expectPrompt("CONNECT")
        .expectPayload(kKey)
        .line("+QFUPL: " + std::to_string(kKey.size()) + ",0x" + [&] {
            char hex[8];
            std::snprintf(hex, sizeof hex, "%x", xorChecksum(kKey, true));
            return std::string(hex);
        }());
    scriptSslContext(true);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char clock[64];
    std::strftime(clock, sizeof clock, "+CCLK: \"%y/%m/%d,%H:%M:%S+00\"", &tm);
    at_.expect("AT+CCLK?").line(clock);
    const Status s = provision({ca, cert, kKey});
    EXPECT_TRUE(s) << s.error().message;
}

TEST_F(Bg9xDriverTest, ProvisionRefusesAShortUpload) {
    const std::string ca = makeCert(0, 4'000'000'000);
    at_.expect("AT+QFDEL=\"UFS:uplinkd_ca.pem\"");
    at_.expect("AT+QFUPL=\"UFS:uplinkd_ca.pem\"," + std::to_string(ca.size()) + ",1")
        .expectPrompt("CONNECT")
        .line("+QFUPL: 100,1234");
    const Status s = provision({ca, "", ""});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "provision_mismatch");
    EXPECT_NE(s.error().message.find("stored 100 bytes"), std::string::npos) << s.error().message;
}

TEST_F(Bg9xDriverTest, ProvisionReportsAModuleClockOutsideTheValidity) {
    const std::time_t from = 1'800'000'000;
    const std::string ca = makeCert(from, from + 86400 * 365);
    at_.expect("AT+QFDEL=\"UFS:uplinkd_ca.pem\"");
    at_.expect("AT+QFUPL=\"UFS:uplinkd_ca.pem\"," + std::to_string(ca.size()) + ",1")
        .expectPrompt("CONNECT")
        .line("+QFUPL: " + std::to_string(ca.size()));
    at_.expect("AT+QFDEL=\"UFS:uplinkd_cert.pem\"").error("+CME ERROR: 405");
    at_.expect("AT+QFDEL=\"UFS:uplinkd_key.pem\"").error("+CME ERROR: 405");
    scriptSslContext(false);
    at_.expect("AT+CCLK?").line("+CCLK: \"80/01/06,00:01:02+00\"");  // never set: 2080? no: 1980
    const Status s = provision({ca, "", ""});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "module_clock");
    for (const char* part : {"the module's clock is", "is valid from", "NITZ"}) {
        EXPECT_NE(s.error().message.find(part), std::string::npos) << s.error().message;
    }
}

TEST_F(Bg9xDriverTest, ProvisionWithoutSniSupportFailsWithTheExactWords) {
    const std::string ca = makeCert(0, 4'000'000'000);
    at_.expect("AT+QFDEL=\"UFS:uplinkd_ca.pem\"");
    at_.expect("AT+QFUPL=\"UFS:uplinkd_ca.pem\"," + std::to_string(ca.size()) + ",1")
        .expectPrompt("CONNECT")
        .line("+QFUPL: " + std::to_string(ca.size()));
    at_.expect("AT+QFDEL=\"UFS:uplinkd_cert.pem\"");
    at_.expect("AT+QFDEL=\"UFS:uplinkd_key.pem\"");
    for (const auto& st : sslContextSteps(false, 1s)) {
        at_.expect(st.command);
    }
    at_.expect("AT+QSSLCFG=\"sni\",1,1").error("+CME ERROR: 552");
    const Status s = provision({ca, "", ""});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message, "this firmware cannot send SNI: use tls = \"local\"");
}

// ---- MQTT offload -----------------------------------------------------------------------------

TEST_F(Bg9xDriverTest, MqttLimitsAreHonest) {
    const auto l = mqtt().limits();
    EXPECT_TRUE(l.binary_payload);
    EXPECT_TRUE(l.qos1_acknowledged);
    EXPECT_EQ(l.max_qos, 1);
    EXPECT_EQ(l.max_payload_bytes, kMaxMqttPayload);
    EXPECT_NE(l.topic_forbidden.find('"'), std::string::npos);
    EXPECT_NE(l.delivery_note.find("PUBACK"), std::string::npos);
    EXPECT_FALSE(checkModemMqttPublish(l, "a\"b", "x", 1));
    EXPECT_TRUE(checkModemMqttPublish(l, "a/b", kBinary, 1));
}

TEST_F(Bg9xDriverTest, MqttConnectPublishesQos1AndIsDoneAtThePuback) {
    mqttConnected();
    at_.expect("AT+QMTPUB=0,1,1,0,\"t/x\"," + std::to_string(kBinary.size()))
        .expectPrompt(">")
        .expectPayload(kBinary)
        .urcAfter("+QMTPUB: 0,1,1,1");  // retransmitting: not done yet
    std::optional<Status> done;
    mqtt().publish("t/x", kBinary, 1, false, [&](Status s) { done = s; });
    drain(loop_);
    EXPECT_FALSE(done);
    EXPECT_TRUE(at_.injectUrc("+QMTPUB: 0,1,0"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value(); }));
    EXPECT_TRUE(*done) << done->error().message;
    // QoS 0: done when the module took it.
    at_.expect("AT+QMTPUB=0,0,0,1,\"t/y\",2").expectPayload("hi");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().publish("t/y", "hi", 0, true, d); }));
    // A refused QoS 1 message.
    at_.expect("AT+QMTPUB=0,2,1,0,\"t/z\",1").urcAfter("+QMTPUB: 0,2,2");
    const Status refused = mqttCall([&](auto d) { mqtt().publish("t/z", "z", 1, false, d); });
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "mqtt_publish");
}

TEST_F(Bg9xDriverTest, MqttConnectExplainsAConnackRefusal) {
    started();
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    for (const auto& s : mqttConfigSteps(false, 60, true, 30, 1s)) {
        at_.expect(s.command);
    }
    at_.expect("AT+QMTOPEN=0,\"broker.example.com\",1883").urcAfter("+QMTOPEN: 0,0");
    at_.expect("AT+QMTCONN=0,\"dev1\",\"u\",\"secret\"")
        .urcAfter("+QMTCONN: 0,1")  // retransmitting: skipped
        .urcAfter("+QMTCONN: 0,0,5");
    at_.expect("AT+QMTCLOSE=0").urcAfter("+QMTCLOSE: 0,0");
    auto p = connectParams(false);
    p.username = "u";
    p.password = "secret";
    const Status s = mqttCall([&](auto d) { mqtt().connect(p, {}, d); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_connack_5");
    EXPECT_NE(s.error().message.find("not authorised"), std::string::npos);
    EXPECT_EQ(s.error().message.find("secret"), std::string::npos);
}

TEST_F(Bg9xDriverTest, MqttOpenFailureWithTlsNamesTheCauses) {
    started();
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
    scriptSslContext();
    for (const auto& s : mqttConfigSteps(true, 60, true, 30, 1s)) {
        at_.expect(s.command);
    }
    at_.expect("AT+QMTOPEN=0,\"broker.example.com\",8883").urcAfter("+QMTOPEN: 0,-1");
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    auto p = connectParams();
    p.alpn = {"x-amzn-mqtt-ca"};  // not sent: the failure says so
    const Status s = mqttCall([&](auto d) { mqtt().connect(p, {}, d); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_tls");
    EXPECT_NE(s.error().message.find("root CA"), std::string::npos);
    EXPECT_NE(s.error().message.find("cannot send ALPN (x-amzn-mqtt-ca)"), std::string::npos);
}

TEST_F(Bg9xDriverTest, MqttRefusesWhatTheModuleCannotDo) {
    auto p = connectParams();
    p.websocket_path = "/mqtt";
    Status s = mqttCall([&](auto d) { mqtt().connect(p, {}, d); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_unsupported");
    p = connectParams();
    p.password = "bad\"pw";
    s = mqttCall([&](auto d) { mqtt().connect(p, {}, d); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message.find("bad\"pw"), std::string::npos);
    s = mqttCall([&](auto d) { mqtt().publish("t", "x", 0, false, d); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_not_connected");
}

TEST_F(Bg9xDriverTest, MqttIncomingMessagesInBothFormsAndCutByALineBreak) {
    mqttConnected();
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,1,\"cmd/a\",4,\"a\"OK\"", ""));
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,0,\"cmd/b\",\"plain\"", ""));
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,2,\"cmd/c\",6,\"ab", "cd\"\r"));
    drain(loop_);
    ASSERT_EQ(messages_.size(), 3u);
    EXPECT_EQ(messages_[0], (std::pair<std::string, std::string>{"cmd/a", "a\"OK"}));
    EXPECT_EQ(messages_[1].second, "plain");
    EXPECT_EQ(messages_[2].second, "ab\r\ncd");
}

TEST_F(Bg9xDriverTest, MqttSubscribeAndUnsubscribe) {
    mqttConnected();
    at_.expect("AT+QMTSUB=0,1,\"cmd/#\",1").urcAfter("+QMTSUB: 0,1,0,1");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().subscribe("cmd/#", 1, d); }));
    at_.expect("AT+QMTSUB=0,2,\"forbidden/#\",1").urcAfter("+QMTSUB: 0,2,0,128");
    const Status s = mqttCall([&](auto d) { mqtt().subscribe("forbidden/#", 1, d); });
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("refused the subscription"), std::string::npos);
    at_.expect("AT+QMTUNS=0,3,\"cmd/#\"").urcAfter("+QMTUNS: 0,3,0");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().unsubscribe("cmd/#", d); }));
}

TEST_F(Bg9xDriverTest, MqttStatEndsTheSessionInPlainWordsAndFailsWhatWaits) {
    mqttConnected();
    at_.expect("AT+QMTPUB=0,1,1,0,\"t\",1");
    std::optional<Status> done;
    mqtt().publish("t", "x", 1, false, [&](Status s) { done = s; });
    drain(loop_);
    EXPECT_TRUE(at_.injectUrc("+QMTSTAT: 0,2"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value() && !lost_.empty(); }));
    EXPECT_FALSE(*done);
    EXPECT_EQ(lost_.front().code, "mqtt_lost");
    EXPECT_NE(lost_.front().message.find("keep-alive"), std::string::npos);
    EXPECT_EQ(lost_.size(), 1u);
}

TEST_F(Bg9xDriverTest, MqttAModuleResetLosesTheSessionAndFailsThePendingPublish) {
    mqttConnected();
    at_.expect("AT+QMTPUB=0,1,1,0,\"t\",1");
    std::optional<Status> done;
    mqtt().publish("t", "x", 1, false, [&](Status s) { done = s; });
    drain(loop_);
    EXPECT_TRUE(at_.injectBoot("RDY"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value() && !lost_.empty(); }));
    EXPECT_FALSE(*done);
    EXPECT_EQ(lost_.front().code, "modem_reset");
    // After the restart nothing is connected; a message is refused, not swallowed.
    const Status s = mqttCall([&](auto d) { mqtt().publish("t", "x", 1, false, d); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_not_connected");
}

TEST_F(Bg9xDriverTest, MqttDisconnectDuringConnectEndsTheAttempt) {
    started();
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    for (const auto& s : mqttConfigSteps(false, 60, true, 30, 1s)) {
        at_.expect(s.command);
    }
    at_.expect("AT+QMTOPEN=0,\"broker.example.com\",1883");  // no result yet
    std::optional<Status> connected;
    mqtt().connect(connectParams(false), {}, [&](Status s) { connected = s; });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    drain(loop_);
    at_.expect("AT+QMTDISC=0").urcAfter("+QMTDISC: 0,0");
    at_.expect("AT+QMTCLOSE=0").urcAfter("+QMTCLOSE: 0,0");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().disconnect(d); }));
    ASSERT_TRUE(runUntil(loop_, [&] { return connected.has_value(); }));
    EXPECT_FALSE(*connected);
}

TEST_F(Bg9xDriverTest, MqttDisconnectSilencesTheSession) {
    mqttConnected();
    at_.expect("AT+QMTDISC=0").urcAfter("+QMTDISC: 0,0").urcAfter("+QMTSTAT: 0,5");
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().disconnect(d); }));
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,1,\"cmd/a\",1,\"x\"", ""));
    drain(loop_);
    EXPECT_TRUE(messages_.empty());
    EXPECT_TRUE(lost_.empty());
}

}  // namespace
}  // namespace uplinkd::plugins::quectel_bg9x
