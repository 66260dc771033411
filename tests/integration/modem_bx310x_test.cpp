// SPDX-License-Identifier: Apache-2.0
// End to end through a BX310x and its own MQTT client: the sierra-bx310x driver (loaded as the
// daemon loads it, on the daemon's serial AT channel) → a pty → the modem emulator's BX model
// (which joins its Wi-Fi, keeps the certificate store, checks guard times and opens the real
// TLS connection) → a Mosquitto that wants a client certificate (AWS-like). Plus the
// credentials refused before anything is uploaded, and a silent close explained.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "broker_builder.hpp"
#include "cli/api_client.hpp"
#include "driver_in_process.hpp"
#include "modem_emulator.hpp"
#include "test_env.hpp"
#include "tunnel/connect_request.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

constexpr const char* kDriver = "sierra-bx310x";
constexpr const char* kModel = "bx310x";
constexpr const char* kSsid = "uplinkd-ap";  // the emulator's access point
constexpr const char* kPsk = "uplinkd-passphrase";

void requireBxPlugin() {
    const std::string so = pluginDir() + "/uplinkd-modem-" + std::string(kDriver) + ".so";
    ASSERT_TRUE(std::filesystem::exists(so)) << so << " is missing: the plugin was not built";
}

/// [uplinks.wifi] on `emu` and a route "cloud" through the module's MQTT client, with mutual
/// TLS (`cert`/`key`) to `port` and the CA file `ca`.
std::string bxConfig(const TempDir& dir, const ModemEmulator& emu, uint16_t port,
                     const std::string& ca, const std::string& cert, const std::string& key) {
    const std::string psk = dir.file("wifi.psk");
    writeFile(psk, kPsk, 0600);
    std::ostringstream c;
    c << "[uplinks.wifi]\ntype = \"modem\"\ndriver = \"" << kDriver << "\"\ndevice = \""
      << emu.device() << "\"\nbaud = 115200\nflow_control = false\nssid = \"" << kSsid
      << "\"\npsk_file = \"" << psk << "\"\nhealth_check_ms = 1000\n"
      << "[uplinks.wifi.power]\nbackend = \"emulator\"\ncontrol_socket = \"" << emu.controlSocket()
      << "\"\nboot_wait_ms = 200\n"
      << "[routes.cloud]\nuplinks = [\"wifi\"]\nmqtt = \"modem\"\n"
      << genericRoute("cloud", port, ca,
                      "cert_file = \"" + cert + "\"\nkey_file = \"" + key + "\"");
    return c.str();
}

json publishRequest(int id, const std::string& topic, const std::string& payload, int qos) {
    return json{{"op", "publish"},
                {"id", id},
                {"route", "cloud"},
                {"topic", topic},
                {"qos", qos},
                {"report_delivered", qos > 0},
                {"payload_b64", base64Encode(payload)}};
}

/// Every byte value and the BX310x's framing words: results, a quoted argument, the escape
/// sequence and the boot line.
std::string framingBytes() {
    return everyByteValue() + "\r\nOK\r\n\"quoted\",+++\r\nREADY\r\n";
}

class ModemBx310x : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(requireBxPlugin());
        pki = makePki(dir.file("pki"), "dev1");
        const std::string cmd =
            "bash " + sourceDir() + "/tools/make-test-chain.sh " + pki.dir + " >/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << "cannot make the intermediate CA";
    }
    TempDir dir;
    Pki pki;
};

/// The driver in this process over the emulator (as the supervisor and a route with
/// mqtt = "modem" use it): start, provision, then the module's MQTT client directly.
class InProcess : public DriverInProcess {
  public:
    explicit InProcess(const ModemEmulator& emu) : DriverInProcess(emu, kDriver) {}

    /// Creates the driver for the emulator's access point, then starts it.
    Status start() {
        ModemSettings settings;
        settings.ssid = kSsid;
        settings.psk = kPsk;
        settings.mqtt_offload = true;
        const Status created = create(settings);
        return created ? DriverInProcess::start() : created;
    }
    /// start(), then `credentials` written into the module: the first failure, if any.
    Status startAndProvision(const ModemCredentials& credentials) {
        const Status started = start();
        return started ? provision(credentials) : started;
    }
    Status connect(uint16_t port) {
        ModemMqttConnect p;
        p.host = "localhost";
        p.port = port;
        p.tls = true;
        p.client_id = "dev1";
        p.keep_alive_s = 30;
        p.timeout_s = 20;
        ModemMqttEvents ev;
        ev.message = [this](std::string t, std::string m, int, bool) {
            messages.emplace_back(std::move(t), std::move(m));
        };
        ev.lost = [this](Error e) { lost.push_back(std::move(e)); };
        return await([&](auto done) { mqtt().connect(p, ev, done); });
    }
    Status publish(const std::string& topic, const std::string& payload, int qos) {
        return await([&](auto done) { mqtt().publish(topic, payload, qos, false, done); });
    }
    Status subscribe(const std::string& filter) {
        return await([&](auto done) { mqtt().subscribe(filter, 1, done); });
    }

    std::vector<std::pair<std::string, std::string>> messages;
    std::vector<Error> lost;
};

TEST_F(ModemBx310x, TheDriverAndTheEmulatorAgreeOnTheWholeMqttClient) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().logAll().start(pki);
    Subscriber cloud(pki, broker.port(), "up/#", true, pki.client_cert, pki.client_key);
    ModemEmulator emu(dir, kModel);
    InProcess m(emu);
    auto st = m.startAndProvision(
        {readFile(pki.ca), readFile(pki.client_cert), readFile(pki.client_key)});
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();
    st = m.connect(broker.port());
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace() << "\n" << broker.log();

    const std::string binary = framingBytes();
    const std::vector<std::tuple<std::string, std::string, int>> cases{
        {"up/text0", "21.5 C", 0},
        {"up/json1", "{\"t\":21.5,\"unit\":\"C\"}", 1},
        {"up/bin1", binary, 1},
    };
    for (const auto& [topic, payload, qos] : cases) {
        st = m.publish(topic, payload, qos);
        ASSERT_TRUE(st) << topic << ": " << st.error().message << "\n" << emu.trace();
    }
    ASSERT_TRUE(cloud.waitFor(cases.size(), 20s));
    std::map<std::string, std::string> got = cloud.payloadsByTopic();
    for (const auto& [topic, payload, qos] : cases) {
        EXPECT_TRUE(got[topic] == payload) << topic << " arrived changed";
    }
    // From the cloud to the module's subscription.
    st = m.subscribe("down/#");
    ASSERT_TRUE(st) << st.error().message;
    // The driver's subscribe ends at the command's OK (the BX's SUBACK indication is not
    // confirmed); the broker has the subscription once the module saw the SUBACK.
    ASSERT_TRUE(
        m.run([&] { return emu.trace().find("! +KMQTT_IND: 1,2") != std::string::npos; }, 30s))
        << emu.trace();
    cloud.publish("down/cmd", "{\"op\":\"blink\"}", 1);
    ASSERT_TRUE(m.run([&] { return !m.messages.empty(); }, 30s)) << broker.log();
    EXPECT_EQ(m.messages.front().first, "down/cmd");
    EXPECT_EQ(m.messages.front().second, "{\"op\":\"blink\"}");
    // The broker goes away: the session is lost, in words.
    broker.stop();
    ASSERT_TRUE(m.run([&] { return !m.lost.empty(); }, 60s)) << emu.trace();
    EXPECT_NE(m.lost.front().message.find("lost"), std::string::npos) << m.lost.front().message;
}

TEST_F(ModemBx310x, AKeyOfAnotherCertificateIsRefusedBeforeUpload) {
    ModemEmulator emu(dir, kModel);
    InProcess m(emu);
    auto st = m.startAndProvision(
        {readFile(pki.ca), readFile(pki.client_cert), readFile(pki.dir + "/other.key")});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "key_mismatch");
    EXPECT_NE(st.error().message.find("tls.key_file is not the private key of the certificate in "
                                      "tls.cert_file (\"CN=dev1\")"),
              std::string::npos)
        << st.error().message;
    const std::string trace = emu.trace();
    EXPECT_EQ(trace.find("AT+KCERTSTORE="), std::string::npos) << "uploaded anyway:\n" << trace;
    EXPECT_EQ(trace.find("AT+KPRIVKSTORE="), std::string::npos) << trace;
}

TEST_F(ModemBx310x, AnIntermediateGivenAsRootIsRefusedNamingTheRootNeeded) {
    ModemEmulator emu(dir, kModel);
    InProcess m(emu);
    auto st = m.startAndProvision(
        {readFile(pki.dir + "/inter.crt"), readFile(pki.client_cert), readFile(pki.client_key)});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "ca_not_root");
    EXPECT_NE(st.error().message.find("\"CN=uplinkd test intermediate\", which is not a root CA"),
              std::string::npos)
        << st.error().message;
    EXPECT_NE(st.error().message.find("put the root CA \"CN=uplinkd test CA\" (self-signed)"),
              std::string::npos)
        << st.error().message;
    EXPECT_EQ(emu.trace().find("AT+KCERTSTORE="), std::string::npos) << emu.trace();
}

TEST_F(ModemBx310x, ASilentCloseIsExplainedWithTheModulesClockFirstWhenItIsWrong) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    ModemEmulator emu(dir, kModel);
    InProcess m(emu);
    auto st = m.startAndProvision(
        {readFile(pki.ca), readFile(pki.client_cert), readFile(pki.client_key)});
    ASSERT_TRUE(st) << st.error().message << "\n" << emu.trace();
    // A year off: the module's TLS refuses the broker's certificate, and all the module says is
    // "+KMQTT_IND: 1,0".
    ASSERT_EQ(emu.control("clock 31536000").rfind("ok", 0), 0u);
    st = m.connect(broker.port());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_refused");
    const std::string& words = st.error().message;
    EXPECT_NE(words.find("(+KMQTT_IND: 1,0)"), std::string::npos) << words;
    EXPECT_NE(words.find("Checked by uplinkd: the key matches the certificate \"CN=dev1\""),
              std::string::npos)
        << words;
    EXPECT_NE(words.find("1) the module's clock ("), std::string::npos) << words;
    EXPECT_NE(words.find("2) the certificate \"CN=dev1\" is not registered"), std::string::npos)
        << words;
    // With the clock right again the same module connects.
    ASSERT_EQ(emu.control("clock host").rfind("ok", 0), 0u);
    st = m.connect(broker.port());
    EXPECT_TRUE(st) << st.error().message << "\n" << emu.trace();
}

TEST_F(ModemBx310x, ThroughTheDaemonTextAndBinaryAtQos0And1AndACloudMessageToALocalApp) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Subscriber cloud(pki, broker.port(), "up/#", true, pki.client_cert, pki.client_key);
    ModemEmulator emu(dir, kModel);
    Daemon d(dir, bxConfig(dir, emu, broker.port(), pki.ca, pki.client_cert, pki.client_key));
    ASSERT_TRUE(routeOnline(d, "cloud", 30s)) << "\n" << d.log() << "\n" << emu.trace();

    const std::string binary = framingBytes();
    const std::vector<std::tuple<std::string, std::string, int>> cases{
        {"up/text0", "21.5 C", 0},
        {"up/text1", "{\"t\":21.5,\"unit\":\"C\"}", 1},
        {"up/bin1", binary, 1},
        {"up/bin0", std::string("\0\x1a\xff", 3), 0},
    };
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    int id = 1;
    for (const auto& [topic, payload, qos] : cases) {
        ASSERT_TRUE(c.send(publishRequest(id, topic, payload, qos)));
        const json q = awaitApiReply(c, id, "queued", 20s);
        ASSERT_EQ(q["status"], "queued") << q.dump();
        if (qos == 1) {
            const json del = awaitApiReply(c, id, "delivered", 20s);
            ASSERT_EQ(del["status"], "delivered") << del.dump() << "\n" << emu.trace();
        }
        ++id;
    }
    ASSERT_TRUE(cloud.waitFor(cases.size(), 20s));
    std::map<std::string, std::string> got = cloud.payloadsByTopic();
    for (const auto& [topic, payload, qos] : cases) {
        ASSERT_TRUE(got.contains(topic)) << topic;
        EXPECT_TRUE(got[topic] == payload) << topic << " arrived changed";
    }
    // The binary payload went in data mode, never as a quoted argument.
    const std::string trace = emu.trace();
    EXPECT_NE(trace.find("AT+KMQTTPUBSTART=1,\"up/bin1\",1,0"), std::string::npos) << trace;

    // A message from the cloud reaches a local subscriber.
    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready"));
    cloud.publish("down/cmd", "{\"op\":\"blink\"}", 1);
    ASSERT_TRUE(local.waitFor("down/cmd", 20s));
    EXPECT_EQ(local.received().at("down/cmd").back(), "{\"op\":\"blink\"}");

    // modem info: the Wi-Fi and the store by slot.
    ApiClient i;
    ASSERT_TRUE(i.connect(d.socket()));
    ASSERT_TRUE(i.send({{"op", "modem_info"}, {"id", 1}}));
    const auto info = i.receive(20s);
    ASSERT_TRUE(info);
    const json& m = (*info)["modem"];
    EXPECT_EQ(m["ssid"], kSsid) << info->dump();
    EXPECT_EQ(m["association"], "associated") << info->dump();
    EXPECT_NE(info->dump().find("CN=dev1"), std::string::npos) << info->dump();
    EXPECT_NE(info->dump().find("key cannot be read back; checked by the TLS connect"),
              std::string::npos)
        << info->dump();
    // The passphrase never reaches the log.
    EXPECT_EQ(d.log().find(kPsk), std::string::npos);
}

TEST_F(ModemBx310x, ThroughTheDaemonABrokerRestartLosesNoQueuedMessage) {
    // Persistent: the reader's session and subscription outlive the restart, so what the route
    // delivers before the reader is back waits for it (without, a route quicker than the reader
    // to reconnect delivered into no subscription).
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().persistent().start(pki);
    ModemEmulator emu(dir, kModel);
    Daemon d(dir, bxConfig(dir, emu, broker.port(), pki.ca, pki.client_cert, pki.client_key));
    ASSERT_TRUE(routeOnline(d, "cloud", 30s)) << "\n" << d.log();
    Subscriber::Options persistent;
    persistent.client_cert = pki.client_cert;
    persistent.client_key = pki.client_key;
    persistent.client_id = "cloud-reader";
    persistent.clean_session = false;
    auto sub = std::make_unique<Subscriber>(pki, broker.port(), "up/#", persistent);

    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    constexpr int kBefore = 5;
    constexpr int kDuring = 10;
    for (int id = 1; id <= kBefore; ++id) {
        ASSERT_TRUE(
            c.send(publishRequest(id, "up/" + std::to_string(id), "m" + std::to_string(id), 1)));
        ASSERT_EQ(awaitApiReply(c, id, "delivered", 20s)["status"], "delivered");
    }
    sub.reset();
    broker.stop();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] != "online"; }, 20s))
        << d.routeStatus("cloud").dump();
    // Queued while the broker is away.
    for (int id = kBefore + 1; id <= kBefore + kDuring; ++id) {
        ASSERT_TRUE(
            c.send(publishRequest(id, "up/" + std::to_string(id), "m" + std::to_string(id), 1)));
        ASSERT_EQ(awaitApiReply(c, id, "queued", 20s)["status"], "queued");
    }
    broker.restart();
    Subscriber resumed(pki, broker.port(), "up/#", persistent);
    for (int id = kBefore + 1; id <= kBefore + kDuring; ++id) {
        const json del = awaitApiReply(c, id, "delivered", 30s);
        ASSERT_EQ(del["status"], "delivered") << del.dump() << "\n" << d.log();
    }
    ASSERT_TRUE(resumed.waitFor(kDuring, 20s));
    std::set<std::string> got;
    for (const auto& m : resumed.messages()) {
        got.insert(m.topic);
    }
    for (int id = kBefore + 1; id <= kBefore + kDuring; ++id) {
        EXPECT_TRUE(got.contains("up/" + std::to_string(id))) << id;
    }
}

TEST_F(ModemBx310x, ThroughTheDaemonAnIntermediateIsRefusedNamingTheRootNeeded) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    ModemEmulator emu(dir, kModel);
    Daemon d(dir, bxConfig(dir, emu, broker.port(), pki.dir + "/inter.crt", pki.client_cert,
                           pki.client_key));
    std::string error;
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [&](const json& s) {
            error = s.dump();
            return error.find("put the root CA \\\"CN=uplinkd test CA\\\"") != std::string::npos;
        },
        30s))
        << error << "\n"
        << d.log();
    EXPECT_NE(error.find("put the root CA \\\"CN=uplinkd test CA\\\""), std::string::npos) << error;
    EXPECT_EQ(emu.trace().find("AT+KCERTSTORE="), std::string::npos) << emu.trace();
}

}  // namespace
}  // namespace uplinkd::testing
