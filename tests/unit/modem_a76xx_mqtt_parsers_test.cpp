// SPDX-License-Identifier: Apache-2.0
// The simcom-a76xx MQTT client's parsers and tables from tables: the ch. 18.3 <err> table,
// incoming-message assembly from counted blocks, the connect commands, the limits.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "a76xx_commands.hpp"
#include "a76xx_driver.hpp"
#include "a76xx_mqtt_commands.hpp"
#include "a76xx_mqtt_parsers.hpp"
#include "a76xx_mqtt_test_params.hpp"
#include "a76xx_parsers.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::simcom_a76xx {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- parsers and tables -----------------------------------------------------------------------

TEST(A76xxMqttParsers, ResultAndEventLines) {
    EXPECT_EQ(*parseMqttCode("+CMQTTSTART: 0", "+CMQTTSTART:"), 0);
    EXPECT_EQ(*parseMqttCode("+CMQTTSTOP: 23", "+CMQTTSTOP:"), 23);
    for (const char* bad : {"+CMQTTSTART:", "+CMQTTSTART: x", "+CMQTTSTART: 0,1", "+CMQTTSTART: -1",
                            "+CMQTTSTOP: 0"}) {
        EXPECT_FALSE(parseMqttCode(bad, "+CMQTTSTART:")) << bad;
    }
    EXPECT_EQ(parseMqttAcquired({"+CMQTTACCQ: 0,\"dev\",1", "+CMQTTACCQ: 1,\"\",0"}, 0), true);
    EXPECT_EQ(parseMqttAcquired({"+CMQTTACCQ: 0,\"\",0", "+CMQTTACCQ: 1,\"x\",0"}, 0), false);
    EXPECT_EQ(parseMqttAcquired({"garbage"}, 0), std::nullopt);
    EXPECT_EQ(parseMqttConnected({"+CMQTTDISC: 0,0", "+CMQTTDISC: 1,1"}, 0), true);
    EXPECT_EQ(parseMqttConnected({"+CMQTTDISC: 0,1", "+CMQTTDISC: 1,0"}, 0), false);
    EXPECT_EQ(parseMqttConnected({"+CMQTTDISC: 0,7"}, 0), std::nullopt);
    EXPECT_EQ(parseMqttConnected({}, 0), std::nullopt);

    const auto start = parseMqttRxStart("+CMQTTRXSTART: 0,5,1200");
    ASSERT_TRUE(start);
    EXPECT_EQ(start->topic_total, 5u);
    EXPECT_EQ(start->payload_total, 1200u);
    for (const char* bad : {"+CMQTTRXSTART: 0,5", "+CMQTTRXSTART: 2,5,5", "+CMQTTRXSTART: 0,-1,5",
                            "+CMQTTRXSTART: 0,5,99999999999", "+CMQTTRXSTART: a,b,c"}) {
        EXPECT_FALSE(parseMqttRxStart(bad)) << bad;
    }
    const auto block = parseMqttRxBlock("+CMQTTRXPAYLOAD: 0,1500", "+CMQTTRXPAYLOAD:");
    ASSERT_TRUE(block);
    EXPECT_EQ(block->length, 1500u);
    EXPECT_FALSE(parseMqttRxBlock("+CMQTTRXPAYLOAD: 0", "+CMQTTRXPAYLOAD:"));
    EXPECT_FALSE(parseMqttRxBlock("+CMQTTRXTOPIC: 0,3", "+CMQTTRXPAYLOAD:"));
    EXPECT_EQ(mqttRxBlockLength("+CMQTTRXTOPIC: 0,7"), 7u);
    EXPECT_EQ(mqttRxBlockLength("+CMQTTRXPAYLOAD: 1,12"), 12u);
    EXPECT_EQ(mqttRxBlockLength("+CMQTTRXPAYLOAD: 0,x"), 0u);
    EXPECT_EQ(*parseMqttRxEnd("+CMQTTRXEND: 0"), 0);
    EXPECT_FALSE(parseMqttRxEnd("+CMQTTRXEND: 0,1"));
}

TEST(A76xxMqttParsers, EveryErrorCodeHasWordsAndACode) {
    for (int e = 0; e <= 35; ++e) {
        const auto* info = mqttErrorInfo(e);
        ASSERT_NE(info, nullptr) << e;
        EXPECT_EQ(info->err, e);
        EXPECT_FALSE(info->words.empty()) << e;
        EXPECT_EQ(info->code.empty(), e == 0) << e;
        // explain() shows the table's words for every command's result line.
        for (const char* cmd : {"+CMQTTCONNECT: 0,", "+CMQTTPUB: 0,", "+CMQTTSUB: 1,"}) {
            const std::string line = cmd + std::to_string(e);
            EXPECT_NE(explainLine(line).find(info->words), std::string::npos)
                << line << " → " << explainLine(line);
        }
    }
    EXPECT_EQ(mqttErrorInfo(36), nullptr);
    EXPECT_EQ(mqttErrorInfo(-1), nullptr);
    EXPECT_EQ(mqttErrorWords(99), "MQTT error 99");
}

TEST(A76xxMqttParsers, ConnectRefusalsNameTheBrokerAndTheFix) {
    struct Case {
        int err;
        std::string code;
        std::vector<std::string> words;
    };
    const std::vector<Case> cases = {
        {27, "mqtt_connack_1", {"broker refused", "protocol version", "CONNACK 1", "3.1.1"}},
        {28, "mqtt_connack_2", {"broker refused", "identifier rejected", "client id"}},
        {29, "mqtt_connack_3", {"broker refused", "server unavailable"}},
        {30, "mqtt_connack_4", {"broker refused", "bad user name or password", "password_file"}},
        {31, "mqtt_connack_5", {"broker refused", "not authorized", "policy"}},
        {32, "mqtt_tls", {"TLS handshake", "root CA", "SNI", "tls.cert_file"}},
        {33, "mqtt_tls", {"certificate not set", "provision tls.ca_file"}},
        {34, "mqtt_tls", {"SSL session"}},
        {25, "mqtt_dns", {"DNS", "host name"}},
        {3, "mqtt_network", {"could not connect", "host and port"}},
        {26, "mqtt_network", {"closed the socket", "TLS"}},
        {17, "mqtt_timeout", {"did not answer"}},
    };
    for (const auto& c : cases) {
        const std::string line = "+CMQTTCONNECT: 0," + std::to_string(c.err);
        const Error e = mqttConnectError(c.err, line, "broker.example.com:8883");
        EXPECT_EQ(e.code, c.code) << c.err;
        EXPECT_NE(e.message.find("broker.example.com:8883"), std::string::npos) << e.message;
        EXPECT_NE(e.message.find(line), std::string::npos) << e.message;
        for (const auto& w : c.words) {
            EXPECT_NE(e.message.find(w), std::string::npos) << c.err << ": " << e.message;
        }
    }
}

TEST(A76xxMqttParsers, ExplainsEventLines) {
    uplinkd::testing::expectExplained(
        &explainLine,
        {
            {"+CMQTTCONNLOST: 0,1", {"lost", "broker closed"}},
            {"+CMQTTCONNLOST: 0,3", {"lost", "network closed"}},
            {"+CMQTTNONET", {"lost the network", "started again"}},
            {"+CMQTTPING: 0,17", {"keep-alive", "did not answer"}},
            {"+CMQTTSTART: 7", {"could not be started", "network (PDP context)", "apn"}},
            {"+CMQTTSTART: 0", {"started"}},
            {"+CMQTTDISC: 0,0", {"success"}},
            {"+CMQTTRXSTART: 0,3,4", {"incoming"}},
            {"+CMQTTCONNECT: x", {"+CMQTTCONNECT: x"}},
        });
}

TEST(A76xxMqttParsers, IncomingMessagesAreAssembledFromCountedBlocks) {
    MqttRxAssembler rx(0);
    // One block each; the payload holds line ends, URC look-alikes and a Ctrl-Z.
    const std::string payload = kBinary + "\r\n+CMQTTRXEND: 0\r\n";
    EXPECT_FALSE(
        rx.start("+CMQTTRXSTART: 0,3,"
                 "" +
                 std::to_string(payload.size())));
    EXPECT_FALSE(rx.topic("+CMQTTRXTOPIC: 0,3", "a/b"));
    EXPECT_FALSE(rx.payload("+CMQTTRXPAYLOAD: 0,10", payload.substr(0, 10)));
    EXPECT_FALSE(rx.payload("+CMQTTRXPAYLOAD: 0," + std::to_string(payload.size() - 10),
                            payload.substr(10)));
    auto m = rx.end("+CMQTTRXEND: 0");
    ASSERT_TRUE(m && *m);
    EXPECT_EQ((*m)->topic, "a/b");
    EXPECT_TRUE((*m)->payload == payload);

    // A topic in two blocks and an empty payload.
    EXPECT_FALSE(rx.start("+CMQTTRXSTART: 0,5,0"));
    EXPECT_FALSE(rx.topic("+CMQTTRXTOPIC: 0,2", "ab"));
    EXPECT_FALSE(rx.topic("+CMQTTRXTOPIC: 0,3", "cde"));
    m = rx.end("+CMQTTRXEND: 0");
    ASSERT_TRUE(m && *m);
    EXPECT_EQ((*m)->topic, "abcde");
    EXPECT_TRUE((*m)->payload.empty());

    struct Bad {
        std::string what;
        std::vector<std::pair<std::string, std::string>> feed;  // line, bytes ("" for none)
    };
    const std::vector<Bad> bad = {
        {"short payload",
         {{"+CMQTTRXSTART: 0,1,4", ""},
          {"+CMQTTRXTOPIC: 0,1", "t"},
          {"+CMQTTRXPAYLOAD: 0,3", "abc"},
          {"+CMQTTRXEND: 0", ""}}},
        {"too much payload",
         {{"+CMQTTRXSTART: 0,1,2", ""},
          {"+CMQTTRXTOPIC: 0,1", "t"},
          {"+CMQTTRXPAYLOAD: 0,3", "abc"}}},
        {"payload before the topic",
         {{"+CMQTTRXSTART: 0,2,2", ""},
          {"+CMQTTRXTOPIC: 0,1", "t"},
          {"+CMQTTRXPAYLOAD: 0,2", "ab"}}},
        {"no start", {{"+CMQTTRXTOPIC: 0,1", "t"}}},
        {"end without start", {{"+CMQTTRXEND: 0", ""}}},
        {"other client", {{"+CMQTTRXSTART: 1,1,1", ""}}},
        {"empty topic", {{"+CMQTTRXSTART: 0,0,1", ""}}},
        {"too large", {{"+CMQTTRXSTART: 0,1,2000000", ""}}},
        {"a new start cuts the message",
         {{"+CMQTTRXSTART: 0,1,1", ""}, {"+CMQTTRXTOPIC: 0,1", "t"}, {"+CMQTTRXSTART: 0,1,1", ""}}},
    };
    for (const auto& b : bad) {
        MqttRxAssembler r(0);
        std::optional<Error> error;
        for (const auto& [line, bytes] : b.feed) {
            MqttRxAssembler::Outcome o;
            if (line.starts_with("+CMQTTRXSTART")) {
                o = r.start(line);
            } else if (line.starts_with("+CMQTTRXTOPIC")) {
                o = r.topic(line, bytes);
            } else if (line.starts_with("+CMQTTRXPAYLOAD")) {
                o = r.payload(line, bytes);
            } else {
                o = r.end(line);
            }
            if (o) {
                ASSERT_FALSE(*o) << b.what << ": a message came";
                error = o->error();
            }
        }
        ASSERT_TRUE(error) << b.what;
        EXPECT_EQ(error->code, "bad_reply") << b.what;
    }
}

TEST(A76xxMqttCommands, ConnectSequenceSetsVersion4AlwaysAndTcpSchemeEvenForTls) {
    std::vector<std::string> tls;
    for (const auto& s : mqttSetupSteps(brokerParams(true), 1s)) {
        tls.push_back(s.command);
    }
    EXPECT_EQ(tls, (std::vector<std::string>{"AT+CMQTTACCQ=0,\"dev-1\",1", "AT+CMQTTSSLCFG=0,0",
                                             "AT+CMQTTCFG=\"version\",0,4",
                                             "AT+CMQTTCFG=\"optimeout\",0,30"}));
    const auto plain = mqttSetupSteps(brokerParams(false), 1s);
    ASSERT_EQ(plain.size(), 3u);
    EXPECT_EQ(plain[0].command, "AT+CMQTTACCQ=0,\"dev-1\",0");
    EXPECT_EQ(plain[1].command, "AT+CMQTTCFG=\"version\",0,4");
    EXPECT_EQ(plain[2].policy, modem_common::StepPolicy::Optional);

    EXPECT_EQ(cmqttConnectCommand(brokerParams(true)),
              "AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1");
    auto p = brokerParams(false);
    p.username = "user";
    p.password = "secret";
    p.keep_alive_s = 0;
    p.clean_session = false;
    EXPECT_EQ(cmqttConnectCommand(p),
              "AT+CMQTTCONNECT=0,\"tcp://broker.example.com:1883\",64800,0,\"user\",\"secret\"");
    p.timeout_s = 500;
    EXPECT_EQ(mqttOpTimeout(p.timeout_s), 120);
    EXPECT_EQ(mqttOpTimeout(1), 20);

    EXPECT_EQ(cmqttTopicCommand(5), "AT+CMQTTTOPIC=0,5");
    EXPECT_EQ(cmqttPayloadCommand(19), "AT+CMQTTPAYLOAD=0,19");
    EXPECT_EQ(cmqttPubCommand(1, false), "AT+CMQTTPUB=0,1,60,0");
    EXPECT_EQ(cmqttPubCommand(0, true), "AT+CMQTTPUB=0,0,60,1");
    EXPECT_EQ(cmqttSubCommand(3, 1), "AT+CMQTTSUB=0,3,1");
    EXPECT_EQ(cmqttUnsubCommand(3), "AT+CMQTTUNSUB=0,3,0");
    EXPECT_EQ(cmqttDiscCommand(), "AT+CMQTTDISC=0,10");
    EXPECT_EQ(cmqttRelCommand(), "AT+CMQTTREL=0");
}

TEST(A76xxMqttCommands, ConnectionsTheModuleCannotMakeAreRefusedInPlainWords) {
    struct Case {
        std::string what;
        std::function<void(ModemMqttConnect&)> change;
        std::string code;
        std::string words;
    };
    const std::vector<Case> cases = {
        {"websocket", [](auto& p) { p.websocket_path = "/mqtt"; }, "mqtt_unsupported", "WebSocket"},
        {"alpn", [](auto& p) { p.alpn = {"x-amzn-mqtt-ca"}; }, "mqtt_unsupported", "ALPN"},
        {"server name", [](auto& p) { p.server_name = "other.example.com"; }, "mqtt_unsupported",
         "SNI"},
        {"quote in host", [](auto& p) { p.host = "a\"b"; }, "bad_host", "cannot be given"},
        {"long host", [](auto& p) { p.host = std::string(250, 'h'); }, "bad_host", "256"},
        {"port 0", [](auto& p) { p.port = 0; }, "bad_port", "port 0"},
        {"empty client id", [](auto& p) { p.client_id.clear(); }, "config", "client id"},
        {"long client id", [](auto& p) { p.client_id = std::string(129, 'c'); }, "config",
         "1 to 128"},
        {"password without user", [](auto& p) { p.password = "pw"; }, "config", "user name"},
        {"bad password",
         [](auto& p) {
             p.username = "u";
             p.password = "top\"secret";
         },
         "config", "password"},
    };
    for (const auto& c : cases) {
        auto p = brokerParams(true);
        c.change(p);
        const auto e = mqttConnectProblem(p);
        ASSERT_TRUE(e) << c.what;
        EXPECT_EQ(e->code, c.code) << c.what;
        EXPECT_NE(e->message.find(c.words), std::string::npos) << c.what << ": " << e->message;
        EXPECT_EQ(e->message.find("top\"secret"), std::string::npos);
    }
    EXPECT_FALSE(mqttConnectProblem(brokerParams(true)));
    EXPECT_FALSE(mqttConnectProblem(brokerParams(false)));
}

TEST(A76xxMqttCommands, LimitsAreHonest) {
    const auto l = mqttLimits();
    EXPECT_EQ(l.max_topic_bytes, 1024u);
    EXPECT_EQ(l.max_payload_bytes, 10240u);
    EXPECT_TRUE(l.binary_payload);
    EXPECT_TRUE(l.qos1_acknowledged);
    EXPECT_EQ(l.max_qos, 1);
    EXPECT_NE(l.delivery_note.find("PUBACK"), std::string::npos);
    EXPECT_TRUE(checkModemMqttPublish(l, "t", kBinary, 1));
    EXPECT_EQ(checkModemMqttPublish(l, "t", std::string(10241, 'x'), 1).error().code, "too_large");
    EXPECT_EQ(checkModemMqttPublish(l, std::string(1025, 't'), "x", 1).error().code, "bad_topic");
}

}  // namespace
}  // namespace uplinkd::plugins::simcom_a76xx
