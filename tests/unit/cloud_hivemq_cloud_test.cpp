// SPDX-License-Identifier: Apache-2.0
// hivemq-cloud profile: configuration diagnostics (with positions), endpoint with SNI and the
// WebSocket variant, credentials, topic checks and the refusal explanations (SNI and credentials).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cloud_test_support.hpp"
#include "hivemq_cloud.hpp"

namespace {

using namespace uplinkd;
using uplinkd::testing::TempFiles;
namespace hivemq = uplinkd::plugins::hivemq_cloud;

constexpr const char* kCluster = "0123abcd.s1.eu.hivemq.cloud";

const uplinkd::testing::CloudUnderTest load{"hivemq-cloud", &hivemq::create};

/// cluster, username, password_file and client_id on lines 3 to 6.
std::string validBody(TempFiles& files) {
    return "cluster = \"" + std::string(kCluster) +
           "\"\nusername = \"gateway\"\npassword_file = '" +
           files.write("password", "s3cret-Pa55\n") + "'\nclient_id = \"gw-01\"\n";
}

CloudProfilePtr makeProfile(TempFiles& files, const std::string& extra = "") {
    return uplinkd::testing::expectProfile(load(validBody(files) + extra));
}

TEST(HiveMqCloudConfig, ErrorsNameFileLineColumnAndKey) {
    TempFiles files;
    const std::string pw = "password_file = '" + files.write("pw", "x") + "'\n";
    const std::string world = files.write("world", "x", 0644);
    const std::string rest = "username = \"u\"\n" + pw + "client_id = \"c\"\n";  // lines 4-6
    struct Case {
        std::string body;
        std::string expected;  // the whole first diagnostic
    };
    const std::vector<Case> cases = {
        {rest, "test.toml:1:1: routes.r.cloud.cluster: missing (a string is required)"},
        {"cluster = \"mqtts://" + std::string(kCluster) + "\"\n" + rest,
         "test.toml:3:11: routes.r.cloud.cluster: write the host name only, without a scheme "
         "such as \"mqtts://\""},
        {"cluster = \"" + std::string(kCluster) + ":8883\"\n" + rest,
         "test.toml:3:11: routes.r.cloud.cluster: write the host name only; the port follows "
         "from websocket"},
        {"cluster = \"3.70.1.2\"\n" + rest,
         "test.toml:3:11: routes.r.cloud.cluster: must be the cluster's host name, not an IP "
         "address: HiveMQ Cloud finds the cluster by SNI"},
        {"cluster = \"0123abcd\"\n" + rest,
         "test.toml:3:11: routes.r.cloud.cluster: write the full host name from the cluster's "
         "overview, e.g. \"0123abcd.s1.eu.hivemq.cloud\""},
        {"cluster = \"" + std::string(kCluster) + "\"\n" + pw + "client_id = \"c\"\n",
         "test.toml:1:1: routes.r.cloud.username: missing (a string is required)"},
        {"cluster = \"" + std::string(kCluster) + "\"\nusername = \"\"\n" + pw +
             "client_id = \"c\"\n",
         "test.toml:4:12: routes.r.cloud.username: is empty; HiveMQ Cloud needs access "
         "credentials"},
        {"cluster = \"" + std::string(kCluster) + "\"\nusername = \"u\"\nclient_id = \"c\"\n",
         "test.toml:1:1: routes.r.cloud.password_file: missing (a string is required)"},
        {"cluster = \"" + std::string(kCluster) + "\"\nusername = \"u\"\npassword_file = '" +
             world + "'\nclient_id = \"c\"\n",
         "test.toml:5:17: routes.r.cloud.password_file: \"" + world +
             "\" is readable by every user; a secret must not be (chmod o-r)"},
        {"cluster = \"" + std::string(kCluster) + "\"\nusername = \"u\"\n" + pw,
         "test.toml:1:1: routes.r.cloud.client_id: missing (a string is required)"},
        {"cluster = \"" + std::string(kCluster) + "\"\nusername = \"u\"\n" + pw +
             "client_id = \"\"\n",
         "test.toml:6:13: routes.r.cloud.client_id: is empty"},
        {"cluster = \"" + std::string(kCluster) + "\"\n" + rest + "websocket = 1\n",
         "test.toml:7:13: routes.r.cloud.websocket: expected a boolean (true or false), got an "
         "integer"},
        {"cluster = \"" + std::string(kCluster) + "\"\n" + rest + "mqtt_version = \"3\"\n",
         "test.toml:7:16: routes.r.cloud.mqtt_version: \"3\" is not one of \"3.1.1\", \"5\""},
        {"cluster = \"" + std::string(kCluster) + "\"\n" + rest + "keepalive_seconds = 0\n",
         "test.toml:7:21: routes.r.cloud.keepalive_seconds: 0 is out of range (5 to 65535)"},
        {"cluster = \"" + std::string(kCluster) + "\"\n" + rest + "port = 8883\n",
         "test.toml:7:1: routes.r.cloud.port: unknown key"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.body);
        uplinkd::testing::expectRefused(load(c.body), c.expected);
    }
}

TEST(HiveMqCloudProfile, Descriptor) {
    uplinkd::testing::expectCloudDescriptor(hivemq::descriptor(), "hivemq-cloud", &hivemq::create);
}

TEST(HiveMqCloudProfile, EndpointAlwaysSendsSni) {
    TempFiles files;
    struct Case {
        std::string extra;
        uint16_t port;
        std::string path;
        int version;
        int keepalive;
    };
    const std::vector<Case> cases = {
        {"", 8883, "", 4, 60},
        {"websocket = false\nmqtt_version = \"5\"\n", 8883, "", 5, 60},
        {"websocket = true\nkeepalive_seconds = 120\n", 8884, "/mqtt", 4, 120},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.extra);
        auto p = makeProfile(files, c.extra);
        ASSERT_TRUE(p);
        uplinkd::testing::expectConnectsWith(
            *p, {.kind = "hivemq-cloud",
                 .endpoint = {.host = kCluster,
                              .port = c.port,
                              .tls = true,
                              .sni = kCluster,
                              .alpn = {},
                              .websocket_path = c.path},
                 .mqtt_version = c.version,
                 .keepalive_seconds = c.keepalive,
                 .client_id = "gw-01",
                 .username = "gateway",
                 .password = "s3cret-Pa55"});  // trailing newline of the file removed
    }
}

TEST(HiveMqCloudMapping, TopicsPassThroughWhenValid) {
    TempFiles files;
    auto p = makeProfile(files);
    ASSERT_TRUE(p);
    struct Out {
        std::string topic;
        int qos;
        const char* error;  // empty: accepted unchanged
    };
    for (const auto& c : std::vector<Out>{{"sensors/temp", 1, ""},
                                          {"a", 2, ""},
                                          {"a", 0, ""},
                                          {"a", 3, "qos_not_supported"},
                                          {"", 1, "bad_topic"},
                                          {"a/+", 1, "bad_topic"},
                                          {"a/#", 1, "bad_topic"},
                                          {"$SYS/x", 1, "bad_topic"},
                                          {"x\xff", 1, "bad_topic"}}) {
        SCOPED_TRACE(c.topic);
        Message m;
        m.topic = c.topic;
        m.qos = c.qos;
        m.properties = {{"k", "v"}};
        auto r = p->mapOutgoing(m);
        if (std::string(c.error).empty()) {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->topic, c.topic);
            EXPECT_EQ(r->user_properties, m.properties);
        } else {
            ASSERT_FALSE(r.ok());
            EXPECT_EQ(r.error().code, c.error);
        }
    }
    struct Sub {
        std::string filter;
        int qos;
        int granted;  // -1: refused
    };
    for (const auto& c : std::vector<Sub>{{"cmd/#", 1, 1},
                                          {"+/state", 2, 2},
                                          {"#", 0, 0},
                                          {"$share/g/cmd/#", 1, 1},
                                          {"a/#/b", 1, -1},
                                          {"a+/b", 1, -1},
                                          {"", 1, -1}}) {
        SCOPED_TRACE(c.filter);
        auto r = p->mapSubscribe(c.filter, c.qos);
        if (c.granted < 0) {
            ASSERT_FALSE(r.ok());
            EXPECT_EQ(r.error().code, "bad_topic");
        } else {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->broker_filter, c.filter);
            EXPECT_EQ(r->qos, c.granted);
        }
    }
    const auto in = p->mapIncoming("cmd/reboot");
    EXPECT_EQ(in.topic, "cmd/reboot");
    EXPECT_EQ(in.broker_topic, "cmd/reboot");
}

TEST(HiveMqCloudExplain, NotAuthorizedNamesSniAndCredentials) {
    TempFiles files;
    auto p = makeProfile(files);
    ASSERT_TRUE(p);
    uplinkd::testing::expectConnackExplained(
        *p, {
                {5, {"not authorized", "SNI", kCluster, "modem", "credentials", "password_file"}},
                {0x87, {"not authorized", "SNI", "credentials"}},
                {4, {"bad user name or password", "password_file", "SNI"}},
                {0x86, {"bad user name or password", "Access Management"}},
                {0x85, {"client id \"gw-01\""}},
                {0x8E, {"same client id"}},
                {0x97, {"plan limits"}},
            });
    // SNI first, credentials second, for the ambiguous refusal.
    const std::string five = p->explainConnack(5);
    EXPECT_LT(five.find("SNI"), five.find("credentials"));
    uplinkd::testing::expectMentions(
        p->explainSilentClose(), {"8883", "8884", "/mqtt", "websocket = false", "SNI", kCluster});
}

}  // namespace
