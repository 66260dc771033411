// SPDX-License-Identifier: Apache-2.0
// The systemd notify protocol as uplinkd speaks it (systemd/uplinkd.service: Type=notify,
// WatchdogSec=): READY=1 once the API listens, STATUS= with the routes' states, WATCHDOG=1 from
// the event loop (and none once the loop is stuck), RELOADING=1 and READY=1 around SIGHUP,
// STOPPING=1 on SIGTERM. The test plays systemd: it binds the notification socket itself.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>

#include "cli/api_client.hpp"
#include "notify_socket.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

/// Starts uplinkd as systemd would with Type=notify and WatchdogSec: NOTIFY_SOCKET,
/// WATCHDOG_USEC, and WATCHDOG_PID equal to the daemon's own pid (the shell's pid, kept by exec).
std::unique_ptr<Process> startNotified(const TempDir& dir, const NotifySocket& ns,
                                       const std::string& routes, long watchdog_usec,
                                       const std::string& extra_env = "") {
    std::ostringstream c;
    c << "[daemon]\nstate_dir = \"" << dir.file("state") << "\"\nlog_level = \"debug\"\n"
      << "[api]\nsocket = \"" << dir.file("api.sock") << "\"\n"
      << routes;
    writeFile(dir.file("uplinkd.toml"), c.str());
    const std::string script = "export NOTIFY_SOCKET=\"$1\" WATCHDOG_USEC=\"$2\" WATCHDOG_PID=$$ " +
                               extra_env + "; shift 2; exec \"$@\"";
    return std::make_unique<Process>(
        std::vector<std::string>{"/bin/sh", "-c", script, "sh", ns.path(),
                                 std::to_string(watchdog_usec), buildDir() + "/daemon/uplinkd",
                                 "--config", dir.file("uplinkd.toml"), "--plugin-dir", pluginDir(),
                                 "--dbus=none"},
        dir.file("uplinkd.log"));
}

class Notify : public ::testing::Test {
  protected:
    void TearDown() override {
        if (HasFailure() && daemon) {
            std::cerr << "---- notifications ----\n"
                      << ns.seen() << "---- uplinkd log ----\n"
                      << daemon->log() << "---------------------\n";
        }
    }
    TempDir dir;
    NotifySocket ns{dir.file("notify")};
    std::unique_ptr<Process> daemon;
};

TEST_F(Notify, ReadyStatusWatchdogReloadAndStopArriveAsSpecified) {
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    daemon = startNotified(dir, ns, genericRoute("r1", broker.port(), pki.ca), 400000);

    // READY=1 only once the API socket answers.
    ASSERT_TRUE(ns.waitFor("READY=1", 20s));
    ApiClient client;
    EXPECT_TRUE(client.connect(dir.file("api.sock")).ok()) << "READY=1 before the API listens";

    // STATUS= follows the route to online, with its queue.
    ASSERT_TRUE(ns.waitFor("STATUS=r1: online, 0 queued", 20s));

    // WATCHDOG=1 at half of WATCHDOG_USEC (every 200 ms): at least 5 in 2 s, even when idle.
    int pings = 0;
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < until) {
        auto line = ns.next(1s);
        ASSERT_TRUE(line) << "no notification for 1 s; the watchdog should ping every 200 ms";
        pings += *line == "WATCHDOG=1" ? 1 : 0;
    }
    EXPECT_GE(pings, 5);
    EXPECT_LE(pings, 15);

    daemon->signal(SIGHUP);
    ASSERT_TRUE(ns.waitFor("RELOADING=1", 10s));
    ASSERT_TRUE(ns.waitFor("READY=1", 10s));

    daemon->signal(SIGTERM);
    ASSERT_TRUE(ns.waitFor("STOPPING=1", 10s));
    EXPECT_EQ(daemon->waitExit(10s), 0);
}

TEST_F(Notify, AStalledEventLoopStopsTheWatchdogPings) {
    // No route needed. The test hook blocks the loop 1 s after the start.
    daemon = startNotified(dir, ns, "", 200000, "UPLINKD_TEST_STALL_LOOP_AFTER_MS=1000");
    ASSERT_TRUE(ns.waitFor("READY=1", 20s));
    ASSERT_TRUE(ns.waitFor("WATCHDOG=1", 5s));
    ASSERT_TRUE(ns.waitFor("WATCHDOG=1", 5s));
    ASSERT_TRUE(ns.waitFor("STATUS=test hook: event loop stalled", 10s));

    // systemd would kill it after WatchdogSec (200 ms here) without a ping; 1.5 s of silence
    // is 15 missed pings.
    while (auto line = ns.next(1500ms)) {
        ADD_FAILURE() << "a stalled loop still notified: " << *line;
        break;
    }
    EXPECT_TRUE(daemon->running()) << "the daemon should hang, not exit";
    daemon->signal(SIGKILL);
    EXPECT_EQ(daemon->waitExit(10s), 128 + SIGKILL);
}

TEST_F(Notify, WithoutNotifySocketTheDaemonRunsAsBefore) {
    // Covered by every other integration test too; here explicitly with WATCHDOG_USEC set but no
    // NOTIFY_SOCKET: nothing is sent and the daemon works.
    writeFile(dir.file("uplinkd.toml"), "[daemon]\nstate_dir = \"" + dir.file("state") +
                                            "\"\n[api]\nsocket = \"" + dir.file("api.sock") +
                                            "\"\n");
    daemon = std::make_unique<Process>(
        std::vector<std::string>{
            "/usr/bin/env", "WATCHDOG_USEC=100000", buildDir() + "/daemon/uplinkd", "--config",
            dir.file("uplinkd.toml"), "--plugin-dir", pluginDir(), "--dbus=none"},
        dir.file("uplinkd.log"));
    ASSERT_TRUE(waitUntil([&] { return ApiClient().connect(dir.file("api.sock")).ok(); }, 60s));
    EXPECT_FALSE(ns.next(500ms)) << "notified without NOTIFY_SOCKET";
    EXPECT_EQ(daemon->stop(), 0);
}

}  // namespace
}  // namespace uplinkd::testing
