// SPDX-License-Identifier: Apache-2.0
// The local API's wire format: line framing, request parsing, replies, topic filters.
#include <gtest/gtest.h>

#include "api/line_framer.hpp"
#include "api/protocol.hpp"

namespace uplinkd::api {
namespace {

using nlohmann::json;

std::vector<std::string> frame(LineFramer& f, std::string_view data, int* overflows = nullptr) {
    std::vector<std::string> lines;
    f.feed(
        data, [&](std::string_view l) { lines.emplace_back(l); },
        [&] {
            if (overflows)
                ++*overflows;
        });
    return lines;
}

TEST(LineFramer, SplitsLinesAcrossChunks) {
    LineFramer f(100);
    EXPECT_TRUE(frame(f, "{\"a\":").empty());
    EXPECT_EQ(f.pending(), 5u);
    auto lines = frame(f, "1}\n{\"b\":2}\r\n\n{\"c\"");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "{\"a\":1}");
    EXPECT_EQ(lines[1], "{\"b\":2}");  // CR removed, empty line skipped
    lines = frame(f, ":3}\n");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "{\"c\":3}");
}

TEST(LineFramer, AnOverlongLineIsReportedOnceAndTheNextLineSurvives) {
    LineFramer f(10);
    int overflows = 0;
    auto lines = frame(f, std::string(8, 'x'), &overflows);
    lines = frame(f, std::string(8, 'y'), &overflows);
    EXPECT_EQ(overflows, 1);
    lines = frame(f, std::string(50, 'z') + "\nshort\n", &overflows);
    EXPECT_EQ(overflows, 1);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "short");
}

TEST(LineFramer, ByteByByteGivesTheSameLines) {
    const std::string input = "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"ping\",\"id\":2}\n";
    LineFramer f(1000);
    std::vector<std::string> lines;
    for (char c : input) {
        auto got = frame(f, std::string_view(&c, 1));
        lines.insert(lines.end(), got.begin(), got.end());
    }
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1], "{\"op\":\"ping\",\"id\":2}");
}

TEST(Protocol, ParsesAPublishWithTextPayload) {
    json id;
    auto r = parseRequest(
        R"({"op":"publish","id":7,"route":"demo","topic":"sensors/t1","qos":0,"payload":"21.5",
           "retain":true,"report_delivered":true,"properties":{"unit":"C"}})",
        id);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(id, 7);
    EXPECT_EQ(r->op, Op::Publish);
    EXPECT_EQ(r->message.route, "demo");
    EXPECT_EQ(r->message.topic, "sensors/t1");
    EXPECT_EQ(r->message.payload, "21.5");
    EXPECT_EQ(r->message.qos, 0);
    EXPECT_TRUE(r->message.retain);
    EXPECT_TRUE(r->want_delivered);
    ASSERT_EQ(r->message.properties.size(), 1u);
    EXPECT_EQ(r->message.properties[0].second, "C");
}

TEST(Protocol, DecodesBinaryPayloads) {
    json id;
    auto r = parseRequest(
        R"({"op":"publish","id":"x","route":"d","topic":"t","payload_b64":"AAEC/w=="})", id);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->message.payload, std::string("\x00\x01\x02\xff", 4));
    EXPECT_EQ(r->message.qos, 1);  // default
}

struct BadRequest {
    const char* line;
    const char* code;
    const char* text;
    bool has_id;
};

class ProtocolErrors : public ::testing::TestWithParam<BadRequest> {};

TEST_P(ProtocolErrors, NameTheProblem) {
    const auto& p = GetParam();
    json id;
    auto r = parseRequest(p.line, id);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, p.code);
    EXPECT_NE(r.error().message.find(p.text), std::string::npos) << r.error().message;
    EXPECT_EQ(!id.is_null(), p.has_id);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ProtocolErrors,
    ::testing::Values(
        BadRequest{"{not json", "bad_json", "not valid JSON", false},
        BadRequest{"[1,2]", "bad_json", "must be a JSON object", false},
        BadRequest{R"({"op":"publish"})", "bad_request", "\"id\" is missing", false},
        BadRequest{R"({"op":"fly","id":1})", "unknown_op", "unknown op \"fly\"", true},
        BadRequest{R"({"op":"publish","id":2,"topic":"t","payload":"x"})", "bad_request",
                   "\"route\" is missing", true},
        BadRequest{R"({"op":"publish","id":3,"route":"r","topic":"t"})", "bad_request",
                   "exactly one of \"payload\"", true},
        BadRequest{R"({"op":"publish","id":4,"route":"r","topic":"t","payload_b64":"%%%"})",
                   "bad_request", "not valid base64", true},
        BadRequest{R"({"op":"publish","id":5,"route":"r","topic":"t","payload":"x","qos":3})",
                   "bad_request", "\"qos\" must be 0, 1 or 2", true},
        BadRequest{
            R"({"op":"publish","id":6,"route":"r","topic":"t","payload":"x","properties":{"a":1}})",
            "bad_request", "property \"a\" must be a string", true},
        BadRequest{R"({"op":"subscribe","id":7,"route":"r"})", "bad_request",
                   "\"filter\" is missing", true}));

TEST(Protocol, RepliesAreSingleJsonLinesTaggedWithTheId) {
    EXPECT_EQ(queuedReply(7, 12), "{\"id\":7,\"seq\":12,\"status\":\"queued\"}\n");
    EXPECT_EQ(deliveredReply("a", 3), "{\"id\":\"a\",\"seq\":3,\"status\":\"delivered\"}\n");
    const auto err = json::parse(errorReply(nullptr, makeError("bad_json", "oops")));
    EXPECT_TRUE(err["id"].is_null());
    EXPECT_EQ(err["code"], "bad_json");
    EXPECT_EQ(err["message"], "oops");
}

TEST(Protocol, BinaryEventsUseBase64) {
    IncomingMessage m;
    m.route = "r";
    m.topic = "cmd";
    m.broker_topic = "cmd";
    m.payload = std::string("\xff\x00", 2);
    const auto ev = json::parse(messageEvent(m, "#"));
    EXPECT_FALSE(ev.contains("payload"));
    EXPECT_EQ(ev["payload_b64"], "/wA=");
    m.payload = "text é";
    EXPECT_EQ(json::parse(messageEvent(m, "#"))["payload"], "text é");
}

struct Match {
    const char* filter;
    const char* topic;
    bool matches;
};

class TopicFilters : public ::testing::TestWithParam<Match> {};

TEST_P(TopicFilters, MatchAsMqttDefines) {
    const auto& m = GetParam();
    EXPECT_EQ(topicMatches(m.filter, m.topic), m.matches) << m.filter << " vs " << m.topic;
}

INSTANTIATE_TEST_SUITE_P(Table, TopicFilters,
                         ::testing::Values(Match{"a/b", "a/b", true}, Match{"a/b", "a/c", false},
                                           Match{"a/+", "a/b", true}, Match{"a/+", "a/b/c", false},
                                           Match{"a/#", "a", true}, Match{"a/#", "a/b/c", true},
                                           Match{"#", "x/y", true}, Match{"+/+", "a/b", true},
                                           Match{"+", "a/b", false}, Match{"#", "$SYS/x", false},
                                           Match{"a/+/c", "a//c", true},
                                           Match{"sport/tennis/#", "sport/tennis", true}));

// Lines a hostile or careless client may send: each gets an error reply (naming the field where
// there is one) and never an exception.
struct NastyLine {
    std::string line;
    const char* code;
    const char* text;  ///< in the message
    json id;           ///< the id the error can still be tagged with (null: none)
};

class NastyLines : public ::testing::TestWithParam<NastyLine> {};

TEST_P(NastyLines, GetAnErrorReplyNeverAnException) {
    const auto& p = GetParam();
    json id;
    Result<Request> r = fail("unset", "");
    ASSERT_NO_THROW(r = parseRequest(p.line, id));
    ASSERT_FALSE(r) << p.line;
    EXPECT_EQ(r.error().code, p.code) << r.error().message;
    EXPECT_NE(r.error().message.find(p.text), std::string::npos) << r.error().message;
    EXPECT_EQ(id, p.id);
    std::string reply;
    ASSERT_NO_THROW(reply = errorReply(id, r.error()));
    EXPECT_TRUE(json::accept(reply.substr(0, reply.size() - 1))) << reply;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NastyLines,
    ::testing::Values(
        NastyLine{R"({"op":"ping","id":1e400})", "bad_request", "\"id\": the number 1e400",
                  nullptr},
        NastyLine{R"({"op":"publish","id":2,"route":"r","topic":"t","payload":"x","qos":1e400})",
                  "bad_request", "\"qos\": the number 1e400 is out of range", 2},
        NastyLine{R"({"id":"a","op":"ping","x":-1e999})", "bad_request", "\"x\": the number -1e999",
                  "a"},
        NastyLine{R"({"op":"publish","id":3,"properties":{"k":1e309}})", "bad_request",
                  "\"properties.k\": the number 1e309", 3},
        NastyLine{R"({"op":"ping","id":4,"a":[1,2,1e400]})", "bad_request", "\"a[]\": the number",
                  4},
        NastyLine{R"([1e400])", "bad_request", "the number 1e400", nullptr},
        NastyLine{R"({"op":"publish","id":5,"route":"r","topic":"t","payload":"x","qos":)"
                  R"(123456789012345678901234567890})",
                  "bad_request", "\"qos\" must be 0, 1 or 2", 5},
        NastyLine{R"({"op":"publish","id":6,"route":"r","topic":"t","payload":"x","qos":-1})",
                  "bad_request", "\"qos\" must be 0, 1 or 2", 6},
        NastyLine{R"({"op":"publish","id":7,"route":"r","topic":"t","payload":"x",)"
                  R"("qos":18446744073709551615})",
                  "bad_request", "\"qos\" must be 0, 1 or 2", 7},
        NastyLine{R"({"op":"publish","id":8,"route":"r","topic":"t","payload":"x","qos":1.0})",
                  "bad_request", "\"qos\" must be 0, 1 or 2", 8},
        NastyLine{R"({"op":"modem_at","id":9,"command":"AT","timeout_ms":1e300})", "bad_request",
                  "\"timeout_ms\" must be an integer", 9},
        NastyLine{R"({"op":"modem_at","id":10,"command":"AT","timeout_ms":-9223372036854775809})",
                  "bad_request", "\"timeout_ms\" must be an integer", 10},
        NastyLine{"{\"op\":\"ping\",\"id\":11,\"topic\":\"\xff\xfe\"}", "bad_json",
                  "\"topic\": ", 11},
        NastyLine{"{\"op\":\"ping\",\"id\":\"\xc3\x28\"}", "bad_json", "not valid JSON", nullptr},
        NastyLine{R"({"op":"ping","id":12,"s":"\ud800"})", "bad_json", "\"s\": ", 12},
        NastyLine{std::string(100000, '[') + std::string(100000, ']'), "bad_json",
                  "must be a JSON object", nullptr},
        NastyLine{std::string("{\"op\":\"ping\",\"id\":13,\"x\":") + std::string(50000, '[') +
                      "1e400" + std::string(50000, ']') + "}",
                  "bad_request", "the number 1e400", 13},
        NastyLine{R"({"op":"ping","id":14)", "bad_json", "not valid JSON", 14},
        NastyLine{std::string("{\"op\":\"ping\",\"id\":15}\0garbage", 29), "bad_json",
                  "a NUL byte at offset 21", nullptr},
        NastyLine{R"({"op":"ping","id":{"a":1}})", "bad_request", "\"id\" must be a number",
                  nullptr},
        NastyLine{R"({"op":"status","id":16,"route":1e400})", "bad_request",
                  "\"route\": the number", 16}));

TEST(Protocol, HugeAndFractionalIdsAreEchoedNotFatal) {
    for (const char* line : {R"({"op":"ping","id":1e300})", R"({"op":"ping","id":-1e-300})",
                             R"({"op":"ping","id":123456789012345678901234567890})"}) {
        json id;
        auto r = parseRequest(line, id);
        ASSERT_TRUE(r) << line << ": " << r.error().message;
        EXPECT_TRUE(r->id.is_number());
        std::string reply;
        ASSERT_NO_THROW(reply = okReply(r->id));
        EXPECT_TRUE(json::accept(reply.substr(0, reply.size() - 1))) << reply;
    }
}

TEST(Protocol, RepliesWithInvalidUtf8AreStillJson) {
    const std::string bad = "\xff\xfe";
    for (const std::string& reply :
         {errorReply(bad, makeError("x", bad)), okReply(1, json{{"k", bad}}), queuedReply(bad, 1),
          deliveredReply(bad, 2)}) {
        EXPECT_TRUE(json::accept(reply.substr(0, reply.size() - 1))) << reply;
    }
}

}  // namespace
}  // namespace uplinkd::api
