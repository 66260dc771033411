// SPDX-License-Identifier: Apache-2.0
// EmulatorTest: the fixture the emulator tests share: one emulator process, a pty client on its
// tty, the checks of a command's final result, the status, and the trace dumped after a
// failure. Thread: test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/emulator_process.hpp"
#include "support/pty_client.hpp"
#include "support/test_helpers.hpp"

namespace emutest {

class EmulatorTest : public ::testing::Test {
  protected:
    /// Starts `model` with `extra` arguments, opens its tty and reads the boot text up to
    /// `boot_end` (into `boot_text` when given); a fatal failure when a step fails.
    void launch(const std::string& model, const std::string& boot_end,
                std::vector<std::string> extra = {}, std::string* boot_text = nullptr) {
        emu_ =
            std::make_unique<EmulatorProcess>(EmulatorProcess::Options{model, 0, std::move(extra)});
        ASSERT_EQ(emu_->startError(), "");
        tty_ = std::make_unique<PtyClient>(emu_->ttyPath());
        ASSERT_TRUE(tty_->isOpen()) << emu_->ttyPath();
        auto text = tty_->readUntil(boot_end);
        ASSERT_TRUE(text) << "no boot text up to " << boot_end;
        if (boot_text != nullptr) {
            *boot_text = *text;
        }
    }

    /// launch, then echo off, numeric errors and registered (cellular models).
    void launchRegistered(const std::string& model, const std::string& boot_end) {
        ASSERT_NO_FATAL_FAILURE(launch(model, boot_end));
        expectOk("ATE0");
        expectOk("AT+CMEE=1");
        ASSERT_TRUE(waitRegistered(*tty_));
    }

    /// HL78, launchRegistered: session 1 connected to `port` on bearer 1, which AT+KCNXUP
    /// brings up first (`bearer_first`) or AT+KTCPCNX brings up with the connect.
    void hl78Connect(uint16_t port, bool bearer_first = true) {
        ASSERT_NO_FATAL_FAILURE(launchRegistered("hl78", "+KSUP: 0\r\n"));
        expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
        if (bearer_first) {
            ASSERT_TRUE(okThenUrc("AT+KCNXUP=1", "+KCNX_IND: 1,1"));
        }
        expectOk("AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(port));
        ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    }

    /// A76xx, launchRegistered: manual-receive link 0 (AT+CIPRXGET=1) connected to `port`.
    void a76xxConnect(uint16_t port) {
        ASSERT_NO_FATAL_FAILURE(launchRegistered("a76xx", "PB DONE\r\n"));
        expectOk("AT+CIPRXGET=1");
        ASSERT_TRUE(okThenUrc("AT+NETOPEN", "+NETOPEN: 0"));
        ASSERT_TRUE(okThenUrc("AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(port),
                              "+CIPOPEN: 0,0"));
    }

    /// A76xx, launchRegistered: CCH session 0 in manual receive (AT+CCHSET=`report_send`,1)
    /// connected to `port` as a plain TCP client (type 1), up to its first +CCHEVENT.
    void a76xxCchOpen(uint16_t port, int report_send) {
        ASSERT_NO_FATAL_FAILURE(launchRegistered("a76xx", "PB DONE\r\n"));
        expectOk("AT+CCHSET=" + std::to_string(report_send) + ",1");
        ASSERT_TRUE(okThenUrc("AT+CCHSTART", "+CCHSTART: 0"));
        ASSERT_TRUE(okThenUrc("AT+CCHOPEN=0,\"127.0.0.1\"," + std::to_string(port) + ",1",
                              "+CCHOPEN: 0,0"));
        ASSERT_TRUE(tty_->readUntil("\r\n+CCHEVENT: 0,RECV EVENT\r\n"));
    }

    /// Waits (up to 10 s) until the first socket has buffered at least `n` bytes from its peer.
    bool waitBuffered(size_t n) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            auto j = nlohmann::json::parse(emu_->control("status"), nullptr, false);
            if (!j.is_discarded() && j.contains("sockets") && !j["sockets"].empty() &&
                j["sockets"][0].value("rx_buffered", size_t{0}) >= n) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
        }
        return false;
    }

    /// K sockets (HL78xx, BX310x): AT+KTCPSND of `data` announced as `announced` bytes:
    /// CONNECT, the bytes, the EOF pattern, OK.
    void ktcpSend(int id, const std::string& data, size_t announced) {
        ASSERT_TRUE(tty_->write("AT+KTCPSND=" + std::to_string(id) + "," +
                                std::to_string(announced) + "\r"));
        ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
        ASSERT_TRUE(tty_->write(data + kEofPattern));
        ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    }

    /// The `count` numbers after `token` (numbersAfter); nullopt, after a failed expectation,
    /// when they do not come.
    std::optional<std::vector<long>> expectNumbers(const std::string& token, size_t count) {
        auto nums = numbersAfter(*tty_, token);
        EXPECT_TRUE(nums && nums->size() == count) << token;
        if (!nums || nums->size() != count) {
            return std::nullopt;
        }
        return nums;
    }

    /// Socket data read back in rounds until `n` bytes came (for 10 s at most): `readRound(got)`
    /// runs the model's read command once and appends what came; false ends the reading (a
    /// round that failed its expectations).
    std::string receiveInRounds(size_t n, const std::function<bool(std::string& got)>& readRound) {
        std::string got;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
            if (!readRound(got)) {
                break;
            }
        }
        return got;
    }

    /// Socket data read back by count: exactly `n` bytes, then exactly `trailer` (the EOF pattern,
    /// OK, ...); the bytes, or nullopt after a failed expectation.
    std::optional<std::string> readPayload(size_t n, const std::string& trailer) {
        auto data = tty_->readExactly(n);
        auto tail = tty_->readExactly(trailer.size());
        EXPECT_TRUE(data && tail);
        if (!data || !tail) {
            return std::nullopt;
        }
        EXPECT_EQ(*tail, trailer);
        return data;
    }

    /// A downlink cut by `fault silent-in-downlink <n>`: the first `n` bytes of `payload` come,
    /// then nothing (the rest, the trailer and the final result never do).
    void expectDownlinkCut(const std::string& payload, size_t n) {
        auto data = tty_->readExactly(n);
        ASSERT_TRUE(data);
        EXPECT_EQ(*data, payload.substr(0, n));
        EXPECT_EQ(tty_->readFor(std::chrono::milliseconds(300)), "");
    }

    /// K sockets: waits for +KTCP_DATA and reads with AT+KTCPRCV (CONNECT, the bytes, the EOF
    /// pattern, OK) until `n` bytes came back; what came.
    std::string ktcpReceive(int id, size_t n) {
        std::string got;
        std::string urc = "+KTCP_DATA: " + std::to_string(id) + ",";
        while (got.size() < n) {
            auto avail = numbersAfter(*tty_, urc);
            EXPECT_TRUE(avail && avail->size() == 1);
            if (!avail || avail->empty()) {
                break;
            }
            EXPECT_TRUE(tty_->write("AT+KTCPRCV=" + std::to_string(id) + "," +
                                    std::to_string(avail->at(0)) + "\r"));
            EXPECT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
            auto data = readPayload(static_cast<size_t>(avail->at(0)), kEofPattern + ok_);
            if (!data) {
                break;
            }
            got += *data;
        }
        return got;
    }

    /// Sends a command line and reads its answer up to the final result.
    virtual std::optional<std::string> command(const std::string& cmd) {
        return tty_->command(cmd);
    }

    /// `cmd` answers with `final_result` in its text; the answer.
    std::string expect(const std::string& cmd, const std::string& final_result) {
        auto r = command(cmd);
        EXPECT_TRUE(r) << cmd << ": no final result";
        if (!r) {
            return {};
        }
        EXPECT_NE(r->find(final_result), std::string::npos) << cmd << " -> " << *r;
        return *r;
    }
    std::string expectOk(const std::string& cmd) { return expect(cmd, ok_); }
    /// An asynchronous command: `cmd` answers OK, then its result comes as the URC line `urc`;
    /// whether that URC came within `timeout`.
    bool okThenUrc(const std::string& cmd, const std::string& urc,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        expectOk(cmd);
        return tty_->readUntil("\r\n" + urc + "\r\n", timeout).has_value();
    }
    /// A command that must end in `+CME ERROR: <code>`.
    void expectCme(const std::string& cmd, int code) {
        expect(cmd, "+CME ERROR: " + std::to_string(code) + "\r\n");
    }

    /// A control-socket command that must answer "ok <line>".
    void controlOk(const std::string& line) { EXPECT_EQ(emu_->control(line), "ok " + line); }

    /// The emulator's status (control socket).
    nlohmann::json status() {
        auto j = nlohmann::json::parse(emu_->control("status"), nullptr, false);
        EXPECT_FALSE(j.is_discarded());
        return j;
    }

    /// The emulator's trace so far.
    std::string trace() {
        std::ifstream in(emu_->logPath());
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    void TearDown() override {
        if (HasFailure() && emu_) {
            dumpTrace(*emu_);
        }
    }

    std::string ok_ = "\r\nOK\r\n";  ///< the success final result, framed
    /// The K sockets' EOF pattern (AT+KPATTERN).
    static inline const std::string kEofPattern = "--EOF--Pattern--";
    std::unique_ptr<EmulatorProcess> emu_;
    std::unique_ptr<PtyClient> tty_;
};

}  // namespace emutest
