// SPDX-License-Identifier: Apache-2.0
// The simcom-a76xx MQTT client (AT+CMQTT*) against a scripted AtChannel (its parsers and tables:
// modem_a76xx_mqtt_parsers_test.cpp): the firmware check at start-up, connect with TLS by the
// module (SNI on, MQTT 3.1.1 always, "tcp://" even for TLS), publish with exact bytes and done at
// +CMQTTPUB, one operation at a time, subscribe / unsubscribe, incoming messages, loss and module
// resets.
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

// ---- the client against a scripted module -----------------------------------------------------

A76xxTiming fastTiming() {
    A76xxTiming t;
    t.command = 1s;
    t.sim_retry = 1ms;
    t.registration_poll = 2ms;
    t.registration_timeout = 200ms;
    t.net_open = 1s;
    t.cch_start = 1s;
    t.send = 1s;
    t.send_result = 1s;
    t.receive = 1s;
    t.mqtt_start = 1s;
    t.mqtt_connect_extra = 1s;
    t.mqtt_result = 1s;
    t.mqtt_disc = 1s;
    return t;
}

/// What the client reported through its events.
struct Events {
    struct Message {
        std::string topic;
        std::string payload;
        int qos;
        bool retain;
    };
    std::vector<Message> messages;
    std::vector<Error> lost;

    ModemMqttEvents make() {
        ModemMqttEvents e;
        e.message = [this](std::string t, std::string p, int q, bool r) {
            messages.push_back({std::move(t), std::move(p), q, r});
        };
        e.lost = [this](Error why) { lost.push_back(std::move(why)); };
        return e;
    }
};

class A76xxMqttTest : public uplinkd::testing::ModemDriverTest<A76xxDriver, A76xxTiming> {
  protected:
    A76xxMqttTest() : ModemDriverTest(fastTiming()) { settings_.mqtt_offload = true; }

    ModemMqtt& mqtt() {
        ModemMqtt* m = driver().mqtt();
        EXPECT_NE(m, nullptr);
        return *m;
    }

    /// start() up to the network open with no link left over.
    const AtScript kUntilLinks = kEchoOff + kSimReady +
                                 AtScript{{"AT+CGDCONT=1,\"IP\",\"internet.example\""},
                                          {"AT+CEREG?", {"+CEREG: 0,1"}},
                                          {"AT+CGREG?", {"+CGREG: 0,1"}},
                                          {"AT+CIPRXGET=1"},
                                          {.command = "AT+NETOPEN", .urcs = {"+NETOPEN: 0"}},
                                          {"AT+CIPOPEN?"}};

    void scriptStartUntilLinks() { expectScript(at_, kUntilLinks); }

    /// start() with mqtt_offload on a module whose MQTT service was not running.
    void started() {
        expectStart(
            kUntilLinks + AtScript{{.command = "AT+CMQTTSTART", .urcs = {"+CMQTTSTART: 0"}}},
            succeeds());
    }

    /// The TLS set-up after the service runs: the store, the SSL context (SNI on), the client.
    void scriptTlsConnect(bool list = true) {
        if (list) {
            at_.expect("AT+CCERTLIST")
                .line("+CCERTLIST: \"uplinkd_ca.pem\"")
                .line("+CCERTLIST: \"uplinkd_cert.pem\"")
                .line("+CCERTLIST: \"uplinkd_key.pem\"");
        }
        for (const auto& s : sslContextSteps(true, 1s)) {
            at_.expect(s.command);
        }
        at_.expect("AT+CMQTTACCQ=0,\"dev-1\",1");
        at_.expect("AT+CMQTTSSLCFG=0,0");
        at_.expect("AT+CMQTTCFG=\"version\",0,4");
        at_.expect("AT+CMQTTCFG=\"optimeout\",0,30");
    }

    Status connect(const ModemMqttConnect& p) {
        return uplinkd::testing::await<void>(
            loop_, [&](auto done) { mqtt().connect(p, events_.make(), done); });
    }

    void connected() {
        started();
        scriptTlsConnect();
        at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
            .urcAfter("+CMQTTCONNECT: 0,0");
        const Status s = connect(brokerParams(true));
        ASSERT_TRUE(s) << s.error().message;
    }

    Status publish(const std::string& topic, const std::string& payload, int qos) {
        return uplinkd::testing::await<void>(
            loop_, [&](auto done) { mqtt().publish(topic, payload, qos, false, done); });
    }

    Events events_;
};

TEST_F(A76xxMqttTest, StartChecksTheMqttClientWhenARouteUsesIt) {
    started();
    EXPECT_EQ(at_.commands().back(), "AT+CMQTTSTART");
}

TEST_F(A76xxMqttTest, StartWithoutMqttOffloadLeavesTheClientAlone) {
    settings_.mqtt_offload = false;
    scriptStartUntilLinks();
    EXPECT_TRUE(start());
}

TEST_F(A76xxMqttTest, FirmwareWithoutAnMqttClientFailsStartUpInPlainWords) {
    scriptStartUntilLinks();
    at_.expect("AT+CMQTTSTART").error("ERROR");
    at_.expect("AT+CMQTTACCQ?").error("ERROR");
    const Status s = start();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_unsupported");
    EXPECT_NE(s.error().message.find("this firmware has no MQTT client"), std::string::npos)
        << s.error().message;
    EXPECT_NE(s.error().message.find("mqtt = \"uplinkd\""), std::string::npos);
}

TEST_F(A76xxMqttTest, AServiceLeftRunningIsTakenOverAndItsClientReleased) {
    scriptStartUntilLinks();
    at_.expect("AT+CMQTTSTART").error("ERROR");  // it runs already
    at_.expect("AT+CMQTTACCQ?").line("+CMQTTACCQ: 0,\"old\",1").line("+CMQTTACCQ: 1,\"\",0");
    ASSERT_TRUE(start());
    // Client 0 is still held by the earlier run: disconnected and released first.
    at_.expect("AT+CMQTTDISC?").line("+CMQTTDISC: 0,0").line("+CMQTTDISC: 1,1");
    at_.expect("AT+CMQTTDISC=0,10").urcAfter("+CMQTTDISC: 0,0");
    at_.expect("AT+CMQTTREL=0");
    at_.expect("AT+CMQTTACCQ=0,\"dev-1\",0");
    at_.expect("AT+CMQTTCFG=\"version\",0,4");
    at_.expect("AT+CMQTTCFG=\"optimeout\",0,30").error("ERROR");  // older firmware: fine
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:1883\",60,1")
        .urcBefore("+CMQTTCONNECT: 0,0");
    const Status s = connect(brokerParams(false));
    EXPECT_TRUE(s) << s.error().message;
}

TEST_F(A76xxMqttTest, ConnectUsesTheSslContextWithSniAndMqtt311) {
    connected();
    const auto& c = at_.commands();
    EXPECT_NE(std::find(c.begin(), c.end(), "AT+CSSLCFG=\"enableSNI\",0,1"), c.end());
    EXPECT_NE(std::find(c.begin(), c.end(), "AT+CMQTTCFG=\"version\",0,4"), c.end());
}

TEST_F(A76xxMqttTest, TheServiceIsStartedByConnectWhenStartDidNot) {
    settings_.mqtt_offload = false;
    scriptStartUntilLinks();
    ASSERT_TRUE(start());
    at_.expect("AT+CMQTTSTART").urcBefore("+CMQTTSTART: 0");
    scriptTlsConnect();
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
        .urcAfter("+CMQTTCONNECT: 0,0");
    EXPECT_TRUE(connect(brokerParams(true)));
}

TEST_F(A76xxMqttTest, ConnectRefusalsAreTheBrokersWordsAndKeepThePasswordOut) {
    started();
    auto p = brokerParams(true);
    p.username = "user";
    p.password = "pa55word";
    scriptTlsConnect();
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1,\"user\",\"pa55word\"")
        .urcAfter("+CMQTTCONNECT: 0,30");
    const Status refused = connect(p);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "mqtt_connack_4");
    EXPECT_NE(refused.error().message.find("bad user name or password"), std::string::npos);
    EXPECT_EQ(refused.error().message.find("pa55word"), std::string::npos);

    // The next attempt releases the client the failed one acquired; a handshake failure.
    at_.expect("AT+CMQTTREL=0");
    scriptTlsConnect(false);
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
        .urcAfter("+CMQTTCONNECT: 0,32");
    const Status tls = connect(brokerParams(true));
    ASSERT_FALSE(tls);
    EXPECT_EQ(tls.error().code, "mqtt_tls");
    EXPECT_NE(tls.error().message.find("root CA"), std::string::npos) << tls.error().message;
    EXPECT_TRUE(events_.lost.empty());
}

TEST_F(A76xxMqttTest, ConnectWithoutACaInTheStoreSaysWhatToProvision) {
    started();
    at_.expect("AT+CCERTLIST");
    const Status s = connect(brokerParams(true));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_tls");
    EXPECT_NE(s.error().message.find("tls.ca_file"), std::string::npos) << s.error().message;
}

TEST_F(A76xxMqttTest, PublishSendsExactBytesAndIsDoneAtThePubResult) {
    connected();
    const std::string topic = "dev/1/\"bin\"";
    at_.expect("AT+CMQTTTOPIC=0," + std::to_string(topic.size()))
        .expectPrompt(">")
        .expectPayload(topic)
        .expectTerminator("");
    at_.expect("AT+CMQTTPAYLOAD=0," + std::to_string(kBinary.size()))
        .expectPrompt(">")
        .expectPayload(kBinary)
        .expectTerminator("");
    at_.expect("AT+CMQTTPUB=0,1,60,0");  // OK now; the broker's PUBACK comes later
    std::optional<Status> done;
    mqtt().publish(topic, kBinary, 1, false, [&](Status s) { done = s; });
    drain(loop_);
    EXPECT_FALSE(done) << "done before the module reported the PUBACK";
    EXPECT_TRUE(at_.injectUrc("+CMQTTPUB: 0,0"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value(); }));
    EXPECT_TRUE(*done);

    // QoS 0, an empty payload (no AT+CMQTTPAYLOAD), retained.
    at_.expect("AT+CMQTTTOPIC=0,1").expectPayload("e");
    at_.expect("AT+CMQTTPUB=0,0,60,1").urcAfter("+CMQTTPUB: 0,0");
    const Status empty =
        uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().publish("e", "", 0, true, d); });
    EXPECT_TRUE(empty) << empty.error().message;

    // A refused publish.
    at_.expect("AT+CMQTTTOPIC=0,1").expectPayload("t");
    at_.expect("AT+CMQTTPAYLOAD=0,1").expectPayload("x");
    at_.expect("AT+CMQTTPUB=0,1,60,0").urcAfter("+CMQTTPUB: 0,11");
    const Status refused = publish("t", "x", 1);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "mqtt_not_connected");
    EXPECT_NE(refused.error().message.find("no connection"), std::string::npos);
}

TEST_F(A76xxMqttTest, PublishesGoOneAtATime) {
    connected();
    at_.expect("AT+CMQTTTOPIC=0,1").expectPayload("a");
    at_.expect("AT+CMQTTPAYLOAD=0,1").expectPayload("1");
    at_.expect("AT+CMQTTPUB=0,1,60,0");
    std::vector<std::string> order;
    mqtt().publish("a", "1", 1, false, [&](Status s) { order.push_back(s ? "a" : "a failed"); });
    mqtt().publish("b", "2", 1, false, [&](Status s) { order.push_back(s ? "b" : "b failed"); });
    drain(loop_);
    // The second waits: the result URC carries no message id.
    EXPECT_EQ(at_.remaining(), 0u);
    EXPECT_EQ(at_.commands().back(), "AT+CMQTTPUB=0,1,60,0");
    at_.expect("AT+CMQTTTOPIC=0,1").expectPayload("b");
    at_.expect("AT+CMQTTPAYLOAD=0,1").expectPayload("2");
    at_.expect("AT+CMQTTPUB=0,1,60,0").urcAfter("+CMQTTPUB: 0,0");
    at_.injectUrc("+CMQTTPUB: 0,0");
    ASSERT_TRUE(runUntil(loop_, [&] { return order.size() == 2; }));
    EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
}

TEST_F(A76xxMqttTest, SubscribeAndUnsubscribeUseTheOneTopicForm) {
    connected();
    at_.expect("AT+CMQTTSUB=0,9,1")
        .expectPrompt(">")
        .expectPayload("cmd/dev/#")
        .urcAfter("+CMQTTSUB: 0,0");
    EXPECT_TRUE(
        uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().subscribe("cmd/dev/#", 1, d); }));
    at_.expect("AT+CMQTTUNSUB=0,9,0").expectPayload("cmd/dev/#").urcAfter("+CMQTTUNSUB: 0,0");
    EXPECT_TRUE(
        uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().unsubscribe("cmd/dev/#", d); }));
    at_.expect("AT+CMQTTSUB=0,1,0").expectPayload("x").urcAfter("+CMQTTSUB: 0,12");
    const Status bad =
        uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().subscribe("x", 0, d); });
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("invalid parameter"), std::string::npos);
    const Status qos2 =
        uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().subscribe("x", 2, d); });
    EXPECT_EQ(qos2.error().code, "bad_qos");
}

TEST_F(A76xxMqttTest, IncomingMessagesArriveWholeWithTheirExactBytes) {
    connected();
    const std::string payload = std::string(1500, 'p') + kBinary + "+CMQTTRXEND: 0\r\n";
    ASSERT_TRUE(at_.injectUrc("+CMQTTRXSTART: 0,6," + std::to_string(payload.size())));
    ASSERT_TRUE(at_.injectUrcWithData("+CMQTTRXTOPIC: 0,6", "cmd/ab"));
    ASSERT_TRUE(at_.injectUrcWithData("+CMQTTRXPAYLOAD: 0,1500", payload.substr(0, 1500)));
    EXPECT_TRUE(events_.messages.empty());
    ASSERT_TRUE(at_.injectUrcWithData("+CMQTTRXPAYLOAD: 0," + std::to_string(payload.size() - 1500),
                                      payload.substr(1500)));
    ASSERT_TRUE(at_.injectUrc("+CMQTTRXEND: 0"));
    ASSERT_EQ(events_.messages.size(), 1u);
    EXPECT_EQ(events_.messages[0].topic, "cmd/ab");
    EXPECT_TRUE(events_.messages[0].payload == payload);
    EXPECT_EQ(events_.messages[0].qos, -1);
    // A message whose blocks do not add up is dropped; the next one arrives.
    at_.injectUrc("+CMQTTRXSTART: 0,1,5");
    at_.injectUrcWithData("+CMQTTRXTOPIC: 0,1", "t");
    at_.injectUrc("+CMQTTRXEND: 0");
    at_.injectUrc("+CMQTTRXSTART: 0,1,1");
    at_.injectUrcWithData("+CMQTTRXTOPIC: 0,1", "u");
    at_.injectUrcWithData("+CMQTTRXPAYLOAD: 0,1", "v");
    at_.injectUrc("+CMQTTRXEND: 0");
    ASSERT_EQ(events_.messages.size(), 2u);
    EXPECT_EQ(events_.messages[1].topic, "u");
}

TEST_F(A76xxMqttTest, ALostConnectionIsReportedAndFailsThePublishInFlight) {
    connected();
    at_.expect("AT+CMQTTTOPIC=0,1").expectPayload("a");
    at_.expect("AT+CMQTTPAYLOAD=0,1").expectPayload("1");
    at_.expect("AT+CMQTTPUB=0,1,60,0");
    std::optional<Status> done;
    mqtt().publish("a", "1", 1, false, [&](Status s) { done = s; });
    drain(loop_);
    ASSERT_TRUE(at_.injectUrc("+CMQTTCONNLOST: 0,1"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value(); }));
    ASSERT_FALSE(*done);
    EXPECT_EQ(done->error().code, "mqtt_lost");
    ASSERT_EQ(events_.lost.size(), 1u);
    EXPECT_NE(events_.lost[0].message.find("broker closed the connection"), std::string::npos)
        << events_.lost[0].message;
    // A late result of the abandoned publish is not taken for anything.
    at_.injectUrc("+CMQTTPUB: 0,11");
    const Status after = publish("a", "1", 1);
    EXPECT_EQ(after.error().code, "mqtt_not_connected");
    // Reconnecting releases the client first (it is not connected any more); the store is
    // known by now.
    at_.expect("AT+CMQTTREL=0");
    scriptTlsConnect(false);
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
        .urcAfter("+CMQTTCONNECT: 0,0");
    EXPECT_TRUE(connect(brokerParams(true)));
    EXPECT_EQ(events_.lost.size(), 1u);
}

TEST_F(A76xxMqttTest, NoNetworkRestartsTheServiceBeforeTheNextConnect) {
    connected();
    ASSERT_TRUE(at_.injectUrc("+CMQTTNONET"));
    ASSERT_EQ(events_.lost.size(), 1u);
    EXPECT_EQ(events_.lost[0].code, "mqtt_network");
    // The service is started again (a module that kept it running answers ERROR: taken over).
    at_.expect("AT+CMQTTSTART").error("ERROR");
    at_.expect("AT+CMQTTACCQ?").line("+CMQTTACCQ: 0,\"dev-1\",1").line("+CMQTTACCQ: 1,\"\",0");
    at_.expect("AT+CMQTTDISC?").line("+CMQTTDISC: 0,1").line("+CMQTTDISC: 1,1");
    at_.expect("AT+CMQTTREL=0");
    scriptTlsConnect(false);
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
        .urcAfter("+CMQTTCONNECT: 0,0");
    EXPECT_TRUE(connect(brokerParams(true)));
}

TEST_F(A76xxMqttTest, AModuleResetInTheMiddleOfAPublishIsALoss) {
    connected();
    std::optional<Status> done;
    mqtt().publish("a", "1", 1, false, [&](Status s) { done = s; });
    // The module restarts while the topic command is queued: it fails with "at_reset".
    ASSERT_TRUE(at_.injectBoot("*ATREADY: 1"));
    ASSERT_TRUE(runUntil(loop_, [&] { return done.has_value(); }));
    ASSERT_FALSE(*done);
    EXPECT_EQ(done->error().code, "modem_reset");
    ASSERT_EQ(events_.lost.size(), 1u);
    EXPECT_EQ(events_.lost[0].code, "modem_reset");
    drain(loop_);
    // start() again: the service is started afresh; nothing is left to release.
    started();
    scriptTlsConnect(false);
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
        .urcAfter("+CMQTTCONNECT: 0,0");
    EXPECT_TRUE(connect(brokerParams(true)));
}

TEST_F(A76xxMqttTest, DisconnectReleasesTheClientAndNothingComesAfter) {
    connected();
    at_.expect("AT+CMQTTDISC=0,10").urcAfter("+CMQTTDISC: 0,0");
    at_.expect("AT+CMQTTREL=0");
    at_.expect("AT+CMQTTSTOP").urcAfter("+CMQTTSTOP: 0");
    EXPECT_TRUE(uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().disconnect(d); }));
    at_.injectUrc("+CMQTTCONNLOST: 0,1");
    at_.injectUrc("+CMQTTRXSTART: 0,1,1");
    at_.injectUrcWithData("+CMQTTRXTOPIC: 0,1", "t");
    at_.injectUrcWithData("+CMQTTRXPAYLOAD: 0,1", "p");
    at_.injectUrc("+CMQTTRXEND: 0");
    EXPECT_TRUE(events_.lost.empty());
    EXPECT_TRUE(events_.messages.empty());
    // A second disconnect has nothing to do; the next connect starts the service again.
    EXPECT_TRUE(uplinkd::testing::await<void>(loop_, [&](auto d) { mqtt().disconnect(d); }));
    at_.expect("AT+CMQTTSTART").urcAfter("+CMQTTSTART: 0");
    scriptTlsConnect(false);
    at_.expect("AT+CMQTTCONNECT=0,\"tcp://broker.example.com:8883\",60,1")
        .urcAfter("+CMQTTCONNECT: 0,0");
    EXPECT_TRUE(connect(brokerParams(true)));
}

TEST_F(A76xxMqttTest, InfoNamesTheOperatorAndTheAccessTechnology) {
    at_.expect("AT+CGMI").line("SIMCOM INCORPORATED");
    at_.expect("AT+CGMM").line("A7670E-LASE");
    at_.expect("AT+CGMR").line("+CGMR: A011B07A7670M7_F");
    at_.expect("AT+CGSN").line("861234567890123");
    at_.expect("AT+CICCID").line("+ICCID: 89860000000000000000");
    at_.expect("AT+CPIN?").line("+CPIN: READY");
    at_.expect("AT+CEREG?").line("+CEREG: 0,1");
    at_.expect("AT+CGREG?").line("+CGREG: 0,1");
    at_.expect("AT+CSQ").line("+CSQ: 20,99");
    at_.expect("AT+COPS?").line("+COPS: 0,0,\"Vodafone.de\",7");
    const auto i = info();
    ASSERT_TRUE(i);
    EXPECT_EQ(i->operator_name, "Vodafone.de");
    EXPECT_EQ(i->access_technology, "LTE");
    EXPECT_TRUE(i->band.empty());  // no band query in the reference for this family

    const auto none = parseCops("+COPS: 0");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->name.empty());
    EXPECT_EQ(parseCops("+COPS: 1,2,\"26202\",9")->access_technology, "NB-IoT");
    EXPECT_FALSE(parseCops("+COPS: x"));
    EXPECT_FALSE(parseCops("+CSQ: 1,2"));
}

TEST(A76xxMqttPlugin, TheFamilyHasAnMqttClient) {
    EXPECT_TRUE(match().supports_mqtt_offload);
    EXPECT_TRUE(match().supports_tls_offload);
    EXPECT_FALSE(match().wifi);
    asio::io_context loop;
    uplinkd::testing::ScriptedAtChannel at(loop);
    auto d = create(loop, at, uplinkd::testing::apnSettings("internet"));
    ASSERT_TRUE(d);
    ASSERT_NE((*d)->mqtt(), nullptr);
    EXPECT_EQ((*d)->mqtt()->limits().max_payload_bytes, 10240u);
    EXPECT_NE((*d)->explain("+CMQTTCONNECT: 0,33").find("certificate not set"), std::string::npos);
}

}  // namespace
}  // namespace uplinkd::plugins::simcom_a76xx
