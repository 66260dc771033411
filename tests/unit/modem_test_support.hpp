// SPDX-License-Identifier: Apache-2.0
// What the modem driver unit tests share: a fixture with a driver on a ScriptedAtChannel (the
// script must be used up by the end of each test), scripts written as tables of exchanges with
// the outcome they must lead to, waiting for one callback's result, and byte helpers for the
// sockets. Thread: test.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <initializer_list>
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

/// `n` bytes whose byte i is (i * step + offset) mod 256: a payload larger than a module takes at
/// once, with every byte value in it.
inline std::string byteRamp(size_t n, size_t step, size_t offset) {
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        out[i] = static_cast<char>((i * step + offset) % 256);
    }
    return out;
}

/// `data` cut into pieces of `sizes`, in order (they must add up to its size).
inline std::vector<std::string> piecesOf(const std::string& data,
                                         std::initializer_list<size_t> sizes) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (const size_t n : sizes) {
        out.push_back(data.substr(pos, n));
        pos += n;
    }
    EXPECT_EQ(pos, data.size()) << "the pieces do not add up";
    return out;
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

/// The identification every cellular driver's info() starts with (AT+CGMI, AT+CGMM, AT+CGMR,
/// AT+CGSN), each answered by one line.
inline AtScript identity(const std::string& manufacturer, const std::string& model,
                         const std::string& firmware, const std::string& imei) {
    return {{"AT+CGMI", {manufacturer}},
            {"AT+CGMM", {model}},
            {"AT+CGMR", {firmware}},
            {"AT+CGSN", {imei}}};
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

/// `s` (a Status, or any Result: only its error is looked at) is what `want` says.
template <class T>
void expectOutcome(const Result<T>& s, const Outcome& want) {
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

/// A driver's Timing with waits short enough for a scripted module: plain commands and each of
/// `waits` 1 s, so an answer that never comes fails the test quickly.
template <class Timing>
Timing shortWaits(std::initializer_list<std::chrono::milliseconds Timing::*> waits) {
    using namespace std::chrono_literals;
    Timing t;
    t.command = 1s;
    for (const auto wait : waits) {
        t.*wait = 1s;
    }
    return t;
}

/// shortWaits() for a cellular driver, whose SIM is retried after 1 ms and whose registration
/// is polled every 2 ms for at most `registration`.
template <class Timing>
Timing cellularShortWaits(std::chrono::milliseconds registration,
                          std::initializer_list<std::chrono::milliseconds Timing::*> waits) {
    using namespace std::chrono_literals;
    Timing t = shortWaits<Timing>(waits);
    t.sim_retry = 1ms;
    t.registration_poll = 2ms;
    t.registration_timeout = registration;
    return t;
}

/// The broker the driver tests open sockets to: plain on 1883, TLS by the module on 8883 (the
/// host as the name to check).
inline const ModemSocketRequest kPlainBroker{"broker.example.com", 1883, false, ""};
inline const ModemSocketRequest kTlsBroker{"broker.example.com", 8883, true, "broker.example.com"};

/// The result of one asyncRead / asyncWrite, filled in by the handler keep() returns.
struct ReadResult {
    std::optional<Result<size_t>> r;
    auto keep() {
        return [this](Result<size_t> result) { r = std::move(result); };
    }
};
/// An asyncRead into a buffer of its own: the bytes, once its result `r` came.
struct StartedRead {
    std::vector<uint8_t> buf;
    std::optional<Result<size_t>> r;
    std::string bytes() const {
        return std::string(reinterpret_cast<const char*>(buf.data()), r && *r ? **r : 0);
    }
};
struct WriteResult {
    std::optional<Status> s;
    auto keep() {
        return [this](Status status) { s = std::move(status); };
    }
};

/// parse(line, args...) gives nothing (an empty optional, a failed Result) for each of `lines`.
template <class Parse, class... Args>
void expectUnparsed(Parse parse, std::initializer_list<const char*> lines, const Args&... args) {
    for (const char* line : lines) {
        EXPECT_FALSE(parse(line, args...)) << line;
    }
}

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
    /// open(req) against `script` ends in `want`.
    void expectOpen(const AtScript& script, const ModemSocketRequest& req, const Outcome& want) {
        expectScript(at_, script);
        expectOutcome(open(req), want);
    }
    /// open(req) after the module answers `script`: it must succeed.
    ByteStreamPtr openAfter(const AtScript& script, const ModemSocketRequest& req) {
        expectScript(at_, script);
        return openOk(req);
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
    /// An asyncRead of at most `max` bytes started on `s` (nothing run yet); its handler keeps
    /// the result in the returned read.
    std::unique_ptr<StartedRead> startRead(ByteStream& s, size_t max) {
        auto rd = std::make_unique<StartedRead>();
        rd->buf.resize(max);
        s.asyncRead(rd->buf, [read = rd.get()](Result<size_t> r) { read->r = std::move(r); });
        return rd;
    }
    /// The module restarts (it sends `boot`, its start-up URC): a read on `s` then fails at once
    /// with "modem_reset".
    void expectRestartFailsReads(ByteStream& s, const std::string& boot) {
        ASSERT_TRUE(at_.injectBoot(boot)) << boot;
        std::array<uint8_t, 8> buf{};
        const auto rd = readNow(s, buf);
        ASSERT_TRUE(rd.has_value()) << "the read did not end at once";
        expectOutcome(*rd, fails("modem_reset"));
    }
    /// One asyncRead of at most `max` bytes, until its handler ran: the bytes, or its error.
    Result<std::string> readOnce(ByteStream& s, size_t max = 64) {
        std::vector<uint8_t> buf(max);
        auto r = await<size_t>(loop_, [&](auto done) { s.asyncRead(buf, done); });
        if (!r) {
            return r.failure();
        }
        return std::string(reinterpret_cast<const char*>(buf.data()), *r);
    }
    /// readOnce(), started before the module announces bytes with the URC `announce`: it must
    /// not complete before.
    Result<std::string> readAnnounced(ByteStream& s, const std::string& announce, size_t max = 64) {
        std::vector<uint8_t> buf(max);
        ReadResult rd;
        s.asyncRead(buf, rd.keep());
        drain(loop_);
        EXPECT_FALSE(rd.r.has_value()) << "a read completed before " << announce;
        EXPECT_TRUE(at_.injectUrc(announce)) << announce;
        EXPECT_TRUE(runUntil(loop_, [&] { return rd.r.has_value(); }));
        if (!rd.r) {
            return fail("test", "no answer");
        }
        if (!*rd.r) {
            return rd.r->failure();
        }
        return std::string(reinterpret_cast<const char*>(buf.data()), **rd.r);
    }
    /// A read and a write of `out` outstanding together on `s`, then the URC `announce`: both
    /// must complete, the write without error, the read with `in`.
    void expectReadAndWriteTogether(ByteStream& s, const std::string& out,
                                    const std::string& announce, const std::string& in) {
        std::array<uint8_t, 16> buf{};
        ReadResult rd;
        WriteResult w;
        s.asyncRead(buf, rd.keep());
        s.asyncWrite(bytesOf(out), w.keep());
        at_.injectUrc(announce);
        ASSERT_TRUE(runUntil(loop_, [&] { return rd.r.has_value() && w.s.has_value(); }));
        EXPECT_TRUE(*w.s);
        ASSERT_TRUE(*rd.r);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), **rd.r), in);
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
