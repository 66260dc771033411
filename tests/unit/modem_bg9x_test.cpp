// SPDX-License-Identifier: Apache-2.0
// The quectel-bg9x modem plugin against a scripted AtChannel (its parsers and code tables:
// modem_bg9x_parsers_test.cpp; the module's MQTT client: modem_bg9x_mqtt_test.cpp): bring-up,
// plain sockets (QISEND with exactly len bytes after ">", QIRD counted reads until a short one),
// TLS sockets (SSL context with SNI always on, QSSLSEND, QSSLRECV), the store (QFDEL + QFUPL
// checked against +QFUPL), the module's clock against the certificates and module resets in the
// middle.
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
#include "modem_bg9x_test_fixture.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::quectel_bg9x {
namespace {

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
    expectScript(
        at_, identity("Quectel", "BG96", "BG96MAR02A07M1G", "866425031234567") +
                 AtScript{{"AT+QCCID", {"+QCCID: 89490200001234567890"}},
                          {"AT+CPIN?", {"+CPIN: READY"}},
                          {"AT+CEREG?", {"+CEREG: 2,5,\"1A2B\",\"01A2D001\",8"}},
                          {"AT+CGREG?", {"+CGREG: 0,0"}},
                          {"AT+CSQ", {"+CSQ: 20,99"}},
                          {"AT+COPS?", {"+COPS: 0,0,\"Vodafone.de\",8"}},
                          {"AT+QNWINFO", {"+QNWINFO: \"CAT-NB1\",\"26202\",\"LTE BAND 8\",3740"}}});
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
    auto s = startedWithTcp();
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
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    // A full read (1500 bytes) may leave more: read again; a shorter one emptied the module's
    // buffer, so no AT+QIRD that answers 0 follows it.
    std::string full(1500, '\0');
    for (size_t i = 0; i < full.size(); ++i) {
        full[i] = kBinary[i % kBinary.size()];
    }
    at_.expect("AT+QIRD=0,1500").line("+QIRD: 1500").replyData(full);
    at_.expect("AT+QIRD=0,1500")
        .line("+QIRD: " + std::to_string(kBinary.size()))
        .replyData(kBinary);
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"recv\",0"));
    EXPECT_EQ(readAtLeast(*s, full.size() + kBinary.size()), full + kBinary);
    drain(loop_);
    EXPECT_EQ(at_.remaining(), 0u);
    // Bytes that arrive later come with a new URC.
    at_.expect("AT+QIRD=0,1500").line("+QIRD: 2").replyData("OK");
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"recv\",0"));
    EXPECT_EQ(readAtLeast(*s, 2), "OK");
    drain(loop_);
    at_.expect("AT+QICLOSE=0");
}

TEST_F(Bg9xDriverTest, TcpPeerCloseEndsReadsWithEof) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"closed\",0"));
    expectOutcome(readOnce(*s, 16), fails("eof"));
    at_.expect("AT+QICLOSE=0");
    s.reset();
    drain(loop_);
}

TEST_F(Bg9xDriverTest, TcpOpenFailureIsExplainedAndTheIdFreed) {
    started();
    at_.expect("AT+QIOPEN=1,0,\"TCP\",\"nowhere.example\",1883,0,0").urcAfter("+QIOPEN: 0,565");
    at_.expect("AT+QICLOSE=0");
    expectOutcome(open({"nowhere.example", 1883, false, ""}), fails("dns", {"nowhere.example"}));
}

TEST_F(Bg9xDriverTest, PdpDeactivationBreaksSocketsAndTheNextOpenActivatesAgain) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    EXPECT_TRUE(at_.injectUrc("+QIURC: \"pdpdeact\",1"));
    expectOutcome(write(*s, "x"), fails("network"));
    s.reset();
    at_.expect("AT+QIACT?");
    at_.expect("AT+QIACT=1");
    auto s2 = openTcp(1);
    ASSERT_TRUE(s2);
    at_.expect("AT+QICLOSE=1");
}

TEST_F(Bg9xDriverTest, AModuleResetMidStreamBreaksTheSocket) {
    auto s = startedWithTcp();
    ASSERT_TRUE(s);
    std::optional<Status> w;
    const std::string data = "hello";
    s->asyncWrite(bytesOf(data), [&](Status st) { w = st; });
    EXPECT_TRUE(at_.injectBoot("RDY"));
    ASSERT_TRUE(runUntil(loop_, [&] { return w.has_value(); }));
    ASSERT_FALSE(*w);
    EXPECT_EQ(w->error().code, "modem_reset");
    expectOutcome(write(*s, "x"), fails("modem_reset"));
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
    expectCommands(at_, sslContextSteps(false, 1s));
    at_.expect("AT+QSSLCFG=\"sni\",1,1").error("ERROR");
    expectOutcome(open(kTlsBroker),
                  fails("tls_no_sni", {"this firmware cannot send SNI: use tls = \"local\""}));
}

TEST_F(Bg9xDriverTest, TlsWithoutARootCaInTheStoreSaysSo) {
    started();
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:other.pem\",10");
    expectOutcome(open(kTlsBroker), fails("tls_no_ca", {"tls.ca_file"}));
}

TEST_F(Bg9xDriverTest, TlsHandshakeFailureNamesTheCauses) {
    started();
    at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
    scriptSslContext();
    at_.expect("AT+QSSLOPEN=1,1,0,\"broker.example.com\",8883,0").urcAfter("+QSSLOPEN: 0,566");
    at_.expect("AT+QSSLCLOSE=0");
    auto r = open(kTlsBroker);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "tls_handshake");
    for (const char* part : {"root CA", "tls.ca_file", "clock", "SNI"}) {
        EXPECT_NE(r.error().message.find(part), std::string::npos) << r.error().message;
    }
}

TEST_F(Bg9xDriverTest, AServerNameOtherThanTheHostIsRefused) {
    expectOutcome(open({"10.0.0.1", 8883, true, "broker.example.com"}), fails("unsupported"));
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
    expectOutcome(provision({ca, "", ""}), fails("provision_mismatch", {"stored 100 bytes"}));
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
    expectCommands(at_, sslContextSteps(false, 1s));
    at_.expect("AT+QSSLCFG=\"sni\",1,1").error("+CME ERROR: 552");
    const Status s = provision({ca, "", ""});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message, "this firmware cannot send SNI: use tls = \"local\"");
}

}  // namespace
}  // namespace uplinkd::plugins::quectel_bg9x
