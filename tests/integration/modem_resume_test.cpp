// SPDX-License-Identifier: Apache-2.0
// A reconnect over a modem after the link dropped (issue 14 item 3), end to end: local app →
// uplinkd → modem driver plugin → AT over a pty → the modem emulator → Mosquitto, and back. Each
// reconnect resumes the TLS session and the broker keeps the MQTT session, so uplinkd does not
// subscribe again, and commands still reach the local subscriber. For hl78 and a76xx.
#include <gtest/gtest.h>

#include <memory>

#include "modem_emulator.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

using ModemResume = EmulatorTest<DriverCase>;

TEST_P(ModemResume, AReconnectAfterALinkDropResumesAndKeepsTheSubscriptions) {
    const DriverCase& driver = GetParam();
    Mosquitto::Options bo;
    bo.extra =
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        "log_type debug";
    Mosquitto broker(dir, pki, bo);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, driver.model);
    Daemon d(dir, modemUplinkConfig(driver, emu, "local") +
                      genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] == "online"; }, 90s))
        << d.routeStatus("cloud").dump();
    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready")) << d.log();
    const std::string kSubscribe = "Received SUBSCRIBE from";
    const size_t subscribes = occurrences(broker.log(), kSubscribe);
    ASSERT_GE(subscribes, 1u) << broker.log();
    // Two drops: each reconnect resumes (a TLS 1.2 broker does not replace its ticket on a
    // resumption, so the second one offers the same ticket again).
    for (int drop = 1; drop <= 2; ++drop) {
        SCOPED_TRACE("link drop " + std::to_string(drop));
        const uint64_t connects = d.routeStatus("cloud")["connects"].get<uint64_t>();
        ASSERT_EQ(emu.control("fault drop-link"), "ok fault drop-link");
        json st;
        ASSERT_TRUE(d.waitRoute(
            "cloud",
            [&](const json& s) {
                st = s;
                return s["state"] == "online" && s["connects"].get<uint64_t>() > connects;
            },
            90s))
            << d.routeStatus("cloud").dump() << "\n"
            << d.log();

        // What the user sees: the connection resumed, and the broker kept the MQTT session.
        const std::string stream = st["stream"].get<std::string>();
        EXPECT_NE(stream.find("(resumed)"), std::string::npos) << stream;
        EXPECT_NE(stream.find("MQTT session kept"), std::string::npos) << stream;
        EXPECT_TRUE(waitForLogCount(d, "MQTT session kept", drop, 30s)) << d.log();
    }

    // A command sent after the reconnect arrives through the kept subscription...
    cloud.publish("down/after", "command after the reconnect", 1);
    ASSERT_TRUE(local.waitFor("down/after", 60s)) << d.log();
    // ... which uplinkd did not send again.
    EXPECT_EQ(occurrences(broker.log(), kSubscribe), subscribes) << broker.log();

    // Published messages still go up.
    deliverThrough(d, 1, "up/after", "telemetry after the reconnect");
    ASSERT_TRUE(cloud.waitFor(1, 30s));
}

INSTANTIATE_TEST_SUITE_P(Drivers, ModemResume, ::testing::Values(kHl78Case, kA76xxCase), modelName);

/// A route over one driver's module (emulated, TLS by uplinkd) to a Mosquitto, online, and its
/// reconnects; for the tests of one driver's module sessions. Thread: the test's.
class ModuleReconnects : public PkiTest {
  protected:
    /// Starts the broker, the emulator and uplinkd, and waits until the route is online.
    void start(const DriverCase& c) {
        ASSERT_NO_FATAL_FAILURE(requireDriverPlugin(c));
        broker = std::make_unique<Mosquitto>(dir, pki);
        emu = std::make_unique<ModemEmulator>(dir, c.model);
        d = std::make_unique<Daemon>(dir, modemUplinkConfig(c, *emu, "local") +
                                              genericRoute("cloud", broker->port(), pki.ca));
        ASSERT_TRUE(d->waitRoute(
            "cloud", [](const json& s) { return s["state"] == "online"; }, 90s))
            << d->routeStatus("cloud").dump();
    }
    /// Sends `control` ("fault drop-link", "reset") to the emulator, then waits until the route
    /// is online again over a new connection.
    void reconnectAfter(const std::string& control) {
        const uint64_t connects = d->routeStatus("cloud")["connects"].get<uint64_t>();
        ASSERT_EQ(emu->control(control), "ok " + control);
        ASSERT_TRUE(d->waitRoute(
            "cloud",
            [&](const json& s) {
                return s["state"] == "online" && s["connects"].get<uint64_t>() > connects;
            },
            90s))
            << d->routeStatus("cloud").dump() << "\n"
            << d->log();
    }
    /// How often the host sent `command` (e.g. "AT+KTCPCFG=") to the module.
    size_t sent(const std::string& command) const {
        return occurrences(emu->trace(), "> " + command);
    }

    std::unique_ptr<Mosquitto> broker;
    std::unique_ptr<ModemEmulator> emu;
    std::unique_ptr<Daemon> d;
};

// HL78: a reconnect connects the module's session again (AT+KTCPCNX) instead of configuring a
// new one (AT+KTCPCFG, some 55 bytes on the line each time); after the module restarted and lost
// its sessions, the next connection configures a new one.
using Hl78Resume = ModuleReconnects;

TEST_F(Hl78Resume, ReconnectReusesTheModuleSessionUntilTheModuleLosesIt) {
    ASSERT_NO_FATAL_FAILURE(start(kHl78Case));
    ASSERT_EQ(sent("AT+KTCPCFG="), 1u) << emu->trace();
    for (int drop = 1; drop <= 2; ++drop) {
        SCOPED_TRACE("link drop " + std::to_string(drop));
        ASSERT_NO_FATAL_FAILURE(reconnectAfter("fault drop-link"));
        // The session configured once is connected again: no new KTCPCFG, none deleted.
        EXPECT_EQ(sent("AT+KTCPCFG="), 1u) << emu->trace();
        EXPECT_EQ(sent("AT+KTCPDEL="), 0u) << emu->trace();
        EXPECT_EQ(sent("AT+KTCPCNX="), static_cast<size_t>(drop + 1)) << emu->trace();
    }

    // The module restarts: its sessions are gone, and the driver configures a new one (never
    // connecting a session the module does not have).
    ASSERT_NO_FATAL_FAILURE(reconnectAfter("reset"));
    EXPECT_EQ(sent("AT+KTCPCFG="), 2u) << emu->trace();
    EXPECT_EQ(emu->status()["misuse"], 0) << emu->status().dump() << "\n" << emu->trace();

    // Messages still go up over the new session.
    deliverThrough(*d, 1, "up/after", "telemetry after the module restart");
}

// A76xx: after the peer dropped the link ("+IPCLOSE: <link>,1") the module closed it itself, so
// the reconnect sends no AT+CIPCLOSE for it (it would only fail with "+CIPCLOSE: <link>,4");
// after the module restarted, its network and links are gone, and the next connection opens the
// network again.
using A76xxResume = ModuleReconnects;

TEST_F(A76xxResume, AReconnectAfterThePeerDroppedTheLinkClosesNothing) {
    ASSERT_NO_FATAL_FAILURE(start(kA76xxCase));
    for (int drop = 1; drop <= 2; ++drop) {
        SCOPED_TRACE("link drop " + std::to_string(drop));
        const size_t opens = sent("AT+CIPOPEN=");
        const size_t closes = sent("AT+CIPCLOSE=");
        ASSERT_NO_FATAL_FAILURE(reconnectAfter("fault drop-link"));
        // One new link, and no close of the one the module closed itself.
        EXPECT_EQ(sent("AT+CIPOPEN="), opens + 1) << emu->trace();
        EXPECT_EQ(sent("AT+CIPCLOSE="), closes) << emu->trace();
    }
    // The module never saw a command on a link in the wrong state.
    EXPECT_EQ(emu->status()["misuse"], 0) << emu->status().dump() << "\n" << emu->trace();

    // The module restarts: its network and links are gone; the driver opens the network again.
    const size_t netopens = sent("AT+NETOPEN\n");
    ASSERT_NO_FATAL_FAILURE(reconnectAfter("reset"));
    EXPECT_GT(sent("AT+NETOPEN\n"), netopens) << emu->trace();
    EXPECT_EQ(emu->status()["misuse"], 0) << emu->status().dump() << "\n" << emu->trace();

    // Messages still go up over the new link.
    deliverThrough(*d, 1, "up/after", "telemetry after the module restart");
}

}  // namespace
}  // namespace uplinkd::testing
