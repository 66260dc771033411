// SPDX-License-Identifier: Apache-2.0
// The sierra-bx310x modem plugin against a scripted AtChannel (its parsers and tables:
// modem_bx310x_parsers_test.cpp): the Wi-Fi bring-up, the certificate store (local checks, CR+LF,
// guard time and
// "+++", read-back), the module's MQTT client (text and binary publishes, QoS 1 acknowledgements
// in order, both incoming forms, the subscription limit, loss, refusal explained, module reset).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bx310x_test_certs.hpp"
#include "bx_certs.hpp"
#include "bx_commands.hpp"
#include "bx_driver.hpp"
#include "bx_errors.hpp"
#include "bx_parsers.hpp"
#include "bx_refusal.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::sierra_bx310x {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- the driver -------------------------------------------------------------------------------

constexpr BxTiming kFast{1s, 2s, 2s, 2s, 1500ms, 100ms, 2s, 1s};

class Bx310xDriverTest : public uplinkd::testing::ModemDriverTest<BxDriver, BxTiming> {
  protected:
    Bx310xDriverTest() : ModemDriverTest(kFast) {
        settings_.apn.clear();
        settings_.ssid = "plant-floor";
        settings_.psk = "correct horse";
        settings_.mqtt_offload = true;
    }

    /// The module answers, echo off, numeric errors, station mode.
    const AtScript kWake = {{"AT"}, {"ATE0"}, {"AT+CMEE=1"}, {"AT+SRWCFG=1"}};
    /// ... no MQTT session left over, the station's network and passphrase.
    const AtScript kInit = kWake + AtScript{{"AT+KMQTTCLOSE=1", {}, "+CME ERROR: 910"},
                                            {"AT+KMQTTDEL=1", {}, "+CME ERROR: 910"},
                                            {"AT+SRWSTACFG=\"plant-floor\",\"correct horse\",1"}};
    /// Associated, with an address.
    const AtScript kJoin = {
        {.command = "AT+SRWSTACON=1",
         .urcs = {"+SRWSTASTATUS: 1,\"plant-floor\",\"a4:cf:12:00:11:22\",6,3",
                  "+SRWSTAIP: \"192.168.1.20\",\"255.255.255.0\",\"192.168.1.1\""}}};

    void started() { expectStart(kInit + kJoin, succeeds()); }

    ModemMqtt& mqtt() { return *driver().mqtt(); }

    struct Heard {
        std::vector<std::pair<std::string, std::string>> messages;
        std::vector<Error> lost;
    };
    ModemMqttConnect params(bool tls = true) {
        ModemMqttConnect p;
        p.host = "broker.example";
        p.port = 8883;
        p.tls = tls;
        p.client_id = "dev1";
        p.keep_alive_s = 60;
        p.timeout_s = 5;
        return p;
    }
    Status connect(const ModemMqttConnect& p) {
        ModemMqttEvents ev;
        ev.message = [this](std::string t, std::string m, int, bool) {
            heard_.messages.emplace_back(std::move(t), std::move(m));
        };
        ev.lost = [this](Error e) { heard_.lost.push_back(std::move(e)); };
        return uplinkd::testing::await<void>(
            loop_, [&](auto done) { mqtt().connect(p, std::move(ev), done); });
    }
    void expectConnect(const ModemMqttConnect& p) {
        at_.expect("AT+KMQTTCLOSE=1").error("+CME ERROR: 910");
        at_.expect("AT+KMQTTDEL=1").error("+CME ERROR: 910");
        at_.expect(kmqttcfgCommand(p)).line("+KMQTTCFG: 1");
        at_.expect("AT+KMQTTCNX=1").urcAfter("+KMQTT_IND: 1,1");
    }
    void online() {
        started();
        expectConnect(params());
        const auto st = connect(params());
        ASSERT_TRUE(st) << st.error().message;
    }
    Status publish(const std::string& topic, const std::string& payload, int qos) {
        return uplinkd::testing::await<void>(
            loop_, [&](auto done) { mqtt().publish(topic, payload, qos, false, done); });
    }

    Heard heard_;
};

TEST_F(Bx310xDriverTest, StartJoinsTheNetworkAndInfoShowsIt) {
    started();
    at_.expect("ATI").line("BX3105").line("Revision: 4.4.1");
    at_.expect("ATI3").line("4.4.1.0");
    at_.expect("AT+SRWSTASTATUS?").line("+SRWSTASTATUS: 1,\"plant-floor\",\"m\",6,3,-58");
    at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    at_.expect("AT+CCLK?").line("+CCLK: \"26/12/05,03:30:00+00\"");
    const auto i = info();
    ASSERT_TRUE(i) << i.error().message;
    ASSERT_TRUE(i->clock_unix);
    EXPECT_EQ(*i->clock_unix, 1796441400);  // 2026-12-05 03:30:00 UTC
    EXPECT_EQ(i->model, "BX3105");
    EXPECT_EQ(i->firmware, "4.4.1.0");
    EXPECT_EQ(i->ssid, "plant-floor");
    EXPECT_EQ(i->association, "associated");
    EXPECT_EQ(i->ip_address, "192.168.1.20");
    EXPECT_EQ(i->wifi_rssi_dbm, -58);
    EXPECT_TRUE(i->store.empty());
}

TEST_F(Bx310xDriverTest, AssociationFailureInPlainWordsWithoutThePassphrase) {
    expectStart(kInit + AtScript{{.command = "AT+SRWSTACON=1", .urcs = {"+SRWSTASTATUS: 0,15"}}},
                fails("wifi_association", {"plant-floor", "psk_file"}, {"correct horse"}));
}

TEST_F(Bx310xDriverTest, StatusAmongTheCommandsOwnLinesCounts) {
    expectStart(kInit + AtScript{{"AT+SRWSTACON=1",
                                  {"+SRWSTASTATUS: 1,\"plant-floor\",\"m\",1,3"},
                                  "OK",
                                  {"+SRWSTAIP: \"10.0.0.5\",\"255.0.0.0\",\"10.0.0.1\""}}},
                succeeds());
}

TEST_F(Bx310xDriverTest, FirmwareWithoutMqttClientIsReportedAtStart) {
    expectStart(kWake + AtScript{{"AT+KMQTTCLOSE=1", {}, "ERROR"}, {"AT+KMQTTDEL=1", {}, "ERROR"}},
                fails("mqtt_unsupported", {"mqtt = \"uplinkd\""}));
}

TEST_F(Bx310xDriverTest, ConfigFailureNeverShowsThePassphrase) {
    expectStart(
        kWake +
            AtScript{{"AT+KMQTTCLOSE=1"},
                     {"AT+KMQTTDEL=1"},
                     {"AT+SRWSTACFG=\"plant-floor\",\"correct horse\",1", {}, "+CME ERROR: 916"}},
        fails("", {"out of range"}, {"correct horse"}));
}

TEST_F(Bx310xDriverTest, ProvisionChecksLocallyThenWritesWithGuardAndEscape) {
    const auto& c = certs();
    const std::string root = crlf(c.root);
    const std::string cert = crlf(c.cert);
    const std::string key = crlf(c.key);
    at_.expect("AT+KCERTSTORE=0," + std::to_string(root.size()))
        .expectPrompt("CONNECT")
        .expectPayload(root)
        .expectTerminator("+++")
        .expectGuardAtLeast(1500ms);
    at_.expect("AT+KCERTSTORE=1," + std::to_string(cert.size()) + ",0")
        .expectPayload(cert)
        .expectTerminator("+++")
        .expectGuardAtLeast(1500ms);
    at_.expect("AT+KPRIVKSTORE=0," + std::to_string(key.size()))
        .expectPayload(key)
        .expectTerminator("+++")
        .expectGuardAtLeast(1500ms);
    auto& listing = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    listing.line("root_cert,0," + std::to_string(root.size()));
    for (const auto& l : pemLines(c.root)) {
        listing.line(l);
    }
    listing.line("local_cert,0," + std::to_string(cert.size()));
    for (const auto& l : pemLines(c.cert)) {
        listing.line(l);
    }
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    const auto st = provision({c.root, c.cert, c.key});
    ASSERT_TRUE(st) << st.error().message;

    // modem info shows the store by slot, with what the certificates say.
    at_.expect("ATI").line("BX3105");
    at_.expect("ATI3").error("ERROR");
    at_.expect("AT+SRWSTASTATUS?").error("ERROR");
    auto& again = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE: root_cert,0,1");
    for (const auto& l : pemLines(c.root)) {
        again.line(l);
    }
    again.line("local_cert,0,1");
    for (const auto& l : pemLines(c.cert)) {
        again.line(l);
    }
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    at_.expect("AT+CCLK?").error("ERROR");
    const auto i = info();
    ASSERT_TRUE(i) << i.error().message;
    EXPECT_FALSE(i->clock_unix);
    ASSERT_EQ(i->store.size(), 3u);
    EXPECT_EQ(i->store[0].slot, "root 0");
    EXPECT_EQ(i->store[0].subject, "CN=uplinkd test CA");
    // Read back: the fingerprint of what the module holds, for the doctor's modem.store.
    EXPECT_EQ(i->store[0].sha256, certFacts(c.root, "root")->sha256);
    EXPECT_EQ(i->store[0].sha256.size(), 64u);
    EXPECT_EQ(i->store[0].size, 1);
    EXPECT_FALSE(i->store[0].not_after.empty());
    EXPECT_EQ(i->store[1].subject, "CN=dev1");
    EXPECT_EQ(i->store[2].kind, "private key");
    EXPECT_NE(i->store[2].note.find("key cannot be read back; checked by the TLS connect"),
              std::string::npos);
}

TEST_F(Bx310xDriverTest, ProvisionRefusesAnIntermediateNamingTheRootNeeded) {
    const auto& c = certs();
    const auto st = provision({c.inter, c.cert, c.key});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "ca_not_root");
    EXPECT_NE(st.error().message.find("put the root CA \"CN=uplinkd test CA\""), std::string::npos)
        << st.error().message;
    EXPECT_TRUE(at_.commands().empty()) << "nothing may be written";
}

TEST_F(Bx310xDriverTest, ProvisionRefusesAKeyOfAnotherCertificate) {
    const auto& c = certs();
    const auto st = provision({c.root, c.cert, c.other_key});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "key_mismatch");
    EXPECT_NE(st.error().message.find("CN=dev1"), std::string::npos) << st.error().message;
    EXPECT_EQ(st.error().message.find("PRIVATE KEY"), std::string::npos);
    EXPECT_TRUE(at_.commands().empty()) << "nothing may be written";
}

TEST_F(Bx310xDriverTest, ProvisionReadBackDifferenceIsAnError) {
    const auto& c = certs();
    const std::string root = crlf(c.root);
    at_.expect("AT+KCERTSTORE=0," + std::to_string(root.size())).expectPayload(root);
    at_.expect("AT+KCERTDELETE=1,0");
    at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE: root_cert,0,10").line("-----BEGIN X-----");
    const auto st = provision({c.root, "", ""});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "provision_mismatch");
}

TEST_F(Bx310xDriverTest, PublishesTextQuotedAndBinaryInDataModeAcksInOrder) {
    online();
    at_.expect("AT+KMQTTPUB=1,\"t/text\",0,0,\"hello\"");
    EXPECT_TRUE(publish("t/text", "hello", 0));
    // QoS 1: done only at +KMQTT_IND: 1,4, matched in order.
    const std::string json = "{\"v\":\"a,b\"}";
    at_.expect("AT+KMQTTPUBSTART=1,\"t/json\",1,0")
        .expectPrompt("CONNECT")
        .expectPayload(json)
        .expectTerminator("+++")
        .expectGuardAtLeast(100ms);
    at_.expect("AT+KMQTTPUBSTART=1,\"t/bin\",1,0").expectPayload(kBinary).expectTerminator("+++");
    std::vector<std::string> order;
    mqtt().publish("t/json", json, 1, false, [&](Status s) {
        EXPECT_TRUE(s);
        order.push_back("json");
    });
    mqtt().publish("t/bin", kBinary, 1, false, [&](Status s) {
        EXPECT_TRUE(s);
        order.push_back("bin");
    });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    drain(loop_);
    EXPECT_TRUE(order.empty()) << "done before the broker acknowledged";
    at_.injectUrc("+KMQTT_IND: 1,4");
    drain(loop_);
    EXPECT_EQ(order, std::vector<std::string>{"json"});
    at_.injectUrc("+KMQTT_IND: 1,4");
    drain(loop_);
    EXPECT_EQ(order, (std::vector<std::string>{"json", "bin"}));
    const auto l = mqtt().limits();
    EXPECT_TRUE(l.binary_payload);
    EXPECT_EQ(l.max_subscriptions, 5u);
    EXPECT_NE(l.delivery_note.find("in the order"), std::string::npos);
}

TEST_F(Bx310xDriverTest, AMissingAcknowledgementDropsTheSession) {
    online();
    at_.expect("AT+KMQTTPUB=1,\"t\",1,0,\"x\"");
    const auto st = publish("t", "x", 1);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_timeout");
    drain(loop_);
    ASSERT_EQ(heard_.lost.size(), 1u);
}

TEST_F(Bx310xDriverTest, IncomingMessagesInBothFormsAndRetainedOnSubscribe) {
    online();
    at_.expect("AT+KMQTTSUB=1,\"cmd/#\",1").line("+KMQTTSUB: \"cmd/retained\",\"r\"");
    const auto st = uplinkd::testing::await<void>(
        loop_, [&](auto done) { mqtt().subscribe("cmd/#", 1, done); });
    ASSERT_TRUE(st) << st.error().message;
    at_.injectUrc("+KMQTT_DATA: 1,\"cmd/a\",\"{\"op\":\"reboot\"}\"");
    at_.injectUrc("+KMQTTSUB: \"cmd/b\",\"old form\"");
    at_.injectUrc("+KMQTT_DATA: 1,broken");
    drain(loop_);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"cmd/retained", "r"}, {"cmd/a", "{\"op\":\"reboot\"}"}, {"cmd/b", "old form"}};
    EXPECT_EQ(heard_.messages, want);
    at_.expect("AT+KMQTTUNSUB=1,\"cmd/#\"");
    EXPECT_TRUE(uplinkd::testing::await<void>(
        loop_, [&](auto done) { mqtt().unsubscribe("cmd/#", done); }));
}

TEST_F(Bx310xDriverTest, AtMostFiveSubscriptions) {
    online();
    for (int i = 0; i < 5; ++i) {
        const std::string t = "t/" + std::to_string(i);
        at_.expect(kmqttsubCommand(t, 0));
        ASSERT_TRUE(
            uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().subscribe(t, 0, done); }));
    }
    const auto st =
        uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().subscribe("t/5", 0, done); });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "too_many_subscriptions");
}

TEST_F(Bx310xDriverTest, ClosedAfterConnectNamesTheProbableCausesInOrder) {
    const auto& c = certs();
    started();
    // Provisioned first, so that the words can name what was checked.
    at_.expect("AT+KCERTSTORE=0," + std::to_string(crlf(c.root).size()));
    at_.expect("AT+KCERTSTORE=1," + std::to_string(crlf(c.cert).size()) + ",0");
    at_.expect("AT+KPRIVKSTORE=0," + std::to_string(crlf(c.key).size()));
    auto& listing = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE: root_cert,0,1");
    for (const auto& l : pemLines(c.root)) {
        listing.line(l);
    }
    listing.line("local_cert,0,1");
    for (const auto& l : pemLines(c.cert)) {
        listing.line(l);
    }
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    ASSERT_TRUE(provision({c.root, c.cert, c.key}));
    auto p = params();
    at_.expect("AT+KMQTTCLOSE=1");
    at_.expect("AT+KMQTTDEL=1");
    at_.expect(kmqttcfgCommand(p)).line("+KMQTTCFG: 1");
    at_.expect("AT+KMQTTCNX=1").urcAfter("+KMQTT_IND: 1,0");
    at_.expect("AT+CCLK?").line("+CCLK: \"01/01/01,00:00:00+00\"");
    at_.expect("AT+KMQTTCLOSE=1");
    at_.expect("AT+KMQTTDEL=1");
    const auto st = connect(p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_refused");
    const std::string& m = st.error().message;
    const auto key = m.find("the key matches the certificate \"CN=dev1\"");
    const auto root = m.find("tls.ca_file is a root CA (\"CN=uplinkd test CA\"");
    const auto clock = m.find("1) the module's clock (2001-01-01T00:00:00Z) is outside");
    const auto cloud = m.find("2) the certificate \"CN=dev1\" is not registered or not active");
    const auto port = m.find("3) port 8883");
    for (auto pos : {key, root, clock, cloud, port}) {
        EXPECT_NE(pos, std::string::npos) << m;
    }
    EXPECT_LT(key, root);
    EXPECT_LT(root, clock);
    EXPECT_NE(m.find("client id \"dev1\""), std::string::npos) << m;
}

TEST_F(Bx310xDriverTest, LossWhileOnlineFailsPendingAndTellsLost) {
    online();
    at_.expect("AT+KMQTTPUB=1,\"t\",1,0,\"x\"");
    std::optional<Status> pub;
    mqtt().publish("t", "x", 1, false, [&](Status s) { pub = s; });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    at_.injectUrc("+KMQTT_IND: 1,0");
    ASSERT_TRUE(runUntil(loop_, [&] { return pub.has_value() && !heard_.lost.empty(); }));
    EXPECT_FALSE(*pub);
    EXPECT_EQ(heard_.lost[0].code, "mqtt_lost");
    // A publish now is refused at once.
    EXPECT_FALSE(publish("t", "y", 0));
}

TEST_F(Bx310xDriverTest, WifiLossEndsTheSessionInPlainWords) {
    online();
    at_.injectUrc("+SRWSTASTATUS: 0,200");
    ASSERT_TRUE(runUntil(loop_, [&] { return !heard_.lost.empty(); }));
    EXPECT_EQ(heard_.lost[0].code, "wifi_lost");
    EXPECT_NE(heard_.lost[0].message.find("beacons were lost"), std::string::npos)
        << heard_.lost[0].message;
    // Connecting again while not associated fails at once, with the reason, and asks the module
    // to join again (the route's back-off paces it).
    at_.expect("AT+SRWSTACON=1");
    const auto st = connect(params());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_network");
    EXPECT_NE(st.error().message.find("not associated"), std::string::npos);
}

TEST_F(Bx310xDriverTest, ModuleResetInTheMiddleOfAPublish) {
    online();
    // The module took the message but restarts before the broker's PUBACK is reported.
    at_.expect("AT+KMQTTPUBSTART=1,\"t\",1,0").expectPayload(kBinary);
    std::optional<Status> pub;
    mqtt().publish("t", kBinary, 1, false, [&](Status s) { pub = s; });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    drain(loop_);
    EXPECT_FALSE(pub.has_value());
    EXPECT_TRUE(at_.injectBoot("READY"));
    ASSERT_TRUE(runUntil(loop_, [&] { return pub.has_value() && !heard_.lost.empty(); }));
    ASSERT_FALSE(*pub);
    EXPECT_EQ(pub->error().code, "modem_reset") << "not reported delivered";
    EXPECT_EQ(heard_.lost[0].code, "modem_reset");
    // A late indication of the old session is not taken for a new message.
    at_.injectUrc("+KMQTT_IND: 1,4");
    // start() runs again from the top.
    started();
}

TEST_F(Bx310xDriverTest, DisconnectReleasesTheModulesClient) {
    online();
    at_.expect("AT+KMQTTCLOSE=1");
    at_.expect("AT+KMQTTDEL=1");
    EXPECT_TRUE(uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().disconnect(done); }));
    at_.injectUrc("+KMQTT_DATA: 1,\"t\",\"late\"");
    at_.injectUrc("+KMQTT_IND: 1,0");
    drain(loop_);
    EXPECT_TRUE(heard_.messages.empty());
    EXPECT_TRUE(heard_.lost.empty());
    // Disconnect when nothing is connected still answers.
    EXPECT_TRUE(uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().disconnect(done); }));
}

TEST_F(Bx310xDriverTest, ConnectRefusesWhatTheModuleCannotDo) {
    started();
    auto p = params();
    p.websocket_path = "/mqtt";
    EXPECT_EQ(connect(p).error().code, "mqtt_unsupported");
    p = params();
    p.alpn = {"x-amzn-mqtt-ca"};
    EXPECT_EQ(connect(p).error().code, "mqtt_unsupported");
    p = params();
    p.password = "pa\"ss";
    const auto st = connect(p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message.find("pa\"ss"), std::string::npos);
}

}  // namespace
}  // namespace uplinkd::plugins::sierra_bx310x
