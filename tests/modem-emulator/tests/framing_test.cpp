// SPDX-License-Identifier: Apache-2.0
// Downlink payloads made of every family's framing tokens come back byte-exact, framed by count
// (HL78 KTCPRCV + EOF pattern, A76xx CIPRXGET and CCHRECV), read in small pieces so the tokens
// fall across reads.
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
constexpr size_t kPiece = 37;  // odd, so tokens straddle reads

class FramingTest : public EmulatorTest {
  protected:
    void start(const std::string& model, const std::string& boot_urc) {
        ASSERT_NO_FATAL_FAILURE(launchRegistered(model, boot_urc));
    }
};

TEST_F(FramingTest, Hl78KtcprcvIsCountedWhateverTheData) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("hl78", "+KSUP: 0\r\n"));
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    expectOk("AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(server.port()));
    expectOk("AT+KTCPCNX=1");
    ASSERT_TRUE(tty_->readUntil("\r\n+KTCP_IND: 1,1\r\n"));
    ASSERT_TRUE(tty_->readUntil("\r\n+KTCP_DATA: 1,"));
    ASSERT_TRUE(tty_->readUntil("\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));

    std::string got;
    while (got.size() < payload.size()) {
        size_t want = std::min(kPiece, payload.size() - got.size());
        ASSERT_TRUE(tty_->write("AT+KTCPRCV=1," + std::to_string(want) + "\r"));
        auto connect = tty_->readExactly(11);
        ASSERT_TRUE(connect);
        ASSERT_EQ(*connect, "\r\nCONNECT\r\n");
        auto data = tty_->readExactly(want);
        auto trailer = tty_->readExactly(kPattern.size() + 6);
        ASSERT_TRUE(data && trailer);
        ASSERT_EQ(*trailer, kPattern + "\r\nOK\r\n") << "after " << got.size() << " bytes";
        got += *data;
        if (got.size() < payload.size()) {
            // The module says what is left, as a URC after the OK.
            auto left = numbersAfter(*tty_, "\r\n+KTCP_DATA: 1,");
            ASSERT_TRUE(left && left->size() == 1);
            ASSERT_EQ(static_cast<size_t>(left->at(0)), payload.size() - got.size());
        }
    }
    EXPECT_EQ(got, payload);
    EXPECT_EQ(tty_->readFor(100ms), "");  // nothing else: no URC leaked out of the data
}

TEST_F(FramingTest, A76xxCiprxgetIsCountedWhateverTheData) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n"));
    expectOk("AT+CIPRXGET=1");
    expectOk("AT+NETOPEN");
    ASSERT_TRUE(tty_->readUntil("\r\n+NETOPEN: 0\r\n"));
    expectOk("AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(server.port()));
    ASSERT_TRUE(tty_->readUntil("\r\n+CIPOPEN: 0,0\r\n"));
    ASSERT_TRUE(tty_->readUntil("\r\n+CIPRXGET: 1,0\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));

    std::string got;
    while (got.size() < payload.size()) {
        size_t want = std::min(kPiece, payload.size() - got.size());
        ASSERT_TRUE(tty_->write("AT+CIPRXGET=2,0," + std::to_string(want) + "\r"));
        auto header = tty_->readUntil("\r\n", 5s);  // the blank line before the header
        ASSERT_TRUE(header);
        ASSERT_EQ(*header, "\r\n");
        auto line = tty_->readUntil("\r\n");
        ASSERT_TRUE(line);
        size_t rest = payload.size() - got.size() - want;
        ASSERT_EQ(*line,
                  "+CIPRXGET: 2,0," + std::to_string(want) + "," + std::to_string(rest) + "\r\n");
        auto data = tty_->readExactly(want);
        auto ok = tty_->readExactly(6);
        ASSERT_TRUE(data && ok);
        ASSERT_EQ(*ok, "\r\nOK\r\n");
        got += *data;
    }
    EXPECT_EQ(got, payload);
    EXPECT_EQ(tty_->readFor(100ms), "");
}

TEST_F(FramingTest, A76xxCchrecvIsCountedWhateverTheData) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n"));
    expectOk("AT+CCHSET=0,1");
    expectOk("AT+CCHSTART");
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHSTART: 0\r\n"));
    expectOk("AT+CCHOPEN=0,\"127.0.0.1\"," + std::to_string(server.port()) + ",1");
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHOPEN: 0,0\r\n"));
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHEVENT: 0,RECV EVENT\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));

    std::string got;
    while (got.size() < payload.size()) {
        size_t want = std::min(kPiece, payload.size() - got.size());
        ASSERT_TRUE(tty_->write("AT+CCHRECV=0," + std::to_string(want) + "\r"));
        auto head = tty_->readExactly(6);
        ASSERT_TRUE(head);
        ASSERT_EQ(*head, "\r\nOK\r\n");
        std::string data_line = "\r\n+CCHRECV: DATA,0," + std::to_string(want) + "\r\n";
        auto line = tty_->readExactly(data_line.size());
        ASSERT_TRUE(line);
        ASSERT_EQ(*line, data_line);
        auto data = tty_->readExactly(want);
        ASSERT_TRUE(data);
        std::string end = "\r\n+CCHRECV: 0,0\r\n";
        auto tail = tty_->readExactly(end.size());
        ASSERT_TRUE(tail);
        ASSERT_EQ(*tail, end);
        got += *data;
    }
    EXPECT_EQ(got, payload);
    EXPECT_EQ(tty_->readFor(100ms), "");
}

TEST_F(FramingTest, A76xxCipsendCarriesTokensUplink) {
    const std::string payload = framingTokenPayload();  // Ctrl-Z and ESC included: counted
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n"));
    expectOk("AT+CIPRXGET=1");
    expectOk("AT+NETOPEN");
    ASSERT_TRUE(tty_->readUntil("\r\n+NETOPEN: 0\r\n"));
    expectOk("AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(echo.port()));
    ASSERT_TRUE(tty_->readUntil("\r\n+CIPOPEN: 0,0\r\n"));
    ASSERT_TRUE(tty_->write("AT+CIPSEND=0," + std::to_string(payload.size()) + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(tty_->write(payload));
    auto r = tty_->readUntil("\r\n+CIPSEND: 0,");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nOK\r\n\r\n+CIPSEND: 0,");
    ASSERT_TRUE(waitBuffered(payload.size()));
    ASSERT_TRUE(tty_->write("AT+CIPRXGET=2,0,1500\r"));
    auto nums = numbersAfter(*tty_, "\r\n+CIPRXGET: 2,0,");
    ASSERT_TRUE(nums && nums->size() == 2);
    ASSERT_EQ(static_cast<size_t>(nums->at(0)), payload.size());
    auto data = tty_->readExactly(payload.size());
    ASSERT_TRUE(data);
    EXPECT_EQ(*data, payload);
}

}  // namespace
