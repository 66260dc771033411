// SPDX-License-Identifier: Apache-2.0
// aws-iot profile: configuration diagnostics (with positions), endpoint and ALPN, client id,
// topic templates, AWS IoT Core limits and reserved topics, and the refusal explanations.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aws_iot.hpp"
#include "cloud_test_support.hpp"

namespace {

using namespace uplinkd;
namespace aws = uplinkd::plugins::aws_iot;

constexpr const char* kEndpoint = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";

const uplinkd::testing::CloudUnderTest load{"aws-iot", &aws::create};

CloudProfilePtr makeProfile(const std::string& extra = "") {
    return uplinkd::testing::expectProfile(
        load("endpoint = \"" + std::string(kEndpoint) + "\"\nthing_name = \"gw-01\"\n" + extra));
}

TEST(AwsIotConfig, ErrorsNameFileLineColumnAndKey) {
    const std::string ep = "endpoint = \"" + std::string(kEndpoint) + "\"\n";  // line 3
    const std::string ok = ep + "thing_name = \"gw-01\"\n";                    // line 4
    struct Case {
        std::string body;
        std::string expected;  // the whole first diagnostic
    };
    const std::vector<Case> cases = {
        {"thing_name = \"gw\"\n",
         "test.toml:1:1: routes.r.cloud.endpoint: missing (a string is required)"},
        {"endpoint = \"mqtts://x-ats.iot.eu-west-1.amazonaws.com\"\nthing_name = \"gw\"\n",
         "test.toml:3:12: routes.r.cloud.endpoint: write the host name only, without a scheme "
         "such as \"mqtts://\""},
        {"endpoint = \"x-ats.iot.eu-west-1.amazonaws.com:8883\"\nthing_name = \"gw\"\n",
         "test.toml:3:12: routes.r.cloud.endpoint: write the host name only; the port goes in "
         "port"},
        {"endpoint = \"52.1.2.3\"\nthing_name = \"gw\"\n",
         "test.toml:3:12: routes.r.cloud.endpoint: must be the host name (from `aws iot "
         "describe-endpoint --endpoint-type iot:Data-ATS`), not an IP address: AWS IoT needs it "
         "for SNI"},
        {ep, "test.toml:1:1: routes.r.cloud.thing_name: missing (a string is required)"},
        {ep + "thing_name = \"" + std::string(129, 't') + "\"\n",
         "test.toml:4:14: routes.r.cloud.thing_name: is 129 bytes; the AWS IoT client id allows "
         "at most 128"},
        {ep + "thing_name = \"$gw\"\n",
         "test.toml:4:14: routes.r.cloud.thing_name: must not start with '$' (AWS IoT client id "
         "rule)"},
        {ep + "thing_name = \"site/gw\"\n",
         "test.toml:4:14: routes.r.cloud.thing_name: must not contain '+', '#' or '/' (it is "
         "used in topics); AWS thing names use letters, digits, ':', '_' and '-'"},
        {ok + "port = 1883\n",
         "test.toml:5:8: routes.r.cloud.port: AWS IoT takes MQTT with a client certificate on "
         "8883, or on 443 (with ALPN x-amzn-mqtt-ca)"},
        {ok + "port = \"443\"\n",
         "test.toml:5:8: routes.r.cloud.port: expected an integer, got a string"},
        {ok + "topic_template = \"dt/{thing}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: must contain {topic} exactly once"},
        {ok + "topic_template = \"{topic}/{topic}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: must contain {topic} exactly once"},
        {ok + "topic_template = \"dt/{device}/{topic}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: unknown placeholder {device}; use "
         "{thing} and {topic}"},
        {ok + "topic_template = \"dt/{topic\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: a '{' without '}'"},
        {ok + "topic_template = \"dt}/{topic}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: a '}' without '{'"},
        {ok + "topic_template = \"dt/+/{topic}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: must not contain '+' or '#'"},
        {ok + "topic_template = \"$sys/{topic}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: a template starting with '$' must start "
         "with \"$aws/rules/<rule>/\" (Basic Ingest)"},
        {ok + "topic_template = \"a/b/c/d/e/f/g/h/{topic}\"\n",
         "test.toml:5:18: routes.r.cloud.topic_template: leaves no room for the topic: AWS IoT "
         "allows at most 8 levels (7 '/')"},
        {ok + "mqtt_version = \"4\"\n",
         "test.toml:5:16: routes.r.cloud.mqtt_version: \"4\" is not one of \"3.1.1\", \"5\""},
        {ok + "keepalive_seconds = 10\n",
         "test.toml:5:21: routes.r.cloud.keepalive_seconds: 10 is out of range (30 to 1200)"},
        {ok + "keepalive_seconds = 1201\n",
         "test.toml:5:21: routes.r.cloud.keepalive_seconds: 1201 is out of range (30 to 1200)"},
        {ok + "client_id = \"x\"\n", "test.toml:5:1: routes.r.cloud.client_id: unknown key"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.body);
        uplinkd::testing::expectRefused(load(c.body), c.expected);
    }
}

TEST(AwsIotConfig, ClientIdOfExactly128BytesIsAccepted) {
    auto loaded = load("endpoint = \"" + std::string(kEndpoint) + "\"\nthing_name = \"" +
                       std::string(128, 't') + "\"\n");
    ASSERT_TRUE(loaded.profile) << ::testing::PrintToString(loaded.diagnostics);
    EXPECT_EQ(loaded.profile->credentials(SystemTime{})->client_id, std::string(128, 't'));
}

TEST(AwsIotProfile, Descriptor) {
    uplinkd::testing::expectCloudDescriptor(aws::descriptor(), "aws-iot", &aws::create);
}

TEST(AwsIotProfile, EndpointAlpnAndCredentials) {
    struct Case {
        std::string extra;
        uint16_t port;
        std::vector<std::string> alpn;
        int version;
        int keepalive;
    };
    const std::vector<Case> cases = {
        {"", 8883, {}, 4, 300},
        {"port = 8883\nmqtt_version = \"5\"\nkeepalive_seconds = 1200\n", 8883, {}, 5, 1200},
        {"port = 443\n", 443, {"x-amzn-mqtt-ca"}, 4, 300},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.extra);
        auto p = makeProfile(c.extra);
        ASSERT_TRUE(p);
        uplinkd::testing::expectConnectsWith(*p, {.kind = "aws-iot",
                                                  .endpoint = {.host = kEndpoint,
                                                               .port = c.port,
                                                               .tls = true,
                                                               .sni = kEndpoint,
                                                               .alpn = c.alpn,
                                                               .websocket_path = ""},
                                                  .mqtt_version = c.version,
                                                  .keepalive_seconds = c.keepalive,
                                                  .client_id = "gw-01",
                                                  .username = "",
                                                  .password = ""});
    }
}

struct OutCase {
    std::string topic;
    size_t payload_size;
    int qos;
    bool retain;
    std::string expected;  // broker topic, or the error code when `error`
    bool error;
};

void runOutCases(const CloudProfile& p, const std::vector<OutCase>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.topic.substr(0, 80) + " qos " + std::to_string(c.qos) +
                     (c.retain ? " retain" : "") + " size " + std::to_string(c.payload_size));
        const Message m =
            uplinkd::testing::outgoing(c.topic, c.payload_size, c.qos, c.retain, {{"k", "v"}});
        auto r = p.mapOutgoing(m);
        if (c.error) {
            ASSERT_FALSE(r.ok()) << r->topic;
            EXPECT_EQ(r.error().code, c.expected) << r.error().message;
        } else {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->topic, c.expected);
            EXPECT_EQ(r->user_properties, m.properties);
        }
    }
}

TEST(AwsIotMapping, OutgoingWithTemplate) {
    auto p = makeProfile("topic_template = \"dt/{thing}/{topic}\"\n");
    ASSERT_TRUE(p);
    const std::string t247(247, 'a');  // "dt/gw-01/" + 247 bytes = 256
    runOutCases(
        *p,
        {
            {"temp", 10, 1, false, "dt/gw-01/temp", false},
            {"temp", 10, 0, true, "dt/gw-01/temp", false},
            {"temp", 10, 2, false, "qos_not_supported", true},
            {"temp", aws::kMaxPayloadBytes, 1, false, "dt/gw-01/temp", false},
            {"temp", aws::kMaxPayloadBytes + 1, 1, false, "payload_too_large", true},
            {t247, 1, 1, false, "dt/gw-01/" + t247, false},
            {t247 + "a", 1, 1, false, "bad_topic", true},
            {"a/b/c/d/e/f", 1, 1, false, "dt/gw-01/a/b/c/d/e/f", false},  // 8 levels
            {"a/b/c/d/e/f/g", 1, 1, false, "bad_topic", true},            // 9 levels
            {"", 1, 1, false, "bad_topic", true},
            {"a/+", 1, 1, false, "bad_topic", true},
            {"a/#", 1, 1, false, "bad_topic", true},
            {"bad\xc3", 1, 1, false, "bad_topic", true},
            {"$SYS/broker", 1, 1, false, "bad_topic", true},
            // Reserved topics are sent as written, never templated.
            {"$aws/things/gw-01/shadow/update", 1, 1, false, "$aws/things/gw-01/shadow/update",
             false},
            {"$aws/things/gw-01/shadow/get", 0, 0, false, "$aws/things/gw-01/shadow/get", false},
            {"$aws/things/gw-01/shadow/delete", 0, 1, false, "$aws/things/gw-01/shadow/delete",
             false},
            {"$aws/things/gw-01/shadow/name/cfg/update", 1, 1, false,
             "$aws/things/gw-01/shadow/name/cfg/update", false},
            {"$aws/things/gw-01/shadow/update", 1, 1, true, "retain_not_supported", true},
            {"$aws/things/gw-01/shadow/update/accepted", 1, 1, false, "bad_topic", true},
            {"$aws/things/gw-01/shadow/update/delta", 1, 1, false, "bad_topic", true},
            {"$aws/things/gw-01/shadow/name/cfg/update/accepted", 1, 1, false, "bad_topic", true},
            {"$aws/things/gw-01/shadow/nick/cfg/update", 1, 1, false, "bad_topic", true},
            {"$aws/things/gw-01/jobs/get", 1, 1, false, "$aws/things/gw-01/jobs/get", false},
            {"$aws/things/gw-01/jobs/start-next", 1, 1, false, "$aws/things/gw-01/jobs/start-next",
             false},
            {"$aws/things/gw-01/jobs/job-7/update", 1, 1, false,
             "$aws/things/gw-01/jobs/job-7/update", false},
            {"$aws/things/gw-01/jobs/job-7/get", 1, 1, false, "$aws/things/gw-01/jobs/job-7/get",
             false},
            {"$aws/things/gw-01/jobs/notify", 1, 1, false, "bad_topic", true},
            {"$aws/things/gw-01/jobs/notify-next", 1, 1, false, "bad_topic", true},
            {"$aws/things//shadow/update", 1, 1, false, "bad_topic", true},
            {"$aws/rules/ingest/sensors/t", 1, 1, false, "$aws/rules/ingest/sensors/t", false},
            // The Basic Ingest prefix does not count against the 8 levels.
            {"$aws/rules/ingest/a/b/c/d/e/f/g/h", 1, 1, false, "$aws/rules/ingest/a/b/c/d/e/f/g/h",
             false},
            {"$aws/rules/ingest/a/b/c/d/e/f/g/h/i", 1, 1, false, "bad_topic", true},
            {"$aws/certificates/create/json", 0, 1, false, "$aws/certificates/create/json", false},
            {"$aws/certificates/create-from-csr/cbor", 1, 1, false,
             "$aws/certificates/create-from-csr/cbor", false},
            {"$aws/certificates/create/xml", 0, 1, false, "bad_topic", true},
            {"$aws/provisioning-templates/tmpl/provision/json", 1, 1, false,
             "$aws/provisioning-templates/tmpl/provision/json", false},
            {"$aws/provisioning-templates/tmpl/provision/json/accepted", 1, 1, false, "bad_topic",
             true},
            {"$aws/events/presence/connected/gw-01", 1, 1, false, "bad_topic", true},
        });
}

TEST(AwsIotMapping, OutgoingWithOtherTemplates) {
    auto plain = makeProfile();
    auto ingest = makeProfile("topic_template = \"$aws/rules/telemetry/{thing}/{topic}\"\n");
    auto suffix = makeProfile("topic_template = \"{thing}/{topic}/data\"\n");
    ASSERT_TRUE(plain && ingest && suffix);
    runOutCases(*plain, {{"temp", 1, 1, false, "temp", false},
                         {"a/b/c/d/e/f/g/h", 1, 1, false, "a/b/c/d/e/f/g/h", false},
                         {"a/b/c/d/e/f/g/h/i", 1, 1, false, "bad_topic", true}});
    runOutCases(*ingest, {{"temp", 1, 1, false, "$aws/rules/telemetry/gw-01/temp", false},
                          {"temp", 1, 1, true, "retain_not_supported", true}});
    runOutCases(*suffix, {{"a/b", 1, 1, false, "gw-01/a/b/data", false}});
}

TEST(AwsIotMapping, Subscriptions) {
    auto p = makeProfile("topic_template = \"dt/{thing}/{topic}\"\n");
    auto suffix = makeProfile("topic_template = \"{topic}/data\"\n");
    ASSERT_TRUE(p && suffix);
    uplinkd::testing::expectSubscriptions({
        {p.get(), "cmd/#", 1, "dt/gw-01/cmd/#", 1, false},
        {p.get(), "#", 2, "dt/gw-01/#", 1, false},
        {p.get(), "+/state", 0, "dt/gw-01/+/state", 0, false},
        {p.get(), "$aws/things/gw-01/shadow/update/accepted", 1,
         "$aws/things/gw-01/shadow/update/accepted", 1, false},
        {p.get(), "$aws/things/gw-01/jobs/notify-next", 1, "$aws/things/gw-01/jobs/notify-next", 1,
         false},
        {p.get(), "$SYS/#", 1, "bad_topic", 0, true},
        {p.get(), "a/#/b", 1, "bad_topic", 0, true},
        {p.get(), "a+", 1, "bad_topic", 0, true},
        {p.get(), "", 1, "bad_topic", 0, true},
        {p.get(), "a/b/c/d/e/f/g", 1, "bad_topic", 0, true},
        {suffix.get(), "cmd/+", 1, "cmd/+/data", 1, false},
        {suffix.get(), "cmd/#", 1, "bad_topic", 0, true},
    });
    auto r = suffix->mapSubscribe("cmd/#", 1);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("topic_template"), std::string::npos);
}

TEST(AwsIotMapping, Incoming) {
    auto p = makeProfile("topic_template = \"dt/{thing}/{topic}\"\n");
    auto plain = makeProfile();
    auto suffix = makeProfile("topic_template = \"{thing}/{topic}/data\"\n");
    ASSERT_TRUE(p && plain && suffix);
    struct Case {
        const CloudProfile* profile;
        std::string broker_topic;
        std::string topic;
    };
    const std::vector<Case> cases = {
        {p.get(), "dt/gw-01/cmd/reboot", "cmd/reboot"},
        {p.get(), "dt/gw-01/", "dt/gw-01/"},
        {p.get(), "dt/gw-02/cmd", "dt/gw-02/cmd"},
        {p.get(), "$aws/things/gw-01/shadow/update/accepted",
         "$aws/things/gw-01/shadow/update/accepted"},
        {plain.get(), "cmd/reboot", "cmd/reboot"},
        {suffix.get(), "gw-01/a/b/data", "a/b"},
        {suffix.get(), "gw-01/a/b", "gw-01/a/b"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.broker_topic);
        const auto in = c.profile->mapIncoming(c.broker_topic);
        EXPECT_EQ(in.broker_topic, c.broker_topic);
        EXPECT_EQ(in.topic, c.topic);
        EXPECT_TRUE(in.properties.empty());
    }
}

TEST(AwsIotExplain, RefusalsInPlainWords) {
    auto p = makeProfile();
    ASSERT_TRUE(p);
    uplinkd::testing::expectConnackExplained(
        *p, {
                {5,
                 {"not authorized", "iot:Connect", "\"gw-01\"",
                  "arn:aws:iot:eu-west-1:<account>:client/gw-01", "not active"}},
                {0x87, {"not authorized", "iot:Connect"}},
                {2, {"client id \"gw-01\"", "128 bytes"}},
                {0x9F, {"one CONNECT per second"}},
                {3, {"unavailable"}},
            });
    uplinkd::testing::expectMentions(
        p->explainSilentClose(), {"without a CONNACK", "not registered", "ACTIVE", "iot:Connect",
                                  "\"gw-01\"", "eu-west-1", "same client id", "-ats"});
}

}  // namespace
