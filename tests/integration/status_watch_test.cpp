// SPDX-License-Identifier: Apache-2.0
// uplinkctl status --watch in a real terminal (tmux): while a backlog drains to a real
// Mosquitto the view shows the delivery rate and a progress bar with the time left; q quits and
// gives the terminal back. And uplinkctl health against a live daemon.
#include <gtest/gtest.h>

#include <regex>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// A private tmux server (its own socket in the test's directory).
class Tmux {
  public:
    explicit Tmux(const TempDir& dir) : socket_(dir.file("tmux.sock")) {}
    ~Tmux() { runCommand(tmux("kill-server")); }
    /// The shell command that runs tmux `args` on this server (its errors in the output).
    std::string tmux(const std::string& args) const {
        return "tmux -S " + socket_ + " " + args + " 2>&1";
    }
    std::string capture() const { return runCommand(tmux("capture-pane -p -t watch")).out; }
    bool alive() const { return runCommand(tmux("has-session -t watch")).exit == 0; }

  private:
    std::string socket_;
};

TEST(StatusWatch, ShowsRatesAndADrainBarWhileABacklogDrainsAndQuitsOnQ) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    // One message in flight at a time, so that the backlog takes a few seconds to drain.
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca) + "inflight_window = 1\n");
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["state"] == "online"; }, 60s));
    broker.stop();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["state"] != "online"; }, 60s));
    ASSERT_EQ(queueMessages(d.socket(), 4000, "w/data"), 4000);

    Tmux tmux(dir);
    const CommandRun started =
        runCommand(tmux.tmux("new-session -d -s watch -x 80 -y 24 '" + buildDir() +
                             "/daemon/uplinkctl --socket " + d.socket() + " status --watch'"));
    ASSERT_EQ(started.exit, 0) << "tmux could not start (package tmux, tools/setup.sh): "
                               << started.out;
    ASSERT_TRUE(
        waitUntil([&] { return tmux.capture().find("not draining") != std::string::npos; }, 30s))
        << tmux.capture();
    EXPECT_NE(tmux.capture().find("4000"), std::string::npos) << tmux.capture();

    broker.restart();
    // While it drains: the route's line has a delivery rate, a bar and a time left.
    const std::regex draining(
        R"(cloud +online +[0-9.]+ +([0-9]+\.[0-9]) +[0-9.]+ +([0-9]+) \[#*-*\] +[0-9]+% [0-9hms]+)");
    std::string seen;
    EXPECT_TRUE(waitUntil(
        [&] {
            const std::string screen = tmux.capture();
            std::smatch m;
            if (std::regex_search(screen, m, draining) && std::stod(m[1].str()) > 0 &&
                std::stoul(m[2].str()) > 0 && std::stoul(m[2].str()) < 4000) {
                seen = screen;
                return true;
            }
            return false;
        },
        120s))
        << tmux.capture();
    EXPECT_NE(seen.find("OUT/s"), std::string::npos) << seen;
    // Drained: the queue column is back to 0 and the bar is gone.
    EXPECT_TRUE(waitUntil(
        [&] {
            return std::regex_search(
                tmux.capture(), std::regex(R"(cloud +online +[0-9.]+ +[0-9.]+ +[0-9.]+ +0 -)"));
        },
        120s))
        << tmux.capture();

    // q quits, and uplinkctl gives the terminal back (the pane's program ends).
    runCommand(tmux.tmux("send-keys -t watch q"));
    EXPECT_TRUE(waitUntil([&] { return !tmux.alive(); }, 30s)) << tmux.capture();
}

TEST(StatusWatch, CtrlCQuitsToo) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    Tmux tmux(dir);
    // A shell in the pane, so that the screen uplinkctl leaves behind can be read.
    ASSERT_EQ(runCommand(tmux.tmux("new-session -d -s watch -x 80 -y 24 'sh'")).exit, 0);
    runCommand(tmux.tmux("send-keys -t watch '" + buildDir() + "/daemon/uplinkctl --socket " +
                         d.socket() + " status --watch; echo watch-exit=$?' Enter"));
    ASSERT_TRUE(waitUntil([&] { return tmux.capture().find("OUT/s") != std::string::npos; }, 30s))
        << tmux.capture();
    runCommand(tmux.tmux("send-keys -t watch C-c"));
    // Back on the shell's screen (the alternate screen is left) with the exit code 0.
    EXPECT_TRUE(
        waitUntil([&] { return tmux.capture().find("watch-exit=0") != std::string::npos; }, 30s))
        << tmux.capture();
    EXPECT_EQ(tmux.capture().find("OUT/s"), std::string::npos) << tmux.capture();
}

TEST(Health, ExitsZeroWhenOnlineAndOneWhenDownPastTheGrace) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    const std::string ctl = buildDir() + "/daemon/uplinkctl --socket " + d.socket() + " health";
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["state"] == "online"; }, 60s));
    CommandRun health = runCommand(ctl + " 2>&1");
    EXPECT_EQ(health.exit, 0) << health.out;
    EXPECT_NE(health.out.find("healthy: 1 route(s)"), std::string::npos) << health.out;

    broker.stop();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["state"] != "online"; }, 60s));
    // Within the default grace (60 s): still healthy.
    health = runCommand(ctl + " 2>&1");
    EXPECT_EQ(health.exit, 0) << health.out;
    // Past a grace of 0 s: unhealthy, one line naming the route.
    health = runCommand(ctl + " --grace 0 2>&1");
    EXPECT_EQ(health.exit, 1) << health.out;
    EXPECT_EQ(health.out.rfind("cloud: ", 0), 0u) << health.out;
    health = runCommand(ctl + " --grace 0 --json 2>&1");
    EXPECT_EQ(health.exit, 1) << health.out;
    const json j = json::parse(health.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << health.out;
    EXPECT_EQ(j["healthy"], false);
    EXPECT_EQ(j["routes"][0]["route"], "cloud");
    EXPECT_EQ(j["routes"][0]["healthy"], false);
    EXPECT_GE(j["routes"][0]["offline_ms"].get<int64_t>(), 0);

    // No daemon at all: unhealthy.
    health = runCommand(buildDir() + "/daemon/uplinkctl --socket " + dir.file("none.sock") +
                        " health 2>&1");
    EXPECT_EQ(health.exit, 1) << health.out;
}

}  // namespace
}  // namespace uplinkd::testing
