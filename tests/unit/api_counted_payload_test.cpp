// SPDX-License-Identifier: Apache-2.0
// The local API's byte-counted publish (docs/api.md, "Large payloads"): the framing of a payload
// after its request line, read by count, and what a request line says follows it. Tables.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/protocol.hpp"
#include "api/request_framer.hpp"

namespace uplinkd::api {
namespace {

using namespace std::string_literals;
using After = RequestFramer::After;

/// Lines of the framing tables say what follows them: "keep N", "skip N", "stop"; any other
/// line is a plain request.
After plan(std::string_view line) {
    const auto number = [&](size_t at) { return std::stoull(std::string(line.substr(at))); };
    if (line.starts_with("keep ")) {
        return After::keep(number(5));
    }
    if (line.starts_with("skip ")) {
        return After::skip(number(5));
    }
    if (line == "stop") {
        return After::stop();
    }
    return After::line();
}

struct Framed {
    std::vector<std::string> events;
    uint64_t remaining = 0;
    bool stopped = false;
};

/// Feeds `input` in reads of `chunk` bytes (0: all at once) and records what came out.
Framed frame(const std::string& input, size_t chunk, size_t max_line) {
    RequestFramer f(max_line);
    Framed out;
    const size_t step = chunk == 0 ? std::max<size_t>(input.size(), 1) : chunk;
    for (size_t at = 0; at < input.size(); at += step) {
        f.feed(
            std::string_view(input).substr(at, step),
            [&](std::string_view line) {
                out.events.push_back("line:" + std::string(line));
                return plan(line);
            },
            [&] { out.events.push_back("overflow"); },
            [&](std::string&& payload) { out.events.push_back("payload:" + payload); },
            [&](uint64_t n) { out.events.push_back("skipped:" + std::to_string(n)); });
    }
    out.remaining = f.payloadRemaining();
    out.stopped = f.stopped();
    return out;
}

struct FramingCase {
    const char* name;
    std::string input;
    size_t max_line;
    std::vector<std::string> events;
    uint64_t remaining = 0;  ///< payload bytes still expected at the end
    bool stopped = false;
};

const std::string kBinary = "a\nb\0\r\n\n{\"op\":\"ping\",\"id\":9}\n\0\0z"s;

// clang-format off
const FramingCase kFramingCases[] = {
    {"newlines, NUL bytes and a request inside the payload are payload",
     "keep " + std::to_string(kBinary.size()) + "\n" + kBinary + "ping\n", 64,
     {"line:keep " + std::to_string(kBinary.size()), "payload:" + kBinary, "line:ping"}},
    {"a payload right after another",
     "keep 2\n\n\nkeep 3\nabcping\n", 64,
     {"line:keep 2", "payload:\n\n", "line:keep 3", "payload:abc", "line:ping"}},
    {"an empty payload",
     "keep 0\nping\n", 64, {"line:keep 0", "payload:", "line:ping"}},
    {"a payload longer than the line limit is not a line",
     "keep 40\n" + std::string(40, 'x') + "ping\n", 8,
     {"line:keep 40", "payload:" + std::string(40, 'x'), "line:ping"}},
    {"a refused payload is dropped by count, newlines and all",
     "skip 6\n\n\nping\nping\n", 64, {"line:skip 6", "skipped:6", "line:ping"}},
    {"the client goes away mid-payload: nothing is handed over",
     "keep 10\nabc", 64, {"line:keep 10"}, 7},
    {"the client goes away mid-line after a payload",
     "keep 1\nxpi", 64, {"line:keep 1", "payload:x"}},
    {"a length that cannot be read stops the input",
     "stop\nping\nkeep 1\nx", 64, {"line:stop"}, 0, true},
    {"an over-long line before a payload line",
     std::string(20, 'y') + "\nkeep 1\n\n", 8, {"overflow", "line:keep 1", "payload:\n"}},
};
// clang-format on

class CountedFraming : public ::testing::TestWithParam<FramingCase> {};

TEST_P(CountedFraming, GivesTheSameEventsHoweverTheInputIsSplit) {
    const FramingCase& c = GetParam();
    for (const size_t chunk : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{7}}) {
        SCOPED_TRACE("reads of " + std::to_string(chunk) + " bytes (0: one read)");
        const Framed got = frame(c.input, chunk, c.max_line);
        EXPECT_EQ(got.events, c.events);
        EXPECT_EQ(got.remaining, c.remaining);
        EXPECT_EQ(got.stopped, c.stopped);
    }
}

INSTANTIATE_TEST_SUITE_P(Table, CountedFraming, ::testing::ValuesIn(kFramingCases),
                         [](const auto& p) { return "case" + std::to_string(p.index); });

TEST(CountedFraming, AKeptPayloadIsOneBufferReservedOnce) {
    RequestFramer f(64);
    const size_t n = 1 << 20;
    std::string got;
    std::string chunk(4096, 'p');
    f.feed(
        "keep " + std::to_string(n) + "\n", [](std::string_view l) { return plan(l); }, [] {},
        [](std::string&&) {}, [](uint64_t) {});
    for (size_t sent = 0; sent < n; sent += chunk.size()) {
        f.feed(
            chunk, [](std::string_view l) { return plan(l); }, [] {},
            [&](std::string&& p) { got = std::move(p); }, [](uint64_t) {});
    }
    ASSERT_EQ(got, std::string(n, 'p'));
    EXPECT_GE(got.capacity(), n);
    EXPECT_LE(got.capacity(), n + 64);  // reserved for the announced length, not regrown
}

// ---- What a request line says follows it.

struct LengthCase {
    const char* name;
    std::string line;
    Framing::Next next;
    uint64_t length;
    const char* code;     ///< "" when the request is valid
    const char* mention;  ///< a piece of the error message
};

constexpr uint64_t kMax = 100;

// clang-format off
const LengthCase kLengthCases[] = {
    {"valid", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":100})",
     Framing::Next::Body, 100, "", ""},
    {"zero", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":0})",
     Framing::Next::Body, 0, "", ""},
    {"over the limit", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":101})",
     Framing::Next::Skip, 101, "payload_too_large",
     "\"payload_length\" 101 is over the limit of 100 bytes (api.max_message_bytes)"},
    {"not a number", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":"10"})",
     Framing::Next::Unknown, 0, "bad_request", "\"payload_length\" must be a whole number"},
    {"negative", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":-1})",
     Framing::Next::Unknown, 0, "bad_request", "\"payload_length\" must be a whole number"},
    {"fraction", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":1.5})",
     Framing::Next::Unknown, 0, "bad_request", "closing the connection"},
    {"huge", R"({"op":"publish","id":1,"route":"r","topic":"t","payload_length":1e30})",
     Framing::Next::Unknown, 0, "bad_request", "\"payload_length\""},
    {"with a payload too",
     R"({"op":"publish","id":1,"route":"r","topic":"t","payload":"x","payload_length":3})",
     Framing::Next::Skip, 3, "bad_request", "exactly one of"},
    {"another field wrong", R"({"op":"publish","id":1,"route":"r","payload_length":5})",
     Framing::Next::Skip, 5, "bad_request", "\"topic\" is missing"},
    {"a bad id", R"({"op":"publish","id":[1],"route":"r","topic":"t","payload_length":5})",
     Framing::Next::Skip, 5, "bad_request", "\"id\""},
    {"not a publish", R"({"op":"ping","id":1,"payload_length":4})",
     Framing::Next::Skip, 4, "bad_request", "only for publish"},
    {"broken JSON that announces a payload", R"({"op":"publish","id":1,"payload_length":4)",
     Framing::Next::Unknown, 0, "bad_json", "closing the connection"},
    {"a plain publish", R"({"op":"publish","id":1,"route":"r","topic":"t","payload":"x"})",
     Framing::Next::Line, 0, "", ""},
    {"broken JSON without one", R"({"op":"ping",)", Framing::Next::Line, 0, "bad_json", ""},
};
// clang-format on

class CountedRequest : public ::testing::TestWithParam<LengthCase> {};

TEST_P(CountedRequest, SaysWhatFollowsTheLine) {
    const LengthCase& c = GetParam();
    nlohmann::json id;
    Framing framing;
    auto r = parseRequest(c.line, id, kMax, framing);
    EXPECT_EQ(framing.next, c.next);
    EXPECT_EQ(framing.length, c.length);
    if (std::string(c.code).empty()) {
        ASSERT_TRUE(r) << r.error().message;
        if (c.next == Framing::Next::Body) {
            EXPECT_TRUE(r->message.payload.empty());  // filled from the bytes after the line
            EXPECT_EQ(r->message.topic, "t");
        }
        return;
    }
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, c.code);
    EXPECT_NE(r.error().message.find(c.mention), std::string::npos) << r.error().message;
    if (c.next != Framing::Next::Line && c.line.find("\"id\":1") != std::string::npos) {
        EXPECT_EQ(id, 1);  // the error is tagged with the request's id
    }
}

INSTANTIATE_TEST_SUITE_P(Table, CountedRequest, ::testing::ValuesIn(kLengthCases),
                         [](const auto& p) { return "case" + std::to_string(p.index); });

}  // namespace
}  // namespace uplinkd::api
