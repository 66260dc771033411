// SPDX-License-Identifier: Apache-2.0
// The quectel-bg9x modem plugin's MQTT client against a scripted AtChannel: QMTCFG,
// QMTOPEN/QMTCONN, QMTPUB length form, +QMTRECV both forms, +QMTSTAT, disconnects and module resets
// in the middle.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bg9x_commands.hpp"
#include "bg9x_driver.hpp"
#include "bg9x_errors.hpp"
#include "bg9x_parsers.hpp"
#include "modem_bg9x_test_fixture.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::quectel_bg9x {
namespace {

// ---- MQTT offload -----------------------------------------------------------------------------

TEST_F(Bg9xDriverTest, MqttLimitsAreHonest) {
    const auto l = mqtt().limits();
    EXPECT_TRUE(l.binary_payload);
    EXPECT_TRUE(l.qos1_acknowledged);
    EXPECT_EQ(l.max_qos, 1);
    EXPECT_EQ(l.max_payload_bytes, kMaxMqttPayload);
    EXPECT_NE(l.topic_forbidden.find('"'), std::string::npos);
    EXPECT_NE(l.delivery_note.find("PUBACK"), std::string::npos);
    EXPECT_FALSE(checkModemMqttPublish(l, "a\"b", "x", 1));
    EXPECT_TRUE(checkModemMqttPublish(l, "a/b", kBinary, 1));
}

TEST_F(Bg9xDriverTest, MqttConnectPublishesQos1AndIsDoneAtThePuback) {
    mqttConnected();
    at_.expect("AT+QMTPUB=0,1,1,0,\"t/x\"," + std::to_string(kBinary.size()))
        .expectPrompt(">")
        .expectPayload(kBinary)
        .urcAfter("+QMTPUB: 0,1,1,1");  // retransmitting: not done yet
    std::optional<Status> done;
    mqtt().publish("t/x", kBinary, 1, false, [&](Status s) { done = s; });
    drain(loop_);
    EXPECT_FALSE(done);
    EXPECT_TRUE(at_.injectUrc("+QMTPUB: 0,1,0"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value(); }));
    EXPECT_TRUE(*done) << done->error().message;
    // QoS 0: done when the module took it.
    at_.expect("AT+QMTPUB=0,0,0,1,\"t/y\",2").expectPayload("hi");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().publish("t/y", "hi", 0, true, d); }));
    // A refused QoS 1 message.
    at_.expect("AT+QMTPUB=0,2,1,0,\"t/z\",1").urcAfter("+QMTPUB: 0,2,2");
    expectOutcome(mqttCall([&](auto d) { mqtt().publish("t/z", "z", 1, false, d); }),
                  fails("mqtt_publish"));
}

TEST_F(Bg9xDriverTest, MqttConnectExplainsAConnackRefusal) {
    started();
    scriptMqttBeforeOpen(false);
    at_.expect("AT+QMTOPEN=0,\"broker.example.com\",1883").urcAfter("+QMTOPEN: 0,0");
    at_.expect("AT+QMTCONN=0,\"dev1\",\"u\",\"secret\"")
        .urcAfter("+QMTCONN: 0,1")  // retransmitting: skipped
        .urcAfter("+QMTCONN: 0,0,5");
    at_.expect("AT+QMTCLOSE=0").urcAfter("+QMTCLOSE: 0,0");
    auto p = connectParams(false);
    p.username = "u";
    p.password = "secret";
    expectOutcome(mqttConnect(p), fails("mqtt_connack_5", {"not authorised"}, {"secret"}));
}

TEST_F(Bg9xDriverTest, MqttOpenFailureWithTlsNamesTheCauses) {
    started();
    scriptMqttBeforeOpen(true);
    at_.expect("AT+QMTOPEN=0,\"broker.example.com\",8883").urcAfter("+QMTOPEN: 0,-1");
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    auto p = connectParams();
    p.alpn = {"x-amzn-mqtt-ca"};  // not sent: the failure says so
    expectOutcome(mqttConnect(p),
                  fails("mqtt_tls", {"root CA", "cannot send ALPN (x-amzn-mqtt-ca)"}));
}

TEST_F(Bg9xDriverTest, MqttRefusesWhatTheModuleCannotDo) {
    auto p = connectParams();
    p.websocket_path = "/mqtt";
    expectOutcome(mqttConnect(p), fails("mqtt_unsupported"));
    p = connectParams();
    p.password = "bad\"pw";
    expectOutcome(mqttConnect(p), fails("", {}, {"bad\"pw"}));
    expectOutcome(mqttCall([&](auto d) { mqtt().publish("t", "x", 0, false, d); }),
                  fails("mqtt_not_connected"));
}

TEST_F(Bg9xDriverTest, MqttIncomingMessagesInBothFormsAndCutByALineBreak) {
    mqttConnected();
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,1,\"cmd/a\",4,\"a\"OK\"", ""));
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,0,\"cmd/b\",\"plain\"", ""));
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,2,\"cmd/c\",6,\"ab", "cd\"\r"));
    drain(loop_);
    ASSERT_EQ(messages_.size(), 3u);
    EXPECT_EQ(messages_[0], (std::pair<std::string, std::string>{"cmd/a", "a\"OK"}));
    EXPECT_EQ(messages_[1].second, "plain");
    EXPECT_EQ(messages_[2].second, "ab\r\ncd");
}

TEST_F(Bg9xDriverTest, MqttSubscribeAndUnsubscribe) {
    mqttConnected();
    at_.expect("AT+QMTSUB=0,1,\"cmd/#\",1").urcAfter("+QMTSUB: 0,1,0,1");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().subscribe("cmd/#", 1, d); }));
    at_.expect("AT+QMTSUB=0,2,\"forbidden/#\",1").urcAfter("+QMTSUB: 0,2,0,128");
    expectOutcome(mqttCall([&](auto d) { mqtt().subscribe("forbidden/#", 1, d); }),
                  fails("", {"refused the subscription"}));
    at_.expect("AT+QMTUNS=0,3,\"cmd/#\"").urcAfter("+QMTUNS: 0,3,0");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().unsubscribe("cmd/#", d); }));
}

TEST_F(Bg9xDriverTest, MqttStatEndsTheSessionInPlainWordsAndFailsWhatWaits) {
    mqttConnected();
    const auto done = publishInterrupted([&] { EXPECT_TRUE(at_.injectUrc("+QMTSTAT: 0,2")); });
    ASSERT_TRUE(done && !lost_.empty());
    EXPECT_FALSE(*done);
    EXPECT_EQ(lost_.front().code, "mqtt_lost");
    EXPECT_NE(lost_.front().message.find("keep-alive"), std::string::npos);
    EXPECT_EQ(lost_.size(), 1u);
}

TEST_F(Bg9xDriverTest, MqttAModuleResetLosesTheSessionAndFailsThePendingPublish) {
    mqttConnected();
    const auto done = publishInterrupted([&] { EXPECT_TRUE(at_.injectBoot("RDY")); });
    ASSERT_TRUE(done && !lost_.empty());
    EXPECT_FALSE(*done);
    EXPECT_EQ(lost_.front().code, "modem_reset");
    // After the restart nothing is connected; a message is refused, not swallowed.
    expectOutcome(mqttCall([&](auto d) { mqtt().publish("t", "x", 1, false, d); }),
                  fails("mqtt_not_connected"));
}

TEST_F(Bg9xDriverTest, MqttDisconnectDuringConnectEndsTheAttempt) {
    started();
    scriptMqttBeforeOpen(false);
    at_.expect("AT+QMTOPEN=0,\"broker.example.com\",1883");  // no result yet
    std::optional<Status> connected;
    mqtt().connect(connectParams(false), {}, [&](Status s) { connected = s; });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    drain(loop_);
    at_.expect("AT+QMTDISC=0").urcAfter("+QMTDISC: 0,0");
    at_.expect("AT+QMTCLOSE=0").urcAfter("+QMTCLOSE: 0,0");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().disconnect(d); }));
    ASSERT_TRUE(runUntil(loop_, [&] { return connected.has_value(); }));
    EXPECT_FALSE(*connected);
}

TEST_F(Bg9xDriverTest, MqttDisconnectSilencesTheSession) {
    mqttConnected();
    at_.expect("AT+QMTDISC=0").urcAfter("+QMTDISC: 0,0").urcAfter("+QMTSTAT: 0,5");
    at_.expect("AT+QMTCLOSE=0").error("ERROR");
    EXPECT_TRUE(mqttCall([&](auto d) { mqtt().disconnect(d); }));
    EXPECT_TRUE(at_.injectUrcWithData("+QMTRECV: 0,1,\"cmd/a\",1,\"x\"", ""));
    drain(loop_);
    EXPECT_TRUE(messages_.empty());
    EXPECT_TRUE(lost_.empty());
}

}  // namespace
}  // namespace uplinkd::plugins::quectel_bg9x
