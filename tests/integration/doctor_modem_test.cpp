// SPDX-License-Identifier: Apache-2.0
// The doctor's modem group against the modem emulator's BG9x model (a real pty, the real
// quectel-bg9x plugin, the real ModemUplink) and a real Mosquitto: a module without a SIM, a
// registration the network denies, a module clock before the certificates' validity, a firmware
// whose TLS cannot send SNI, a store that lost the root CA uplinkd wrote into it; each FAILs at
// its check with the fix naming the setting or action. A healthy module passes. The group runs in
// this process as the daemon runs it (RouteUnderTest over the uplink it owns) and offline (the
// group starts the uplink itself), and end to end through `uplinkctl doctor --config FILE
// --json` and through a running uplinkd (`uplinkctl doctor --json`).
#include <gtest/gtest.h>

#include <asio.hpp>
#include <cstdlib>
#include <optional>

#include "config/config.hpp"
#include "doctor/doctor.hpp"
#include "doctor/report.hpp"
#include "modem/modem_uplink.hpp"
#include "modem_emulator.hpp"
#include "plugin/plugin_registry.hpp"
#include "session/mqtt_session.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using namespace std::chrono_literals;
using doctor::RouteUnderTest;

const DriverCase kBg9x{"quectel-bg9x", "bg9x", "RDY", "AT+QSSLSEND", "AT+QIOPEN=", "AT+QIACT"};

std::string describe(const std::vector<Finding>& v) {
    std::string s;
    for (const auto& f : v) {
        s += f.id + " [" + std::to_string(static_cast<int>(f.outcome)) + "] " + f.found +
             (f.fix.empty() ? "" : " | fix: " + f.fix) + "\n";
    }
    return s;
}

const Finding* byId(const std::vector<Finding>& v, const std::string& id) {
    for (const auto& f : v) {
        if (f.id == id) {
            return &f;
        }
    }
    return nullptr;
}

/// The route "cloud" over the uplink "lte" on the emulator, loaded and built as the daemon does,
/// in this process. Thread: the test's (it runs the loop).
class ModemRoute {
  public:
    ModemRoute(const TempDir& dir, const ModemEmulator& emu, const Pki& pki, uint16_t port,
               const std::string& tls = "modem") {
        const std::string text = "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n" +
                                 modemUplinkConfig(kBg9x, emu, tls) +
                                 genericRoute("cloud", port, pki.ca,
                                              "cert_file = \"" + pki.client_cert +
                                                  "\"\nkey_file = \"" + pki.client_key + "\"\n");
        auto config = loadConfigFromString(text, "doctor-modem.toml", plugins_, pluginDir());
        if (!config) {
            ADD_FAILURE() << config.error().message;
            return;
        }
        config_ = std::move(*config);
        const ModemPluginApi* api = plugins_.modem(kBg9x.driver);
        if (api == nullptr) {
            ADD_FAILURE() << "no " << kBg9x.driver << " plugin in " << pluginDir();
            return;
        }
        uplink_ = std::make_unique<ModemUplink>(loop_, config_.uplinks.at("lte"), *api);
    }

    ModemUplink& uplink() { return *uplink_; }
    const RouteConfig& route() const { return *config_.route("cloud"); }

    bool run(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            loop_.run_one_for(20ms);
        }
        return done();
    }

    /// As the daemon runs it: the uplink was started and is in use.
    void startAsTheDaemonDoes() {
        uplink_->start();
        ASSERT_TRUE(run([&] { return uplink_->ready(); }, 60s));
    }

    /// A TLS connection by the module to the broker, as the route makes it (certificates
    /// written into the module's store first).
    void connectThroughTheModule() {
        const BrokerEndpoint ep = route().cloud->endpoint();
        std::optional<Result<ByteStreamPtr>> r;
        uplink_->connectTls(ep.host, ep.port, routeTlsOptions(route(), ep),
                            [&](Result<ByteStreamPtr> s) { r = std::move(s); });
        ASSERT_TRUE(run([&] { return r.has_value(); }, 60s));
        ASSERT_TRUE(*r) << r->error().message;
        (*r).value()->close();
    }

    /// Runs the modem group as the daemon (inside) or uplinkctl --config (offline) would.
    std::vector<Finding> doctor(bool inside_daemon) {
        RouteUnderTest rut;
        rut.loop = &loop_;
        rut.config = &config_;
        rut.route = &route();
        rut.cloud = route().cloud.get();
        rut.uplinks = {uplink_.get()};
        rut.now = std::chrono::system_clock::now();
        rut.inside_daemon = inside_daemon;
        std::optional<doctor::RouteReport> report;
        doctor::run(rut, {doctor::checkModem},
                    [&](doctor::RouteReport r) { report = std::move(r); });
        // Bounded by the group itself (30 s for the bring-up, then the module's answers).
        EXPECT_TRUE(run([&] { return report.has_value(); }, 90s));
        return report ? report->findings : std::vector<Finding>{};
    }

  private:
    asio::io_context loop_;
    PluginRegistry plugins_;
    Config config_;
    std::unique_ptr<ModemUplink> uplink_;
};

class DoctorModem : public ::testing::Test {
  protected:
    void SetUp() override { requireDriverPlugin(kBg9x); }
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "doctor-thing");

    /// Asserts that `id` failed with `found` in its found and `fix` in its fix.
    static void expectFail(const std::vector<Finding>& v, const std::string& id,
                           const std::string& found, const std::string& fix) {
        const Finding* f = byId(v, id);
        ASSERT_NE(f, nullptr) << describe(v);
        EXPECT_EQ(f->outcome, CheckOutcome::Fail) << describe(v);
        EXPECT_NE(f->found.find(found), std::string::npos) << describe(v);
        EXPECT_NE(f->fix.find(fix), std::string::npos) << describe(v);
    }
    /// The group run offline over a module that the emulator's `control` line set up first
    /// ("sim absent"); nothing when the emulator refused the line.
    std::vector<Finding> offlineAfter(const std::string& control) {
        Mosquitto broker(dir, pki);
        ModemEmulator emu(dir, kBg9x.model);
        if (const std::string reply = emu.control(control); reply != "ok " + control) {
            ADD_FAILURE() << control << ": " << reply;
            return {};
        }
        ModemRoute r(dir, emu, pki, broker.port());
        return r.doctor(false);
    }
    static size_t failures(const std::vector<Finding>& v) {
        size_t n = 0;
        for (const auto& f : v) {
            n += f.outcome == CheckOutcome::Fail ? 1 : 0;
        }
        return n;
    }
};

TEST_F(DoctorModem, AHealthyModuleRoutePassesOfflineAndInsideTheDaemon) {
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kBg9x.model);
    ModemRoute r(dir, emu, pki, broker.port());
    // Offline: the group brings the module up itself. The store is still empty: uplinkd writes
    // the root CA at the first connection, which is no failure.
    auto v = r.doctor(false);
    EXPECT_EQ(failures(v), 0u) << describe(v);
    for (const char* id : {"modem.module", "modem.sim", "modem.registration", "modem.signal",
                           "modem.bearer", "modem.clock", "modem.tls_sni"}) {
        const Finding* f = byId(v, id);
        ASSERT_NE(f, nullptr) << id << "\n" << describe(v);
        EXPECT_EQ(f->outcome, CheckOutcome::Ok) << describe(v);
    }
    EXPECT_NE(byId(v, "modem.module")->found.find("BG96"), std::string::npos) << describe(v);
    ASSERT_NE(byId(v, "modem.store"), nullptr) << describe(v);
    EXPECT_EQ(byId(v, "modem.store")->outcome, CheckOutcome::Warn) << describe(v);
    // After a connection (as in the running daemon) the store holds what the route configures.
    r.connectThroughTheModule();
    v = r.doctor(true);
    EXPECT_EQ(failures(v), 0u) << describe(v);
    ASSERT_NE(byId(v, "modem.store"), nullptr) << describe(v);
    EXPECT_EQ(byId(v, "modem.store")->outcome, CheckOutcome::Ok) << describe(v);
    EXPECT_NE(byId(v, "modem.store")->found.find("compared by presence and size"),
              std::string::npos)
        << describe(v);
}

TEST_F(DoctorModem, AModuleWithoutASimFailsAtTheSim) {
    const auto v = offlineAfter("sim absent");
    expectFail(v, "modem.sim", "no SIM card", "Insert a SIM card into the module of [uplinks.lte]");
    ASSERT_NE(byId(v, "modem.registration"), nullptr) << describe(v);
    EXPECT_EQ(byId(v, "modem.registration")->outcome, CheckOutcome::Skipped);
    EXPECT_EQ(failures(v), 1u) << describe(v);
}

TEST_F(DoctorModem, ARegistrationTheNetworkDeniesFailsAtTheRegistration) {
    const auto v = offlineAfter("register 3");
    expectFail(v, "modem.registration", "the network denied the registration",
               "Ask the SIM's operator to enable its data subscription");
    EXPECT_EQ(byId(v, "modem.sim")->outcome, CheckOutcome::Ok) << describe(v);
    EXPECT_EQ(byId(v, "modem.bearer")->outcome, CheckOutcome::Skipped) << describe(v);
}

TEST_F(DoctorModem, AModuleClockBeforeTheCertificatesFailsAtTheClock) {
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kBg9x.model);
    ASSERT_EQ(emu.control("clock 946684800").rfind("ok", 0), 0u);  // 2000-01-01
    ModemRoute r(dir, emu, pki, broker.port());
    r.startAsTheDaemonDoes();
    const auto v = r.doctor(true);
    expectFail(v, "modem.clock", "the module's clock is 2000-01-01",
               "Set the module's clock (uplinkctl modem lte at 'AT+CCLK=");
    EXPECT_NE(byId(v, "modem.clock")->found.find("[routes.cloud.tls] ca_file"), std::string::npos)
        << describe(v);
}

TEST_F(DoctorModem, AFirmwareWithoutSniFailsWithTlsLocalAsTheFix) {
    const auto v = offlineAfter("firmware sni off");
    expectFail(v, "modem.tls_sni", "does not send SNI", "Set [uplinks.lte] tls = \"local\"");
}

TEST_F(DoctorModem, AStoreThatLostTheRootCaFailsAtTheStore) {
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kBg9x.model);
    ModemRoute r(dir, emu, pki, broker.port());
    r.startAsTheDaemonDoes();
    r.connectThroughTheModule();
    const auto names = emu.status()["certificates"];
    std::string ca;
    for (const auto& n : names) {
        if (n.get<std::string>().find("uplinkd_ca") != std::string::npos) {
            ca = n.get<std::string>();
        }
    }
    ASSERT_FALSE(ca.empty()) << names.dump();
    ASSERT_EQ(emu.control("cert delete " + ca), "ok cert delete " + ca);
    const auto v = r.doctor(true);
    expectFail(v, "modem.store",
               "holds no root CA although uplinkd wrote [routes.cloud.tls] ca_file",
               "Restart uplinkd");
}

/// `uplinkctl doctor --json ARGS`: the exit status and the modem findings of route "cloud".
struct CtlRun {
    int status = -1;
    std::vector<Finding> findings;
    std::string out;
};
CtlRun uplinkctlDoctor(const TempDir& dir, const std::string& args) {
    CtlRun r;
    const std::string out = dir.file("doctor.json");
    const std::string err = dir.file("doctor.err");
    const int status =
        std::system((buildDir() + "/daemon/uplinkctl " + args + " >" + out + " 2>" + err).c_str());
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = readFile(out) + readFile(err);
    auto json = nlohmann::json::parse(readFile(out), nullptr, false);
    if (json.is_discarded()) {
        ADD_FAILURE() << "not JSON: " << r.out;
        return r;
    }
    auto reports = doctor::fromJson(json);
    if (!reports) {
        ADD_FAILURE() << reports.error().message << "\n" << r.out;
        return r;
    }
    for (const auto& report : *reports) {
        if (report.route == "cloud") {
            r.findings = report.findings;
        }
    }
    return r;
}

/// Offline: `uplinkctl doctor --config FILE` brings the module up itself and finds no SIM.
TEST_F(DoctorModem, UplinkctlDoctorWithConfigFailsAtTheSimOfAModuleWithoutOne) {
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kBg9x.model);
    ASSERT_EQ(emu.control("sim absent"), "ok sim absent");
    const std::string config = dir.file("offline.toml");
    writeFile(config, "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n" +
                          modemUplinkConfig(kBg9x, emu, "modem") +
                          genericRoute("cloud", broker.port(), pki.ca));
    const auto r = uplinkctlDoctor(
        dir, "doctor --json --route cloud --config " + config + " --plugin-dir " + pluginDir());
    EXPECT_EQ(r.status, 1) << r.out;
    expectFail(r.findings, "modem.sim", "no SIM card",
               "Insert a SIM card into the module of [uplinks.lte]");
}

/// Inside the daemon: `uplinkctl doctor` asks the running uplinkd, which examines the module it
/// owns through its own AT channel (the registration the network denies).
TEST_F(DoctorModem, UplinkctlDoctorThroughTheDaemonFailsAtADeniedRegistration) {
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kBg9x.model);
    ASSERT_EQ(emu.control("register 3"), "ok register 3");
    Daemon d(dir,
             modemUplinkConfig(kBg9x, emu, "modem") + genericRoute("cloud", broker.port(), pki.ca));
    const auto r = uplinkctlDoctor(dir, "-s " + d.socket() + " doctor --json --route cloud");
    EXPECT_EQ(r.status, 1) << r.out << "\n" << d.log();
    expectFail(r.findings, "modem.registration", "the network denied the registration",
               "Ask the SIM's operator to enable its data subscription");
}

}  // namespace
}  // namespace uplinkd::testing
