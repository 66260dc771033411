// SPDX-License-Identifier: Apache-2.0
// A76xx model: the MQTT client (AT+CMQTT*) through the pty, against a real Mosquitto.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "model_a76xx_mqtt.hpp"
#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/haproxy_gate.hpp"
#include "support/pty_client.hpp"
#include "support/test_broker.hpp"
#include "support/test_helpers.hpp"
#include "support/test_pki.hpp"

using namespace emutest;

namespace {

/// A payload of every byte value and the module's own framing tokens.
std::string binaryPayload(size_t n) {
    std::string p = "\r\n+CMQTTRXEND: 0\r\n\r\nOK\r\n+CMQTTRXPAYLOAD: 0,5\r\n> ";
    while (p.size() < n) {
        p.push_back(static_cast<char>(p.size() * 7 % 256));
    }
    p.resize(n);
    return p;
}

class A76xxMqttTest : public EmulatorTest {
  protected:
    void boot(std::vector<std::string> extra = {}) {
        extra.insert(extra.end(), {"--tls-fail-ms", "300"});
        ASSERT_NO_FATAL_FAILURE(launch("a76xx", "\r\nPB DONE\r\n", extra));
        expectOk("ATE0");
        ASSERT_TRUE(waitRegistered(*tty_)) << "not registered";
    }

    /// Boots, starts the service and acquires client `idx` (server_type `type`).
    void start(int idx = 0, int type = 0, std::vector<std::string> extra = {}) {
        ASSERT_NO_FATAL_FAILURE(boot(std::move(extra)));
        ASSERT_TRUE(okThenUrc("AT+CMQTTSTART", "+CMQTTSTART: 0"));
        expectOk("AT+CMQTTACCQ=" + std::to_string(idx) + ",\"emu-client-" + std::to_string(idx) +
                 "\"," + std::to_string(type));
    }

    void connect(int idx, uint16_t port, const std::string& host = "127.0.0.1") {
        std::string i = std::to_string(idx);
        expectOk("AT+CMQTTCFG=\"version\"," + i + ",4");
        expectOk("AT+CMQTTCONNECT=" + i + ",\"tcp://" + host + ":" + std::to_string(port) +
                 "\",60,1");
        ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTCONNECT: " + i + ",0\r\n", 10s));
    }

    /// `cmd` answers exactly `answer` (e.g. "\r\n+CMQTTPUB: 0,11\r\n\r\nERROR\r\n").
    void expectAnswer(const std::string& cmd, const std::string& answer) {
        auto r = tty_->command(cmd);
        ASSERT_TRUE(r) << cmd << ": no final result";
        EXPECT_EQ(*r, answer) << cmd;
    }

    /// `cmd` answers "> ", takes exactly the bytes (and a stray Ctrl-Z), then `final`.
    void sendWithPrompt(const std::string& cmd, const std::string& data,
                        const std::string& final = "\r\nOK\r\n") {
        ASSERT_TRUE(tty_->write(cmd + "\r"));
        auto p = tty_->readUntil("\r\n> ");
        ASSERT_TRUE(p) << cmd;
        EXPECT_EQ(*p, "\r\n> ") << cmd;
        ASSERT_TRUE(tty_->write(data + "\x1a"));
        auto f = tty_->readUntilAny({"\r\nOK\r\n", "\r\nERROR\r\n"});
        ASSERT_TRUE(f) << cmd;
        EXPECT_EQ(*f, final) << cmd;
    }

    void publish(int idx, const std::string& topic, const std::string& payload, int qos,
                 int retain = 0) {
        std::string i = std::to_string(idx);
        ASSERT_NO_FATAL_FAILURE(
            sendWithPrompt("AT+CMQTTTOPIC=" + i + "," + std::to_string(topic.size()), topic));
        if (!payload.empty()) {
            ASSERT_NO_FATAL_FAILURE(sendWithPrompt(
                "AT+CMQTTPAYLOAD=" + i + "," + std::to_string(payload.size()), payload));
        }
        expectOk("AT+CMQTTPUB=" + i + "," + std::to_string(qos) + ",60," + std::to_string(retain));
        ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTPUB: " + i + ",0\r\n", 10s));
    }

    /// Reads one incoming message: RXSTART, RXTOPIC blocks, RXPAYLOAD blocks, RXEND.
    /// Returns (topic, payload, payload block sizes).
    std::optional<std::tuple<std::string, std::string, std::vector<long>>> receive(int idx) {
        std::string i = std::to_string(idx);
        auto total = numbersAfter(*tty_, "\r\n+CMQTTRXSTART: " + i + ",", 10s);
        if (!total || total->size() != 2) {
            return std::nullopt;
        }
        std::string topic;
        std::string payload;
        std::vector<long> blocks;
        while (topic.size() < static_cast<size_t>(total->at(0))) {
            auto n = numbersAfter(*tty_, "\r\n+CMQTTRXTOPIC: " + i + ",");
            auto d = n && n->size() == 1 ? tty_->readExactly(static_cast<size_t>(n->at(0)))
                                         : std::nullopt;
            if (!d) {
                return std::nullopt;
            }
            topic += *d;
        }
        while (payload.size() < static_cast<size_t>(total->at(1))) {
            auto n = numbersAfter(*tty_, "\r\n+CMQTTRXPAYLOAD: " + i + ",");
            auto d = n && n->size() == 1 ? tty_->readExactly(static_cast<size_t>(n->at(0)))
                                         : std::nullopt;
            if (!d) {
                return std::nullopt;
            }
            blocks.push_back(n->at(0));
            payload += *d;
        }
        auto end = tty_->readExactly(std::string("\r\n+CMQTTRXEND: " + i + "\r\n").size());
        if (!end || *end != "\r\n+CMQTTRXEND: " + i + "\r\n") {
            return std::nullopt;
        }
        return std::make_tuple(topic, payload, blocks);
    }
};

const char* const kErr = "\r\nERROR\r\n";

TEST_F(A76xxMqttTest, EveryCommandNeedsStartFirst) {
    ASSERT_NO_FATAL_FAILURE(boot());
    for (const char* cmd :
         {"AT+CMQTTSTOP", "AT+CMQTTACCQ=0,\"id\"", "AT+CMQTTACCQ?", "AT+CMQTTREL=0",
          "AT+CMQTTSSLCFG=0,0", "AT+CMQTTCFG=\"version\",0,4", "AT+CMQTTCFG?",
          "AT+CMQTTCONNECT=0,\"tcp://127.0.0.1:1883\",60,1", "AT+CMQTTCONNECT?",
          "AT+CMQTTDISC=0,60", "AT+CMQTTTOPIC=0,5", "AT+CMQTTPAYLOAD=0,5", "AT+CMQTTPUB=0,1,60",
          "AT+CMQTTSUB=0,5,1", "AT+CMQTTSUBTOPIC=0,5,1", "AT+CMQTTUNSUB=0,5,0",
          "AT+CMQTTWILLTOPIC=0,5"}) {
        expectAnswer(cmd, kErr);  // no `>` prompt either
    }
    EXPECT_GE(status().value("misuse", 0), 10);

    EXPECT_TRUE(okThenUrc("AT+CMQTTSTART", "+CMQTTSTART: 0"));
    expectAnswer("AT+CMQTTSTART", kErr);  // already started
    auto st = status()["mqtt"];
    EXPECT_EQ(st.value("started", false), true);
    EXPECT_EQ(st.value("enabled", false), true);

    expectOk("AT+CMQTTACCQ=0,\"first\"");
    expectAnswer("AT+CMQTTACCQ=0,\"again\"", "\r\n+CMQTTACCQ: 0,19\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTACCQ=1,\"" + std::string(129, 'x') + "\"",
                 "\r\n+CMQTTACCQ: 1,22\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTACCQ=2,\"x\"", kErr);
    expectAnswer("AT+CMQTTACCQ?",
                 "\r\n+CMQTTACCQ: 0,\"first\",0\r\n\r\n+CMQTTACCQ: 1,\"\",0\r\n\r\nOK\r\n");
    // The default protocol is MQTT 3.1 (version 3); status shows it.
    auto c0 = status()["mqtt"]["clients"][0];
    EXPECT_EQ(c0.value("version", 0), 3);
    EXPECT_EQ(c0.value("mqtt_protocol", ""), "3.1");
    expectOk("AT+CMQTTCFG=\"version\",0,4");
    EXPECT_EQ(status()["mqtt"]["clients"][0].value("mqtt_protocol", ""), "3.1.1");
    expectAnswer("AT+CMQTTCFG=\"version\",0,5", kErr);
    expectAnswer("AT+CMQTTCFG=\"VERSION\",0,4", kErr);  // keywords are exact
    expectAnswer("AT+CMQTTCFG=\"optimeout\",0,19", kErr);
    expectOk("AT+CMQTTCFG=\"optimeout\",0,20");
    expectAnswer("AT+CMQTTCFG=\"version\",1,4", kErr);  // client 1 is not acquired
    expectAnswer("AT+CMQTTCFG?", "\r\n+CMQTTCFG: 0,1,20\r\n\r\n+CMQTTCFG: 1,1,120\r\n\r\nOK\r\n");

    // Connect: only tcp://, 9-256 bytes, an acquired client.
    expectAnswer("AT+CMQTTCONNECT=1,\"tcp://127.0.0.1:1883\",60,1",
                 "\r\n+CMQTTCONNECT: 1,20\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTCONNECT=0,\"ssl://127.0.0.1:8883\",60,1",
                 "\r\n+CMQTTCONNECT: 0,12\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTCONNECT=0,\"tcp://a\",60,1", "\r\n+CMQTTCONNECT: 0,22\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTCONNECT=0,\"tcp://" + std::string(251, 'h') + "\",60,1",
                 "\r\n+CMQTTCONNECT: 0,22\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTCONNECT=0,\"tcp://127.0.0.1:1883\",0,1",
                 "\r\n+CMQTTCONNECT: 0,12\r\n\r\nERROR\r\n");
    // Publish and subscribe need a connection; PUB needs a topic.
    expectAnswer("AT+CMQTTPUB=0,1,60", "\r\n+CMQTTPUB: 0,11\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTSUB=0,5,1", "\r\n+CMQTTSUB: 0,11\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTDISC=0,60", "\r\n+CMQTTDISC: 0,11\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTTOPIC=1,5", "\r\n+CMQTTTOPIC: 1,20\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTTOPIC=0,1025", "\r\n+CMQTTTOPIC: 0,22\r\n\r\nERROR\r\n");
    expectAnswer("AT+CMQTTPAYLOAD=0,10241", "\r\n+CMQTTPAYLOAD: 0,22\r\n\r\nERROR\r\n");

    // STOP needs every client released; REL clears the configuration.
    expectAnswer("AT+CMQTTSTOP", "\r\n+CMQTTSTOP: 21\r\n\r\nERROR\r\n");
    expectOk("AT+CMQTTREL=0");
    expectAnswer("AT+CMQTTREL=0", "\r\n+CMQTTREL: 0,20\r\n\r\nERROR\r\n");
    expectOk("AT+CMQTTACCQ=0,\"first\"");
    EXPECT_EQ(status()["mqtt"]["clients"][0].value("version", 0), 3);
    expectOk("AT+CMQTTREL=0");
    EXPECT_TRUE(okThenUrc("AT+CMQTTSTOP", "+CMQTTSTOP: 0"));
    expectAnswer("AT+CMQTTSTOP", kErr);
    expectAnswer("AT+CMQTTACCQ=0,\"id\"", kErr);
}

TEST_F(A76xxMqttTest, TopicDataPhaseChecksUtf8) {
    ASSERT_NO_FATAL_FAILURE(start());
    // Bytes read by count: the topic may hold CR LF and "OK"; a stray Ctrl-Z is ignored.
    const std::string topic = "a/\r\nOK\r\n/\xc3\xa9t\xc3\xa9";
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTTOPIC=0," + std::to_string(topic.size()), topic));
    expectOk("AT");
    // Not UTF-8: refused with 2 while checkUTF8 is 1 (the default), accepted with 0.
    const std::string bad = "bad/\xff\xfe";
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt("AT+CMQTTTOPIC=0," + std::to_string(bad.size()), bad,
                                           "\r\n+CMQTTTOPIC: 0,2\r\n\r\nERROR\r\n"));
    expectOk("AT+CMQTTCFG=\"checkUTF8\",0,0");
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt("AT+CMQTTTOPIC=0," + std::to_string(bad.size()), bad));
    // The payload is binary whatever checkUTF8 says: all 256 byte values, 10240 bytes at most.
    const std::string payload = binaryPayload(10240);
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTPAYLOAD=0," + std::to_string(payload.size()), payload));
    expectOk("AT");
    EXPECT_EQ(status().value("misuse", -1), 0) << status().dump();
}

TEST_F(A76xxMqttTest, NoMqttVariantAnswersErrorToEveryCmqttCommand) {
    ASSERT_NO_FATAL_FAILURE(boot({"--variant", "A7670E-NOMQTT"}));
    EXPECT_NE(expectOk("AT+CGMM").find("A7670E-NOMQTT"), std::string::npos);
    for (const char* cmd : {"AT+CMQTTSTART", "AT+CMQTTSTART", "AT+CMQTTACCQ=0,\"id\"",
                            "AT+CMQTTACCQ?", "AT+CMQTTCFG=\"version\",0,4", "AT+CMQTTTOPIC=0,5",
                            "AT+CMQTTPAYLOAD=0,5", "AT+CMQTTPUB=0,1,60", "AT+CMQTTSUB=0,5,1",
                            "AT+CMQTTSTOP", "AT+CMQTTSTART=?", "AT+CMQTTDISC?"}) {
        expectAnswer(cmd, kErr);
    }
    EXPECT_EQ(status()["mqtt"].value("enabled", true), false);
    // The rest of the module works.
    expectOk("AT+CCHSTART");
}

TEST_F(A76xxMqttTest, RoundTripWithMosquitto) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "from/module/#"), "");
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(connect(0, broker.port()));
    EXPECT_NE(expectOk("AT+CMQTTCONNECT?")
                  .find("+CMQTTCONNECT: 0,\"tcp://127.0.0.1:" + std::to_string(broker.port()) +
                        "\",60,1\r\n"),
              std::string::npos);
    EXPECT_NE(expectOk("AT+CMQTTDISC?").find("+CMQTTDISC: 0,0\r\n"), std::string::npos);

    // Publish: QoS 0, then QoS 1 with a binary payload of the largest size, retained.
    ASSERT_NO_FATAL_FAILURE(publish(0, "from/module/q0", "hello", 0));
    const std::string big = binaryPayload(10240);
    ASSERT_NO_FATAL_FAILURE(publish(0, "from/module/q1", big, 1, 1));
    auto got = cloud.waitFor(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].topic, "from/module/q0");
    EXPECT_EQ(got[0].payload, "hello");
    EXPECT_EQ(got[0].qos, 0);
    EXPECT_EQ(got[1].topic, "from/module/q1");
    EXPECT_EQ(got[1].payload, big);
    EXPECT_EQ(got[1].qos, 1);
    // Topic and payload were cleared by the publish.
    expectAnswer("AT+CMQTTPUB=0,1,60", "\r\n+CMQTTPUB: 0,18\r\n\r\nERROR\r\n");
    // The retained message is there for a later subscriber.
    BrokerPeer late(broker.port());
    ASSERT_TRUE(late.subscribe("from/module/q1", 1));
    auto retained = late.waitFor(1);
    ASSERT_EQ(retained.size(), 1u);
    EXPECT_TRUE(retained[0].retain);
    EXPECT_EQ(retained[0].payload, big);

    // Subscribe, one-topic form; an incoming 4000-byte payload comes in 1500-byte blocks.
    const std::string filter = "to/module/#";
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTSUB=0," + std::to_string(filter.size()) + ",1", filter));
    ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTSUB: 0,0\r\n", 10s));
    const std::string incoming = binaryPayload(4000);
    ASSERT_TRUE(cloud.publish("to/module/cmd", incoming, 1));
    auto msg = receive(0);
    ASSERT_TRUE(msg);
    EXPECT_EQ(std::get<0>(*msg), "to/module/cmd");
    EXPECT_EQ(std::get<1>(*msg), incoming);
    EXPECT_EQ(std::get<2>(*msg), (std::vector<long>{1500, 1500, 1000}));

    // Subscribe, list form: SUBTOPIC twice, then SUB without a length.
    for (const std::string t : {"other/a", "other/b"}) {
        ASSERT_NO_FATAL_FAILURE(
            sendWithPrompt("AT+CMQTTSUBTOPIC=0," + std::to_string(t.size()) + ",0", t));
    }
    auto sub = tty_->command("AT+CMQTTSUB=0");
    ASSERT_TRUE(sub);
    if (sub->find("+CMQTTSUB: 0,0") == std::string::npos) {
        EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTSUB: 0,0\r\n", 10s));
    }
    ASSERT_TRUE(cloud.publish("other/b", "second", 0));
    msg = receive(0);
    ASSERT_TRUE(msg);
    EXPECT_EQ(std::get<0>(*msg), "other/b");
    EXPECT_EQ(std::get<1>(*msg), "second");

    // Unsubscribe the first filter: its messages stop, the others still come.
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTUNSUB=0," + std::to_string(filter.size()) + ",0", filter));
    ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTUNSUB: 0,0\r\n", 10s));
    ASSERT_TRUE(cloud.publish("to/module/cmd", "dropped", 1));
    ASSERT_TRUE(cloud.publish("other/a", "marker", 1));
    msg = receive(0);
    ASSERT_TRUE(msg);
    EXPECT_EQ(std::get<0>(*msg), "other/a");
    EXPECT_EQ(std::get<1>(*msg), "marker");

    // Disconnect: OK and +CMQTTDISC: 0,0 (in either order), then release and stop.
    auto disc = tty_->command("AT+CMQTTDISC=0,60");
    ASSERT_TRUE(disc);
    EXPECT_NE(disc->find("\r\nOK\r\n"), std::string::npos);
    if (disc->find("+CMQTTDISC: 0,0") == std::string::npos) {
        EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTDISC: 0,0\r\n", 10s));
    }
    EXPECT_NE(expectOk("AT+CMQTTDISC?").find("+CMQTTDISC: 0,1\r\n"), std::string::npos);
    expectOk("AT+CMQTTREL=0");
    EXPECT_TRUE(okThenUrc("AT+CMQTTSTOP", "+CMQTTSTOP: 0"));
    EXPECT_EQ(status().value("misuse", -1), 1);  // the publish without a topic
}

TEST_F(A76xxMqttTest, ConnectErrorTable) {
    TestBroker closed_broker(TestBroker::Options::refusing());
    ASSERT_EQ(closed_broker.startError(), "");
    uint16_t refused_port = 0;
    {
        TestBroker gone;
        ASSERT_EQ(gone.startError(), "");
        refused_port = gone.port();
    }
    ASSERT_NO_FATAL_FAILURE(start());
    auto attempt = [&](const std::string& server, const std::string& result) {
        expectOk("AT+CMQTTCONNECT=0,\"" + server + "\",60,1");
        EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTCONNECT: 0," + result + "\r\n", 10s)) << server;
        EXPECT_EQ(status()["mqtt"]["clients"][0].value("state", ""), "disconnected");
    };
    attempt("tcp://broker.example.invalid:1883", "25");  // DNS
    attempt("tcp://127.0.0.1:" + std::to_string(refused_port), "3");
    // CONNACK 5 (not authorized): 31.
    attempt("tcp://127.0.0.1:" + std::to_string(closed_broker.port()), "31");
    expectOk("AT+CMQTTCFG=\"version\",0,4");
    attempt("tcp://127.0.0.1:" + std::to_string(closed_broker.port()), "31");

    // TLS (server_type 1) with authmode 1 and no CA file: certificates not set (33), and the
    // CMQTTSSLCFG setting is cleared by the failure.
    expectOk("AT+CMQTTACCQ=1,\"tls-client\",1");
    expectOk("AT+CSSLCFG=\"authmode\",3,1");
    expectOk("AT+CMQTTSSLCFG=1,3");
    EXPECT_EQ(status()["mqtt"]["clients"][1].value("ssl_ctx", -1), 3);
    expectOk("AT+CMQTTCONNECT=1,\"tcp://localhost:" + std::to_string(closed_broker.port()) +
             "\",60,1");
    EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTCONNECT: 1,33\r\n", 10s));
    EXPECT_TRUE(status()["mqtt"]["clients"][1]["ssl_ctx"].is_null());
    // TLS against a plain listener: handshake failure (32), reported after the delay.
    expectOk("AT+CMQTTCONNECT=1,\"tcp://localhost:" + std::to_string(closed_broker.port()) +
             "\",60,1");
    EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTCONNECT: 1,32\r\n", 10s));
}

TEST_F(A76xxMqttTest, TlsUsesTheSslContext) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    TestPki other = TestPki::make("some other root");
    ASSERT_TRUE(other.ok);
    TestBroker broker(TestBroker::Options::overTls(pki));
    BrokerPeer cloud(broker.port(), pki.ca.cert_pem);
    ASSERT_EQ(peerReady(broker, cloud, "tls/#"), "");
    ASSERT_NO_FATAL_FAILURE(start(0, 1));
    for (auto [name, pem] :
         {std::pair{"ca.pem", pki.ca.cert_pem}, std::pair{"other.pem", other.ca.cert_pem}}) {
        ASSERT_NO_FATAL_FAILURE(sendWithPrompt(
            "AT+CCERTDOWN=\"" + std::string(name) + "\"," + std::to_string(pem.size()), pem));
    }
    const std::string server = "tcp://localhost:" + std::to_string(broker.port());
    // The wrong root in context 0 (the default for client 0): handshake failure (32).
    expectOk("AT+CSSLCFG=\"authmode\",0,1");
    expectOk("AT+CSSLCFG=\"cacert\",0,\"other.pem\"");
    expectOk("AT+CMQTTCFG=\"version\",0,4");
    EXPECT_TRUE(okThenUrc("AT+CMQTTCONNECT=0,\"" + server + "\",60,1", "+CMQTTCONNECT: 0,32", 10s));
    // The right root in context 5, with SNI: connected, and a QoS 1 round trip.
    expectOk("AT+CSSLCFG=\"authmode\",5,1");
    expectOk("AT+CSSLCFG=\"cacert\",5,\"ca.pem\"");
    expectOk("AT+CSSLCFG=\"enableSNI\",5,1");
    expectOk("AT+CMQTTSSLCFG=0,5");
    ASSERT_TRUE(okThenUrc("AT+CMQTTCONNECT=0,\"" + server + "\",60,1", "+CMQTTCONNECT: 0,0", 10s));
    ASSERT_NO_FATAL_FAILURE(publish(0, "tls/up", "over tls", 1));
    auto got = cloud.waitFor(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "over tls");
    // The server string is always tcp://, even for TLS.
    EXPECT_TRUE(okThenUrc("AT+CMQTTDISC=0,60", "+CMQTTDISC: 0,0", 10s));
    EXPECT_TRUE(status()["mqtt"]["clients"][0]["ssl_ctx"].is_null());  // cleared by DISC
    expectAnswer("AT+CMQTTCONNECT=0,\"ssl://localhost:" + std::to_string(broker.port()) + "\",60,1",
                 "\r\n+CMQTTCONNECT: 0,12\r\n\r\nERROR\r\n");
}

TEST_F(A76xxMqttTest, ConnectionLossAndNoNetwork) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "will/#"), "");
    ASSERT_NO_FATAL_FAILURE(start());
    // A will, sent by the broker when the connection goes without a DISCONNECT.
    const std::string will_topic = "will/emu-client-0";
    const std::string will_msg = "gone\r\nOK\r\n";
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTWILLTOPIC=0," + std::to_string(will_topic.size()), will_topic));
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTWILLMSG=0," + std::to_string(will_msg.size()) + ",1", will_msg));
    ASSERT_NO_FATAL_FAILURE(connect(0, broker.port()));
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTCONNLOST: 0,1\r\n", 10s));
    auto wills = cloud.waitFor(1);
    ASSERT_EQ(wills.size(), 1u);
    EXPECT_EQ(wills[0].topic, will_topic);
    EXPECT_EQ(wills[0].payload, will_msg);
    EXPECT_NE(expectOk("AT+CMQTTDISC?").find("+CMQTTDISC: 0,1\r\n"), std::string::npos);
    expectAnswer("AT+CMQTTPUB=0,0,60", "\r\n+CMQTTPUB: 0,11\r\n\r\nERROR\r\n");
    // Reconnect with CMQTTCONNECT.
    ASSERT_TRUE(okThenUrc(
        "AT+CMQTTCONNECT=0,\"tcp://127.0.0.1:" + std::to_string(broker.port()) + "\",60,1",
        "+CMQTTCONNECT: 0,0", 10s));
    // The network goes: the connection is lost (3) and the service stops.
    controlOk("register 0");
    EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTCONNLOST: 0,3\r\n", 10s));
    EXPECT_TRUE(tty_->readUntil("\r\n+CMQTTNONET\r\n", 10s));
    expectAnswer("AT+CMQTTACCQ?", kErr);
    // Without a network, CMQTTSTART fails (7) and the service stays stopped.
    EXPECT_TRUE(okThenUrc("AT+CMQTTSTART", "+CMQTTSTART: 7", 10s));
    expectAnswer("AT+CMQTTACCQ?", kErr);
    // Back on the network the service starts again; a reboot stops it.
    controlOk("register 1");
    EXPECT_TRUE(okThenUrc("AT+CMQTTSTART", "+CMQTTSTART: 0", 10s));
    expectOk("AT+CMQTTACCQ=0,\"again\"");
    ASSERT_TRUE(okThenUrc("AT+CRESET", "PB DONE", 10s));
    expectOk("ATE0");  // echo is back on after the reboot
    expectAnswer("AT+CMQTTACCQ?", kErr);
    EXPECT_EQ(status()["mqtt"].value("started", true), false);
}

TEST_F(A76xxMqttTest, DefaultVersionIsMqtt31) {
    TestBroker broker;
    ASSERT_EQ(broker.startError(), "");
    HaproxyGate gate(broker.port(), HaproxyGate::refuseMqtt31());
    ASSERT_EQ(gate.startError(), "");
    ASSERT_NO_FATAL_FAILURE(start());
    const std::string direct = "\"tcp://127.0.0.1:" + std::to_string(broker.port()) + "\",60,1";
    const std::string gated = "\"tcp://127.0.0.1:" + std::to_string(gate.port()) + "\",60,1";

    // Without "version" 4 the module sends an MQTT 3.1 CONNECT: Mosquitto takes it (p1) ...
    ASSERT_TRUE(okThenUrc("AT+CMQTTCONNECT=0," + direct, "+CMQTTCONNECT: 0,0", 10s));
    auto c0 = status()["mqtt"]["clients"][0];
    EXPECT_EQ(c0.value("mqtt_protocol", ""), "3.1");
    EXPECT_EQ(c0.value("sent_protocol", ""), "MQIsdp/3");
    EXPECT_NE(broker.log().find("as emu-client-0 (p1,"), std::string::npos) << broker.log();
    ASSERT_TRUE(okThenUrc("AT+CMQTTDISC=0,60", "+CMQTTDISC: 0,0", 10s));
    // ... a front end that only passes MQTT 3.1.1 closes the connection: 26.
    EXPECT_TRUE(okThenUrc("AT+CMQTTCONNECT=0," + gated, "+CMQTTCONNECT: 0,26", 10s));
    // With version 4 it is MQTT 3.1.1 and passes.
    expectOk("AT+CMQTTCFG=\"version\",0,4");
    ASSERT_TRUE(okThenUrc("AT+CMQTTCONNECT=0," + gated, "+CMQTTCONNECT: 0,0", 10s));
    EXPECT_EQ(status()["mqtt"]["clients"][0].value("sent_protocol", ""), "MQTT/4");
    EXPECT_NE(broker.log().find("as emu-client-0 (p2,"), std::string::npos) << broker.log();
}

TEST_F(A76xxMqttTest, IncomingIsHeldDuringPromptAndFaultsCutTheBlocks) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud), "");
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(connect(0, broker.port()));
    const std::string filter = "to/module/#";
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+CMQTTSUB=0," + std::to_string(filter.size()) + ",1", filter));
    ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTSUB: 0,0\r\n", 10s));

    // A message that arrives while a `>` prompt is open waits until the phase has ended.
    ASSERT_TRUE(tty_->write("AT+CMQTTPAYLOAD=0,5\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(cloud.publish("to/module/a", "held", 1));
    EXPECT_EQ(tty_->readFor(300ms), "");
    ASSERT_TRUE(tty_->write("abcde"));
    auto after = tty_->readUntil("\r\n+CMQTTRXSTART: 0,11,4\r\n");
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, "\r\nOK\r\n\r\n+CMQTTRXSTART: 0,11,4\r\n");
    ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTRXEND: 0\r\n"));

    // A hang in the middle of the incoming blocks: the first 2011 bytes (topic and payload)
    // reach the line, nothing after them.
    controlOk("fault silent-in-downlink 2011");
    ASSERT_TRUE(cloud.publish("to/module/b", binaryPayload(4000), 1));
    ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTRXPAYLOAD: 0,1500\r\n", 10s));
    ASSERT_TRUE(tty_->readExactly(1500));
    ASSERT_TRUE(tty_->readUntil("\r\n+CMQTTRXPAYLOAD: 0,1500\r\n"));
    auto part = tty_->readExactly(500);
    ASSERT_TRUE(part);
    EXPECT_EQ(*part, binaryPayload(4000).substr(1500, 500));
    EXPECT_EQ(tty_->readFor(300ms), "");

    // A reboot in the middle of a payload upload: no final result, the boot URCs, and the MQTT
    // service is gone.
    controlOk("reset");
    ASSERT_TRUE(tty_->readUntil("\r\nPB DONE\r\n", 10s));
    expectOk("ATE0");
    ASSERT_TRUE(waitRegistered(*tty_));
    ASSERT_TRUE(okThenUrc("AT+CMQTTSTART", "+CMQTTSTART: 0"));
    expectOk("AT+CMQTTACCQ=0,\"emu-client-0\"");
    ASSERT_NO_FATAL_FAILURE(connect(0, broker.port()));
    controlOk("fault reboot-in-uplink 100");
    ASSERT_TRUE(tty_->write("AT+CMQTTPAYLOAD=0,1000\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(tty_->write(binaryPayload(1000)));
    auto boot = tty_->readUntil("\r\nPB DONE\r\n", 10s);
    ASSERT_TRUE(boot);
    EXPECT_EQ(boot->find("OK"), std::string::npos) << *boot;
    expectOk("ATE0");
    expectAnswer("AT+CMQTTACCQ?", kErr);
}

TEST(A76xxMqttTables, ConnectErrorCodes) {
    using uplinkd::emulator::cmqttConnectError;
    using R = uplinkd::emulator::MqttConnectResult;
    struct Row {
        R result;
        int connack;
        int err;
    };
    for (const Row& r : std::vector<Row>{{R::Ok, 0, 0},
                                         {R::Dns, 0, 25},
                                         {R::Refused, 0, 3},
                                         {R::Timeout, 0, 17},
                                         {R::TlsInit, 0, 32},
                                         {R::TlsHandshake, 0, 32},
                                         {R::TlsVerify, 0, 32},
                                         {R::ClosedWithoutConnack, 0, 26},
                                         {R::ConnackRefused, 1, 27},
                                         {R::ConnackRefused, 2, 28},
                                         {R::ConnackRefused, 3, 29},
                                         {R::ConnackRefused, 4, 30},
                                         {R::ConnackRefused, 5, 31},
                                         {R::ConnackRefused, 6, 1},
                                         {R::Failed, 0, 1}}) {
        EXPECT_EQ(cmqttConnectError(r.result, r.connack), r.err)
            << uplinkd::emulator::toString(r.result) << " " << r.connack;
    }
}

TEST(A76xxMqttTables, Utf8Check) {
    using uplinkd::emulator::validMqttUtf8;
    struct Row {
        std::string text;
        bool ok;
    };
    for (const Row& r : std::vector<Row>{{"a/b/c", true},
                                         {"", true},
                                         {"\xc3\xa9t\xc3\xa9", true},
                                         {"\xe2\x82\xac", true},
                                         {"\xf0\x9f\x98\x80", true},
                                         {std::string("a\0b", 3), false},
                                         {"\xff", false},
                                         {"\xc3", false},
                                         {"\xc0\xaf", false},          // overlong
                                         {"\xed\xa0\x80", false},      // surrogate
                                         {"\xf4\x90\x80\x80", false},  // above U+10FFFF
                                         {"\xe2\x82", false},
                                         {"\x80", false}}) {
        EXPECT_EQ(validMqttUtf8(r.text), r.ok) << r.text;
    }
}

}  // namespace
