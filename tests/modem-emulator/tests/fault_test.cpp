// SPDX-License-Identifier: Apache-2.0
// Faults that land inside data phases (both directions) and final results split before their LF.
#include <gtest/gtest.h>

#include <functional>
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

std::string bytes(size_t n, char first) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>(first + static_cast<char>(i % 26));
    }
    return s;
}

class FaultTest : public EmulatorTest {
  protected:
    /// Starts a server that greets with `payload`, lets `connect` attach the module to it, then
    /// waits for `announce` (the module's data URC, if any) and until all of it is buffered.
    void connectToGreeting(const std::string& payload, const std::function<void(uint16_t)>& connect,
                           const std::string& announce) {
        server_ = std::make_unique<GreetingServer>(payload);
        ASSERT_NE(server_->port(), 0);
        ASSERT_NO_FATAL_FAILURE(connect(server_->port()));
        if (!announce.empty()) {
            ASSERT_TRUE(tty_->readUntil(announce));
        }
        ASSERT_TRUE(waitBuffered(payload.size()));
    }

    std::unique_ptr<GreetingServer> server_;
};

TEST_F(FaultTest, Hl78HangInTheMiddleOfKtcpsnd) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(hl78Connect(echo.port()));
    controlOk("fault silent-in-uplink 100");
    EXPECT_EQ(status()["faults"]["uplink"]["remaining"], 100);

    ASSERT_TRUE(tty_->write("AT+KTCPSND=1,1000\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(bytes(1000, 'a') + kEofPattern));
    EXPECT_EQ(tty_->readFor(300ms), "");  // hung after 100 bytes: no OK
    auto j = status();
    EXPECT_EQ(j["faults"]["uplink"]["fired"], true);
    EXPECT_EQ(j.value("silent", false), true);
    EXPECT_EQ(j["sockets"][0]["bytes_sent"], 0);  // the partial payload went nowhere

    // Back from the hang, the module is in command mode, the session still there.
    controlOk("fault none");
    expectOk("AT");
    EXPECT_NE(expectOk("AT+KTCPSTAT=1").find("+KTCPSTAT: 3,"), std::string::npos);
}

TEST_F(FaultTest, Hl78RebootInTheMiddleOfKtcprcv) {
    const std::string payload = bytes(1000, 'A');
    ASSERT_NO_FATAL_FAILURE(connectToGreeting(
        payload, [this](uint16_t port) { hl78Connect(port); }, "+KTCP_DATA: 1,"));
    controlOk("fault reboot-in-downlink 300");

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
    controlOk("fault reboot-in-uplink 10");
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
    ASSERT_NO_FATAL_FAILURE(connectToGreeting(
        payload, [this](uint16_t port) { a76xxConnect(port); }, "\r\n+CIPRXGET: 1,0\r\n"));
    controlOk("fault silent-in-downlink 250");
    ASSERT_TRUE(tty_->write("AT+CIPRXGET=2,0,500\r"));
    auto header = numbersAfter(*tty_, "\r\n+CIPRXGET: 2,0,");
    ASSERT_TRUE(header && header->size() == 2);
    EXPECT_EQ(header->at(0), 500);
    ASSERT_NO_FATAL_FAILURE(
        expectDownlinkCut(payload, 250));  // the other 250 bytes and the OK never come
    EXPECT_EQ(status()["faults"]["downlink"]["fired"], true);
}

TEST_F(FaultTest, A76xxHangInTheMiddleOfCchsendAndCchrecv) {
    const std::string payload = bytes(600, 'a');
    ASSERT_NO_FATAL_FAILURE(connectToGreeting(
        payload, [this](uint16_t port) { a76xxCchOpen(port, 1); }, ""));

    // Downlink: CCHRECV cut after 100 payload bytes.
    controlOk("fault silent-in-downlink 100");
    ASSERT_TRUE(tty_->write("AT+CCHRECV=0,200\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHRECV: DATA,0,200\r\n"));
    ASSERT_NO_FATAL_FAILURE(expectDownlinkCut(payload, 100));

    // Uplink: CCHSEND hangs after 5 bytes; the 0-byte form hangs right after the prompt.
    controlOk("fault none");
    controlOk("fault silent-in-uplink 5");
    ASSERT_TRUE(tty_->write("AT+CCHSEND=0,20\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(tty_->write(bytes(20, 'a')));
    EXPECT_EQ(tty_->readFor(300ms), "");
    controlOk("fault none");
    controlOk("fault silent-in-uplink 0");
    ASSERT_TRUE(tty_->write("AT+CCHSEND=0,20\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    EXPECT_EQ(status().value("silent", false), true);
}

TEST_F(FaultTest, SplitFinalSendsTheLfLater) {
    ASSERT_NO_FATAL_FAILURE(launchRegistered("hl78", "+KSUP: 0\r\n"));
    controlOk("fault split-final 1000");
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
    controlOk("fault none");
    auto r = tty_->command("AT");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nOK\r\n");
    EXPECT_EQ(emu_->control("fault split-final 0").rfind("error", 0), 0U);
}

}  // namespace
