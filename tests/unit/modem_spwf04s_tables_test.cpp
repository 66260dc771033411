// SPDX-License-Identifier: Apache-2.0
// st-spwf04s from tables: every parser of its answers and events, and the AT-S.ERROR and WIND
// codes in plain words with the fix.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "modem_test_support.hpp"
#include "spwf_parsers.hpp"

namespace uplinkd::plugins::st_spwf04s {
namespace {

using uplinkd::testing::expectExplained;
using uplinkd::testing::expectUnparsed;
using uplinkd::testing::ExplainCase;

// ---- parsers ------------------------------------------------------------------------------------

TEST(SpwfParsers, Wind) {
    auto w = parseWind("+WIND:24:WiFi Up:1:192.168.1.50");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->code, 24);
    EXPECT_EQ(w->text, "WiFi Up");
    EXPECT_EQ(w->params, (std::vector<std::string>{"1", "192.168.1.50"}));
    w = parseWind("+WIND:33:WiFi Network Lost");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->code, 33);
    EXPECT_TRUE(w->params.empty());
    expectUnparsed(&parseWind, {"+WIND:", "+WIND:x:y", "WIND:24:Up", "AT-S.OK", ""});
}

TEST(SpwfParsers, ModuleErrorAndReplies) {
    auto e = parseModuleError("AT-S.ERROR:44:Network not ready");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, 44);
    EXPECT_EQ(e->text, "Network not ready");
    EXPECT_FALSE(parseModuleError("AT-S.ERROR:x:y"));
    EXPECT_FALSE(parseModuleError("ERROR"));

    EXPECT_EQ(parseSockOn({"AT-S.On:93.184.216.34:3"}).value(), 3);
    EXPECT_FALSE(parseSockOn({"AT-S.On:1.2.3.4:9"})) << "ids go 0..7";
    EXPECT_FALSE(parseSockOn({}));
    EXPECT_EQ(parseMqttOn({"AT-S.On:0"}), 0);
    EXPECT_EQ(parseMqttOn({"AT-S.On:broker:2"}), 2);
    EXPECT_EQ(parseMqttOn({"other"}), std::nullopt);

    EXPECT_EQ(readingCount("AT-S.Reading:19:120"), 19u);
    EXPECT_EQ(readingCount("AT-S.Reading:x:1"), 0u);
    EXPECT_EQ(readingCount("AT-S.Query:19"), 0u);
    EXPECT_EQ(parseSockQuery({"AT-S.Query:120"}).value(), 120u);
    EXPECT_FALSE(parseSockQuery({"AT-S.Query:-1"}));

    auto v = parseVar("AT-S.Var:ip_ipaddr=192.168.1.50");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->first, "ip_ipaddr");
    EXPECT_EQ(v->second, "192.168.1.50");
    EXPECT_FALSE(parseVar("AT-S.Var:=x"));
}

TEST(SpwfParsers, SocketAndMqttEvents) {
    auto d = parsePendingData("+WIND:55:Pending Data:2:730:1460");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->socket, 2);
    EXPECT_EQ(d->bytes, 730u);
    EXPECT_EQ(d->cumulated, 1460u);
    EXPECT_FALSE(parsePendingData("+WIND:55:Pending Data:x:1:1"));
    EXPECT_FALSE(parsePendingData("+WIND:58:Socket Closed:1:0"));

    auto c = parseSocketClosed("+WIND:58:Socket Closed:1:2");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->socket, 1);
    EXPECT_EQ(c->reason, 2);
    EXPECT_EQ(parseSocketClosed("+WIND:58:Socket Closed:4").value().reason, -1);

    // The topic may hold ':' (client first, length last).
    auto m = parseMqttMessage("+WIND:86:MQTT Published:0:devices/d1/messages/a:b:19");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->client, 0);
    EXPECT_EQ(m->topic, "devices/d1/messages/a:b");
    EXPECT_EQ(m->length, 19u);
    EXPECT_EQ(mqttMessageCount("+WIND:86:MQTT Published:0:t:5"), 5u);
    EXPECT_EQ(mqttMessageCount("+WIND:86:MQTT Published:0:t"), 0u);
    EXPECT_EQ(mqttMessageCount("+WIND:86:MQTT Published:0::5"), 0u) << "no topic";
    EXPECT_EQ(parseMqttClosed("+WIND:87:MQTT Closed:1").value(), 1);
    EXPECT_EQ(parseMqttClosed("+WIND:87:MQTT Closed").value(), 0);

    const auto listed = parseStoreListing({"AT-S.Var:ca=1180", "cert: 900 bytes",
                                           "AT-S.Var:key=241", "AT-S.Var:cacert_x=1", "other"});
    ASSERT_EQ(listed.size(), 3u);
    EXPECT_EQ(listed[0].type, "ca");
    EXPECT_EQ(listed[1].type, "cert");
    EXPECT_EQ(listed[2].type, "key");
}

TEST(SpwfParsers, ErrorsAndEventsInPlainWordsWithTheFix) {
    expectExplained(explainLine,
                    std::vector<ExplainCase>{
                        {"AT-S.ERROR:44:Network not ready", {"not associated", "psk_file"}},
                        {"AT-S.ERROR:74:Socket timeout", {"timed out", "host and port"}},
                        {"AT-S.ERROR:76:x", {"TLS", "root CA"}},
                        {"+WIND:40:WiFi Deauthentication:15", {"passphrase"}},
                        {"+WIND:41:WiFi Join Failed:No AP found", {"SSID"}},
                        {"AT-S.ERROR:77:Pending data", {"not read", "closes it again"}},
                        {"AT-S.ERROR:111:Request failed", {"request failed"}},
                        {"AT-S.ERROR:12:Something", {"error 12", "Something"}},
                        {"+WIND:5:HW Failure", {"hardware failure", "power-cycle"}},
                        {"+WIND:8:Hard Fault", {"crashed", "firmware"}},
                        {"+WIND:33:WiFi Network Lost", {"network lost", "psk_file"}},
                        {"+WIND:58:Socket Closed:1:0", {"socket 1", "peer closed"}},
                        {"+WIND:58:Socket Closed:1:3", {"reason 3", "root CA"}},
                        {"+WIND:87:MQTT Closed:0", {"MQTT connection closed"}},
                        {"+WIND:2:Reset", {"reset"}},
                        {"ERROR", {"refused"}},
                    });
}

}  // namespace
}  // namespace uplinkd::plugins::st_spwf04s
