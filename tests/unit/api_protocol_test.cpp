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

}  // namespace
}  // namespace uplinkd::api
