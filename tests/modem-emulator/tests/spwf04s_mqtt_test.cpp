// SPDX-License-Identifier: Apache-2.0
// SPWF04S model: the built-in MQTT client against a real Mosquitto (round trip, +WIND:86/87,
// refusals, TLS with the stored root and the module clock).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "spwf04s_fixture.hpp"
#include "support/test_broker.hpp"
#include "support/test_pki.hpp"

using namespace emutest;

namespace {

TEST_F(Spwf04sTest, MqttRoundTripWithMosquitto) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "spwf/up"), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    expectError("AT+S.MQTTCONN=127.0.0.1," + std::to_string(broker.port()) + ",,0,,,id,30,,,,", 44);
    ASSERT_NO_FATAL_FAILURE(join());

    // A path asks for MQTT over WebSocket: not emulated.
    auto ws = mqttConnect("127.0.0.1", broker.port(), "0", "/mqtt");
    ASSERT_TRUE(ws);
    EXPECT_EQ(*ws, "\r\nAT-S.ERROR:97:MQTT transport not supported\r\n");

    auto r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(command("AT+S.MQTTSUB=0,spwf/down/#,1"), kOk);

    // Up: binary payload, counted, QoS 1 (AT-S.OK after the PUBACK).
    const std::string payload = trickyPayload();
    EXPECT_EQ(publish(0, "spwf/up", 1, payload), kOk);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].payload, payload);
    EXPECT_EQ(msgs[0].qos, 1);
    EXPECT_EQ(publish(0, "spwf/up", 0, ""), kOk);  // an empty payload is a message too
    ASSERT_EQ(cloud.waitFor(2).size(), 2U);

    // Down: +WIND:86 with the topic and length, then the raw bytes.
    ASSERT_TRUE(cloud.publish("spwf/down/cmd", payload, 1));
    auto down = incoming(0, "spwf/down/cmd");
    ASSERT_TRUE(down);
    EXPECT_EQ(*down, payload);
    EXPECT_EQ(command("AT+S.MQTTUNSUB=0,spwf/down/#"), kOk);

    // The broker connection drops: +WIND:87, the client id is free again.
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+WIND:87:MQTT Closed:0\r\n"));
    auto gone = publish(0, "spwf/up", 0, "x");
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, "\r\nAT-S.ERROR:96:Invalid MQTT client id\r\n");
    r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(command("AT+S.MQTTDISC=0"), kOk);
    EXPECT_EQ(tty_->readFor(200ms), "");  // no +WIND:87 for a disconnect the host asked for

    // The Wi-Fi goes: +WIND:33, then +WIND:87.
    r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    controlOk("ap off");
    auto lost = tty_->readUntil("\r\n+WIND:87:MQTT Closed:0\r\n");
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->find("\r\n+WIND:33:WiFi Network Lost\r\n"), 0U) << *lost;
}

TEST_F(Spwf04sTest, MqttRefusalsAndTls) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    TestBroker closed(TestBroker::Options::refusing());
    ASSERT_EQ(closed.startError(), "");
    TestBroker secure(TestBroker::Options::overTls(pki));
    BrokerPeer cloud(secure.port(), pki.ca.cert_pem);
    ASSERT_EQ(peerReady(secure, cloud, "tls/up"), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());

    // CONNACK 5: error 90 + the return code.
    auto r = mqttConnect("127.0.0.1", closed.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.ERROR:95:MQTT connection refused: not authorized\r\n");
    expectError("AT+S.MQTTCONN=127.0.0.1,1,,0,,,id,30,,,,", 75);  // nothing listens on port 1
    // User and password go in the CONNECT; the password stays out of the trace.
    expectError("AT+S.MQTTCONN=127.0.0.1," + std::to_string(closed.port()) +
                    ",,0,someone,s3cret-pw,id,30,,,,",
                95);
    {
        std::ifstream in(emu_->logPath());
        std::stringstream trace;
        trace << in.rdbuf();
        EXPECT_EQ(trace.str().find("s3cret-pw"), std::string::npos);
        EXPECT_NE(trace.str().find(",someone,<hidden>,id,"), std::string::npos);
    }

    // TLS with the stored root; the broker's host name is the SNI and the name checked.
    r = mqttConnect("localhost", secure.port(), "1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.ERROR:79:TLS credentials missing\r\n");
    ASSERT_NO_FATAL_FAILURE(storeCredential("ca", pki.ca.cert_pem));
    r = mqttConnect("localhost", secure.port(), "1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(publish(0, "tls/up", 1, "over tls"), kOk);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].payload, "over tls");
    // A second client fits (with its own client id: the broker drops a duplicate), a third not.
    r = mqttConnect("localhost", secure.port(), "1", "", "spwf-second");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:1\r\n" + kOk);
    expectError("AT+S.MQTTCONN=localhost," + std::to_string(secure.port()) + ",,1,,,id,30,,,,", 99);
    // A module clock a year ahead: the broker's certificate has expired.
    EXPECT_EQ(command("AT+S.MQTTDISC=1"), kOk);
    long later = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()) +
                 365L * 24 * 3600;
    EXPECT_EQ(emu_->control("clock " + std::to_string(later)), "ok clock " + std::to_string(later));
    r = mqttConnect("localhost", secure.port(), "1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.ERROR:78:TLS certificate verification failed\r\n");
}

TEST_F(Spwf04sTest, MqttPublishCutByAHangGoesNowhere) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "spwf/up"), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    auto r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);

    // The module hangs after 4 of the 10 payload bytes: no answer, nothing published.
    controlOk("fault silent-in-uplink 4");
    ASSERT_TRUE(tty_->write("AT+S.MQTTPUB=0,spwf/up,1,0,10\r0123456789"));
    EXPECT_EQ(tty_->readFor(300ms), "");
    // A reset: the boot WINDs, the client is gone without +WIND:87.
    controlOk("reset");
    auto winds = tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n");
    ASSERT_TRUE(winds);
    EXPECT_EQ(*winds, kBootWinds);
    expectOk("AT+S.SCFG=console_echo,0");
    expectError("AT+S.MQTTPUB=0,spwf/up,0,0,x", 96);
    ASSERT_NO_FATAL_FAILURE(join());
    r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(publish(0, "spwf/up", 1, "after"), kOk);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].payload, "after");  // the cut message never reached the broker
}

}  // namespace
