// SPDX-License-Identifier: Apache-2.0
// A76xx reconnects over fewer AT bytes (issue 14 item 3), end to end: uplinkd → the
// simcom-a76xx plugin → AT over a pty → the modem emulator → Mosquitto. After the peer dropped
// the link ("+IPCLOSE: <link>,1") the module closed it itself, so the reconnect sends no
// AT+CIPCLOSE for it (it would only fail with "+CIPCLOSE: <link>,4"). When the module restarted,
// its network and links are gone, and the next connection opens the network again.
#include <gtest/gtest.h>

#include "modem_emulator.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// How often the host sent `command` (e.g. "AT+CIPCLOSE=") in the emulator's trace.
size_t sent(const ModemEmulator& emu, const std::string& command) {
    return occurrences(emu.trace(), "> " + command);
}

/// The A76xx's links across reconnects (no emulator parameter: A76xx only).
class A76xxResume : public PkiTest {};

TEST_F(A76xxResume, AReconnectAfterThePeerDroppedTheLinkClosesNothing) {
    requireDriverPlugin(kA76xxCase);
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, kA76xxCase.model);
    Daemon d(dir, modemUplinkConfig(kA76xxCase, emu, "local") +
                      genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] == "online"; }, 90s))
        << d.routeStatus("cloud").dump();
    const auto reconnected = [&](uint64_t connects) {
        return d.waitRoute(
            "cloud",
            [&](const json& s) {
                return s["state"] == "online" && s["connects"].get<uint64_t>() > connects;
            },
            90s);
    };

    for (int drop = 1; drop <= 2; ++drop) {
        SCOPED_TRACE("link drop " + std::to_string(drop));
        const uint64_t connects = d.routeStatus("cloud")["connects"].get<uint64_t>();
        const size_t opens = sent(emu, "AT+CIPOPEN=");
        const size_t closes = sent(emu, "AT+CIPCLOSE=");
        ASSERT_EQ(emu.control("fault drop-link"), "ok fault drop-link");
        ASSERT_TRUE(reconnected(connects)) << d.routeStatus("cloud").dump() << "\n" << d.log();
        // One new link, and no close of the one the module closed itself.
        EXPECT_EQ(sent(emu, "AT+CIPOPEN="), opens + 1) << emu.trace();
        EXPECT_EQ(sent(emu, "AT+CIPCLOSE="), closes) << emu.trace();
    }
    // The module never saw a command on a link in the wrong state.
    EXPECT_EQ(emu.status()["misuse"], 0) << emu.status().dump() << "\n" << emu.trace();

    // The module restarts: its network and links are gone; the driver opens the network again
    // and reconnects.
    const uint64_t connects = d.routeStatus("cloud")["connects"].get<uint64_t>();
    const size_t netopens = sent(emu, "AT+NETOPEN\n");
    ASSERT_EQ(emu.control("reset"), "ok reset");
    ASSERT_TRUE(reconnected(connects)) << d.routeStatus("cloud").dump() << "\n" << d.log();
    EXPECT_GT(sent(emu, "AT+NETOPEN\n"), netopens) << emu.trace();
    EXPECT_EQ(emu.status()["misuse"], 0) << emu.status().dump() << "\n" << emu.trace();

    // Messages still go up over the new link.
    deliverThrough(d, 1, "up/after", "telemetry after the module restart");
}

}  // namespace
}  // namespace uplinkd::testing
