// SPDX-License-Identifier: Apache-2.0
// Structured journal entries: uplinkd --log-target=journal under a real systemd-journald that
// the test starts in a private mount namespace (its own /run and /var/log, journal files in the
// test's directory), then read back with journalctl the way an operator filters them. When
// journald cannot run here the test fails and says why.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <sstream>

#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

constexpr const char* kRouteOnline = "7d3e1c5a0b8f4a2e9c6d1f0a3b5e7c91";
constexpr const char* kRouteDown = "c2a94f1e6d0b47b38e5a2c9d7f1b0e64";

/// Starts systemd-journald with its socket in a private /run, the journal files bind-mounted
/// from $1, then runs the rest of the arguments; stops journald after them.
constexpr const char* kScript = R"sh(set -u
J=$1; shift
mount -t tmpfs tmpfs /run || { echo "cannot mount a private /run: this test needs root"; exit 70; }
mount -t tmpfs tmpfs /var/log || { echo "cannot mount a private /var/log"; exit 70; }
mkdir -p /run/systemd/journal /run/log/journal
mount --bind "$J" /run/log/journal || { echo "cannot bind the journal directory"; exit 70; }
/lib/systemd/systemd-journald & JD=$!
n=0
while [ ! -S /run/systemd/journal/socket ]; do
  kill -0 $JD 2>/dev/null || { echo "systemd-journald exited before it made its socket"; exit 70; }
  n=$((n+1)); [ $n -le 600 ] || { echo "systemd-journald made no socket in 60 s"; exit 70; }
  sleep 0.1
done
echo "journald up"
"$@" & U=$!
trap 'kill -TERM $U; wait $U; kill -TERM $JD; wait $JD; exit 0' TERM INT
wait $U
rc=$?
kill -TERM $JD; wait $JD
exit $rc
)sh";

/// Entries of the test's journal that match `filters` (journalctl's FIELD=value terms).
std::vector<json> entries(const std::string& journal_dir, const std::string& filters) {
    std::vector<json> out;
    const std::string cmd =
        "journalctl --no-pager -o json -D " + journal_dir + " " + filters + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        return out;
    }
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        text.append(buf, n);
    }
    ::pclose(p);
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded()) {
            out.push_back(std::move(j));
        }
    }
    return out;
}

TEST(Journal, RouteEventsCarryTheirFieldsAndMessageIds) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    const std::string journal = dir.file("journal");
    ASSERT_EQ(::mkdir(journal.c_str(), 0755), 0);
    const std::string socket = dir.file("api.sock");
    const std::string config = dir.file("uplinkd.toml");
    writeFile(config, "[daemon]\nstate_dir = \"" + dir.file("state") +
                          "\"\nlog_level = \"debug\"\n[api]\nsocket = \"" + socket + "\"\n" +
                          genericRoute("cloud", broker.port(), pki.ca));
    Process p({"unshare", "--mount", "--propagation", "private", "sh", "-c", kScript, "sh", journal,
               buildDir() + "/daemon/uplinkd", "--config", config, "--plugin-dir", pluginDir(),
               "--log-target", "journal"},
              dir.file("run.log"));

    // The route comes online: one entry with its MESSAGE_ID, found by the route's field.
    ASSERT_TRUE(waitUntil(
        [&] {
            return !entries(journal, std::string("UPLINKD_ROUTE=cloud MESSAGE_ID=") + kRouteOnline)
                        .empty() ||
                   !p.running();
        },
        60s))
        << p.log();
    ASSERT_TRUE(p.running()) << "journald or uplinkd did not run here:\n" << p.log();
    auto online = entries(journal, std::string("MESSAGE_ID=") + kRouteOnline);
    ASSERT_EQ(online.size(), 1u);
    EXPECT_EQ(online[0]["UPLINKD_ROUTE"], "cloud");
    EXPECT_EQ(online[0]["PRIORITY"], "5");
    EXPECT_EQ(online[0]["SYSLOG_IDENTIFIER"], "uplinkd");
    EXPECT_NE(online[0]["MESSAGE"].get<std::string>().find("route cloud: online"),
              std::string::npos);
    EXPECT_FALSE(online[0].value("UPLINKD_UPLINK", std::string()).empty()) << online[0].dump();

    // The broker goes away: "route down" with the reason's code, as a warning.
    broker.stop();
    ASSERT_TRUE(waitUntil(
        [&] { return !entries(journal, std::string("MESSAGE_ID=") + kRouteDown).empty(); }, 60s))
        << p.log();
    auto down = entries(journal, std::string("MESSAGE_ID=") + kRouteDown);
    EXPECT_EQ(down[0]["UPLINKD_ROUTE"], "cloud");
    EXPECT_EQ(down[0]["PRIORITY"], "4");
    EXPECT_FALSE(down[0].value("UPLINKD_CODE", std::string()).empty()) << down[0].dump();

    // Plain lines are there too, with their levels; nothing went to stderr instead.
    EXPECT_FALSE(entries(journal, "SYSLOG_IDENTIFIER=uplinkd PRIORITY=5").empty());
    EXPECT_FALSE(entries(journal, "SYSLOG_IDENTIFIER=uplinkd PRIORITY=7").empty());
    p.stop();
    EXPECT_EQ(p.log().find("<5>"), std::string::npos) << p.log();
}

}  // namespace
}  // namespace uplinkd::testing
