// SPDX-License-Identifier: Apache-2.0
// Faults that land inside data phases (both directions) and final results split before their LF.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_helpers.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

const std::string kPattern = "--EOF--Pattern--";

std::string bytes(size_t n, char first) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>(first + static_cast<char>(i % 26));
    }
    return s;
}

class FaultTest : public EmulatorTest {
  protected:
    void start(const std::string& model, const std::string& boot_urc) {
        ASSERT_NO_FATAL_FAILURE(launchRegistered(model, boot_urc));
    }

    /// HL78: session 1 connected to `port`.
    void hl78Connect(uint16_t port) {
        ASSERT_NO_FATAL_FAILURE(start("hl78", "+KSUP: 0\r\n"));
        expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
        expectOk("AT+KCNXUP=1");
        ASSERT_TRUE(tty_->readUntil("\r\n+KCNX_IND: 1,1\r\n"));
        expectOk("AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(port));
        expectOk("AT+KTCPCNX=1");
        ASSERT_TRUE(tty_->readUntil("\r\n+KTCP_IND: 1,1\r\n"));
    }

    /// A76xx: manual-receive link 0 connected to `port`.
    void a76xxConnect(uint16_t port) {
        ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n"));
        expectOk("AT+CIPRXGET=1");
        expectOk("AT+NETOPEN");
        ASSERT_TRUE(tty_->readUntil("\r\n+NETOPEN: 0\r\n"));
        expectOk("AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(port));
        ASSERT_TRUE(tty_->readUntil("\r\n+CIPOPEN: 0,0\r\n"));
    }
};

TEST_F(FaultTest, Hl78HangInTheMiddleOfKtcpsnd) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(hl78Connect(echo.port()));
    EXPECT_EQ(emu_->control("fault silent-in-uplink 100"), "ok fault silent-in-uplink 100");
    EXPECT_EQ(status()["faults"]["uplink"]["remaining"], 100);

    ASSERT_TRUE(tty_->write("AT+KTCPSND=1,1000\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(bytes(1000, 'a') + kPattern));
    EXPECT_EQ(tty_->readFor(300ms), "");  // hung after 100 bytes: no OK
    auto j = status();
    EXPECT_EQ(j["faults"]["uplink"]["fired"], true);
    EXPECT_EQ(j.value("silent", false), true);
    EXPECT_EQ(j["sockets"][0]["bytes_sent"], 0);  // the partial payload went nowhere

    // Back from the hang, the module is in command mode, the session still there.
    EXPECT_EQ(emu_->control("fault none"), "ok fault none");
    expectOk("AT");
    EXPECT_NE(expectOk("AT+KTCPSTAT=1").find("+KTCPSTAT: 3,"), std::string::npos);
}

TEST_F(FaultTest, Hl78RebootInTheMiddleOfKtcprcv) {
    const std::string payload = bytes(1000, 'A');
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(hl78Connect(server.port()));
    ASSERT_TRUE(tty_->readUntil("+KTCP_DATA: 1,"));
    ASSERT_TRUE(waitBuffered(payload.size()));
    EXPECT_EQ(emu_->control("fault reboot-in-downlink 300"), "ok fault reboot-in-downlink 300");

    ASSERT_TRUE(tty_->write("AT+KTCPRCV=1,1000\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    auto rest = tty_->readUntil("\r\n+KSUP: 0\r\n");
    ASSERT_TRUE(rest);
    // Exactly 300 bytes of data, then the reboot: no pattern, no OK.
    EXPECT_EQ(*rest, payload.substr(0, 300) + "\r\n+KSUP: 0\r\n");
    auto j = status();
    EXPECT_EQ(j.value("boots", 0), 2);
    EXPECT_EQ(j.value("sessions_used", -1), 0);
    EXPECT_EQ(j.value("echo", false), true);
}

TEST_F(FaultTest, A76xxRebootInTheMiddleOfCipsend) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(a76xxConnect(echo.port()));
    EXPECT_EQ(emu_->control("fault reboot-in-uplink 10"), "ok fault reboot-in-uplink 10");
    ASSERT_TRUE(tty_->write("AT+CIPSEND=0,100\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(tty_->write(bytes(100, 'a')));
    auto rest = tty_->readUntil("\r\nPB DONE\r\n");
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->find("OK"), std::string::npos) << *rest;
    EXPECT_EQ(rest->find("+CIPSEND"), std::string::npos) << *rest;
    EXPECT_EQ(rest->rfind("\r\n*ATREADY: 1\r\n", 0), 0U) << *rest;
    auto j = status();
    EXPECT_EQ(j.value("net_open", true), false);
    EXPECT_EQ(j.value("sessions_used", -1), 0);
}

TEST_F(FaultTest, A76xxHangInTheMiddleOfCiprxget) {
    const std::string payload = bytes(800, 'a');
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(a76xxConnect(server.port()));
    ASSERT_TRUE(tty_->readUntil("\r\n+CIPRXGET: 1,0\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));
    EXPECT_EQ(emu_->control("fault silent-in-downlink 250"), "ok fault silent-in-downlink 250");
    ASSERT_TRUE(tty_->write("AT+CIPRXGET=2,0,500\r"));
    auto header = numbersAfter(*tty_, "\r\n+CIPRXGET: 2,0,");
    ASSERT_TRUE(header && header->size() == 2);
    EXPECT_EQ(header->at(0), 500);
    auto data = tty_->readExactly(250);
    ASSERT_TRUE(data);
    EXPECT_EQ(*data, payload.substr(0, 250));
    EXPECT_EQ(tty_->readFor(300ms), "");  // the other 250 bytes and the OK never come
    EXPECT_EQ(status()["faults"]["downlink"]["fired"], true);
}

TEST_F(FaultTest, A76xxHangInTheMiddleOfCchsendAndCchrecv) {
    const std::string payload = bytes(600, 'a');
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n"));
    expectOk("AT+CCHSET=1,1");
    expectOk("AT+CCHSTART");
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHSTART: 0\r\n"));
    expectOk("AT+CCHOPEN=0,\"127.0.0.1\"," + std::to_string(server.port()) + ",1");
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHOPEN: 0,0\r\n"));
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHEVENT: 0,RECV EVENT\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));

    // Downlink: CCHRECV cut after 100 payload bytes.
    EXPECT_EQ(emu_->control("fault silent-in-downlink 100"), "ok fault silent-in-downlink 100");
    ASSERT_TRUE(tty_->write("AT+CCHRECV=0,200\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHRECV: DATA,0,200\r\n"));
    auto data = tty_->readExactly(100);
    ASSERT_TRUE(data);
    EXPECT_EQ(*data, payload.substr(0, 100));
    EXPECT_EQ(tty_->readFor(300ms), "");

    // Uplink: CCHSEND hangs after 5 bytes; the 0-byte form hangs right after the prompt.
    EXPECT_EQ(emu_->control("fault none"), "ok fault none");
    EXPECT_EQ(emu_->control("fault silent-in-uplink 5"), "ok fault silent-in-uplink 5");
    ASSERT_TRUE(tty_->write("AT+CCHSEND=0,20\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(tty_->write(bytes(20, 'a')));
    EXPECT_EQ(tty_->readFor(300ms), "");
    EXPECT_EQ(emu_->control("fault none"), "ok fault none");
    EXPECT_EQ(emu_->control("fault silent-in-uplink 0"), "ok fault silent-in-uplink 0");
    ASSERT_TRUE(tty_->write("AT+CCHSEND=0,20\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    EXPECT_EQ(status().value("silent", false), true);
}

TEST_F(FaultTest, SplitFinalSendsTheLfLater) {
    ASSERT_NO_FATAL_FAILURE(start("hl78", "+KSUP: 0\r\n"));
    EXPECT_EQ(emu_->control("fault split-final 1000"), "ok fault split-final 1000");
    ASSERT_TRUE(tty_->write("AT\r"));
    auto head = tty_->readExactly(5);
    ASSERT_TRUE(head);
    EXPECT_EQ(*head, "\r\nOK\r");
    EXPECT_EQ(tty_->readFor(100ms), "");  // the LF is still in flight

    // A host that acts on the CR sends its next command now: its answer queues behind the LF.
    ASSERT_TRUE(tty_->write("AT+CSQ\r"));
    auto lf = tty_->readExactly(1);
    ASSERT_TRUE(lf);
    EXPECT_EQ(*lf, "\n");
    auto next = tty_->readUntil("\r\nOK\r");
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, "\r\n+CSQ: 20,99\r\n\r\nOK\r");
    ASSERT_TRUE(tty_->readExactly(1));

    // Errors are split too; fault none restores whole lines.
    auto err = tty_->command("AT+KTCPSND=9,5");
    ASSERT_TRUE(err);
    EXPECT_EQ(*err, "\r\n+CME ERROR: 910\r\n");
    EXPECT_EQ(emu_->control("fault none"), "ok fault none");
    auto r = tty_->command("AT");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nOK\r\n");
    EXPECT_EQ(emu_->control("fault split-final 0").rfind("error", 0), 0U);
}

}  // namespace
