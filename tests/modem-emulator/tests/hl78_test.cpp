// SPDX-License-Identifier: Apache-2.0
// HL78xx model: plain and TLS sockets through the pty, against real servers in this process.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_helpers.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

class Hl78Test : public EmulatorTest {
  protected:
    void boot() {
        ASSERT_NO_FATAL_FAILURE(launch("hl78", "\r\n+KSUP: 0\r\n"));
        auto r = tty_->command("ATE0");
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, "ATE0\r\r\nOK\r\n");  // echo is on until ATE0
        expectOk("AT+CMEE=1");
        ASSERT_TRUE(waitRegistered(*tty_)) << "not registered";
    }

    /// KCERTSTORE of a root CA into `slot`, ended by the EOF pattern.
    void storeRoot(const std::string& pem, int slot) {
        ASSERT_TRUE(tty_->write("AT+KCERTSTORE=0," + std::to_string(pem.size()) + "," +
                                std::to_string(slot) + "\r"));
        ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
        ASSERT_TRUE(tty_->write(pem + kEofPattern));
        ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    }
};

TEST_F(Hl78Test, PlainSocketRoundTripAndLengthRule) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());

    expectOk("AT+KPATTERN=\"" + kEofPattern + "\"");
    EXPECT_NE(expectOk("AT+KPATTERN?").find("+KPATTERN: \"" + kEofPattern + "\""),
              std::string::npos);
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    expectOk("AT+KCNXUP=1");
    ASSERT_TRUE(tty_->readUntil("+KCNX_IND: 1,1\r\n"));
    auto cfg = expectOk("AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(echo.port()));
    EXPECT_NE(cfg.find("\r\n+KTCPCFG: 1\r\n"), std::string::npos) << cfg;
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    EXPECT_NE(expectOk("AT+KTCPSTAT=1").find("+KTCPSTAT: 3,"), std::string::npos);

    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(ktcpSend(1, payload, payload.size()));
    EXPECT_EQ(ktcpReceive(1, payload.size()), payload);

    // The EOF pattern must not be counted: a wrong length gives +KTCP_NOTIF: <id>,8.
    ASSERT_NO_FATAL_FAILURE(ktcpSend(1, "hello", 5 + kEofPattern.size()));
    EXPECT_TRUE(tty_->readUntil("\r\n+KTCP_NOTIF: 1,8\r\n"));
    ASSERT_NO_FATAL_FAILURE(ktcpSend(1, "hello", 4));
    EXPECT_TRUE(tty_->readUntil("\r\n+KTCP_NOTIF: 1,8\r\n"));

    auto bad = tty_->command("AT+KTCPSND=7,5");
    ASSERT_TRUE(bad);
    EXPECT_NE(bad->find("+CME ERROR: 910\r\n"), std::string::npos) << *bad;
    auto unknown = tty_->command("AT+NOSUCHCOMMAND");
    ASSERT_TRUE(unknown);
    EXPECT_NE(unknown->find("\r\nERROR\r\n"), std::string::npos);

    // The far end goes away.
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+KTCP_NOTIF: 1,4\r\n"));
    expectOk("AT+KTCPCLOSE=1,1");
    expectOk("AT+KTCPDEL=1");
    EXPECT_EQ(emu_->stop(), 0);
}

TEST_F(Hl78Test, UrcsAreHeldDuringDataPhase) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    expectOk("AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(echo.port()));
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    ASSERT_TRUE(tty_->write("AT+KTCPSND=1,4\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    controlOk("fault drop-link");
    EXPECT_EQ(tty_->readFor(200ms), "");  // no URC inside the data phase
    ASSERT_TRUE(tty_->write("data" + kEofPattern));
    auto after = tty_->readUntil("+KTCP_NOTIF: 1,4\r\n");
    ASSERT_TRUE(after);
    EXPECT_EQ(after->rfind("\r\nOK\r\n", 0), 0U) << *after;  // OK first, then the URC
}

TEST_F(Hl78Test, TlsSocketVerifiesAgainstStoredRoot) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");

    auto cfg =
        expectOk("AT+KTCPCFG=1,3,\"localhost\"," + std::to_string(tls.server.port()) + ",,,,0,1,0");
    EXPECT_NE(cfg.find("+KTCPCFG: 1\r\n"), std::string::npos) << cfg;

    // Profile 1 (the KTCPCFG cipher_suite_index): TLS 1.2/1.3, verify the server, root slot 0.
    expectOk("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0");

    // No root CA stored: certificate error.
    EXPECT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_NOTIF: 1,15"));

    // The wrong root (stored with exactly <len> bytes, LF line ends, no pattern): still 15.
    ASSERT_TRUE(
        tty_->write("AT+KCERTSTORE=0," + std::to_string(tls.other.ca.cert_pem.size()) + ",1\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(tls.other.ca.cert_pem));
    ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    EXPECT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_NOTIF: 1,15"));

    // The right root, CR LF line ends, ended by the EOF pattern (length without it).
    std::string pem = toCrlf(tls.pki.ca.cert_pem);
    ASSERT_TRUE(tty_->write("AT+KCERTSTORE=0," + std::to_string(pem.size()) + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(pem + kEofPattern));
    ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    auto list = expectOk("AT+KCERTSTORE?");
    EXPECT_NE(list.find("root_cert,0," + std::to_string(pem.size())), std::string::npos) << list;
    EXPECT_NE(list.find("-----BEGIN CERTIFICATE-----"), std::string::npos);

    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(ktcpSend(1, payload, payload.size()));
    EXPECT_EQ(ktcpReceive(1, payload.size()), payload);

    auto hs = tls.server.waitHandshakes(3, 5s);
    ASSERT_TRUE(hs);
    ASSERT_EQ(hs->size(), 3U);
    EXPECT_TRUE(hs->at(2).ok);
    for (const auto& h : *hs) {
        EXPECT_EQ(h.sni, "localhost");  // the KTCPCFG host is sent as SNI
    }
    expectOk("AT+KTCPCLOSE=1");
    expectOk("AT+KTCPDEL=1");
}

TEST_F(Hl78Test, CertificateWithoutLineEndsIsRejected) {
    ASSERT_NO_FATAL_FAILURE(boot());
    std::string junk = "-----BEGIN CERTIFICATE-----MIIB-----END CERTIFICATE-----";
    ASSERT_TRUE(tty_->write("AT+KCERTSTORE=0," + std::to_string(junk.size()) + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(junk + kEofPattern));
    EXPECT_TRUE(tty_->readUntil("\r\n+CME ERROR: 931\r\n"));
}

TEST_F(Hl78Test, CryptoProfileIsStoredValidatedAndApplied) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    ASSERT_NO_FATAL_FAILURE(storeRoot(tls.other.ca.cert_pem, 1));
    ASSERT_NO_FATAL_FAILURE(storeRoot(tls.pki.ca.cert_pem, 2));

    // Malformed profiles get the K-command errors and store nothing.
    expectCme("AT+KSSLCRYPTO=4,8,3,25392,12,4,1,0", 916);    // index out of range
    expectCme("AT+KSSLCRYPTO=1,8,3,25392,0,4,1,0", 916);     // no TLS version
    expectCme("AT+KSSLCRYPTO=1,8,3,25392,12,4,7,0", 916);    // auth mode
    expectCme("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,9", 916);    // root slot
    expectCme("AT+KSSLCRYPTO=1,8,3,x,12,4,1,0", 916);        // not a number
    expectCme("AT+KSSLCRYPTO=1,8,3,25392,12,4", 917);        // auth missing
    expectCme("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0,0", 915);  // extra parameter
    EXPECT_EQ(status()["crypto_profiles"], nlohmann::json::array());

    // Verification on against the wrong root (slot 1): certificate error.
    expectOk("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,1");
    auto port = std::to_string(tls.server.port());
    expectOk("AT+KTCPCFG=1,3,\"localhost\"," + port + ",,,,0,1,0");
    EXPECT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_NOTIF: 1,15"));

    // The same profile without verification connects (the module trusts anything).
    expectOk("AT+KSSLCRYPTO=1,8,3,25392,12,4,0,1");
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    expectOk("AT+KTCPCLOSE=1");

    // TLS 1.0 only: the server (TLS 1.2 or newer) refuses, no connection.
    expectOk("AT+KSSLCRYPTO=1,8,3,25392,1,4,1,2");
    expectOk("AT+KTCPCNX=1");
    auto notif = numbersAfter(*tty_, "+KTCP_NOTIF: 1,");
    ASSERT_TRUE(notif && notif->size() == 1);
    EXPECT_TRUE(notif->at(0) == 13 || notif->at(0) == 14) << notif->at(0);

    // Profile 2 verifies against the right root (slot 2): a round trip works.
    expectOk("AT+KSSLCRYPTO=2,8,3,25392,12,4,1,2");
    expectOk("AT+KTCPCFG=1,3,\"localhost\"," + port + ",,,,0,2,0");
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=2", "+KTCP_IND: 2,1"));
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(ktcpSend(2, payload, payload.size()));
    EXPECT_EQ(ktcpReceive(2, payload.size()), payload);

    auto list = expectOk("AT+KSSLCRYPTO?");
    EXPECT_NE(list.find("+KSSLCRYPTO: 1,8,3,25392,1,4,1,2\r\n"), std::string::npos) << list;
    EXPECT_NE(list.find("+KSSLCRYPTO: 2,8,3,25392,12,4,1,2\r\n"), std::string::npos) << list;
    auto j = status();
    ASSERT_EQ(j["crypto_profiles"].size(), 2U) << j.dump();
    EXPECT_EQ(j["crypto_profiles"][1]["index"], 2);
    EXPECT_EQ(j["crypto_profiles"][1]["root_ca"], 2);
    EXPECT_EQ(j["crypto_profiles"][1]["verify_server"], true);
    EXPECT_EQ(j["sockets"][1]["crypto_profile"], 2);
    EXPECT_EQ(j.value("misuse", -1), 0) << j.dump();
}

TEST_F(Hl78Test, MissingOrUndefinedCryptoProfileIsReported) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    ASSERT_NO_FATAL_FAILURE(storeRoot(tls.pki.ca.cert_pem, 0));
    auto port = std::to_string(tls.server.port());

    // An index outside the profile range is refused at once.
    expectCme("AT+KTCPCFG=1,3,\"localhost\"," + port + ",,,,0,7,0", 916);
    EXPECT_EQ(status().value("misuse", -1), 0);

    // No index: a misuse; profile 0 is used, and it is not defined yet: SSL init error.
    expectOk("AT+KTCPCFG=1,3,\"localhost\"," + port);
    auto j = status();
    EXPECT_EQ(j.value("misuse", -1), 1);
    EXPECT_NE(j.value("last_misuse", "").find("cipher_suite_index"), std::string::npos) << j;
    EXPECT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_NOTIF: 1,14"));
    j = status();
    EXPECT_EQ(j.value("misuse", -1), 2);
    EXPECT_NE(j.value("last_misuse", "").find("crypto profile 0"), std::string::npos) << j;

    // An index naming an undefined profile: SSL init error and a misuse.
    expectOk("AT+KTCPCFG=1,3,\"localhost\"," + port + ",,,,0,3,0");
    EXPECT_TRUE(okThenUrc("AT+KTCPCNX=2", "+KTCP_NOTIF: 2,14"));
    j = status();
    EXPECT_EQ(j.value("misuse", -1), 3);
    EXPECT_NE(j.value("last_misuse", "").find("crypto profile 3"), std::string::npos) << j;
    EXPECT_NE(
        trace().find("# MISUSE: AT+KTCPCNX: secure session to localhost uses crypto profile 3"),
        std::string::npos);

    // Once profile 0 is defined, the session without an index connects with it.
    expectOk("AT+KSSLCRYPTO=0,8,1,8192,4,4,1,0");
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    auto hs = tls.server.waitHandshakes(1, 5s);
    ASSERT_TRUE(hs);
    EXPECT_TRUE(hs->at(0).ok);
}

}  // namespace
