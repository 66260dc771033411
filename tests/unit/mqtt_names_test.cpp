// SPDX-License-Identifier: Apache-2.0
// The shared MQTT text rules (uplinkd/mqtt_names.hpp), from tables: strict UTF-8, topics to
// publish on, topic filters, broker host names and endpoint_override's "host[:port]". The local
// API's isPrintableUtf8 must follow the same UTF-8 rule.
#include "uplinkd/mqtt_names.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "api/protocol.hpp"

namespace {

using namespace uplinkd;

TEST(MqttNames, Utf8) {
    struct Case {
        const char* what;
        std::string bytes;
        bool valid;  // validUtf8
        bool text;   // isUtf8Text (and api::isPrintableUtf8): valid and no NUL
    };
    const std::vector<Case> cases = {
        {"empty", "", true, true},
        {"ASCII", "sensors/temp", true, true},
        {"2 bytes", "\xc3\xbc", true, true},
        {"3 bytes", "\xe2\x82\xac", true, true},
        {"4 bytes", "\xf0\x9d\x84\x9e", true, true},
        {"U+10FFFF", "\xf4\x8f\xbf\xbf", true, true},
        {"U+D7FF", "\xed\x9f\xbf", true, true},
        {"U+E000", "\xee\x80\x80", true, true},
        {"NUL", std::string("a\0b", 3), true, false},
        {"above U+10FFFF", "\xf4\x90\x80\x80", false, false},
        {"overlong 2", "\xc0\xaf", false, false},
        {"overlong 2 (C1)", "\xc1\xbf", false, false},
        {"overlong 3", "\xe0\x80\xaf", false, false},
        {"overlong 4", "\xf0\x80\x80\xaf", false, false},
        {"overlong NUL", "\xc0\x80", false, false},
        {"surrogate high", "\xed\xa0\x80", false, false},
        {"surrogate low", "\xed\xbf\xbf", false, false},
        {"truncated 2", "ab\xc3", false, false},
        {"truncated 3", "\xe2\x82", false, false},
        {"lone continuation", "\x80", false, false},
        {"bad continuation", "\xc3\x28", false, false},
        {"5-byte lead", "\xf8\x88\x80\x80\x80", false, false},
        {"0xFF", "x\xff", false, false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_EQ(mqtt::validUtf8(c.bytes), c.valid);
        EXPECT_EQ(mqtt::isUtf8Text(c.bytes), c.text);
        EXPECT_EQ(api::isPrintableUtf8(c.bytes), c.text);
    }
}

/// A text and a part of the reason it is refused for; empty: accepted.
struct ProblemCase {
    std::string text;
    std::string problem;
};

void expectProblems(std::optional<std::string> (*check)(std::string_view),
                    const std::vector<ProblemCase>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text.substr(0, 40));
        const auto problem = check(c.text);
        if (c.problem.empty()) {
            EXPECT_FALSE(problem) << *problem;
        } else {
            ASSERT_TRUE(problem);
            EXPECT_NE(problem->find(c.problem), std::string::npos) << *problem;
        }
    }
}

TEST(MqttNames, PublishTopics) {
    expectProblems(&mqtt::publishTopicProblem,
                   {
                       {"sensors/temp", ""},
                       {"a", ""},
                       {"/", ""},
                       {"a//b", ""},
                       {"$SYS/x", ""},  // reserved prefixes are the cloud profile's business
                       {"\xc3\xbc/x", ""},
                       {std::string(65535, 'a'), ""},
                       {"", "empty"},
                       {"a/+", "'+' or '#'"},
                       {"a/#", "'+' or '#'"},
                       {"#", "'+' or '#'"},
                       {"a+b", "'+' or '#'"},
                       {std::string(65536, 'a'), "65536 bytes; MQTT allows at most 65535"},
                       {"bad\xc3", "not valid UTF-8"},
                       {"\xed\xa0\x80", "not valid UTF-8"},
                       {std::string("a\0b", 3), "U+0000 (a control character) at character 2"},
                   });
}

TEST(MqttNames, ForbiddenCharacters) {
    struct Case {
        const char* what;
        std::string text;
        std::optional<uint32_t> code_point;  // nothing: accepted
        size_t position = 0;
        size_t byte_offset = 0;
    };
    const std::vector<Case> cases = {
        {"plain", "sensors/temp", std::nullopt},
        {"printable non-ASCII", "\xc3\xbc/\xe2\x82\xac/\xf0\x9d\x84\x9e", std::nullopt},
        {"U+00A0 (first after C1)", "a\xc2\xa0", std::nullopt},
        {"U+FDCF", "\xef\xb7\x8f", std::nullopt},
        {"U+FDF0", "\xef\xb7\xb0", std::nullopt},
        {"U+FFFD", "\xef\xbf\xbd", std::nullopt},
        {"U+10FFFD", "\xf4\x8f\xbf\xbd", std::nullopt},
        {"issue seed U+0001", "a/\x01/b", 0x01, 3, 2},
        {"NUL", std::string("x\0", 2), 0x00, 2, 1},
        {"tab", "\tx", 0x09, 1, 0},
        {"U+001F", "ab\x1f", 0x1F, 3, 2},
        {"DEL U+007F", "\x7f", 0x7F, 1, 0},
        {"C1 U+0080", "\xc3\xbc\xc2\x80", 0x80, 2, 2},
        {"C1 U+009F", "\xc2\x9f", 0x9F, 1, 0},
        {"U+FDD0", "z\xef\xb7\x90", 0xFDD0, 2, 1},
        {"U+FDEF", "\xef\xb7\xaf", 0xFDEF, 1, 0},
        {"U+FFFE", "\xef\xbf\xbe", 0xFFFE, 1, 0},
        {"U+FFFF after a 4-byte char", "\xf0\x9d\x84\x9e\xef\xbf\xbf", 0xFFFF, 2, 4},
        {"U+1FFFE", "\xf0\x9f\xbf\xbe", 0x1FFFE, 1, 0},
        {"U+10FFFF", "\xf4\x8f\xbf\xbf", 0x10FFFF, 1, 0},
        {"the first one wins", "a\x02\x01", 0x02, 2, 1},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        const auto found = mqtt::findForbiddenChar(c.text);
        ASSERT_EQ(found.has_value(), c.code_point.has_value());
        const auto topic = mqtt::publishTopicProblem(c.text);
        const Status st = mqtt::checkPublishText(c.text, {});
        if (!c.code_point) {
            EXPECT_FALSE(topic) << *topic;
            EXPECT_TRUE(st.ok()) << st.error().message;
            continue;
        }
        EXPECT_EQ(found->code_point, *c.code_point);
        EXPECT_EQ(found->position, c.position);
        EXPECT_EQ(found->byte_offset, c.byte_offset);
        char hex[16];
        std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(*c.code_point));
        const std::string where =
            std::string(hex) + " (a " +
            (*c.code_point < 0xA0 ? "control character" : "Unicode noncharacter") +
            ") at character " + std::to_string(c.position) + " (byte " +
            std::to_string(c.byte_offset) + ")";
        ASSERT_TRUE(topic);
        EXPECT_NE(topic->find(where), std::string::npos) << *topic;
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, "bad_topic");
        EXPECT_NE(st.error().message.find(where), std::string::npos) << st.error().message;

        // The same character in a user property's key or value: bad_property, naming it.
        const Status in_key = mqtt::checkPublishText("t", {{c.text, "v"}});
        ASSERT_FALSE(in_key.ok());
        EXPECT_EQ(in_key.error().code, "bad_property");
        EXPECT_NE(in_key.error().message.find("name of a user property contains " + where),
                  std::string::npos)
            << in_key.error().message;
        const Status in_value = mqtt::checkPublishText("t", {{"k", "ok"}, {"unit", c.text}});
        ASSERT_FALSE(in_value.ok());
        EXPECT_EQ(in_value.error().code, "bad_property");
        EXPECT_NE(
            in_value.error().message.find("value of user property \"unit\" contains " + where),
            std::string::npos)
            << in_value.error().message;
    }
}

TEST(MqttNames, PublishTextChecksTopicsBeforePropertiesAndAcceptsCleanOnes) {
    EXPECT_TRUE(mqtt::checkPublishText("a/b", {{"unit",
                                                "\xc2\xb0"
                                                "C"},
                                               {"", ""}})
                    .ok());
    const Status wild = mqtt::checkPublishText("a/+", {{"k", "\x01"}});
    ASSERT_FALSE(wild.ok());
    EXPECT_EQ(wild.error().code, "bad_topic");
    const Status not_utf8 = mqtt::checkPublishText("t", {{"k", "\xff"}});
    ASSERT_FALSE(not_utf8.ok());
    EXPECT_EQ(not_utf8.error().code, "bad_property");
    EXPECT_NE(not_utf8.error().message.find("not valid UTF-8"), std::string::npos);
}

TEST(MqttNames, TopicFilters) {
    expectProblems(&mqtt::topicFilterProblem,
                   {
                       {"cmd/#", ""},
                       {"#", ""},
                       {"+", ""},
                       {"+/state", ""},
                       {"a/+/b", ""},
                       {"+/+/#", ""},
                       {"a//b", ""},
                       {"$share/g/cmd/#", ""},
                       {std::string(65535, 'a'), ""},
                       {"", "empty"},
                       {"a/#/b", "'#' must be a whole level and the last one"},
                       {"#/a", "'#' must be a whole level and the last one"},
                       {"a#", "'#' must be a whole level and the last one"},
                       {"a/b#", "'#' must be a whole level and the last one"},
                       {"a+/b", "'+' must be a whole level"},
                       {"a/b+", "'+' must be a whole level"},
                       {"++", "'+' must be a whole level"},
                       {std::string(65536, 'a'), "65536 bytes; MQTT allows at most 65535"},
                       {"x\xff/#", "not valid UTF-8"},
                       {std::string("a\0/#", 4), "not valid UTF-8"},
                   });
}

TEST(MqttNames, HostNames) {
    const std::string no_ip = "not an address, please";
    struct Case {
        std::string host;
        std::string ip_refusal;
        std::optional<std::string> problem;  // the whole reason
    };
    const std::vector<Case> cases = {
        {"broker.example.com", no_ip, std::nullopt},
        {"a1-b2.iot.eu-west-1.amazonaws.com", no_ip, std::nullopt},
        {"localhost", no_ip, std::nullopt},
        {"10.0.0.5", "", std::nullopt},
        {"10.0.0.5", no_ip, no_ip},
        {"123", no_ip, no_ip},
        {"", no_ip, "is empty"},
        {"mqtts://broker.example.com", no_ip,
         "write the host name only, without a scheme such as \"mqtts://\""},
        {"broker.example.com:8883", no_ip, "write the host name only; the port goes elsewhere"},
        {"[::1]", "", "write the host name only; the port goes elsewhere"},
        {"broker_1.example.com", no_ip, "contains '_', which cannot be in a host name"},
        {"broker example", no_ip, "contains ' ', which cannot be in a host name"},
        {"br\xc3\xbcker", no_ip, "contains '\xc3', which cannot be in a host name"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.host);
        EXPECT_EQ(mqtt::hostNameProblem(c.host, "; the port goes elsewhere", c.ip_refusal),
                  c.problem);
    }
}

TEST(MqttNames, EndpointOverride) {
    const std::string bad_port = "expected \"host\" or \"host:port\" with a port from 1 to 65535";
    const std::string bad_host =
        "expected \"host\" or \"host:port\" with a host name or IPv4 address";
    const std::string scheme =
        "write \"host\" or \"host:port\", without a scheme such as \"mqtts://\"";
    struct Case {
        std::string toml;  // the value as written in TOML
        std::optional<std::string> host;
        std::optional<uint16_t> port;
        std::string diagnostic;  // the message after "key: "; empty: none
    };
    const std::vector<Case> cases = {
        {"\"broker.local\"", "broker.local", std::nullopt, ""},
        {"\"10.0.0.5:1883\"", "10.0.0.5", 1883, ""},
        {"\"b-1.example.com:65535\"", "b-1.example.com", 65535, ""},
        {"\"h:1\"", "h", 1, ""},
        {"\"h:0\"", std::nullopt, std::nullopt, bad_port},
        {"\"h:65536\"", std::nullopt, std::nullopt, bad_port},
        {"\"h:123456\"", std::nullopt, std::nullopt, bad_port},
        {"\"h:\"", std::nullopt, std::nullopt, bad_port},
        {"\"h:88a\"", std::nullopt, std::nullopt, bad_port},
        {"\"h:-1\"", std::nullopt, std::nullopt, bad_port},
        {"\"mqtts://h\"", std::nullopt, std::nullopt, bad_port},
        {"\"mqtts://h:8883\"", std::nullopt, std::nullopt, scheme},
        {"\":1883\"", std::nullopt, std::nullopt, bad_host},
        {"\"\"", std::nullopt, std::nullopt, bad_host},
        {"\"a:b:1883\"", std::nullopt, std::nullopt, bad_host},
        {"\"[::1]:1883\"", std::nullopt, std::nullopt, bad_host},
        {"\"host_name\"", std::nullopt, std::nullopt, bad_host},
        {"\"h st:1883\"", std::nullopt, std::nullopt, bad_host},
        {"1883", std::nullopt, std::nullopt, "expected a string, got an integer"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.toml);
        auto doc =
            toml::parse("endpoint_override = " + c.toml + "\n", std::string_view("test.toml"));
        ASSERT_TRUE(doc) << doc.error().description();
        Diagnostics diags;
        ConfigTable table(&doc.table(), "t", doc.table().source(), diags);
        const auto got = mqtt::readHostPort(table, "endpoint_override");
        EXPECT_EQ(got.has_value(), c.host.has_value());
        if (got && c.host) {
            EXPECT_EQ(got->host, *c.host);
            EXPECT_EQ(got->port, c.port);
        }
        if (c.diagnostic.empty()) {
            EXPECT_TRUE(diags.empty()) << diags.text();
        } else {
            ASSERT_EQ(diags.items().size(), 1u) << diags.text();
            EXPECT_TRUE(diags.items()[0].ends_with("t.endpoint_override: " + c.diagnostic))
                << diags.items()[0];
        }
    }
    // Absent: nothing, and nothing to report.
    auto doc = toml::parse("other = 1\n", std::string_view("test.toml"));
    ASSERT_TRUE(doc);
    Diagnostics diags;
    ConfigTable table(&doc.table(), "t", doc.table().source(), diags);
    EXPECT_FALSE(mqtt::readHostPort(table, "endpoint_override"));
    EXPECT_TRUE(diags.empty());
}

}  // namespace
