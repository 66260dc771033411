// SPDX-License-Identifier: Apache-2.0
// What the modem driver unit tests share: a fixture with a driver on a ScriptedAtChannel (the
// script must be used up by the end of each test), scripts written as tables of exchanges with
// the outcome they must lead to, waiting for one callback's result, and byte helpers for the
// sockets. Thread: test.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <asio.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "scripted_at_channel.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd::testing {

inline std::span<const uint8_t> bytesOf(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

/// Modem settings with these APN values (the rest empty).
inline ModemSettings apnSettings(std::string apn, std::string user = {}, std::string password = {},
                                 std::string pin = {}) {
    ModemSettings s;
    s.apn = std::move(apn);
    s.apn_user = std::move(user);
    s.apn_password = std::move(password);
    s.pin = std::move(pin);
    return s;
}

/// A payload full of what an AT parser could trip over: CR LF, "OK", "ERROR", NUL, 0xFF, Ctrl-Z
/// and a ">" prompt.
inline const std::string kBinary = std::string(
    "a\r\nOK\r\n\0\xff\x1a"
    "ERROR\r\n>",
    19);

/// One exchange of a script: the command the driver must send and the module's answer
/// (information lines, the final result, then URCs); `timeout`: no answer at all.
struct Exchange {
    std::string command;
    std::vector<std::string> lines = {};
    std::string final = "OK";
    std::vector<std::string> urcs = {};
    bool timeout = false;
    std::vector<std::string> urcs_before = {};  ///< URCs before the final result
};
using AtScript = std::vector<Exchange>;

/// `a`, then `b`.
inline AtScript operator+(AtScript a, const AtScript& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// `e` `n` times (a poll that sees the same answer).
inline AtScript repeat(const Exchange& e, int n) {
    return AtScript(static_cast<size_t>(n), e);
}

/// Echo off and numeric errors, as every cellular driver starts.
inline const AtScript kEchoOff = {{"ATE0"}, {"AT+CMEE=1"}};
/// The SIM needs no PIN.
inline const AtScript kSimReady = {{"AT+CPIN?", {"+CPIN: READY"}}};

/// Appends the commands of `steps` (anything with a `command`), each answered OK, to what `at`
/// expects.
template <class Steps>
void expectCommands(ScriptedAtChannel& at, const Steps& steps) {
    for (const auto& step : steps) {
        at.expect(step.command);
    }
}

/// Appends `script` to what `at` expects.
inline void expectScript(ScriptedAtChannel& at, const AtScript& script) {
    for (const auto& e : script) {
        auto& step = at.expect(e.command);
        for (const auto& l : e.lines) {
            step.line(l);
        }
        if (e.timeout) {
            step.timesOut();
        } else if (e.final != "OK") {
            step.error(e.final);
        }
        for (const auto& u : e.urcs) {
            step.urcAfter(u);
        }
        for (const auto& u : e.urcs_before) {
            step.urcBefore(u);
        }
    }
}

/// What a call must end in: success, or a failure with `code` (any code when empty) whose
/// message holds each of `says` and none of `never` (secrets).
struct Outcome {
    bool ok = true;
    std::string code;
    std::vector<std::string> says = {};
    std::vector<std::string> never = {};
};
inline Outcome succeeds() {
    return {};
}
inline Outcome fails(std::string code, std::vector<std::string> says = {},
                     std::vector<std::string> never = {}) {
    return {false, std::move(code), std::move(says), std::move(never)};
}

inline void expectOutcome(const Status& s, const Outcome& want) {
    if (want.ok) {
        EXPECT_TRUE(s) << s.error().message;
        return;
    }
    ASSERT_FALSE(s);
    if (!want.code.empty()) {
        EXPECT_EQ(s.error().code, want.code) << s.error().message;
    }
    for (const auto& part : want.says) {
        EXPECT_NE(s.error().message.find(part), std::string::npos)
            << "\"" << s.error().message << "\" lacks \"" << part << "\"";
    }
    for (const auto& secret : want.never) {
        EXPECT_EQ(s.error().message.find(secret), std::string::npos)
            << "\"" << s.error().message << "\" shows \"" << secret << "\"";
    }
}

/// The result of one asyncRead / asyncWrite, filled in by the handler keep() returns.
struct ReadResult {
    std::optional<Result<size_t>> r;
    auto keep() {
        return [this](Result<size_t> result) { r = std::move(result); };
    }
};
struct WriteResult {
    std::optional<Status> s;
    auto keep() {
        return [this](Status status) { s = std::move(status); };
    }
};

/// explain(line) contains each of `contains`.
struct ExplainCase {
    std::string line;
    std::vector<std::string> contains;
};

template <class Explain>
void expectExplained(Explain explain, const std::vector<ExplainCase>& cases) {
    for (const auto& c : cases) {
        const std::string words = explain(c.line);
        for (const auto& part : c.contains) {
            EXPECT_NE(words.find(part), std::string::npos)
                << "explain(\"" << c.line << "\") = \"" << words << "\" lacks \"" << part << "\"";
        }
    }
}

/// Calls `call` with a handler that keeps its result, runs `loop` until the result came and
/// returns it; a test failure and "test: no answer" when it did not come in time.
template <class T, class Call>
Result<T> await(asio::io_context& loop, Call call) {
    std::optional<Result<T>> result;
    call([&](Result<T> r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(runUntil(loop, [&] { return result.has_value(); }));
    if (!result) {
        return fail("test", "no answer");
    }
    return std::move(*result);
}

/// A driver of type Driver (made on first use, with `timing`) talking to the scripted channel
/// `at_`; every test must use up its script.
template <class Driver, class Timing>
class ModemDriverTest : public ::testing::Test {
  protected:
    explicit ModemDriverTest(Timing timing) : timing_(timing) {}

    void TearDown() override {
        drain(loop_);
        EXPECT_EQ(at_.remaining(), 0u) << "script not used up";
    }

    Driver& driver() {
        if (!driver_) {
            driver_ = std::make_unique<Driver>(loop_, at_, settings_, timing_);
        }
        return *driver_;
    }

    Status start() {
        return await<void>(loop_, [&](auto done) { driver().start(done); });
    }
    /// start() against `script` ends in `want`.
    void expectStart(const AtScript& script, const Outcome& want) {
        expectScript(at_, script);
        expectOutcome(start(), want);
    }
    Result<ByteStreamPtr> open(const ModemSocketRequest& req) {
        return await<ByteStreamPtr>(loop_, [&](auto done) { driver().open(req, done); });
    }
    /// open() that must succeed: the stream, or null after a test failure.
    ByteStreamPtr openOk(const ModemSocketRequest& req) {
        auto r = open(req);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? std::move(r.value()) : nullptr;
    }
    Status provision(const ModemCredentials& creds) {
        return await<void>(loop_, [&](auto done) { driver().provision(creds, done); });
    }
    Result<ModemInfo> info() {
        return await<ModemInfo>(loop_, [&](auto done) { driver().info(done); });
    }
    /// One asyncWrite of `data`, until its handler ran.
    Status write(ByteStream& s, const std::string& data) {
        return await<void>(loop_, [&](auto done) { s.asyncWrite(bytesOf(data), done); });
    }
    /// One asyncRead into `buf` and the handlers that are ready (no waiting): its result, if
    /// it came.
    std::optional<Result<size_t>> readNow(ByteStream& s, std::span<uint8_t> buf) {
        std::optional<Result<size_t>> result;
        s.asyncRead(buf, [&](Result<size_t> r) { result.emplace(std::move(r)); });
        drain(loop_);
        return result;
    }
    /// Reads until at least `n` bytes came (or a read failed: a test failure); what came.
    std::string readAtLeast(ByteStream& s, size_t n) {
        std::string got;
        std::array<uint8_t, 4096> buf{};
        while (got.size() < n) {
            auto r = await<size_t>(loop_, [&](auto done) { s.asyncRead(buf, done); });
            if (!r) {
                ADD_FAILURE() << "read: " << r.error().message;
                break;
            }
            got.append(reinterpret_cast<const char*>(buf.data()), *r);
        }
        return got;
    }

    asio::io_context loop_;
    ScriptedAtChannel at_{loop_};
    ModemSettings settings_ = apnSettings("internet.example");
    Timing timing_;
    std::unique_ptr<Driver> driver_;
};

}  // namespace uplinkd::testing
