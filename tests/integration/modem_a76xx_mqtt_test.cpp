// SPDX-License-Identifier: Apache-2.0
// End to end with the SIMCom A76xx's own MQTT client (mqtt = "modem"): the simcom-a76xx driver
// plugin over a pty to the modem emulator's A76xx model, whose CMQTT client speaks real MQTT
// with TLS from the module's store and SSL context, to a Mosquitto that wants a client
// certificate (mutual TLS). Text and binary payloads, QoS 0 and 1, a message from the cloud, a
// broker restart, and firmware without the MQTT client reported at start-up.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <asio.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "broker_builder.hpp"
#include "cli/api_client.hpp"
#include "modem/at_channel_impl.hpp"
#include "modem/serial_port.hpp"
#include "modem_emulator.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// Every byte value and the framing tokens of the A76xx (line ends, results, the prompt, a data
/// URC header, Ctrl-Z, the boot indication).
std::string framingBytes() {
    std::string s;
    for (int i = 0; i < 256; ++i) {
        s += static_cast<char>(i);
    }
    s += "\r\nOK\r\n\r\nERROR\r\n> \x1a\r\n+CMQTTRXEND: 0\r\n+CMQTTRXPAYLOAD: 0,99\r\n";
    s += "*ATREADY: 1\r\n+CMQTTCONNLOST: 0,1\r\n";
    s += std::string("\0\0\r", 3);
    return s;
}

/// The simcom-a76xx driver plugin in this process on the emulator, the way the daemon's modem
/// uplink runs it: its AT channel on the pty, then start() and provision(). Thread: the test's.
class ModuleUnderTest {
  public:
    ModuleUnderTest(const ModemEmulator& emu, bool mqtt_offload) {
        plugins_.loadDirectory(pluginDir());
        const ModemPluginApi* api = plugins_.modem(kA76xxCase.driver);
        if (api == nullptr) {
            ADD_FAILURE() << "no " << kA76xxCase.driver << " plugin in " << pluginDir();
            return;
        }
        auto line = SerialPort::open(loop_, {emu.device(), 115200, false});
        if (!line) {
            ADD_FAILURE() << "cannot open " << emu.device() << ": " << line.error().message;
            return;
        }
        line_ = std::move(line.value());
        channel_.attach(*line_);
        ModemSettings settings;
        settings.apn = "internet";
        settings.mqtt_offload = mqtt_offload;
        auto driver = api->create(loop_, channel_, settings);
        if (!driver) {
            ADD_FAILURE() << "create: " << driver.error().message;
            return;
        }
        driver_ = std::move(driver.value());
    }

    ~ModuleUnderTest() {
        driver_.reset();
        channel_.clearUrcHandlers();
        channel_.detach();
    }

    bool ok() const { return driver_ != nullptr; }
    ModemMqtt& mqtt() { return *driver_->mqtt(); }

    /// Runs the loop until `done()` holds (a generous deadline: the emulator and the broker are
    /// real processes on a busy machine).
    bool run(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            loop_.restart();
            loop_.run_one_for(20ms);
        }
        return done();
    }

    /// Calls `call` with a StatusDone and runs the loop until it answered.
    Status await(const std::function<void(ModemMqtt::StatusDone)>& call,
                 std::chrono::milliseconds timeout = 60s) {
        std::optional<Status> result;
        call([&](Status s) { result = std::move(s); });
        if (!run([&] { return result.has_value(); }, timeout)) {
            return fail("test", "no answer");
        }
        return *result;
    }

    /// As the supervisor does: waits until the module answers, then start().
    Status start() {
        bool answers = false;
        for (int i = 0; i < 40 && !answers; ++i) {
            std::optional<Result<AtResponse>> probe;
            channel_.probe(500ms, [&](Result<AtResponse> r) { probe = std::move(r); });
            run([&] { return probe.has_value(); });
            answers = probe && *probe;
        }
        if (!answers) {
            return fail("test", "the emulated module does not answer AT");
        }
        return await([&](auto done) { driver_->start(done); });
    }

    Status provision(const Pki& pki) {
        return await([&](auto done) {
            driver_->provision(
                {readFile(pki.ca), readFile(pki.client_cert), readFile(pki.client_key)}, done);
        });
    }

    /// Connects the module's client to the broker with TLS by the module; events are kept.
    Status connect(uint16_t port, const std::string& client_id) {
        ModemMqttConnect p;
        p.host = "localhost";
        p.port = port;
        p.tls = true;
        p.server_name = "localhost";
        p.client_id = client_id;
        p.keep_alive_s = 30;
        p.clean_session = true;
        p.timeout_s = 20;
        ModemMqttEvents events;
        events.message = [this](std::string topic, std::string payload, int, bool) {
            received[topic].push_back(std::move(payload));
        };
        events.lost = [this](Error why) { lost.push_back(std::move(why)); };
        return await([&](auto done) { mqtt().connect(p, events, done); });
    }

    Status publish(const std::string& topic, const std::string& payload, int qos) {
        return await([&](auto done) { mqtt().publish(topic, payload, qos, false, done); });
    }

    std::map<std::string, std::vector<std::string>> received;
    std::vector<Error> lost;

  private:
    asio::io_context loop_;
    PluginRegistry plugins_;
    std::unique_ptr<SerialPort> line_;
    SerialAtChannel channel_{loop_};
    ModemDriverPtr driver_;
};

class A76xxModuleMqtt : public ::testing::Test {
  protected:
    void SetUp() override { requireDriverPlugin(kA76xxCase); }

    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "device");
    Subscriber::Options cloudClient() const {
        Subscriber::Options o;
        o.tls = true;
        o.client_cert = pki.client_cert;
        o.client_key = pki.client_key;
        return o;
    }
};

TEST_F(A76xxModuleMqtt, MutualTlsByTheModuleCarriesTextBinaryQos0And1BothWays) {
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(pki);
    Subscriber cloud(pki, broker.port(), "up/#", cloudClient());
    ModemEmulator emu(dir, kA76xxCase.model);
    ModuleUnderTest m(emu, /*mqtt_offload=*/true);
    ASSERT_TRUE(m.ok());
    const Status started = m.start();
    ASSERT_TRUE(started) << started.error().message;
    const Status provisioned = m.provision(pki);
    ASSERT_TRUE(provisioned) << provisioned.error().message;
    const Status connected = m.connect(broker.port(), "a76xx-e2e");
    ASSERT_TRUE(connected) << connected.error().message << "\n" << broker.log();
    // The module was told MQTT 3.1.1; its default (3.1) would have gone out otherwise.
    EXPECT_EQ(emu.status()["mqtt"]["clients"][0]["sent_protocol"], "MQTT/4")
        << emu.status()["mqtt"].dump();
    ASSERT_TRUE(m.await([&](auto done) { m.mqtt().subscribe("down/#", 1, done); }));

    const std::string binary = framingBytes();
    const std::string large(9000, '\x1a');  // several module blocks' worth of Ctrl-Z
    ASSERT_TRUE(m.publish("up/text", "hello from the module", 1));
    ASSERT_TRUE(m.publish("up/binary", binary, 1));
    ASSERT_TRUE(m.publish("up/large", large, 1));
    ASSERT_TRUE(m.publish("up/qos0", "fire and forget", 0));
    ASSERT_TRUE(cloud.waitFor(4, 30s));
    std::map<std::string, std::pair<std::string, int>> got;
    for (const auto& msg : cloud.messages()) {
        got[msg.topic] = {msg.payload, msg.qos};
    }
    EXPECT_EQ(got["up/text"].first, "hello from the module");
    EXPECT_EQ(got["up/text"].second, 1);
    EXPECT_TRUE(got["up/binary"].first == binary) << "binary payload changed on the way";
    EXPECT_TRUE(got["up/large"].first == large);
    EXPECT_EQ(got["up/qos0"].first, "fire and forget");
    EXPECT_EQ(got["up/qos0"].second, 0);

    // From the cloud to the gateway, with the same hostile bytes (and a topic of its own).
    cloud.publish("down/cmd", binary, 1);
    ASSERT_TRUE(m.run([&] { return !m.received["down/cmd"].empty(); }, 30s));
    EXPECT_TRUE(m.received["down/cmd"].front() == binary) << "downlink payload changed";
    EXPECT_TRUE(m.lost.empty());
    EXPECT_EQ(emu.status()["misuse"], 0) << emu.status()["last_misuse"];
}

TEST_F(A76xxModuleMqtt, ABrokerRestartIsReportedAsLostAndTheClientConnectsAgain) {
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(pki);
    ModemEmulator emu(dir, kA76xxCase.model);
    ModuleUnderTest m(emu, /*mqtt_offload=*/true);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(m.start());
    ASSERT_TRUE(m.provision(pki));
    ASSERT_TRUE(m.connect(broker.port(), "a76xx-restart"));

    broker.stop();
    ASSERT_TRUE(m.run([&] { return !m.lost.empty(); }, 30s)) << "no loss reported";
    EXPECT_EQ(m.lost.front().code, "mqtt_lost") << m.lost.front().message;
    EXPECT_NE(m.lost.front().message.find("lost"), std::string::npos);
    // Nothing is reported as delivered while the connection is down.
    const Status down = m.publish("up/while-down", "x", 1);
    EXPECT_FALSE(down);

    broker.restart();
    Subscriber cloud(pki, broker.port(), "up/#", cloudClient());
    const Status again = m.connect(broker.port(), "a76xx-restart");
    ASSERT_TRUE(again) << again.error().message;
    ASSERT_TRUE(m.publish("up/after", "after the restart", 1));
    ASSERT_TRUE(cloud.waitFor(1, 30s));
    EXPECT_EQ(cloud.messages().front().payload, "after the restart");
    EXPECT_EQ(emu.status()["misuse"], 0) << emu.status()["last_misuse"];
}

TEST_F(A76xxModuleMqtt, ARefusedClientCertificateIsExplainedAsTheTlsHandshake) {
    // A broker whose CA did not sign the module's certificate: the handshake fails in the module.
    TempDir other;
    Pki foreign = makePki(other.file("pki"), "device");
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(foreign);
    // The module reports a failed handshake after a while (20 s by default): shortened here.
    ModemEmulator emu(dir, kA76xxCase.model, 115200, {"--tls-fail-ms", "500"});
    ModuleUnderTest m(emu, /*mqtt_offload=*/true);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(m.start());
    ASSERT_TRUE(m.provision(pki));
    const Status refused = m.connect(broker.port(), "a76xx-foreign");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "mqtt_tls") << refused.error().message;
    EXPECT_NE(refused.error().message.find("root CA"), std::string::npos)
        << refused.error().message;
}

TEST_F(A76xxModuleMqtt, FirmwareWithoutTheMqttClientFailsStartUpNamingTheFix) {
    ModemEmulator emu(dir, kA76xxCase.model, 115200, {"--variant", "A7670E-NOMQTT"});
    ModuleUnderTest m(emu, /*mqtt_offload=*/true);
    ASSERT_TRUE(m.ok());
    const Status s = m.start();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, "mqtt_unsupported");
    EXPECT_NE(s.error().message.find("this firmware has no MQTT client"), std::string::npos)
        << s.error().message;
    EXPECT_NE(s.error().message.find("mqtt = \"uplinkd\""), std::string::npos);
}

TEST_F(A76xxModuleMqtt, TheDaemonReportsFirmwareWithoutTheMqttClientAtStartUp) {
    ModemEmulator emu(dir, kA76xxCase.model, 115200, {"--variant", "A7670E-NOMQTT"});
    const std::string config = modemUplinkConfig(kA76xxCase, emu, "modem") + "mqtt = \"modem\"\n" +
                               genericRoute("cloud", freePort(), pki.ca,
                                            "cert_file = \"" + pki.client_cert +
                                                "\"\nkey_file = \"" + pki.client_key + "\"");
    Daemon d(dir, config);
    EXPECT_TRUE(waitUntil(
        [&] {
            const std::string log = d.log();
            return log.find("this firmware has no MQTT client") != std::string::npos &&
                   log.find("use mqtt = \"uplinkd\"") != std::string::npos;
        },
        60s))
        << d.log();
}

// ---- through uplinkd: a route with mqtt = "modem" ------------------------------------------

/// [uplinks.lte] on `emu` (TLS by the module) and a route "cloud" whose MQTT is the module's
/// client, to Mosquitto on `port` with the device's certificate (provisioned into the module).
std::string offloadConfig(const ModemEmulator& emu, const Pki& pki, uint16_t port) {
    return modemUplinkConfig(kA76xxCase, emu, "modem") + "mqtt = \"modem\"\n" +
           genericRoute(
               "cloud", port, pki.ca,
               "cert_file = \"" + pki.client_cert + "\"\nkey_file = \"" + pki.client_key + "\"");
}

bool online(const json& s) {
    return s["state"] == "online";
}

TEST_F(A76xxModuleMqtt, ARouteWithMqttModemCarriesTextBinaryQos0And1AndCloudCommands) {
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(pki);
    Subscriber cloud(pki, broker.port(), "up/#", cloudClient());
    ModemEmulator emu(dir, kA76xxCase.model);
    Daemon d(dir, offloadConfig(emu, pki, broker.port()));
    ASSERT_TRUE(d.waitRoute("cloud", online, 90s)) << d.routeStatus("cloud").dump() << d.log();
    const std::string binary = framingBytes();
    deliverThrough(d, 1, "up/text", "hello through the module's client");
    deliverThrough(d, 2, "up/binary", binary);
    {
        ApiClient c;
        ASSERT_TRUE(c.connect(d.socket()));
        json q0 = modemPublishRequest(3, "up/qos0", "at most once");
        q0["qos"] = 0;
        q0["report_delivered"] = false;
        ASSERT_TRUE(c.send(q0));
        EXPECT_EQ(awaitApiReply(c, 3, "queued")["status"], "queued");
    }
    ASSERT_TRUE(cloud.waitFor(3, 30s));
    std::map<std::string, std::pair<std::string, int>> got;
    for (const auto& m : cloud.messages()) {
        got[m.topic] = {m.payload, m.qos};
    }
    EXPECT_EQ(got["up/text"].first, "hello through the module's client");
    EXPECT_TRUE(got["up/binary"].first == binary) << "binary payload changed on the way";
    EXPECT_EQ(got["up/qos0"].first, "at most once");
    EXPECT_EQ(got["up/qos0"].second, 0);

    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready"));
    cloud.publish("down/cmd", binary, 1);
    ASSERT_TRUE(local.waitFor("down/cmd", 30s));
    EXPECT_TRUE(local.received().at("down/cmd").front() == binary) << "downlink changed";

    // The module's own client carried it all (no TLS socket of the module was used).
    const json st = emu.status();
    EXPECT_GE(st["mqtt"]["clients"][0]["published"].get<int>(), 3) << st["mqtt"].dump();
    EXPECT_EQ(st["mqtt"]["clients"][0]["sent_protocol"], "MQTT/4");
    EXPECT_EQ(occurrences(emu.trace(), "AT+CCHOPEN"), 0u);
}

TEST_F(A76xxModuleMqtt, ABrokerRestartUnderARouteWithMqttModemLosesNoQueuedMessage) {
    const std::string store = dir.file("broker-store");
    std::filesystem::create_directories(store);
    ::chmod(store.c_str(), 0777);
    Mosquitto broker = BrokerBuilder(dir)
                           .requireCertificate()
                           .extra("persistence true\npersistence_location " + store + "/\n")
                           .start(pki);
    Subscriber::Options persistent = cloudClient();
    persistent.client_id = "a76xx-cloud";
    persistent.clean_session = false;
    auto cloud = std::make_unique<Subscriber>(pki, broker.port(), "up/#", persistent);
    ModemEmulator emu(dir, kA76xxCase.model);
    Daemon d(dir, offloadConfig(emu, pki, broker.port()));
    ASSERT_TRUE(d.waitRoute("cloud", online, 90s)) << d.routeStatus("cloud").dump() << d.log();
    deliverThrough(d, 1, "up/0", "before");

    broker.stop();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return !online(s); }, 30s));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    for (int i = 1; i <= 5; ++i) {
        ASSERT_TRUE(
            c.send(modemPublishRequest(100 + i, "up/" + std::to_string(i),
                                       "queued while the broker was away " + std::to_string(i))));
        EXPECT_EQ(awaitApiReply(c, 100 + i, "queued")["status"], "queued");
    }
    cloud.reset();
    broker.restart();
    for (int i = 1; i <= 5; ++i) {
        EXPECT_EQ(awaitApiReply(c, 100 + i, "delivered", 90s)["status"], "delivered") << d.log();
    }
    Subscriber again(pki, broker.port(), "up/#", persistent);
    ASSERT_TRUE(again.waitFor(5, 30s));
    std::set<std::string> topics;
    for (const auto& m : again.messages()) {
        topics.insert(m.topic);
    }
    for (int i = 1; i <= 5; ++i) {
        EXPECT_TRUE(topics.contains("up/" + std::to_string(i))) << "up/" << i << " was lost";
    }
}

}  // namespace
}  // namespace uplinkd::testing
