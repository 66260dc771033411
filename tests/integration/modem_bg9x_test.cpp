// SPDX-License-Identifier: Apache-2.0
// End to end through a Quectel BG9x: local app → uplinkd → the quectel-bg9x driver plugin → AT
// over a pty → the modem emulator's BG9x model (real TCP/TLS on the host) → an AWS-like
// mutual-TLS Mosquitto, directly or behind an SNI-gated HAProxy. In each of the three ways the
// driver carries MQTT: a plain module socket with TLS by uplinkd (tls = "local"), TLS by the
// module (tls = "modem"), and the module's own MQTT client (mqtt = "modem"). Text and binary
// payloads up, a message from the cloud down to a local subscriber, a root CA that does not
// sign the broker explained, and a module reset in the middle of a stream with no queued message
// lost.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "broker_builder.hpp"
#include "modem/at_channel_impl.hpp"
#include "modem/serial_port.hpp"
#include "modem_emulator.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

const DriverCase kBg9xCase{"quectel-bg9x", "bg9x", "RDY", "AT+QSSLSEND", "AT+QIOPEN=", "AT+QIACT"};

/// One way to carry MQTT through the module.
struct Mode {
    std::string name;  ///< for the test name
    std::string tls;   ///< the uplink's tls
    bool offload;      ///< the route has mqtt = "modem"
};
const Mode kLocalTls{"local_tls", "local", false};
const Mode kModuleTls{"module_tls", "modem", false};
const Mode kMqttOffload{"mqtt_offload", "modem", true};

void PrintTo(const Mode& m, std::ostream* os) {
    *os << m.name;
}

/// The name HAProxy lets through (the broker's certificate is for it).
constexpr const char* kSniName = "localhost";

class Bg9xEndToEnd : public ::testing::TestWithParam<Mode> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "bg9x-thing");

    /// The uplink on `emu` and route "cloud" to localhost:`port`, with `ca` as the route's root
    /// CA and the client certificate of the PKI.
    std::string config(const ModemEmulator& emu, uint16_t port, const std::string& ca) const {
        const Mode& m = GetParam();
        std::string c = modemUplinkConfig(kBg9xCase, emu, m.tls);
        if (m.offload) {
            c += "mqtt = \"modem\"\n";  // still inside [routes.cloud]
        }
        return c + genericRoute("cloud", port, ca,
                                "cert_file = \"" + pki.client_cert + "\"\nkey_file = \"" +
                                    pki.client_key + "\"\n");
    }

    static bool online(Daemon& d) {
        return d.waitRoute(
            "cloud", [](const json& s) { return s["state"] == "online"; }, 40s);
    }
};

TEST_P(Bg9xEndToEnd, TextAndBinaryUpAndACloudMessageDownBehindAnSniGate) {
    requireDriverPlugin(kBg9xCase);
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate(kSniName));
    Subscriber cloud(pki, broker.port(), "up/#", true, pki.client_cert, pki.client_key);
    ModemEmulator emu(dir, kBg9xCase.model);
    Daemon d(dir, config(emu, gate.port(), pki.ca));
    ASSERT_TRUE(online(d)) << d.routeStatus("cloud").dump() << "\n" << d.log();

    std::string binary;
    for (int i = 0; i < 256; ++i) {
        binary += static_cast<char>(i);
    }
    binary += "\r\nOK\r\n> \x1a+QIURC: \"closed\",0\r\nRDY\r\n\"quoted\",SEND OK\r\n";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"up/text",
         "21.5 \xc2\xb0"
         "C from the BG96"},
        {"up/binary", binary},
    };
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    int id = 1;
    for (const auto& [topic, payload] : cases) {
        ASSERT_TRUE(c.send(modemPublishRequest(id, topic, payload)));
        const json del = awaitApiReply(c, id, "delivered", 40s);
        ASSERT_EQ(del["status"], "delivered") << del.dump() << "\n" << d.log();
        ++id;
    }
    ASSERT_TRUE(cloud.waitFor(cases.size(), 30s));
    std::map<std::string, std::string> got = cloud.payloadsByTopic();
    for (const auto& [topic, payload] : cases) {
        ASSERT_TRUE(got.count(topic)) << topic;
        EXPECT_TRUE(got[topic] == payload) << topic << " arrived changed";
    }
    // The bytes went the way the mode says: the module's MQTT client, its TLS socket, or its
    // plain socket.
    const Mode& m = GetParam();
    const std::string carrier = m.offload          ? "AT+QMTPUB="
                                : m.tls == "modem" ? "AT+QSSLSEND="
                                                   : "AT+QISEND=";
    EXPECT_NE(emu.trace().find("> " + carrier), std::string::npos) << carrier;
    // The gate let it through only with SNI, and the cloud's message comes down.
    EXPECT_EQ(gate.refused(), 0u) << gate.log();
    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready")) << d.log();
    cloud.publish("down/cmd", "{\"led\":\"on\"}", 1);
    ASSERT_TRUE(local.waitFor("down/cmd", 30s)) << d.log();
    EXPECT_EQ(local.received().at("down/cmd").front(), "{\"led\":\"on\"}");
}

TEST_P(Bg9xEndToEnd, ARootCaThatDidNotSignTheBrokerIsExplained) {
    requireDriverPlugin(kBg9xCase);
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    const Pki other = makePki(dir.file("other-pki"));
    ModemEmulator emu(dir, kBg9xCase.model);
    Daemon d(dir, config(emu, broker.port(), other.ca));
    json st;
    ASSERT_TRUE(routeReaches(
        d, "cloud",
        [](const json& s) {
            return s.contains("last_error") &&
                   s["last_error"].get<std::string>().find("root CA") != std::string::npos;
        },
        40s, &st))
        << d.log();
    EXPECT_NE(st["state"], "online");
}

TEST_P(Bg9xEndToEnd, AModuleResetMidStreamLosesNoQueuedMessage) {
    requireDriverPlugin(kBg9xCase);
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Subscriber cloud(pki, broker.port(), "r/#", true, pki.client_cert, pki.client_key);
    ModemEmulator emu(dir, kBg9xCase.model);
    Daemon d(dir, config(emu, broker.port(), pki.ca));
    ASSERT_TRUE(online(d)) << d.routeStatus("cloud").dump() << "\n" << d.log();

    constexpr int kCount = 40;
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    std::string batch;
    for (int i = 0; i < kCount; ++i) {
        json r = modemPublishRequest(i, "r/" + std::to_string(i % 4),
                                     "msg-" + std::to_string(i) + "-" + std::string(100, 'x'));
        r["report_delivered"] = false;
        batch += r.dump() + "\n";
    }
    ASSERT_TRUE(c.sendRaw(batch));
    std::set<int> queued;
    while (queued.size() < kCount) {
        auto r = c.receive(30s);
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_EQ((*r)["status"], "queued") << r->dump();
        queued.insert((*r)["id"].get<int>());
    }
    ASSERT_TRUE(cloud.waitFor(3, 30s)) << d.log();
    ASSERT_EQ(emu.control("reboot"), "ok reboot");  // the module restarts by itself
    ASSERT_TRUE(waitUntil(
        [&] {
            std::set<std::string> got;
            for (const auto& m : cloud.messages()) {
                got.insert(m.payload.substr(0, m.payload.find('x')));
            }
            return got.size() == static_cast<size_t>(kCount);
        },
        40s))
        << cloud.messages().size() << " message(s) arrived; " << d.routeStatus("cloud").dump()
        << "\n"
        << d.log();
    EXPECT_NE(d.log().find("the module restarted (" + kBg9xCase.boot), std::string::npos)
        << d.log();
}

/// A firmware that refuses AT+QSSLCFG="sni": module TLS is refused in the exact words (never a
/// connection without SNI), and tls = "local" through the same module passes the SNI gate.
TEST(Bg9xSni, AFirmwareWithoutSniIsRefusedAndLocalTlsWorks) {
    requireDriverPlugin(kBg9xCase);
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate(kSniName));
    for (const std::string tls : {"modem", "local"}) {
        SCOPED_TRACE("tls = " + tls);
        TempDir run;
        ModemEmulator emu(run, kBg9xCase.model);
        ASSERT_EQ(emu.control("firmware sni off"), "ok firmware sni off");
        Daemon d(run, modemUplinkConfig(kBg9xCase, emu, tls) +
                          genericRoute("cloud", gate.port(), pki.ca));
        if (tls == "modem") {
            json st;
            ASSERT_TRUE(routeReaches(
                d, "cloud",
                [](const json& s) {
                    return s.contains("last_error") &&
                           s["last_error"].get<std::string>().find(
                               "this firmware cannot send SNI: use tls = \"local\"") !=
                               std::string::npos;
                },
                40s, &st))
                << d.log();
            EXPECT_EQ(gate.refused(), 0u) << "a connection without SNI was tried";
            continue;
        }
        ASSERT_TRUE(routeOnline(d, "cloud", 40s)) << "\n" << d.log();
        deliverThrough(d, 1, "g/local", "through the gate");
    }
}

// ---- the module's MQTT client, driven in this process ---------------------------------------

/// The quectel-bg9x plugin run in this process over the emulator (a real pty and AT channel),
/// for its ModemMqtt against a real broker. Thread: the test's (it runs the loop).
class InProcessBg9x {
  public:
    explicit InProcessBg9x(const ModemEmulator& emu) {
        plugins_.loadDirectory(pluginDir());
        const ModemPluginApi* api = plugins_.modem(kBg9xCase.driver);
        if (api == nullptr) {
            ADD_FAILURE() << "no " << kBg9xCase.driver << " plugin in " << pluginDir();
            return;
        }
        auto line = SerialPort::open(loop_, {emu.device(), 115200, false});
        if (!line) {
            ADD_FAILURE() << line.error().message;
            return;
        }
        line_ = std::move(*line);
        channel_.setBootObserver([this](const std::string& l) {
            if (l.starts_with("APP RDY")) {
                ++app_ready_;
            }
        });
        channel_.attach(*line_);
        ModemSettings settings;
        settings.apn = "internet";
        settings.mqtt_offload = true;
        auto driver = api->create(loop_, channel_, settings);
        if (!driver) {
            ADD_FAILURE() << driver.error().message;
            return;
        }
        driver_ = std::move(*driver);
    }
    ~InProcessBg9x() {
        driver_.reset();
        channel_.clearUrcHandlers();
        channel_.detach();
    }

    /// Runs the loop until `done` holds (at most `timeout`).
    bool run(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            loop_.run_one_for(20ms);
        }
        return done();
    }
    template <class Call>
    Status await(Call call, std::chrono::milliseconds timeout = 30s) {
        std::optional<Status> s;
        call([&](Status r) { s = std::move(r); });
        if (!run([&] { return s.has_value(); }, timeout)) {
            return fail("test", "no answer");
        }
        return *s;
    }
    /// As the supervisor does: waits for the module's boot (APP RDY, once more than before the
    /// last start) and until it answers, then start().
    Status start() {
        if (!run([&] { return app_ready_ > started_boots_; })) {
            return fail("test", "the module did not announce APP RDY");
        }
        started_boots_ = app_ready_;
        bool answers = false;
        for (int i = 0; i < 20 && !answers; ++i) {
            std::optional<Result<AtResponse>> probe;
            channel_.probe(500ms, [&](Result<AtResponse> r) { probe = std::move(r); });
            run([&] { return probe.has_value(); });
            answers = probe && *probe;
        }
        return await([&](auto done) { driver_->start(done); });
    }
    ModemDriver& driver() { return *driver_; }
    ModemMqtt& mqtt() { return *driver_->mqtt(); }

  private:
    asio::io_context loop_;
    PluginRegistry plugins_;
    std::unique_ptr<SerialPort> line_;
    SerialAtChannel channel_{loop_};
    ModemDriverPtr driver_;
    int app_ready_ = 0;
    int started_boots_ = 0;
};

/// The module's own MQTT client (mqtt = "modem") to an AWS-like mutual-TLS broker behind the SNI
/// gate: QoS 1 done at the broker's PUBACK for text and binary payloads, a cloud message to the
/// subscriber, a module restart reported as lost with the waiting publish failed (so the route
/// sends it again), and a new session after start().
TEST(Bg9xMqttOffload, ModuleClientPublishesReceivesAndReportsAReset) {
    requireDriverPlugin(kBg9xCase);
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "bg9x-thing");
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate(kSniName));
    Subscriber cloud(pki, broker.port(), "up/#", true, pki.client_cert, pki.client_key);
    ModemEmulator emu(dir, kBg9xCase.model);
    InProcessBg9x m(emu);
    Status st = m.start();
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();
    st = m.await([&](auto done) {
        m.driver().provision(
            {readFile(pki.ca), readFile(pki.client_cert), readFile(pki.client_key)}, done);
    });
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();

    std::vector<std::pair<std::string, std::string>> down;
    std::vector<Error> lost;
    ModemMqttEvents events;
    events.message = [&](std::string topic, std::string payload, int, bool) {
        down.emplace_back(std::move(topic), std::move(payload));
    };
    events.lost = [&](Error e) { lost.push_back(std::move(e)); };
    ModemMqttConnect params;
    params.host = kSniName;
    params.port = gate.port();
    params.tls = true;
    params.server_name = kSniName;
    params.client_id = "bg9x-thing";
    params.keep_alive_s = 60;
    st = m.await([&](auto done) { m.mqtt().connect(params, events, done); }, 40s);
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();
    EXPECT_EQ(gate.refused(), 0u) << gate.log();

    std::string binary;
    for (int i = 0; i < 256; ++i) {
        binary += static_cast<char>(i);
    }
    binary += "\r\nOK\r\n> \x1a\"q\",+QMTSTAT: 0,1\r\nRDY\r\n";
    st = m.await([&](auto done) { m.mqtt().publish("up/text", "21.5 C", 1, false, done); });
    ASSERT_TRUE(st) << st.error().message;
    st = m.await([&](auto done) { m.mqtt().publish("up/binary", binary, 1, false, done); });
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_TRUE(cloud.waitFor(2, 30s));
    std::map<std::string, std::string> got = cloud.payloadsByTopic();
    EXPECT_EQ(got["up/text"], "21.5 C");
    EXPECT_TRUE(got["up/binary"] == binary) << "the binary payload arrived changed";

    // A message from the cloud reaches the subscription (quotes and commas inside).
    st = m.await([&](auto done) { m.mqtt().subscribe("down/#", 1, done); });
    ASSERT_TRUE(st) << st.error().message;
    cloud.publish("down/cmd", "{\"led\":\"on\",\"n\":2}", 1);
    ASSERT_TRUE(m.run([&] { return !down.empty(); })) << emu.trace();
    EXPECT_EQ(down.front(),
              (std::pair<std::string, std::string>{"down/cmd", "{\"led\":\"on\",\"n\":2}"}));

    // The module restarts while a publish waits: the publish fails (the route keeps the message
    // and sends it again), the session is reported lost in plain words.
    std::optional<Status> pending;
    m.mqtt().publish("up/after", "again", 1, false, [&](Status s) { pending = std::move(s); });
    ASSERT_EQ(emu.control("reboot"), "ok reboot");
    ASSERT_TRUE(m.run([&] { return pending.has_value() && !lost.empty(); })) << emu.trace();
    EXPECT_FALSE(*pending);
    EXPECT_EQ(lost.front().code, "modem_reset") << lost.front().message;
    // After start() (the supervisor's job) a new session carries the message.
    st = m.start();
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();
    st = m.await([&](auto done) { m.mqtt().connect(params, events, done); }, 40s);
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();
    st = m.await([&](auto done) { m.mqtt().publish("up/after", "again", 1, false, done); });
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_TRUE(cloud.waitFor(3, 30s));
    st = m.await([&](auto done) { m.mqtt().disconnect(done); });
    EXPECT_TRUE(st);
}

/// A root CA in the module's store that did not sign the broker's certificate: the module's
/// client fails to connect, explained in plain words naming the fix.
TEST(Bg9xMqttOffload, AWrongRootCaInTheStoreIsExplained) {
    requireDriverPlugin(kBg9xCase);
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "bg9x-thing");
    const Pki other = makePki(dir.file("other"));
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kBg9xCase.model);
    InProcessBg9x m(emu);
    ASSERT_TRUE(m.start());
    Status st = m.await([&](auto done) {
        m.driver().provision({readFile(other.ca), "", ""}, done);
    });
    ASSERT_TRUE(st) << st.error().message;
    ModemMqttConnect params;
    params.host = "localhost";
    params.port = broker.port();
    params.tls = true;
    params.server_name = "localhost";
    params.client_id = "bg9x-thing";
    st = m.await([&](auto done) { m.mqtt().connect(params, {}, done); }, 40s);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_tls") << st.error().message;
    EXPECT_NE(st.error().message.find("root CA"), std::string::npos) << st.error().message;
}

INSTANTIATE_TEST_SUITE_P(Modes, Bg9xEndToEnd,
                         ::testing::Values(kLocalTls, kModuleTls, kMqttOffload),
                         [](const ::testing::TestParamInfo<Mode>& p) { return p.param.name; });

}  // namespace
}  // namespace uplinkd::testing
