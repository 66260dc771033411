// SPDX-License-Identifier: Apache-2.0
// azure-iot-hub profile: configuration diagnostics (with positions), endpoint, CONNECT fields and
// SAS credentials, topic and property-bag mapping both ways, limits and CONNACK explanations.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "azure_iot_hub.hpp"
#include "cloud_test_support.hpp"
#include "sas_token.hpp"

namespace {

using namespace uplinkd;
using uplinkd::testing::TempFiles;
namespace azure = uplinkd::plugins::azure_iot_hub;

constexpr const char* kKey = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";

const uplinkd::testing::CloudUnderTest load{"azure-iot-hub", &azure::create};

/// A valid device configuration with the key in a file.
std::string deviceBody(TempFiles& files, const std::string& extra = "") {
    return "hub = \"myhub.azure-devices.net\"\ndevice_id = \"dev1\"\nsas_key_file = '" +
           files.write("dev1.key", std::string(kKey) + "\n") + "'\n" + extra;
}

CloudProfilePtr makeProfile(TempFiles& files, const std::string& extra = "") {
    return uplinkd::testing::expectProfile(load(deviceBody(files, extra)));
}

SystemTime at(int64_t unix_seconds) {
    return SystemTime(std::chrono::seconds(unix_seconds));
}

TEST(AzureIotHubConfig, ErrorsNameFileLineColumnAndKey) {
    TempFiles files;
    const std::string key = files.write("k", kKey);
    const std::string garbage = files.write("garbage", "this is not base64!");
    const std::string conn = files.write("conn",
                                         "HostName=h.azure-devices.net;DeviceId=d;"
                                         "SharedAccessKey=abc=");
    const std::string token = files.write("token", "SharedAccessSignature sr=a&sig=b&se=1");
    const std::string world = files.write("world", kKey, 0644);
    const std::string ok = "hub = \"h.azure-devices.net\"\ndevice_id = \"d\"\n";  // lines 3, 4
    const std::string key_line = "sas_key_file = '" + key + "'\n";                // line 5
    struct Case {
        std::string body;
        std::string expected;  // the whole first diagnostic
    };
    const std::vector<Case> cases = {
        {"device_id = \"d\"\n" + key_line,
         "test.toml:1:1: routes.r.cloud.hub: missing (a string is required)"},
        {"hub = \"HostName=h;DeviceId=d\"\ndevice_id = \"d\"\n" + key_line,
         "test.toml:3:7: routes.r.cloud.hub: this is a connection string: put its HostName in "
         "hub, its DeviceId in device_id and its SharedAccessKey in the file named by "
         "sas_key_file"},
        {"hub = \"myhub\"\ndevice_id = \"d\"\n" + key_line,
         "test.toml:3:7: routes.r.cloud.hub: write the full host name, e.g. "
         "\"myhub.azure-devices.net\""},
        {"hub = \"mqtts://h.azure-devices.net\"\ndevice_id = \"d\"\n" + key_line,
         "test.toml:3:7: routes.r.cloud.hub: write the host name only, without a scheme such as "
         "\"mqtts://\""},
        {"hub = \"10.0.0.1\"\ndevice_id = \"d\"\n" + key_line,
         "test.toml:3:7: routes.r.cloud.hub: must be a host name, not an IP address (the hub is "
         "found by SNI and its certificate names the host)"},
        {"hub = \"h.azure-devices.net\"\ndevice_id = \"dev/1\"\n" + key_line,
         "test.toml:4:13: routes.r.cloud.device_id: contains '/'; Azure ids use ASCII letters, "
         "digits and - . % _ * ? ! ( ) , : = @ $ '"},
        {"hub = \"h.azure-devices.net\"\ndevice_id = \"" + std::string(129, 'a') + "\"\n" +
             key_line,
         "test.toml:4:13: routes.r.cloud.device_id: is 129 characters long; Azure allows at most "
         "128"},
        {ok + key_line + "module_id = \"\"\n",
         "test.toml:6:13: routes.r.cloud.module_id: is empty"},
        {ok + key_line + "auth = \"token\"\n",
         "test.toml:6:8: routes.r.cloud.auth: \"token\" is not one of \"sas\", \"x509\""},
        {ok, "test.toml:1:1: routes.r.cloud.sas_key_file: missing (a string is required)"},
        {ok + "sas_key_file = '" + garbage + "'\n",
         "test.toml:5:16: routes.r.cloud.sas_key_file: the file does not hold a base64 key (a "
         "character outside the base64 alphabet (position 5)); copy the device's primary key "
         "from the hub"},
        {ok + "sas_key_file = '" + conn + "'\n",
         "test.toml:5:16: routes.r.cloud.sas_key_file: the file holds a connection string; it "
         "must hold only the key (the value after SharedAccessKey=)"},
        {ok + "sas_key_file = '" + token + "'\n",
         "test.toml:5:16: routes.r.cloud.sas_key_file: the file holds a SAS token; uplinkd needs "
         "the device key to sign its own tokens"},
        {ok + "sas_key_file = '" + world + "'\n",
         "test.toml:5:16: routes.r.cloud.sas_key_file: \"" + world +
             "\" is readable by every user; a secret must not be (chmod o-r)"},
        {ok + "sas_key_file = '" + files.path("absent") + "'\n",
         "test.toml:5:16: routes.r.cloud.sas_key_file: cannot read \"" + files.path("absent") +
             "\": No such file or directory"},
        {ok + "auth = \"x509\"\n" + key_line,
         "test.toml:6:16: routes.r.cloud.sas_key_file: only used with auth = \"sas\""},
        {ok + "auth = \"x509\"\nsas_token_lifetime_seconds = 60\n",
         "test.toml:6:30: routes.r.cloud.sas_token_lifetime_seconds: only used with auth = "
         "\"sas\""},
        {ok + key_line + "sas_token_lifetime_seconds = \"1h\"\n",
         "test.toml:6:30: routes.r.cloud.sas_token_lifetime_seconds: expected an integer, got a "
         "string"},
        {ok + key_line + "sas_token_lifetime_seconds = 1\n",
         "test.toml:6:30: routes.r.cloud.sas_token_lifetime_seconds: 1 is out of range (10 to "
         "604800)"},
        {ok + key_line + "mqtt_version = \"5\"\n",
         "test.toml:6:16: routes.r.cloud.mqtt_version: Azure IoT Hub speaks MQTT \"3.1.1\" (its "
         "MQTT 5 support is a preview that uplinkd does not use)"},
        {ok + key_line + "api_version = \"latest\"\n",
         "test.toml:6:15: routes.r.cloud.api_version: expected a date such as \"2021-04-12\""},
        {ok + key_line + "keepalive_seconds = 1200\n",
         "test.toml:6:21: routes.r.cloud.keepalive_seconds: 1200 is out of range (30 to 1177)"},
        {ok + key_line + "websocket = \"yes\"\n",
         "test.toml:6:13: routes.r.cloud.websocket: expected a boolean (true or false), got a "
         "string"},
        {ok + key_line + "port = 70000\n",
         "test.toml:6:8: routes.r.cloud.port: 70000 is out of range (1 to 65535)"},
        {ok + key_line + "gateway_host = \"edge:8883\"\n",
         "test.toml:6:16: routes.r.cloud.gateway_host: write the host name only, without a port"},
        {ok + key_line + "host = \"h\"\n", "test.toml:6:1: routes.r.cloud.host: unknown key"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.body);
        uplinkd::testing::expectRefused(load(c.body), c.expected);
    }
}

TEST(AzureIotHubConfig, ReportsEveryProblemAtOnce) {
    const auto loaded = load("hub = 5\ndevice_id = \"a/b\"\nsas_key_file = 1\nextra = true\n");
    ASSERT_EQ(loaded.diagnostics.size(), 4u) << ::testing::PrintToString(loaded.diagnostics);
    EXPECT_EQ(loaded.diagnostics[0],
              "test.toml:3:7: routes.r.cloud.hub: expected a string, got an integer");
    EXPECT_NE(loaded.diagnostics[1].find("test.toml:4:13: routes.r.cloud.device_id"),
              std::string::npos);
    EXPECT_EQ(loaded.diagnostics[2],
              "test.toml:5:16: routes.r.cloud.sas_key_file: expected a string, got an integer");
    EXPECT_EQ(loaded.diagnostics[3], "test.toml:6:1: routes.r.cloud.extra: unknown key");
}

TEST(AzureIotHubProfile, Descriptor) {
    uplinkd::testing::expectCloudDescriptor(azure::descriptor(), "azure-iot-hub", &azure::create);
}

TEST(AzureIotHubProfile, DeviceWithSasToken) {
    TempFiles files;
    auto p = makeProfile(files);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind(), "azure-iot-hub");
    EXPECT_EQ(p->mqttVersion(), 4);
    EXPECT_EQ(p->keepAliveSeconds(), 240);
    uplinkd::testing::expectEndpoint(p->endpoint(), {.host = "myhub.azure-devices.net",
                                                     .port = 8883,
                                                     .tls = true,
                                                     .sni = "myhub.azure-devices.net",
                                                     .alpn = {},
                                                     .websocket_path = ""});

    auto c = p->credentials(at(1750000000) + std::chrono::milliseconds(999));
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->client_id, "dev1");
    EXPECT_EQ(c->username, "myhub.azure-devices.net/dev1/?api-version=2021-04-12");
    // Computed independently (Python hmac) for sr "myhub.azure-devices.net/devices/dev1".
    EXPECT_EQ(c->password,
              "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig="
              "knmDwDwut4H8J6ktb6UfrTymNicP%2BdQvATqX0TG%2BgiE%3D&se=1750003600");
    ASSERT_TRUE(c->valid_until.has_value());
    EXPECT_EQ(*c->valid_until, at(1750003600));
    // The token verifies with the same helper the test broker and the doctor use.
    auto checked = azure::parseAndVerifySasToken(c->password, kKey, 1750000000);
    ASSERT_TRUE(checked.ok()) << checked.error().message;
    EXPECT_EQ(checked->resource_uri, "myhub.azure-devices.net/devices/dev1");
}

TEST(AzureIotHubProfile, HubNameIsLowerCased) {
    TempFiles files;
    auto loaded = load("hub = \"MyHub.Azure-Devices.NET\"\ndevice_id = \"Dev1\"\nsas_key_file = '" +
                       files.write("k", kKey) + "'\n");
    ASSERT_TRUE(loaded.profile);
    auto c = loaded.profile->credentials(at(1750000000));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->username, "myhub.azure-devices.net/Dev1/?api-version=2021-04-12");
    EXPECT_NE(c->password.find("sr=myhub.azure-devices.net%2Fdevices%2FDev1&"), std::string::npos);
}

TEST(AzureIotHubProfile, ModuleOverWebSocket) {
    TempFiles files;
    auto p = makeProfile(files,
                         "module_id = \"edge-mod\"\nwebsocket = true\napi_version = "
                         "\"2020-09-30\"\nsas_token_lifetime_seconds = 60\nkeepalive_seconds = "
                         "1177\n");
    ASSERT_TRUE(p);
    const auto e = p->endpoint();
    EXPECT_EQ(e.port, 443);
    EXPECT_EQ(e.websocket_path, "/$iothub/websocket");
    EXPECT_EQ(p->keepAliveSeconds(), 1177);
    auto c = p->credentials(at(1750000000));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->client_id, "dev1/edge-mod");
    EXPECT_EQ(c->username, "myhub.azure-devices.net/dev1/edge-mod/?api-version=2020-09-30");
    EXPECT_EQ(c->password,
              "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2F"
              "edge-mod&sig=Ynrrm4ZoEmEKBTYSiItNaAUQcHY4vw0QO9V3Uel5OyE%3D&se=1750000060");
    EXPECT_EQ(*c->valid_until, at(1750000060));
}

TEST(AzureIotHubProfile, X509HasNoPassword) {
    auto loaded =
        load("hub = \"myhub.azure-devices.net\"\ndevice_id = \"dev1\"\nauth = \"x509\"\n");
    ASSERT_TRUE(loaded.profile) << ::testing::PrintToString(loaded.diagnostics);
    auto c = loaded.profile->credentials(at(0));  // no token, so the clock does not matter
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->client_id, "dev1");
    EXPECT_EQ(c->username, "myhub.azure-devices.net/dev1/?api-version=2021-04-12");
    EXPECT_EQ(c->password, "");
    EXPECT_FALSE(c->valid_until.has_value());
}

TEST(AzureIotHubProfile, GatewayHostAndTestOverrides) {
    TempFiles files;
    auto p = makeProfile(files, "gateway_host = \"127.0.0.1\"\nport = 18883\ntls = false\n");
    ASSERT_TRUE(p);
    const auto e = p->endpoint();
    EXPECT_EQ(e.host, "127.0.0.1");
    EXPECT_EQ(e.port, 18883);
    EXPECT_FALSE(e.tls);
    auto c = p->credentials(at(1750000000));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->username, "myhub.azure-devices.net/dev1/?api-version=2021-04-12");
}

TEST(AzureIotHubProfile, RefusesToSignWithAnImpossibleClock) {
    TempFiles files;
    auto p = makeProfile(files);
    ASSERT_TRUE(p);
    for (int64_t t : {int64_t{0}, int64_t{946684800}, azure::kEarliestPlausibleUnix - 1}) {
        auto c = p->credentials(at(t));
        ASSERT_FALSE(c.ok()) << t;
        EXPECT_EQ(c.error().code, "clock_wrong");
        EXPECT_NE(c.error().message.find("NTP"), std::string::npos);
    }
    EXPECT_TRUE(p->credentials(at(azure::kEarliestPlausibleUnix)).ok());
}

struct OutCase {
    const char* name;
    std::string topic;
    size_t payload_size;
    int qos;
    bool retain;
    Properties properties;
    std::string expected;  // broker topic, or the error code when `error`
    bool error;
};

void runOutCases(const CloudProfile& p, const std::vector<OutCase>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = p.mapOutgoing(
            uplinkd::testing::outgoing(c.topic, c.payload_size, c.qos, c.retain, c.properties));
        if (c.error) {
            ASSERT_FALSE(r.ok()) << r->topic;
            EXPECT_EQ(r.error().code, c.expected) << r.error().message;
            EXPECT_FALSE(r.error().message.empty());
        } else {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->topic, c.expected);
            EXPECT_TRUE(r->user_properties.empty());  // they travel in the property bag
        }
    }
}

TEST(AzureIotHubMapping, Outgoing) {
    TempFiles files;
    auto p = makeProfile(files);
    ASSERT_TRUE(p);
    const std::string ev = "devices/dev1/messages/events/";
    const size_t fits = azure::kMaxD2cBytes - std::string("topic=t").size();
    runOutCases(
        *p,
        {
            {"plain", "sensors/temp", 10, 1, false, {}, ev + "topic=sensors%2Ftemp", false},
            {"qos 0", "a", 1, 0, false, {}, ev + "topic=a", false},
            {"properties",
             "t",
             1,
             1,
             false,
             {{"unit", "°C"}, {"a b", "x&y=z"}},
             ev + "topic=t&unit=%C2%B0C&a%20b=x%26y%3Dz",
             false},
            {"system properties",
             "t",
             1,
             1,
             false,
             {{"$.ct", "application/json;charset=utf-8"}, {"$.ce", "utf-8"}, {"$.mid", "42"}},
             ev + "topic=t&$.ct=application%2Fjson%3Bcharset%3Dutf-8&$.ce=utf-8&$.mid=42",
             false},
            {"largest message", "t", fits, 1, false, {}, ev + "topic=t", false},
            {"one byte too large", "t", fits + 1, 1, false, {}, "payload_too_large", true},
            {"properties count", "t", fits - 3, 1, false, {{"k", "v"}}, "payload_too_large", true},
            {"qos 2", "t", 1, 2, false, {}, "qos_not_supported", true},
            {"retain", "t", 1, 1, true, {}, "retain_not_supported", true},
            {"empty topic", "", 1, 1, false, {}, "bad_topic", true},
            {"wildcard +", "a/+/b", 1, 1, false, {}, "bad_topic", true},
            {"wildcard #", "a/#", 1, 1, false, {}, "bad_topic", true},
            {"not UTF-8", "a\xff", 1, 1, false, {}, "bad_topic", true},
            {"$SYS", "$SYS/x", 1, 1, false, {}, "bad_topic", true},
            {"reserved property", "t", 1, 1, false, {{"topic", "x"}}, "bad_property", true},
            {"empty property name", "t", 1, 1, false, {{"", "x"}}, "bad_property", true},
            {"unknown system property", "t", 1, 1, false, {{"$.foo", "x"}}, "bad_property", true},
            {"twin reported",
             "$iothub/twin/PATCH/properties/reported/?$rid=1",
             100,
             1,
             false,
             {},
             "$iothub/twin/PATCH/properties/reported/?$rid=1",
             false},
            {"twin reported too large",
             "$iothub/twin/PATCH/properties/reported/?$rid=1",
             azure::kMaxTwinPatchBytes + 1,
             1,
             false,
             {},
             "payload_too_large",
             true},
            {"twin get",
             "$iothub/twin/GET/?$rid=2",
             0,
             0,
             false,
             {},
             "$iothub/twin/GET/?$rid=2",
             false},
            {"method response",
             "$iothub/methods/res/200/?$rid=5",
             10,
             1,
             false,
             {},
             "$iothub/methods/res/200/?$rid=5",
             false},
            {"method response too large",
             "$iothub/methods/res/200/?$rid=5",
             azure::kMaxMethodResponseBytes + 1,
             1,
             false,
             {},
             "payload_too_large",
             true},
            {"$iothub with properties",
             "$iothub/twin/GET/?$rid=2",
             0,
             0,
             false,
             {{"a", "b"}},
             "bad_property",
             true},
            {"other $iothub",
             "$iothub/twin/PATCH/properties/desired",
             1,
             1,
             false,
             {},
             "bad_topic",
             true},
        });
}

TEST(AzureIotHubMapping, OutgoingForModule) {
    TempFiles files;
    auto p = makeProfile(files, "module_id = \"edge-mod\"\n");
    ASSERT_TRUE(p);
    runOutCases(*p, {{"module telemetry",
                      "a/b",
                      1,
                      1,
                      false,
                      {},
                      "devices/dev1/modules/edge-mod/messages/events/topic=a%2Fb",
                      false}});
}

TEST(AzureIotHubMapping, Subscriptions) {
    TempFiles files;
    auto device = makeProfile(files);
    auto module = makeProfile(files, "module_id = \"edge-mod\"\n");
    ASSERT_TRUE(device && module);
    ASSERT_EQ(device->standingSubscriptions().size(), 1u);
    EXPECT_EQ(device->standingSubscriptions()[0].broker_filter,
              "devices/dev1/messages/devicebound/#");
    EXPECT_EQ(device->standingSubscriptions()[0].qos, 1);
    ASSERT_EQ(module->standingSubscriptions().size(), 1u);
    EXPECT_EQ(module->standingSubscriptions()[0].broker_filter, "devices/dev1/modules/edge-mod/#");

    uplinkd::testing::expectSubscriptions({
        {device.get(), "c2d", 1, "devices/dev1/messages/devicebound/#", 1, false},
        {device.get(), "cmd/#", 0, "devices/dev1/messages/devicebound/#", 0, false},
        {device.get(), "#", 2, "devices/dev1/messages/devicebound/#", 1, false},
        {device.get(), "$iothub/methods/POST/#", 1, "$iothub/methods/POST/#", 1, false},
        {device.get(), "$iothub/twin/res/#", 1, "$iothub/twin/res/#", 1, false},
        {device.get(), "$iothub/twin/PATCH/properties/desired/#", 1,
         "$iothub/twin/PATCH/properties/desired/#", 1, false},
        {device.get(), "$iothub/twin/#", 1, "bad_topic", 0, true},
        {device.get(), "$SYS/#", 1, "bad_topic", 0, true},
        {device.get(), "", 1, "bad_topic", 0, true},
        {device.get(), "a/#/b", 1, "bad_topic", 0, true},
        {module.get(), "c2d", 1, "devices/dev1/modules/edge-mod/#", 1, false},
    });
}

TEST(AzureIotHubMapping, Incoming) {
    TempFiles files;
    auto p = makeProfile(files);
    ASSERT_TRUE(p);
    const std::string c2d = "devices/dev1/messages/devicebound/";
    struct Case {
        std::string broker_topic;
        std::string topic;
        Properties properties;
    };
    const std::vector<Case> cases = {
        {c2d + "%24.mid=1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound&topic=cmd%2Freboot&"
               "k=v%20w",
         "cmd/reboot",
         {{"$.mid", "1"}, {"$.to", "/devices/dev1/messages/deviceBound"}, {"k", "v w"}}},
        {c2d, "c2d", {}},
        {c2d + "a=1&flag&&b=", "c2d", {{"a", "1"}, {"flag", ""}, {"b", ""}}},
        {c2d + "topic=a%2B%2Fb", "c2d", {{"topic", "a+/b"}}},
        {c2d + "topic=%24SYS%2Fx", "c2d", {{"topic", "$SYS/x"}}},
        {c2d + "topic=", "c2d", {{"topic", ""}}},
        {c2d + "topic=x&topic=y", "x", {{"topic", "y"}}},
        {c2d + "bad=%zz", "c2d", {{"bad", "%zz"}}},
        {"$iothub/methods/POST/reboot/?$rid=1", "$iothub/methods/POST/reboot/?$rid=1", {}},
        {"$iothub/twin/res/200/?$rid=7", "$iothub/twin/res/200/?$rid=7", {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.broker_topic);
        const auto in = p->mapIncoming(c.broker_topic);
        EXPECT_EQ(in.broker_topic, c.broker_topic);
        EXPECT_EQ(in.topic, c.topic);
        EXPECT_EQ(in.properties, c.properties);
    }
}

TEST(AzureIotHubExplain, ConnackFiveListsCausesInOrder) {
    TempFiles files;
    auto sas = makeProfile(files);
    auto x509 = load("hub = \"myhub.azure-devices.net\"\ndevice_id = \"dev1\"\nauth = \"x509\"\n");
    ASSERT_TRUE(sas && x509.profile);
    const std::string text = sas->explainConnack(5);
    const std::vector<std::string> in_order = {"expired or wrongly signed", "sas_key_file",
                                               "device id or hub", "disabled", "clock"};
    size_t pos = 0;
    for (const auto& part : in_order) {
        const size_t found = text.find(part, pos);
        ASSERT_NE(found, std::string::npos) << "missing or out of order: " << part << "\n" << text;
        pos = found;
    }
    EXPECT_NE(text.find("myhub.azure-devices.net"), std::string::npos);
    EXPECT_NE(text.find("device \"dev1\""), std::string::npos);
    EXPECT_EQ(sas->explainConnack(0x87), text);

    const std::string cert = x509.profile->explainConnack(5);
    EXPECT_NE(cert.find("client certificate"), std::string::npos);
    EXPECT_NE(cert.find("thumbprint"), std::string::npos);
    EXPECT_EQ(cert.find("SAS token is expired"), std::string::npos);

    struct Case {
        int code;
        const char* part;
    };
    for (const auto& c : {Case{4, "bad user name or password"}, Case{4, "normally answers 5"},
                          Case{3, "unavailable"}, Case{2, "client id"}}) {
        EXPECT_NE(sas->explainConnack(c.code).find(c.part), std::string::npos)
            << c.code << ": " << sas->explainConnack(c.code);
    }
    EXPECT_NE(sas->explainSilentClose().find("WebSocket"), std::string::npos);
    EXPECT_NE(sas->explainSilentClose().find("websocket = false"), std::string::npos);
}

// doctor (issue 12): what the hub expects, and the SAS token a CONNECT would carry, checked.
TEST(AzureIotHubDoctor, DiagnosisNamesTheDeviceIdForX509AndWebSocketAsTheWayAround) {
    TempFiles files;
    auto sas = makeProfile(files);
    const CloudDiagnosis d = sas->diagnosis();
    EXPECT_TRUE(d.expected_subject_cn.empty());
    ASSERT_EQ(d.alternatives.size(), 1u);
    EXPECT_EQ(d.alternatives[0].endpoint.port, 443);
    EXPECT_EQ(d.alternatives[0].endpoint.websocket_path, "/$iothub/websocket");
    EXPECT_EQ(d.alternatives[0].setting, "websocket = true");
    EXPECT_TRUE(d.round_trip_topic.empty());
    ASSERT_EQ(d.secret_files.size(), 1u);
    EXPECT_EQ(d.secret_files[0].first, "sas_key_file");

    auto x509 = uplinkd::testing::expectProfile(
        load("hub = \"myhub.azure-devices.net\"\ndevice_id = \"dev1\"\nmodule_id = \"m1\"\n"
             "auth = \"x509\"\nwebsocket = true\n"));
    EXPECT_EQ(x509->diagnosis().expected_subject_cn, "dev1/m1");
    EXPECT_TRUE(x509->diagnosis().subject_cn_required);
    EXPECT_TRUE(x509->diagnosis().alternatives.empty());
}

TEST(AzureIotHubDoctor, TheSasTokenIsDecodedAndCheckedWithoutItsSignature) {
    const int64_t now = 1767225600;  // 2026-01-01
    struct Case {
        std::string token;  ///< empty: signed by the plugin from the key
        std::string outcome;
        std::string found;
    };
    const std::string dev1 = "myhub.azure-devices.net%2Fdevices%2Fdev1";
    const std::vector<Case> cases{
        {"", "ok", "sr \"myhub.azure-devices.net/devices/dev1\", se 1767229200"},
        {"sr=" + dev1 + "&sig=abc&se=" + std::to_string(now + 30 * 86400), "ok",
         "valid for 30 days"},
        {"sr=" + dev1 + "&sig=abc&se=" + std::to_string(now + 3600), "warn", "cannot renew"},
        {"sr=" + dev1 + "&sig=abc&se=" + std::to_string(now - 60), "FAIL", "expired 60 s ago"},
        {"sr=other.azure-devices.net%2Fdevices%2Fdev1&sig=abc&se=" +
             std::to_string(now + 86400 * 2),
         "FAIL", "it is for hub \"other.azure-devices.net\""},
        {"sr=myhub.azure-devices.net%2Fdevices%2Fdev2&sig=abc&se=" +
             std::to_string(now + 86400 * 2),
         "FAIL", "another identity"},
        {"sr=myhub.azure-devices.net/devices/dev1&sig=abc&se=" + std::to_string(now + 86400 * 2),
         "FAIL", "not URL-encoded"},
    };
    for (const auto& c : cases) {
        TempFiles files;
        CloudProfilePtr p;
        if (c.token.empty()) {
            p = makeProfile(files);
        } else {
            p = uplinkd::testing::expectProfile(
                load("hub = \"myhub.azure-devices.net\"\ndevice_id = \"dev1\"\nsas_token_file = '" +
                     files.write("t", "SharedAccessSignature " + c.token + "\n") + "'\n"));
        }
        ASSERT_TRUE(p) << c.token;
        auto creds = p->credentials(at(now));
        ASSERT_TRUE(creds) << creds.error().message;
        const auto findings = p->checkCredentials(*creds, at(now));
        ASSERT_EQ(findings.size(), 2u) << c.token;
        EXPECT_EQ(findings[0].id, "credentials.identity");
        EXPECT_EQ(findings[1].id, "credentials.sas_token");
        const char* outcomes[] = {"ok", "warn", "FAIL", "skipped"};
        EXPECT_EQ(outcomes[static_cast<int>(findings[1].outcome)], c.outcome) << findings[1].found;
        EXPECT_NE(findings[1].found.find(c.found), std::string::npos) << findings[1].found;
        EXPECT_EQ(findings[1].found.find("sig="), std::string::npos) << findings[1].found;
        EXPECT_EQ(findings[1].found.find("&sig"), std::string::npos);
        if (c.outcome != "ok") {
            EXPECT_NE(findings[1].fix.find(c.token.empty() ? "sas_key_file" : "sas_token_file"),
                      std::string::npos);
        }
    }
}

}  // namespace
