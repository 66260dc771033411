// SPDX-License-Identifier: Apache-2.0
// The doctor's network, TLS and MQTT checks against real brokers on ephemeral ports: Mosquitto
// set up like each failure users meet (plain MQTT on the TLS port and the reverse, a missing
// root CA, a client certificate that is missing or from another CA, a wrong password), HAProxy
// front ends that need SNI or ALPN, and the SAS-checking broker plugin. The checks run in this
// process over a LocalNetwork uplink, the loopback tunnel and Paho, as the daemon runs them;
// each test asserts the check that FAILs first and that its fix names the setting to change.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <cstdlib>
#include <optional>

#include "broker_builder.hpp"
#include "config/config.hpp"
#include "doctor/doctor.hpp"
#include "plugin/plugin_registry.hpp"
#include "session/paho_worker.hpp"
#include "test_env.hpp"
#include "tunnel/tunnel.hpp"
#include "uplink/local_network.hpp"

namespace uplinkd::testing {
namespace {

using doctor::RouteReport;

constexpr const char* kUser = "gateway-01";
constexpr const char* kPassword = "correct horse battery staple";

/// A cloud that is the route's own but names a round-trip topic (as a cloud plugin's
/// diagnosis() does), so that the doctor's round trip can be seen working.
class WithRoundTrip final : public CloudProfile {
  public:
    WithRoundTrip(const CloudProfile& inner, std::string topic,
                  std::vector<EndpointAlternative> alternatives = {})
        : inner_(inner), topic_(std::move(topic)), alternatives_(std::move(alternatives)) {}
    std::string kind() const override { return inner_.kind(); }
    BrokerEndpoint endpoint() const override { return inner_.endpoint(); }
    int mqttVersion() const override { return inner_.mqttVersion(); }
    int keepAliveSeconds() const override { return inner_.keepAliveSeconds(); }
    Result<MqttCredentials> credentials(SystemTime now) const override {
        return inner_.credentials(now);
    }
    Result<CloudPublish> mapOutgoing(const Message& m) const override {
        return inner_.mapOutgoing(m);
    }
    std::vector<CloudSubscription> standingSubscriptions() const override { return {}; }
    Result<CloudSubscription> mapSubscribe(const std::string& f, int qos) const override {
        return inner_.mapSubscribe(f, qos);
    }
    IncomingMessage mapIncoming(const std::string& t) const override {
        return inner_.mapIncoming(t);
    }
    std::string explainConnack(int code) const override { return inner_.explainConnack(code); }
    std::string explainSilentClose() const override { return inner_.explainSilentClose(); }
    CloudDiagnosis diagnosis() const override {
        CloudDiagnosis d = inner_.diagnosis();
        d.round_trip_topic = topic_;
        d.alternatives = alternatives_;
        return d;
    }

  private:
    const CloudProfile& inner_;
    std::string topic_;
    std::vector<EndpointAlternative> alternatives_;
};

std::string dump(const RouteReport& r) {
    return doctor::toText(r);
}

/// The first finding that failed, or null.
const Finding* firstFail(const RouteReport& r) {
    for (const auto& f : r.findings) {
        if (f.outcome == CheckOutcome::Fail) {
            return &f;
        }
    }
    return nullptr;
}

const Finding* findingOf(const RouteReport& r, const std::string& id) {
    for (const auto& f : r.findings) {
        if (f.id == id) {
            return &f;
        }
    }
    return nullptr;
}

class DoctorNet : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "gateway-1");

    /// Runs the network, TLS and MQTT groups on route `route` of `toml`, as the daemon would
    /// (inside_daemon) or as uplinkctl would. `round_trip`, `alternatives`: what the cloud's
    /// diagnosis() names.
    RouteReport doctorOf(const std::string& toml, const std::string& route,
                         bool inside_daemon = false, const std::string& round_trip = "",
                         std::vector<EndpointAlternative> alternatives = {}) {
        asio::io_context loop;
        PluginRegistry plugins;
        auto cfg = loadConfigFromString(toml, dir.file("doctor.toml"), plugins, pluginDir());
        if (!cfg) {
            ADD_FAILURE() << cfg.error().message << "\n" << toml;
            return {};
        }
        const RouteConfig* rc = cfg->route(route);
        if (rc == nullptr) {
            ADD_FAILURE() << "no route " << route;
            return {};
        }
        auto tunnel = Tunnel::start(loop);
        if (!tunnel) {
            ADD_FAILURE() << tunnel.error().message;
            return {};
        }
        std::optional<WithRoundTrip> cloud;
        if (!round_trip.empty() || !alternatives.empty()) {
            cloud.emplace(*rc->cloud, round_trip, alternatives);
        }
        std::optional<RouteReport> report;
        {
            PahoWorker paho;
            std::vector<std::unique_ptr<LocalNetwork>> uplinks;
            doctor::RouteUnderTest r;
            r.loop = &loop;
            r.config = &cfg.value();
            r.route = rc;
            r.cloud = cloud ? &*cloud : rc->cloud.get();
            for (const auto& name : rc->uplinks) {
                uplinks.push_back(
                    std::make_unique<LocalNetwork>(loop, name, cfg->uplinks.at(name).interface));
                r.uplinks.push_back(uplinks.back().get());
            }
            r.tunnel = tunnel->get();
            r.paho = &paho;
            r.now = std::chrono::system_clock::now();
            r.inside_daemon = inside_daemon;
            doctor::run(r, {doctor::checkNetwork, doctor::checkTls, doctor::checkMqtt},
                        [&](RouteReport rep) {
                            report = std::move(rep);
                            loop.stop();
                        });
            // The doctor bounds every step itself; this only keeps a broken test from hanging.
            loop.run_for(std::chrono::seconds(120));
            // What the checks left to the loop (closing streams and sessions) runs now.
            loop.restart();
            loop.poll();
        }
        loop.restart();
        loop.poll();
        if (!report) {
            ADD_FAILURE() << "the doctor did not answer";
            return {};
        }
        return *report;
    }

    /// Asserts that `id` is the first FAIL and that its fix names `setting`.
    static void expectFailAt(const RouteReport& r, const std::string& id,
                             const std::string& setting) {
        const Finding* f = firstFail(r);
        ASSERT_NE(f, nullptr) << dump(r);
        EXPECT_EQ(f->id, id) << dump(r);
        EXPECT_NE(f->fix.find(setting), std::string::npos) << dump(r);
        EXPECT_FALSE(r.ready()) << dump(r);
    }

    std::string passwordCloud(const std::string& password) const {
        const std::string file = dir.file("route.password");
        writeFile(file, password + "\n", 0600);
        return "username = \"" + std::string(kUser) + "\"\npassword_file = \"" + file + "\"\n";
    }

    /// A generic-mqtt route "gen" to `host`:`port`.
    std::string genericTo(const std::string& host, uint16_t port, const std::string& tls_lines,
                          const std::string& cloud_lines = "") const {
        return "[routes.gen.cloud]\ntype = \"generic-mqtt\"\nhost = \"" + host +
               "\"\nport = " + std::to_string(port) + "\nclient_id = \"uplinkd-gen\"\n" +
               cloud_lines + "[routes.gen.tls]\n" + tls_lines;
    }
};

TEST_F(DoctorNet, AHealthyBrokerPassesWithARoundTripOnADistinctClientId) {
    Mosquitto broker(dir, pki);
    const RouteReport r =
        doctorOf(genericRoute("gen", broker.port(), pki.ca), "gen", true, "doctor/gen/echo");
    EXPECT_TRUE(r.ready()) << dump(r);
    for (const char* id :
         {"network.resolve", "network.connect", "network.protocol", "tls.handshake", "tls.chain",
          "tls.sni", "tls.alpn", "tls.client_cert", "mqtt.connect", "mqtt.round_trip"}) {
        const Finding* f = findingOf(r, id);
        ASSERT_NE(f, nullptr) << id << "\n" << dump(r);
        EXPECT_EQ(f->outcome, CheckOutcome::Ok) << id << "\n" << dump(r);
    }
    // Inside the daemon the doctor's CONNECT must not take the running route's client id.
    EXPECT_NE(findingOf(r, "mqtt.connect")->found.find("uplinkd-gen-doctor"), std::string::npos)
        << dump(r);
    EXPECT_NE(findingOf(r, "tls.chain")->found.find("CN="), std::string::npos) << dump(r);
}

TEST_F(DoctorNet, AMissingRootCaFailsTheChainAndNamesCaFile) {
    Mosquitto broker(dir, pki);
    const Pki other = makePki(dir.file("other"));
    const RouteReport r = doctorOf(genericRoute("gen", broker.port(), other.ca), "gen");
    expectFailAt(r, "tls.chain", "[routes.gen.tls] ca_file");
    EXPECT_NE(firstFail(r)->found.find("verify error"), std::string::npos) << dump(r);
}

TEST_F(DoctorNet, SniRequiredButNotSentFailsAtSniAndNamesServerName) {
    Mosquitto broker(dir, pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
    // The host is an IP address, so no SNI goes out, and the front end closes.
    const RouteReport r =
        doctorOf(genericTo("127.0.0.1", gate.port(), "ca_file = \"" + pki.ca + "\"\n"), "gen");
    expectFailAt(r, "tls.sni", "[routes.gen.tls] server_name");
}

TEST_F(DoctorNet, AClientCertificateRequiredAndNotConfiguredFailsAtClientCert) {
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(pki);
    const RouteReport r = doctorOf(genericRoute("gen", broker.port(), pki.ca), "gen");
    expectFailAt(r, "tls.client_cert", "[routes.gen.tls] cert_file");
    EXPECT_NE(firstFail(r)->found.find("alert"), std::string::npos) << dump(r);
}

TEST_F(DoctorNet, AClientCertificateFromAnotherCaFailsAtClientCert) {
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(pki);
    const Pki other = makePki(dir.file("other"), "gateway-1");
    const RouteReport r =
        doctorOf(genericRoute("gen", broker.port(), pki.ca,
                              "cert_file = \"" + other.client_cert + "\"\nkey_file = \"" +
                                  other.client_key + "\"\n"),
                 "gen");
    expectFailAt(r, "tls.client_cert", "[routes.gen.tls] cert_file");
    EXPECT_NE(firstFail(r)->found.find("unknown_ca"), std::string::npos) << dump(r);
}

TEST_F(DoctorNet, PlainMqttOnTheTlsPortFailsAtProtocolAndNamesPort) {
    Mosquitto broker = BrokerBuilder(dir).plain().start(pki);
    const RouteReport r = doctorOf(genericRoute("gen", broker.port(), pki.ca), "gen");
    expectFailAt(r, "network.protocol", "[routes.gen.cloud] port");
    EXPECT_NE(firstFail(r)->found.find("plain MQTT, not TLS"), std::string::npos) << dump(r);
    EXPECT_EQ(findingOf(r, "tls.handshake")->outcome, CheckOutcome::Skipped) << dump(r);
}

TEST_F(DoctorNet, TlsOnThePlainPortFailsAtProtocolAndNamesTls) {
    Mosquitto broker(dir, pki);
    const RouteReport r =
        doctorOf(genericRoute("gen", broker.port(), pki.ca, "", "tls = false"), "gen");
    expectFailAt(r, "network.protocol", "[routes.gen.cloud] tls");
    EXPECT_NE(firstFail(r)->found.find("speaks TLS"), std::string::npos) << dump(r);
}

TEST_F(DoctorNet, AwsLikeAlpnRequiredOn443FailsAtAlpnAndOffersBothWays) {
    Mosquitto broker(dir, pki);
    Haproxy gate(dir, broker.port(), Haproxy::alpnGate("x-amzn-mqtt-ca"));
    const RouteReport r = doctorOf(genericRoute("gen", gate.port(), pki.ca), "gen");
    expectFailAt(r, "tls.alpn", "[routes.gen.tls] alpn");
    EXPECT_NE(firstFail(r)->fix.find("x-amzn-mqtt-ca"), std::string::npos) << dump(r);
    EXPECT_NE(firstFail(r)->fix.find("8883"), std::string::npos) << dump(r);
}

TEST_F(DoctorNet, AWrongPasswordFailsTheConnectWithTheConnackAndNamesPasswordFile) {
    Mosquitto broker = BrokerBuilder(dir).passwords(kUser, kPassword).start(pki);
    const RouteReport r = doctorOf(
        genericRoute("gen", broker.port(), pki.ca, "", passwordCloud("wrong password")), "gen");
    expectFailAt(r, "mqtt.connect", "[routes.gen.cloud] password_file");
    EXPECT_NE(firstFail(r)->found.find("CONNACK 5"), std::string::npos) << dump(r);
    EXPECT_EQ(firstFail(r)->found.find("wrong password"), std::string::npos) << dump(r);
    // The right password connects (and, where the cloud names a topic, the round trip works).
    const RouteReport ok =
        doctorOf(genericRoute("gen", broker.port(), pki.ca, "", passwordCloud(kPassword)), "gen");
    EXPECT_TRUE(ok.ready()) << dump(ok);
    ASSERT_NE(findingOf(ok, "mqtt.round_trip"), nullptr) << dump(ok);
    EXPECT_NE(findingOf(ok, "mqtt.round_trip")->outcome, CheckOutcome::Fail) << dump(ok);
}

TEST_F(DoctorNet, AzureLikeATokenForAnotherDeviceFailsTheConnect) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens(false).start(pki);
    const std::string key_file = dir.file("dev.key");
    writeFile(key_file, std::string(kDeviceKey) + "\n", 0600);
    auto azure = [&](const std::string& device) {
        return "[routes.azure.cloud]\ntype = \"azure-iot-hub\"\nhub = \"" + std::string(kHub) +
               "\"\ndevice_id = \"" + device + "\"\nsas_key_file = \"" + key_file +
               "\"\ngateway_host = \"localhost\"\nport = " + std::to_string(broker.port()) +
               "\n[routes.azure.tls]\nca_file = \"" + pki.ca + "\"\n";
    };
    const RouteReport r = doctorOf(azure("dev2"), "azure");
    expectFailAt(r, "mqtt.connect", "[routes.azure.cloud] sas_key_file");
    EXPECT_NE(firstFail(r)->found.find("CONNACK 5"), std::string::npos) << dump(r);
    // The device's own token is taken, with its own client id even inside the daemon.
    const RouteReport ok = doctorOf(azure("dev1"), "azure", true);
    EXPECT_TRUE(ok.ready()) << dump(ok);
    EXPECT_NE(findingOf(ok, "mqtt.connect")->found.find("displaced"), std::string::npos)
        << dump(ok);
}

TEST_F(DoctorNet, AClosedPortFailsTheConnectAndNamesPort) {
    const uint16_t port = freePort();  // nothing listens there
    const RouteReport r = doctorOf(genericRoute("gen", port, pki.ca), "gen");
    expectFailAt(r, "network.connect", "[routes.gen.cloud] port");
    EXPECT_EQ(findingOf(r, "tls.handshake")->outcome, CheckOutcome::Skipped) << dump(r);
    EXPECT_EQ(findingOf(r, "mqtt.connect")->outcome, CheckOutcome::Skipped) << dump(r);
}

TEST_F(DoctorNet, AClosedPortNamesTheCloudsOtherWayInThatAnswers) {
    Mosquitto broker(dir, pki);
    EndpointAlternative alt;
    alt.label = "port " + std::to_string(broker.port()) + " (MQTT over WebSocket)";
    alt.endpoint.host = "localhost";
    alt.endpoint.port = broker.port();
    alt.setting = "port = " + std::to_string(broker.port());
    const RouteReport r =
        doctorOf(genericRoute("gen", freePort(), pki.ca), "gen", false, "", {alt});
    expectFailAt(r, "network.connect", "port = " + std::to_string(broker.port()));
    EXPECT_NE(firstFail(r)->found.find("answers"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace uplinkd::testing
