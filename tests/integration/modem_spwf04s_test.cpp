// SPDX-License-Identifier: Apache-2.0
// End to end through an ST SPWF04S: local app → uplinkd → st-spwf04s → AT+S. commands over a
// pty → the modem emulator's spwf04s model (real TCP/TLS on the host) → an Azure IoT Hub
// look-alike (Mosquitto with the SAS plugin). TLS by the module, TLS by uplinkd over the module's
// socket, and the module's MQTT client; text and binary payloads, QoS 0 and 1, a message from
// the cloud to a local subscriber, SAS renewal, a broker restart, the intermediate-as-root trap
// refused before anything is written to the module, and the short socket commands of a
// reconnect after the link dropped.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <vector>

#include "broker_builder.hpp"
#include "cli/api_client.hpp"
#include "modem_emulator.hpp"
#include "test_env.hpp"
#include "tunnel/connect_request.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

constexpr const char* kSsid = "plant-wifi";
constexpr const char* kPsk = "plant-pass-2024";
constexpr const char* kEvents = "devices/dev1/messages/events/";

const DriverCase kSpwfCase{"st-spwf04s", "spwf04s",      "+WIND:0:Console active",
                           "AT+S.SOCKW", "AT+S.SOCKON=", "AT+S.WIFI=1"};

/// A payload of every byte value and the SPWF04's own framing words.
std::string binaryPayload() {
    std::string s = everyByteValue();
    s += "\r\nAT-S.OK\r\nAT-S.ERROR:44:x\r\n+WIND:0:Console active\r\nAT-S.Reading:5:5\r\n";
    s += "+WIND:86:MQTT Published:0:t:3\r\n+WIND:58:Socket Closed:0:1\r\n";
    return s;
}

json publish(int id, const std::string& topic, const std::string& payload, int qos) {
    json r{{"op", "publish"}, {"id", id},   {"route", "azure"},
           {"topic", topic},  {"qos", qos}, {"payload_b64", base64Encode(payload)}};
    if (qos == 1) {
        r["report_delivered"] = true;
    }
    return r;
}

/// Who does TLS and MQTT on the route.
struct Mode {
    const char* name;
    const char* tls;   ///< "modem": TLS by the module; "local": by uplinkd over the module's socket
    const char* mqtt;  ///< "uplinkd": Paho through the tunnel; "modem": the module's MQTT client
};
const Mode kModes[] = {
    {"TlsByTheModule", "modem", "uplinkd"},
    {"TlsByUplinkd", "local", "uplinkd"},
    {"MqttByTheModule", "modem", "modem"},
};
void PrintTo(const Mode& m, std::ostream* os) {
    *os << m.name;
}

class Spwf04s : public ::testing::Test {
  protected:
    void SetUp() override {
        requireDriverPlugin(kSpwfCase);
        ASSERT_NO_FATAL_FAILURE(joinable());
    }

    /// The emulator's access point: the SSID and passphrase the module can join.
    void joinable() {
        const std::string r = emu.control(std::string("ap ") + kSsid + " " + kPsk);
        ASSERT_EQ(r.substr(0, 2), "ok") << r;
    }

    /// The Wi-Fi uplink on the emulator and route "azure" (Azure IoT Hub with a SAS key) over
    /// it; `ca_file` empty: the test CA.
    std::string config(uint16_t port, const std::string& tls, const std::string& mqtt,
                       const std::string& extra_cloud = "", const std::string& ca_file = "") {
        const std::string psk_file = dir.file("wifi.psk");
        writeFile(psk_file, std::string(kPsk) + "\n", 0600);
        const std::string key_file = dir.file("dev1.key");
        writeFile(key_file, std::string(kDeviceKey) + "\n", 0600);
        std::ostringstream c;
        c << "[uplinks.wifi]\ntype = \"modem\"\ndriver = \"st-spwf04s\"\ndevice = \""
          << emu.device() << "\"\nbaud = 115200\nflow_control = false\ntls = \"" << tls
          << "\"\nssid = \"" << kSsid << "\"\npsk_file = \"" << psk_file
          << "\"\nhealth_check_ms = 1000\n[uplinks.wifi.power]\nbackend = \"emulator\"\n"
          << "control_socket = \"" << emu.controlSocket() << "\"\nboot_wait_ms = 200\n"
          << "[routes.azure]\nuplinks = [\"wifi\"]\nmqtt = \"" << mqtt << "\"\n"
          << "[routes.azure.cloud]\ntype = \"azure-iot-hub\"\nhub = \"" << kHub
          << "\"\ndevice_id = \"" << kDevice << "\"\nsas_key_file = \"" << key_file
          << "\"\ngateway_host = \"localhost\"\nport = " << port << "\n"
          << extra_cloud << "[routes.azure.tls]\nca_file = \""
          << (ca_file.empty() ? pki.ca : ca_file) << "\"\n"
          << "[routes.azure.delivery]\nbackoff_min_ms = 100\nbackoff_max_ms = 1000\n"
          << "refused_backoff_ms = 1000\n";
        return c.str();
    }

    bool online(Daemon& d, std::chrono::milliseconds timeout = 40s) {
        return d.waitRoute(
            "azure", [](const json& s) { return s["state"] == "online"; }, timeout);
    }

    /// Text and binary payloads at QoS 0 and 1 reach the hub's service side unchanged, and a
    /// binary message from the cloud reaches a local subscriber.
    void exercise(Daemon& d, Mosquitto& broker) {
        Subscriber service(pki, broker.port(), std::string(kEvents) + "#", azureServiceClient());
        ASSERT_TRUE(online(d)) << d.routeStatus("azure").dump() << "\n" << d.log();
        const std::vector<std::pair<std::string, int>> sends{
            {"21.5", 1}, {binaryPayload(), 1}, {"22.0", 0}, {binaryPayload() + "q0", 0}};
        ApiClient c;
        ASSERT_TRUE(c.connect(d.socket()));
        for (size_t i = 0; i < sends.size(); ++i) {
            ASSERT_TRUE(c.send(publish(static_cast<int>(i), "t/" + std::to_string(i),
                                       sends[i].first, sends[i].second)));
            if (sends[i].second == 1) {
                const json r = awaitApiReply(c, static_cast<int>(i), "delivered", 40s);
                ASSERT_EQ(r["status"], "delivered") << r.dump() << "\n" << d.log();
            }
        }
        ASSERT_TRUE(service.waitFor(sends.size(), 30s)) << service.messages().size();
        std::set<std::string> got;
        for (const auto& m : service.messages()) {
            got.insert(m.payload);
        }
        for (const auto& [payload, qos] : sends) {
            EXPECT_EQ(got.count(payload), 1u) << "a QoS " << qos << " payload of " << payload.size()
                                              << " bytes did not arrive intact";
        }

        // Cloud to device: the route's subscription is in place, then a binary command.
        ApiClient local;
        ASSERT_TRUE(local.connect(d.socket()));
        ASSERT_TRUE(local.send({{"op", "subscribe"},
                                {"id", "sub"},
                                {"route", "azure"},
                                {"filter", "cmd/#"},
                                {"qos", 1}}));
        ASSERT_EQ(awaitApiReply(local, "sub", "ok", 30s)["status"], "ok");
        ASSERT_TRUE(waitUntil(
            [&] { return broker.log().find("Sending SUBACK to dev1") != std::string::npos; }, 30s))
            << broker.log();
        Subscriber::Options c2d = azureServiceClient();
        c2d.client_id = "service-c2d";  // beside the reader of the telemetry
        Subscriber cloud(pki, broker.port(), "nothing/here", c2d);
        const std::string command = binaryPayload() + "c2d";
        cloud.publish("devices/dev1/messages/devicebound/topic=cmd%2Fgo", command, 1);
        json ev;
        while (true) {
            auto r = local.receive(30s);
            ASSERT_TRUE(r) << "no message from the cloud: " << r.error().message << "\n" << d.log();
            if ((*r)["event"] == "message") {
                ev = *r;
                break;
            }
        }
        EXPECT_EQ(ev["topic"], "cmd/go") << ev.dump();
        const std::string got_payload =
            ev.contains("payload_b64")
                ? [&] {
                      auto bytes = uplinkd::base64Decode(ev["payload_b64"].get<std::string>());
                      return bytes ? *bytes : std::string("?");
                  }()
                : ev["payload"].get<std::string>();
        EXPECT_EQ(got_payload, command) << ev.dump();
        // The driver kept to the module's protocol throughout.
        const json st = emu.status();
        EXPECT_EQ(st["misuse"], 0) << st.dump();
    }

    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    ModemEmulator emu{dir, "spwf04s", 0};
};

class Spwf04sModes : public Spwf04s, public ::testing::WithParamInterface<Mode> {
  protected:
    std::string modeConfig(uint16_t port, const std::string& extra_cloud = "") {
        return config(port, GetParam().tls, GetParam().mqtt, extra_cloud);
    }
};

TEST_P(Spwf04sModes, CarriesTextAndBinaryAtQos0And1BothWays) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    Daemon d(dir, modeConfig(broker.port()));
    exercise(d, broker);
    const std::string trace = emu.trace();
    const bool module_tls = std::string(GetParam().tls) == "modem";
    EXPECT_EQ(trace.find("AT+S.TLSCERT=ca,") != std::string::npos, module_tls)
        << "the root CA is provisioned exactly when the module does TLS";
    if (std::string(GetParam().mqtt) == "modem") {
        EXPECT_NE(trace.find("AT+S.MQTTPUB="), std::string::npos);
    } else {
        EXPECT_NE(trace.find("AT+S.SOCKW="), std::string::npos);
        // Reads go by the counts of the pending-data events: AT+S.SOCKQ only when an event
        // crossed a read (never for the first one), not before every read.
        EXPECT_LT(occurrences(trace, "> AT+S.SOCKQ="), occurrences(trace, "> AT+S.SOCKR="))
            << trace;
    }
    EXPECT_EQ(d.log().find(kPsk), std::string::npos) << "the passphrase reached the log";
    EXPECT_EQ(d.log().find("SharedAccessSignature"), std::string::npos);
}

TEST_P(Spwf04sModes, SasTokensAreRenewedWithoutARefusal) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    Subscriber service(pki, broker.port(), std::string(kEvents) + "#", azureServiceClient());
    Daemon d(dir, modeConfig(broker.port(), "sas_token_lifetime_seconds = 10\n"));
    ASSERT_TRUE(online(d)) << d.routeStatus("azure").dump() << "\n" << d.log();
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    // Over about three token lifetimes, each message delivered before the next.
    constexpr int kCount = 11;
    for (int i = 0; i < kCount; ++i) {
        ASSERT_TRUE(c.send(publish(i, "seq", "m" + std::to_string(i), 1)));
        const json r = awaitApiReply(c, i, "delivered", 30s);
        ASSERT_EQ(r["status"], "delivered") << r.dump() << "\n" << d.log();
        waitUntil([] { return false; }, 2s);  // the pace of the stream
    }
    ASSERT_TRUE(service.waitFor(kCount, 20s)) << service.messages().size();
    const std::string log = broker.log();
    EXPECT_EQ(occurrences(log, "azure-sas-auth: refused client"), 0u) << log;
    EXPECT_EQ(occurrences(log, "expired; disconnecting"), 0u) << log;
    EXPECT_GE(occurrences(log, "azure-sas-auth: accepted \"dev1\""), 2u) << log;
}

TEST_P(Spwf04sModes, ABrokerRestartLosesNoQueuedMessage) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().persistent().start(pki);
    auto service = std::make_unique<Subscriber>(pki, broker.port(), std::string(kEvents) + "#",
                                                azureServiceClient(true));
    Daemon d(dir, modeConfig(broker.port()));
    ASSERT_TRUE(online(d)) << d.routeStatus("azure").dump() << "\n" << d.log();
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.send(publish(0, "seq", "before", 1)));
    ASSERT_EQ(awaitApiReply(c, 0, "delivered", 30s)["status"], "delivered");
    ASSERT_TRUE(service->waitFor(1, 20s));
    service.reset();

    broker.stop();
    ASSERT_TRUE(d.waitRoute(
        "azure", [](const json& s) { return s["state"] != "online"; }, 30s))
        << d.routeStatus("azure").dump();
    constexpr int kQueued = 8;
    for (int i = 1; i <= kQueued; ++i) {
        ASSERT_TRUE(c.send(publish(i, "seq", "queued" + std::to_string(i), 1)));
    }
    broker.restart();
    Subscriber resumed(pki, broker.port(), std::string(kEvents) + "#", azureServiceClient(true));
    for (int i = 1; i <= kQueued; ++i) {
        const json r = awaitApiReply(c, i, "delivered", 40s);
        ASSERT_EQ(r["status"], "delivered") << r.dump() << "\n" << d.log();
    }
    ASSERT_TRUE(waitUntil(
        [&] {
            std::set<std::string> got;
            for (const auto& m : resumed.messages()) {
                got.insert(m.payload);
            }
            for (int i = 1; i <= kQueued; ++i) {
                if (!got.count("queued" + std::to_string(i))) {
                    return false;
                }
            }
            return true;
        },
        30s))
        << resumed.messages().size() << " arrived\n"
        << broker.log();
}

INSTANTIATE_TEST_SUITE_P(Modes, Spwf04sModes, ::testing::ValuesIn(kModes),
                         [](const ::testing::TestParamInfo<Mode>& p) { return p.param.name; });

/// The AT commands the host sent in `trace` that start with `prefix` (what follows it).
std::vector<std::string> sent(const std::string& trace, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(trace);
    const std::string marker = "> " + prefix;
    for (std::string line; std::getline(in, line);) {
        const size_t at = line.find(marker);
        if (at != std::string::npos) {
            out.push_back(line.substr(at + marker.size()));
        }
    }
    return out;
}

TEST_F(Spwf04s, AReconnectAfterTheLinkDroppedSendsTheShortSocketCommands) {
    // TLS by uplinkd over the module's socket: the reconnect after the peer dropped the link
    // opens the socket without the "NULL" TLS-name field and reads the counted bytes without
    // a length (the module gives what it holds), and the route carries messages again.
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    Subscriber service(pki, broker.port(), std::string(kEvents) + "#", azureServiceClient());
    Daemon d(dir, config(broker.port(), "local", "uplinkd"));
    ASSERT_TRUE(online(d)) << d.routeStatus("azure").dump() << "\n" << d.log();
    const uint64_t connects = d.routeStatus("azure")["connects"].get<uint64_t>();
    const size_t mark = emu.trace().size();
    ASSERT_EQ(emu.control("fault drop-link"), "ok fault drop-link");
    ASSERT_TRUE(d.waitRoute(
        "azure",
        [&](const json& s) {
            return s["state"] == "online" && s["connects"].get<uint64_t>() > connects;
        },
        60s))
        << d.routeStatus("azure").dump() << "\n"
        << d.log();
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.send(publish(1, "after-drop", "21.5", 1)));
    ASSERT_EQ(awaitApiReply(c, 1, "delivered", 40s)["status"], "delivered") << d.log();
    ASSERT_TRUE(service.waitFor(1, 20s));

    const std::string trace = emu.trace().substr(mark);
    const auto opens = sent(trace, "AT+S.SOCKON=");
    ASSERT_FALSE(opens.empty()) << trace;
    for (const auto& o : opens) {
        EXPECT_TRUE(o.ends_with(",,t")) << "AT+S.SOCKON=" << o;
        EXPECT_EQ(o.find("NULL"), std::string::npos) << "AT+S.SOCKON=" << o;
    }
    const auto reads = sent(trace, "AT+S.SOCKR=");
    ASSERT_FALSE(reads.empty()) << trace;
    for (const auto& r : reads) {
        // A length only for a read of more than one chunk holds.
        EXPECT_TRUE(r.find(',') == std::string::npos || r.ends_with(",1460"))
            << "AT+S.SOCKR=" << r << "\n"
            << trace;
    }
    EXPECT_EQ(emu.status()["misuse"], 0) << emu.status().dump();
}

TEST_F(Spwf04s, AnIntermediateGivenAsTheRootIsRefusedBeforeUpload) {
    // An intermediate CA signed by the test root, given as tls.ca_file.
    const std::string p = dir.file("int");
    std::filesystem::create_directories(p);
    writeFile(p + "/make.sh",
              "set -e\ncd " + p +
                  "\nopenssl ecparam -name prime256v1 -genkey -noout -out int.key\n"
                  "openssl req -new -key int.key -subj '/CN=uplinkd intermediate' -out int.csr\n"
                  "printf 'basicConstraints=critical,CA:TRUE\\n' > ca.ext\n"
                  "openssl x509 -req -in int.csr -CA " +
                  pki.ca + " -CAkey " + pki.dir +
                  "/ca.key -CAcreateserial -days 30 -extfile ca.ext -out int.crt\n");
    ASSERT_EQ(std::system(("bash " + p + "/make.sh >/dev/null 2>&1").c_str()), 0);
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    Daemon d(dir, config(broker.port(), "modem", "uplinkd", "", p + "/int.crt"));
    json st;
    // uplinkd or the driver refuses it, naming the root CA that is needed.
    ASSERT_TRUE(routeReaches(
        d, "azure",
        [](const json& s) {
            return s["last_error"].get<std::string>().find("CN=uplinkd intermediate") !=
                   std::string::npos;
        },
        40s, &st))
        << d.log();
    const std::string root = "CN=uplinkd test CA";
    EXPECT_NE(st["last_error"].get<std::string>().find("root CA \"" + root + "\""),
              std::string::npos)
        << st["last_error"];
    EXPECT_EQ(emu.trace().find("AT+S.TLSCERT=ca"), std::string::npos)
        << "the intermediate was written to the module";
}

}  // namespace
}  // namespace uplinkd::testing
