// SPDX-License-Identifier: Apache-2.0
// End to end through a modem: local app → uplinkd → modem driver plugin → AT commands over a pty
// → the modem emulator (which opens real TCP/TLS connections) → a real Mosquitto. For each driver
// plugin and both TLS modes; plus the certificate store, supervisor recovery and SNI.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "cli/api_client.hpp"
#include "driver_in_process.hpp"
#include "modem_emulator.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

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
    std::string s = everyByteValue();
    s += "\r\nOK\r\n\r\nERROR\r\n--EOF--Pattern--\r\n> \x1a\x1b+++\r\nCONNECT\r\n";
    s += std::string("\0\0\r", 3);
    return s;
}

// ---------------------------------------------------------------------------------------------

using ModemEndToEnd = EmulatorTest<DriverTls>;

TEST_P(ModemEndToEnd, PayloadsArriveUnchanged) {
    const DriverTls& p = GetParam();
    EmulatedRoute r(dir, pki, p.driver, p.tls, "m/#");
    auto& [broker, sub, emu, d] = r;
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
        ASSERT_TRUE(c.send(modemPublishRequest(id, topic, payload)));
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

INSTANTIATE_TEST_SUITE_P(Drivers, ModemEndToEnd, ::testing::ValuesIn(kCellularDriverTls),
                         driverTlsName);

// ---------------------------------------------------------------------------------------------

using ModemTest = PkiTest;

TEST_F(ModemTest, Hl78WithoutTheRootCaInItsStoreIsRefusedAndTheErrorNamesTheCa) {
    requireDriverPlugin(kHl78Case);
    EmulatedRoute r(dir, pki, kHl78Case, "modem", "m/#");
    auto& [broker, sub, emu, d] = r;
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
    ASSERT_TRUE(c.send(modemPublishRequest(1, "m/after", "again")));
    EXPECT_EQ(awaitApiReply(c, 1, "delivered")["status"], "delivered");
    ASSERT_TRUE(sub.waitFor(1, 30s));
}

using ModemRecovery = EmulatorTest<DriverCase>;

TEST_P(ModemRecovery, ASilentModemIsResetAndNoQueuedMessageIsLost) {
    const DriverCase& drv = GetParam();
    EmulatedRoute r(dir, pki, drv, "local", "r/#", 2000);
    auto& [broker, sub, emu, d] = r;
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));

    constexpr int kCount = 120;
    ASSERT_NO_FATAL_FAILURE(queueNumbered(d, "r", kCount, 200));
    // Mid-stream, the module stops answering anything.
    ASSERT_TRUE(sub.waitFor(5, 60s));
    ASSERT_EQ(emu.control("fault silent"), "ok fault silent");
    const size_t at_fault = sub.messages().size();
    EXPECT_LT(at_fault, static_cast<size_t>(kCount)) << "the stream ended before the fault";

    ASSERT_TRUE(
        waitUntil([&] { return numberedArrived(sub) == static_cast<size_t>(kCount); }, 180s))
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

INSTANTIATE_TEST_SUITE_P(Drivers, ModemRecovery, ::testing::Values(kHl78Case, kA76xxCase),
                         modelName);

// ---------------------------------------------------------------------------------------------

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
    DriverInProcess m(emu, kA76xxCase.driver);
    auto wrapper = std::make_unique<SniOffChannel>(m.channel());
    const SniOffChannel* sni_off_channel = wrapper.get();
    ModemSettings settings;
    settings.apn = "internet";
    if (Status created = m.create(settings, sni_off ? std::move(wrapper) : nullptr); !created) {
        return created.failure();
    }
    if (Status started = m.start(); !started) {
        return fail("test", "driver start: " + started.error().message);
    }
    if (Status provisioned = m.provision(ModemCredentials{readFile(pki.ca), "", ""});
        !provisioned) {
        return fail("test", "provision: " + provisioned.error().message);
    }
    std::optional<Result<ByteStreamPtr>> opened;
    m.driver().open(ModemSocketRequest{"localhost", port, true, "localhost"},
                    [&](Result<ByteStreamPtr> r) { opened = std::move(r); });
    if (!m.run([&] { return opened.has_value(); }, 90s)) {
        return fail("test", "open: no answer");
    }
    *rewritten = sni_off_channel->rewritten;
    Result<ByteStreamPtr> out = std::move(*opened);
    if (out) {
        out.value()->close();
    }
    return out;
}

TEST_F(ModemTest, A76xxModuleTlsWithoutSniIsRefusedBehindAnSniGateAndTheErrorSaysSni) {
    requireDriverPlugin(kA76xxCase);
    Mosquitto broker(dir, pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
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
    requireDriverPlugin(kA76xxCase);
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "g/#");
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
    for (const std::string tls : {"modem", "local"}) {
        SCOPED_TRACE("tls = " + tls);
        TempDir run;
        ModemEmulator emu(run, "a76xx");
        Daemon d(run, modemUplinkConfig(kA76xxCase, emu, tls) +
                          genericRoute("cloud", gate.port(), pki.ca));
        ASSERT_TRUE(routeOnline(d, "cloud", 90s));
        ApiClient c;
        ASSERT_TRUE(c.connect(d.socket()));
        ASSERT_TRUE(c.send(modemPublishRequest(1, "g/" + tls, "through the gate")));
        EXPECT_EQ(awaitApiReply(c, 1, "delivered")["status"], "delivered");
    }
    ASSERT_TRUE(sub.waitFor(2, 30s));
}

}  // namespace
}  // namespace uplinkd::testing
