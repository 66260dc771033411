// SPDX-License-Identifier: Apache-2.0
// End to end through a modem: local app → uplinkd → modem driver plugin → AT commands over a pty
// → the modem emulator (which opens real TCP/TLS connections) → a real Mosquitto. For each driver
// plugin and both TLS modes; plus the certificate store, supervisor recovery and SNI.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "cli/api_client.hpp"
#include "modem/at_channel_impl.hpp"
#include "modem/serial_port.hpp"
#include "modem_emulator.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"
#include "tunnel/connect_request.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

struct DriverCase {
    std::string driver;  ///< plugin name
    std::string model;   ///< the emulator's --model
};

const DriverCase kHl78{"sierra-hl78", "hl78"};
const DriverCase kA76xx{"simcom-a76xx", "a76xx"};

/// The driver plugin must have been built: the test fails (it does not skip) when it is not.
void requireDriver(const DriverCase& d) {
    const std::string so = pluginDir() + "/uplinkd-modem-" + d.driver + ".so";
    ASSERT_TRUE(std::filesystem::exists(so))
        << so << " is missing: the modem driver plugin " << d.driver << " was not built";
}

/// The [uplinks.lte] table for the emulator, and a route "cloud" that uses only it.
std::string modemUplink(const DriverCase& d, const ModemEmulator& emu, const std::string& tls,
                        const std::string& extra = "") {
    std::ostringstream c;
    c << "[uplinks.lte]\ntype = \"modem\"\ndriver = \"" << d.driver << "\"\ndevice = \""
      << emu.device() << "\"\nbaud = 115200\nflow_control = false\ntls = \"" << tls
      << "\"\napn = \"internet\"\n"
      << extra << "\n[uplinks.lte.power]\nbackend = \"emulator\"\ncontrol_socket = \""
      << emu.controlSocket() << "\"\nboot_wait_ms = 200\n"
      << "[routes.cloud]\nuplinks = [\"lte\"]\n";
    return c.str();
}

json publishRequest(int id, const std::string& topic, const std::string& payload,
                    bool delivered = true) {
    json r{{"op", "publish"},
           {"id", id},
           {"route", "cloud"},
           {"topic", topic},
           {"qos", 1},
           {"report_delivered", delivered},
           {"payload_b64", base64Encode(payload)}};
    return r;
}

json api(const Daemon& d, const json& request, std::chrono::milliseconds timeout = 60s) {
    ApiClient c;
    if (!c.connect(d.socket())) {
        ADD_FAILURE() << "cannot connect to the API";
        return {};
    }
    if (!c.send(request)) {
        return {};
    }
    auto r = c.receive(timeout);
    return r ? *r : json{};
}

bool waitForLog(const Daemon& d, const std::function<bool(const std::string&)>& pred,
                std::chrono::milliseconds timeout) {
    return waitUntil([&] { return pred(d.log()); }, timeout);
}

std::string randomBytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) {
        c = static_cast<char>(rng() & 0xff);
    }
    return s;
}

/// Bytes that data phases and line framing could trip over.
std::string trickyBytes() {
    std::string s;
    for (int i = 0; i < 256; ++i) {
        s += static_cast<char>(i);
    }
    s += "\r\nOK\r\n\r\nERROR\r\n--EOF--Pattern--\r\n> \x1a\x1b+++\r\nCONNECT\r\n";
    s += std::string("\0\0\r", 3);
    return s;
}

// ---------------------------------------------------------------------------------------------

struct Param {
    DriverCase driver;
    std::string tls;
};

void PrintTo(const Param& p, std::ostream* os) {
    *os << p.driver.driver << "/" << p.tls;
}

class ModemEndToEnd : public ::testing::TestWithParam<Param> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_P(ModemEndToEnd, PayloadsArriveUnchanged) {
    const Param& p = GetParam();
    requireDriver(p.driver);
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "m/#");
    ModemEmulator emu(dir, p.driver.model);
    Daemon d(dir, modemUplink(p.driver, emu, p.tls) + genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));

    const std::vector<std::pair<std::string, std::string>> cases{
        {"m/text",
         "21.5 \xc2\xb0"
         "C from the modem"},
        {"m/binary", trickyBytes()},
        {"m/large", randomBytes(5 * 1024, 7)},  // larger than one AT send
    };
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    int id = 1;
    for (const auto& [topic, payload] : cases) {
        ASSERT_TRUE(c.send(publishRequest(id, topic, payload)));
        auto q = awaitApiReply(c, id, "queued");
        ASSERT_EQ(q["status"], "queued") << q.dump();
        auto del = awaitApiReply(c, id, "delivered", 90s);
        ASSERT_EQ(del["status"], "delivered") << del.dump();
        ++id;
    }
    ASSERT_TRUE(sub.waitFor(cases.size(), 30s));
    std::map<std::string, std::string> got = sub.payloadsByTopic();
    for (const auto& [topic, payload] : cases) {
        ASSERT_TRUE(got.count(topic)) << topic;
        EXPECT_EQ(got[topic].size(), payload.size()) << topic;
        EXPECT_TRUE(got[topic] == payload) << topic << " arrived changed";
    }

    // The route says which uplink it uses, and the module identifies itself.
    EXPECT_NE(d.routeStatus("cloud")["uplink"].get<std::string>().find("modem lte"),
              std::string::npos);
    const json info = api(d, {{"op", "modem_info"}, {"id", 1}});
    ASSERT_EQ(info["status"], "ok") << info.dump();
    EXPECT_EQ(info["modem"]["state"], "ready") << info.dump();
    EXPECT_FALSE(info["modem"]["model"].get<std::string>().empty()) << info.dump();
    EXPECT_GT(info["modem"]["bytes_written"].get<uint64_t>(), 5u * 1024) << info.dump();
    const json at = api(d, {{"op", "modem_at"}, {"id", 2}, {"command", "AT+CSQ"}});
    ASSERT_EQ(at["status"], "ok") << at.dump();
    EXPECT_EQ(at["final"], "OK");
    ASSERT_FALSE(at["lines"].empty()) << at.dump();
    EXPECT_EQ(at["lines"][0].get<std::string>().rfind("+CSQ:", 0), 0u) << at.dump();
}

INSTANTIATE_TEST_SUITE_P(Drivers, ModemEndToEnd,
                         ::testing::Values(Param{kHl78, "local"}, Param{kHl78, "modem"},
                                           Param{kA76xx, "local"}, Param{kA76xx, "modem"}),
                         [](const ::testing::TestParamInfo<Param>& p) {
                             std::string n = p.param.driver.model + "_tls_" + p.param.tls;
                             return n;
                         });

// ---------------------------------------------------------------------------------------------

class ModemTest : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_F(ModemTest, Hl78WithoutTheRootCaInItsStoreIsRefusedAndTheErrorNamesTheCa) {
    requireDriver(kHl78);
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "m/#");
    ModemEmulator emu(dir, "hl78");
    Daemon d(dir, modemUplink(kHl78, emu, "modem") + genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));

    // Someone erases the module's root certificates; then the connection drops.
    const json del = api(d, {{"op", "modem_at"}, {"id", 1}, {"command", "AT+KCERTDELETE=0"}});
    ASSERT_EQ(del["status"], "ok") << del.dump();
    ASSERT_EQ(del["final"], "OK") << del.dump();
    ASSERT_EQ(emu.control("fault drop-link"), "ok fault drop-link");

    // The secure socket is refused, and the route's error names the CA that is missing.
    std::string line;
    ASSERT_TRUE(waitForLog(
        d,
        [&](const std::string& log) {
            std::istringstream in(log);
            for (std::string l; std::getline(in, l);) {
                if (l.find("route cloud") != std::string::npos &&
                    l.find("uplinkd test CA") != std::string::npos) {
                    line = l;
                    return true;
                }
            }
            return false;
        },
        90s))
        << d.log();
    EXPECT_NE(line.find(pki.ca), std::string::npos) << line;
    EXPECT_NE(line.find("root CA"), std::string::npos) << line;

    // uplinkd writes the CA into the module again and the route comes back.
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.send(publishRequest(1, "m/after", "again")));
    EXPECT_EQ(awaitApiReply(c, 1, "delivered")["status"], "delivered");
    ASSERT_TRUE(sub.waitFor(1, 30s));
}

class ModemRecovery : public ::testing::TestWithParam<DriverCase> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_P(ModemRecovery, ASilentModemIsResetAndNoQueuedMessageIsLost) {
    const DriverCase& drv = GetParam();
    requireDriver(drv);
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "r/#");
    ModemEmulator emu(dir, drv.model);
    Daemon d(dir, modemUplink(drv, emu, "local", "health_check_ms = 2000\n") +
                      genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));

    constexpr int kCount = 120;
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    std::string batch;
    for (int i = 0; i < kCount; ++i) {
        std::string payload = "msg-" + std::to_string(i) + "-";
        payload.resize(200, 'x');
        batch += publishRequest(i, "r/" + std::to_string(i % 4), payload, false).dump() + "\n";
    }
    ASSERT_TRUE(c.sendRaw(batch));
    std::set<int> queued;
    while (queued.size() < kCount) {
        auto r = c.receive(30s);
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_EQ((*r)["status"], "queued") << r->dump();
        queued.insert((*r)["id"].get<int>());
    }
    // Mid-stream, the module stops answering anything.
    ASSERT_TRUE(sub.waitFor(5, 60s));
    ASSERT_EQ(emu.control("fault silent"), "ok fault silent");
    const size_t at_fault = sub.messages().size();
    EXPECT_LT(at_fault, static_cast<size_t>(kCount)) << "the stream ended before the fault";

    ASSERT_TRUE(waitUntil(
        [&] {
            std::set<std::string> got;
            for (const auto& m : sub.messages()) {
                got.insert(m.payload.substr(0, m.payload.find('x')));
            }
            return got.size() == static_cast<size_t>(kCount);
        },
        180s))
        << sub.messages().size() << " message(s) arrived; " << d.routeStatus("cloud").dump();
    EXPECT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["queued"] == 0; }, 30s))
        << d.routeStatus("cloud").dump();

    const json info = api(d, {{"op", "modem_info"}, {"id", 1}});
    ASSERT_EQ(info["status"], "ok") << info.dump();
    EXPECT_GE(info["modem"]["recoveries"].get<uint64_t>(), 1u) << info.dump();
    EXPECT_EQ(info["modem"]["state"], "ready") << info.dump();
    EXPECT_EQ(emu.status()["silent"], false);
    // While the module was recovering, the route said so and waited.
    EXPECT_NE(d.log().find("modem recovering"), std::string::npos) << d.log();
}

INSTANTIATE_TEST_SUITE_P(Drivers, ModemRecovery, ::testing::Values(kHl78, kA76xx),
                         [](const ::testing::TestParamInfo<DriverCase>& p) {
                             return p.param.model;
                         });

// ---------------------------------------------------------------------------------------------

/// HAProxy in TCP mode that passes a TLS connection to the broker only when its SNI is
/// "localhost" (like HiveMQ Cloud and AWS, which route on SNI); anything else is closed.
class SniGate {
  public:
    SniGate(const TempDir& dir, uint16_t broker_port) : port_(freePort()) {
        std::ostringstream c;
        c << "global\n  maxconn 100\n"
          << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
          << "  timeout server 60s\n"
          << "frontend gate\n  bind 127.0.0.1:" << port_ << "\n"
          << "  tcp-request inspect-delay 5s\n"
          << "  tcp-request content reject if !{ req.ssl_hello_type 1 }\n"
          << "  tcp-request content reject if !{ req.ssl_sni -i localhost }\n"
          << "  default_backend broker\n"
          << "backend broker\n  server mosquitto 127.0.0.1:" << broker_port << "\n";
        const std::string conf = dir.file("haproxy.cfg");
        writeFile(conf, c.str());
        process_ = std::make_unique<Process>(std::vector<std::string>{"haproxy", "-db", "-f", conf},
                                             dir.file("haproxy.log"));
        if (!waitForPort(port_, 10s)) {
            ADD_FAILURE() << "haproxy did not start (is it installed?):\n" << process_->log();
        }
    }
    uint16_t port() const { return port_; }

  private:
    uint16_t port_;
    std::unique_ptr<Process> process_;
};

/// Passes everything to the real channel, but has the module's SSL context leave SNI off: the
/// A76xx driver always turns it on (a constant), so this stands for a module set up without it.
class SniOffChannel final : public AtChannel {
  public:
    explicit SniOffChannel(AtChannel& inner) : inner_(inner) {}
    int rewritten = 0;

    void command(const std::string& command, std::chrono::milliseconds timeout,
                 Done done) override {
        inner_.command(rewrite(command), timeout, std::move(done));
    }
    void commandWithData(const std::string& command, const AtDataWrite& write,
                         std::chrono::milliseconds timeout, Done done) override {
        inner_.commandWithData(rewrite(command), write, timeout, std::move(done));
    }
    void commandReadingData(const std::string& command, const AtDataRead& read,
                            std::chrono::milliseconds timeout, Done done) override {
        inner_.commandReadingData(rewrite(command), read, timeout, std::move(done));
    }
    void onUrc(const std::string& prefix, UrcHandler handler) override {
        inner_.onUrc(prefix, std::move(handler));
    }
    void onUrcWithData(
        const std::string& prefix, std::function<size_t(const std::string&)> count,
        std::function<void(const std::string& line, std::string data)> handler) override {
        inner_.onUrcWithData(prefix, std::move(count), std::move(handler));
    }
    void onBoot(const std::string& prefix, UrcHandler handler) override {
        inner_.onBoot(prefix, std::move(handler));
    }
    void reset() override { inner_.reset(); }
    uint64_t bytesWritten() const override { return inner_.bytesWritten(); }
    uint64_t bytesRead() const override { return inner_.bytesRead(); }

  private:
    std::string rewrite(const std::string& command) {
        const std::string key = "AT+CSSLCFG=\"enableSNI\",";
        if (command.rfind(key, 0) == 0 && command.ends_with(",1")) {
            ++rewritten;
            return command.substr(0, command.size() - 1) + "0";
        }
        return command;
    }
    AtChannel& inner_;
};

/// Runs the A76xx driver in this process over the emulator, optionally with SNI left off, and
/// opens a TLS socket in the module to host:port.
Result<ByteStreamPtr> openA76xxTls(const ModemEmulator& emu, const Pki& pki, uint16_t port,
                                   bool sni_off, int* rewritten) {
    asio::io_context loop;
    auto run = [&](const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 90s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            loop.run_one_for(20ms);
        }
        return done();
    };
    PluginRegistry plugins;
    plugins.loadDirectory(pluginDir());
    const ModemPluginApi* api = plugins.modem(kA76xx.driver);
    if (api == nullptr) {
        return fail("test", "no " + kA76xx.driver + " plugin in " + pluginDir());
    }
    auto line = SerialPort::open(loop, {emu.device(), 115200, false});
    if (!line) {
        return line.failure();
    }
    SerialAtChannel channel(loop);
    channel.attach(**line);
    SniOffChannel sni_off_channel(channel);
    AtChannel& at = sni_off ? static_cast<AtChannel&>(sni_off_channel) : channel;
    ModemSettings settings;
    settings.apn = "internet";
    auto driver = api->create(loop, at, settings);
    if (!driver) {
        return driver.failure();
    }
    // As the supervisor does: wait until the module answers (it boots after the emulator starts).
    bool answers = false;
    for (int i = 0; i < 20 && !answers; ++i) {
        std::optional<Result<AtResponse>> probe;
        channel.probe(500ms, [&](Result<AtResponse> r) { probe = std::move(r); });
        run([&] { return probe.has_value(); });
        answers = probe && *probe;
    }
    std::optional<Status> started;
    (*driver)->start([&](Status s) { started = std::move(s); });
    if (!run([&] { return started.has_value(); }) || !*started) {
        return fail("test", "driver start: " + (started ? started->error().message : "timeout"));
    }
    std::optional<Status> provisioned;
    (*driver)->provision(ModemCredentials{readFile(pki.ca), "", ""},
                         [&](Status s) { provisioned = std::move(s); });
    if (!run([&] { return provisioned.has_value(); }) || !*provisioned) {
        return fail("test",
                    "provision: " + (provisioned ? provisioned->error().message : "timeout"));
    }
    std::optional<Result<ByteStreamPtr>> opened;
    (*driver)->open(ModemSocketRequest{"localhost", port, true, "localhost"},
                    [&](Result<ByteStreamPtr> r) { opened = std::move(r); });
    if (!run([&] { return opened.has_value(); })) {
        return fail("test", "open: no answer");
    }
    *rewritten = sni_off_channel.rewritten;
    Result<ByteStreamPtr> out = std::move(*opened);
    if (out) {
        out.value()->close();
    }
    driver.value().reset();
    channel.clearUrcHandlers();
    channel.detach();
    return out;
}

TEST_F(ModemTest, A76xxModuleTlsWithoutSniIsRefusedBehindAnSniGateAndTheErrorSaysSni) {
    requireDriver(kA76xx);
    Mosquitto broker(dir, pki);
    SniGate gate(dir, broker.port());
    ModemEmulator emu(dir, "a76xx");
    int rewritten = 0;
    auto refused = openA76xxTls(emu, pki, gate.port(), /*sni_off=*/true, &rewritten);
    EXPECT_GE(rewritten, 1) << "the driver did not set enableSNI";
    ASSERT_FALSE(refused) << "the SNI gate let a connection without SNI through";
    EXPECT_NE(refused.error().message.find("SNI"), std::string::npos) << refused.error().message;
    // The same module with the driver's own settings (SNI on) gets through the same gate.
    auto passed = openA76xxTls(emu, pki, gate.port(), /*sni_off=*/false, &rewritten);
    EXPECT_TRUE(passed) << passed.error().message;
}

TEST_F(ModemTest, A76xxBehindAnSniGateWorksWithModuleSniOnAndWithLocalTls) {
    requireDriver(kA76xx);
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "g/#");
    SniGate gate(dir, broker.port());
    for (const std::string tls : {"modem", "local"}) {
        SCOPED_TRACE("tls = " + tls);
        TempDir run;
        ModemEmulator emu(run, "a76xx");
        Daemon d(run, modemUplink(kA76xx, emu, tls) + genericRoute("cloud", gate.port(), pki.ca));
        ASSERT_TRUE(routeOnline(d, "cloud", 90s));
        ApiClient c;
        ASSERT_TRUE(c.connect(d.socket()));
        ASSERT_TRUE(c.send(publishRequest(1, "g/" + tls, "through the gate")));
        EXPECT_EQ(awaitApiReply(c, 1, "delivered")["status"], "delivered");
    }
    ASSERT_TRUE(sub.waitFor(2, 30s));
}

}  // namespace
}  // namespace uplinkd::testing
