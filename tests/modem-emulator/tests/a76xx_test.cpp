// SPDX-License-Identifier: Apache-2.0
// A76xx model: CIP sockets and CCH TLS sessions (SNI only with enableSNI 1) through the pty.
#include <gtest/gtest.h>

#include <memory>

#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_helpers.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

class A76xxTest : public EmulatorTest {
  protected:
    void boot() {
        std::string urcs;
        ASSERT_NO_FATAL_FAILURE(launch("a76xx", "\r\nPB DONE\r\n", {}, &urcs));
        EXPECT_EQ(urcs, "\r\n*ATREADY: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n");
        expectOk("ATE0");
        ASSERT_TRUE(waitRegistered(*tty_)) << "not registered";
    }

    std::string expectError(const std::string& cmd) {
        auto r = tty_->command(cmd);
        EXPECT_TRUE(r) << cmd << ": no final result";
        if (!r) {
            return {};
        }
        EXPECT_NE(r->find("ERROR\r\n"), std::string::npos) << cmd << " -> " << *r;
        return *r;
    }

    /// `cmd` answers "> ", then exactly the payload (and optionally a stray Ctrl-Z), then OK.
    void sendWithPrompt(const std::string& cmd, const std::string& data, bool ctrl_z = false) {
        ASSERT_TRUE(tty_->write(cmd + "\r"));
        ASSERT_TRUE(tty_->readUntil("\r\n> "));
        ASSERT_TRUE(tty_->write(ctrl_z ? data + "\x1a" : data));
        ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    }

    /// CIPRXGET=2 in a loop until n bytes came.
    std::string cipReceive(int link, size_t n) {
        std::string l = std::to_string(link);
        EXPECT_TRUE(tty_->readUntil("+CIPRXGET: 1," + l + "\r\n"));
        return receiveInRounds(n, [&](std::string& got) {
            auto rest = tty_->command("AT+CIPRXGET=4," + l);
            EXPECT_TRUE(rest && rest->find("+CIPRXGET: 4," + l + ",") != std::string::npos);
            EXPECT_TRUE(tty_->write("AT+CIPRXGET=2," + l + ",1500\r"));
            auto nums = expectNumbers("\r\n+CIPRXGET: 2," + l + ",", 2);
            auto data = nums ? readPayload(static_cast<size_t>(nums->at(0)), ok_) : std::nullopt;
            if (!data) {
                return false;
            }
            got += *data;
            if (nums->at(1) == 0 && got.size() < n) {
                EXPECT_TRUE(tty_->readUntil("+CIPRXGET: 1," + l + "\r\n"));
            }
            return true;
        });
    }

    /// CCHRECV in manual mode until n bytes came.
    std::string cchReceive(int s, size_t n) {
        std::string sid = std::to_string(s);
        EXPECT_TRUE(tty_->readUntil("+CCHEVENT: " + sid + ",RECV EVENT\r\n"));
        return receiveInRounds(n, [&](std::string& got) {
            EXPECT_TRUE(tty_->write("AT+CCHRECV?\r"));
            auto len = expectNumbers("+CCHRECV: LEN,", 2);
            EXPECT_TRUE(tty_->readUntil("\r\nOK\r\n"));
            if (!len) {
                return false;
            }
            size_t avail = static_cast<size_t>(len->at(static_cast<size_t>(s)));
            if (avail == 0) {
                // The event may already have been read past; poll the length again.
                tty_->readUntil("+CCHEVENT: " + sid + ",RECV EVENT\r\n", 500ms);
                return true;
            }
            EXPECT_TRUE(tty_->write("AT+CCHRECV=" + sid + "," + std::to_string(avail) + "\r"));
            EXPECT_TRUE(tty_->readUntil("\r\nOK\r\n"));
            size_t taken = 0;
            while (taken < avail) {
                auto hdr = expectNumbers("+CCHRECV: DATA," + sid + ",", 1);
                auto data = hdr ? tty_->readExactly(static_cast<size_t>(hdr->at(0))) : std::nullopt;
                EXPECT_TRUE(data);
                if (!data) {
                    return false;
                }
                got += *data;
                taken += data->size();
            }
            EXPECT_TRUE(tty_->readUntil("+CCHRECV: " + sid + ",0\r\n"));
            return true;
        });
    }
};

TEST_F(A76xxTest, CipSendAndManualReceive) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());

    expectOk("AT+CIPRXGET=1");
    EXPECT_NE(expectError("AT+IPADDR").find("+IPADDR: Network not opened"), std::string::npos);
    ASSERT_TRUE(okThenUrc("AT+NETOPEN", "+NETOPEN: 0"));
    EXPECT_NE(expectError("AT+NETOPEN").find("\r\n+IP ERROR: Network is already opened\r\n"),
              std::string::npos);
    EXPECT_NE(expectOk("AT+NETOPEN?").find("+NETOPEN: 1"), std::string::npos);
    EXPECT_NE(expectOk("AT+IPADDR").find("+IPADDR: "), std::string::npos);

    ASSERT_TRUE(okThenUrc("AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(echo.port()),
                          "+CIPOPEN: 0,0"));

    const std::string payload = trickyPayload();
    // Exactly <len> bytes, then a stray Ctrl-Z that must be ignored.
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CIPSEND=0," + std::to_string(payload.size()), payload, true));
    auto cnf = numbersAfter(*tty_, "+CIPSEND: 0,");
    ASSERT_TRUE(cnf);
    EXPECT_EQ(*cnf, (std::vector<long>{static_cast<long>(payload.size()),
                                       static_cast<long>(payload.size())}));
    EXPECT_EQ(cipReceive(0, payload.size()), payload);

    EXPECT_NE(expectError("AT+CIPRXGET=2,0,100").find("\r\n+IP ERROR: No data\r\n"),
              std::string::npos);
    expectOk("AT");  // the stray Ctrl-Z did not leave junk behind

    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+IPCLOSE: 0,1\r\n"));
    EXPECT_TRUE(okThenUrc("AT+NETCLOSE", "+NETCLOSE: 0"));
}

// SC-MAN: AT+CIPRXGET's <len> is optional (mode 2 reads up to 1500 bytes); "+IPCLOSE" means the
// module closed the link. A link the peer closed stays taken while it holds received bytes
// (AT+CIPOPEN on it is refused) and is free once they were read: AT+CIPCLOSE on it then fails.
TEST_F(A76xxTest, APeerClosedLinkIsFreeOnceItsBytesWereReadWithTheDefaultLength) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(a76xxConnect(echo.port()));
    const std::string open0 = "AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(echo.port());
    const std::string a(1500, 'a');
    const std::string b(100, 'b');
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt("AT+CIPSEND=0,1500", a));
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt("AT+CIPSEND=0,100", b));
    ASSERT_TRUE(waitBuffered(1600));
    controlOk("fault drop-link");
    ASSERT_TRUE(tty_->readUntil("\r\n+IPCLOSE: 0,1\r\n"));

    // Still holding 1600 bytes: the link is taken.
    EXPECT_NE(expectError(open0).find("+CIPOPEN: 0,4"), std::string::npos);
    EXPECT_EQ(status().value("misuse", -1), 1);

    // No <len>: up to 1500 bytes, then the rest.
    ASSERT_TRUE(tty_->write("AT+CIPRXGET=2,0\r"));
    auto first = expectNumbers("\r\n+CIPRXGET: 2,0,", 2);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, (std::vector<long>{1500, 100}));
    EXPECT_EQ(readPayload(1500, ok_), a);
    ASSERT_TRUE(tty_->write("AT+CIPRXGET=2,0\r"));
    auto second = expectNumbers("\r\n+CIPRXGET: 2,0,", 2);
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, (std::vector<long>{100, 0}));
    EXPECT_EQ(readPayload(100, ok_), b);
    expectError("AT+CIPRXGET=2,0,");  // an empty <len>

    // All read: the module freed the link, so there is nothing left to close...
    EXPECT_NE(expectError("AT+CIPCLOSE=0").find("+CIPCLOSE: 0,4"), std::string::npos);
    // ... and it opens again.
    ASSERT_TRUE(okThenUrc(open0, "+CIPOPEN: 0,0"));
    EXPECT_EQ(status().value("misuse", -1), 1);
}

TEST_F(A76xxTest, UrcsAreHeldDuringPrompt) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+CIPRXGET=1");
    expectOk("AT+NETOPEN");
    ASSERT_TRUE(tty_->readUntil("+NETOPEN: 0\r\n"));
    ASSERT_TRUE(okThenUrc("AT+CIPOPEN=3,\"TCP\",\"localhost\"," + std::to_string(echo.port()),
                          "+CIPOPEN: 3,0"));
    ASSERT_TRUE(tty_->write("AT+CIPSEND=3,5\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    controlOk("fault drop-link");
    EXPECT_EQ(tty_->readFor(200ms), "");
    ASSERT_TRUE(tty_->write("abcde"));
    auto after = tty_->readUntil("\r\n+IPCLOSE: 3,1\r\n");
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, "\r\nOK\r\n\r\n+CIPSEND: 3,5,-1\r\n\r\n+IPCLOSE: 3,1\r\n");
}

TEST_F(A76xxTest, CchTlsSendsSniOnlyWhenEnabled) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    const std::string port = std::to_string(tls.server.port());

    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CCERTDOWN=\"ca.pem\"," + std::to_string(tls.pki.ca.cert_pem.size()),
                       tls.pki.ca.cert_pem));
    const std::string other_pem = toCrlf(tls.other.ca.cert_pem);
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt(
        "AT+CCERTDOWN=\"other.pem\"," + std::to_string(other_pem.size()), other_pem));
    auto list = expectOk("AT+CCERTLIST");
    EXPECT_NE(list.find("+CCERTLIST: \"ca.pem\""), std::string::npos) << list;

    expectOk("AT+CSSLCFG=\"sslversion\",0,4");
    expectOk("AT+CSSLCFG=\"authmode\",0,1");
    expectOk("AT+CSSLCFG=\"cacert\",0,\"ca.pem\"");
    auto cfg = expectOk("AT+CSSLCFG?");
    EXPECT_NE(cfg.find("+CSSLCFG: 0,4,1,1,300,\"ca.pem\",\"\",\"\",\"\",0"), std::string::npos)
        << cfg;
    expectOk("AT+CCHSET=0,1");
    ASSERT_TRUE(okThenUrc("AT+CCHSTART", "+CCHSTART: 0"));

    // enableSNI is 0 by default: no SNI in the ClientHello.
    expectOk("AT+CCHSSLCFG=0,0");
    ASSERT_TRUE(okThenUrc("AT+CCHOPEN=0,\"localhost\"," + port + ",2", "+CCHOPEN: 0,0"));
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CCHSEND=0," + std::to_string(payload.size()), payload));
    EXPECT_EQ(cchReceive(0, payload.size()), payload);
    ASSERT_TRUE(okThenUrc("AT+CCHCLOSE=0", "+CCHCLOSE: 0,0"));

    // enableSNI 1: the CCHOPEN host is sent.
    expectOk("AT+CSSLCFG=\"enableSNI\",0,1");
    expectOk("AT+CCHSSLCFG=0,0");
    ASSERT_TRUE(okThenUrc("AT+CCHOPEN=0,\"localhost\"," + port + ",2", "+CCHOPEN: 0,0"));

    auto hs = tls.server.waitHandshakes(2, 5s);
    ASSERT_TRUE(hs);
    EXPECT_TRUE(hs->at(0).ok);
    EXPECT_EQ(hs->at(0).sni, "");
    EXPECT_TRUE(hs->at(1).ok);
    EXPECT_EQ(hs->at(1).sni, "localhost");

    // authmode 1 without a CA file: certificates not set (19).
    expectOk("AT+CSSLCFG=\"authmode\",1,1");
    expectOk("AT+CCHSSLCFG=1,1");
    EXPECT_TRUE(okThenUrc("AT+CCHOPEN=1,\"localhost\"," + port + ",2", "+CCHOPEN: 1,19"));
    // The wrong root: handshake error (15).
    expectOk("AT+CSSLCFG=\"authmode\",2,1");
    expectOk("AT+CSSLCFG=\"cacert\",2,\"other.pem\"");
    expectOk("AT+CCHSSLCFG=1,2");
    EXPECT_TRUE(okThenUrc("AT+CCHOPEN=1,\"localhost\"," + port + ",2", "+CCHOPEN: 1,15"));

    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+CCH_PEER_CLOSED: 0\r\n"));
}

}  // namespace
