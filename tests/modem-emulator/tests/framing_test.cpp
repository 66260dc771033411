// SPDX-License-Identifier: Apache-2.0
// Downlink payloads made of every family's framing tokens come back byte-exact, framed by count
// (HL78 KTCPRCV + EOF pattern, A76xx CIPRXGET and CCHRECV), read in small pieces so the tokens
// fall across reads.
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

constexpr size_t kPiece = 37;  // odd, so tokens straddle reads

class FramingTest : public EmulatorTest {
  protected:
    /// The next bytes on the line are exactly `expected`.
    void readExpected(const std::string& expected) {
        auto got = tty_->readExactly(expected.size());
        ASSERT_TRUE(got) << "no " << expected;
        ASSERT_EQ(*got, expected);
    }

    /// Reads `payload` back in pieces of at most kPiece bytes: `readPiece(want, got)` asks for
    /// one piece and appends it to `got`. Then the bytes must be the payload, and nothing else
    /// may follow (no URC leaked out of the data).
    void readBackInPieces(const std::string& payload,
                          const std::function<void(size_t want, std::string& got)>& readPiece) {
        std::string got;
        while (got.size() < payload.size()) {
            ASSERT_NO_FATAL_FAILURE(readPiece(std::min(kPiece, payload.size() - got.size()), got))
                << "after " << got.size() << " bytes";
        }
        EXPECT_EQ(got, payload);
        EXPECT_EQ(tty_->readFor(100ms), "");
    }
};

TEST_F(FramingTest, Hl78KtcprcvIsCountedWhateverTheData) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(hl78Connect(server.port(), /*bearer_first=*/false));
    ASSERT_TRUE(tty_->readUntil("\r\n+KTCP_DATA: 1,"));
    ASSERT_TRUE(tty_->readUntil("\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));

    readBackInPieces(payload, [&](size_t want, std::string& got) {
        ASSERT_TRUE(tty_->write("AT+KTCPRCV=1," + std::to_string(want) + "\r"));
        ASSERT_NO_FATAL_FAILURE(readExpected("\r\nCONNECT\r\n"));
        auto data = tty_->readExactly(want);
        ASSERT_TRUE(data);
        ASSERT_NO_FATAL_FAILURE(readExpected(kEofPattern + "\r\nOK\r\n"));
        got += *data;
        if (got.size() < payload.size()) {
            // The module says what is left, as a URC after the OK.
            auto left = numbersAfter(*tty_, "\r\n+KTCP_DATA: 1,");
            ASSERT_TRUE(left && left->size() == 1);
            ASSERT_EQ(static_cast<size_t>(left->at(0)), payload.size() - got.size());
        }
    });
}

TEST_F(FramingTest, A76xxCiprxgetIsCountedWhateverTheData) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(a76xxConnect(server.port()));
    ASSERT_TRUE(tty_->readUntil("\r\n+CIPRXGET: 1,0\r\n"));
    ASSERT_TRUE(waitBuffered(payload.size()));

    readBackInPieces(payload, [&](size_t want, std::string& got) {
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
        ASSERT_TRUE(data);
        ASSERT_NO_FATAL_FAILURE(readExpected("\r\nOK\r\n"));
        got += *data;
    });
}

TEST_F(FramingTest, A76xxCchrecvIsCountedWhateverTheData) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(a76xxCchOpen(server.port(), 0));
    ASSERT_TRUE(waitBuffered(payload.size()));

    readBackInPieces(payload, [&](size_t want, std::string& got) {
        ASSERT_TRUE(tty_->write("AT+CCHRECV=0," + std::to_string(want) + "\r"));
        ASSERT_NO_FATAL_FAILURE(readExpected("\r\nOK\r\n"));
        ASSERT_NO_FATAL_FAILURE(
            readExpected("\r\n+CCHRECV: DATA,0," + std::to_string(want) + "\r\n"));
        auto data = tty_->readExactly(want);
        ASSERT_TRUE(data);
        ASSERT_NO_FATAL_FAILURE(readExpected("\r\n+CCHRECV: 0,0\r\n"));
        got += *data;
    });
}

TEST_F(FramingTest, A76xxCipsendCarriesTokensUplink) {
    const std::string payload = framingTokenPayload();  // Ctrl-Z and ESC included: counted
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(a76xxConnect(echo.port()));
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
