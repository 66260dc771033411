// SPDX-License-Identifier: Apache-2.0
// uplinkctl's health verdict and the status --watch model and frame, from tables.
#include <gtest/gtest.h>

#include "cli/health.hpp"
#include "cli/status_watch.hpp"

namespace uplinkd::cli {
namespace {

using nlohmann::json;

json route(const std::string& name, const std::string& state, int64_t offline_ms,
           const std::string& error = "") {
    return {{"route", name}, {"state", state}, {"offline_ms", offline_ms}, {"last_error", error}};
}

struct HealthCase {
    const char* what;
    json routes;
    bool healthy;
    size_t problems;
};
class Health : public ::testing::TestWithParam<HealthCase> {};
TEST_P(Health, FollowsTheTable) {
    const auto& c = GetParam();
    const HealthVerdict v = judgeHealth(c.routes, 60000);
    EXPECT_EQ(v.healthy, c.healthy) << c.what;
    EXPECT_EQ(v.problems.size(), c.problems) << c.what;
    EXPECT_EQ(v.json["healthy"], c.healthy) << c.what;
}
INSTANTIATE_TEST_SUITE_P(
    Table, Health,
    ::testing::Values(
        HealthCase{"no routes", json::array(), true, 0},
        HealthCase{"all online", json::array({route("a", "online", 0), route("b", "online", 0)}),
                   true, 0},
        HealthCase{"down within grace", json::array({route("a", "backoff", 59999)}), true, 0},
        HealthCase{"down past grace", json::array({route("a", "backoff", 60000)}), false, 1},
        HealthCase{"dialing since start, past grace",
                   json::array({route("a", "dialing", 120000), route("b", "online", 0)}), false, 1},
        HealthCase{"two down",
                   json::array({route("a", "backoff", 1000000), route("b", "tls", 1000000)}), false,
                   2},
        HealthCase{"old daemon without offline_ms",
                   json::array({{{"route", "a"}, {"state", "backoff"}}}), false, 1},
        HealthCase{"not a list", json::object(), false, 1},
        HealthCase{"online but held by the spool",
                   json::array({{{"route", "a"},
                                 {"state", "online"},
                                 {"offline_ms", 0},
                                 {"spool_problem", "message 7 cannot be read"}}}),
                   false, 1},
        HealthCase{"down past grace and held by the spool",
                   json::array({{{"route", "a"},
                                 {"state", "backoff"},
                                 {"offline_ms", 60000},
                                 {"spool_problem", "message 7 cannot be read"}}}),
                   false, 2}));

TEST(HealthLine, NamesTheRouteStateDurationAndError) {
    const auto v =
        judgeHealth(json::array({route("aws", "backoff", 180000, "TLS alert 40")}), 60000);
    ASSERT_EQ(v.problems.size(), 1u);
    EXPECT_EQ(v.problems[0], "aws: backoff for 3 min (TLS alert 40)");
}

json counters(const std::string& name, uint64_t queued, uint64_t delivered, uint64_t received = 0) {
    return {{"route", name},          {"state", "online"},    {"queued", queued},
            {"delivered", delivered}, {"received", received}, {"dropped", 0},
            {"expired", 0},           {"dead_lettered", 0}};
}

TEST(WatchModel, RatesComeFromTheDeltasAndTheBacklogDrains) {
    WatchModel m;
    m.update(json::array({counters("a", 1000, 0)}), 0);
    ASSERT_EQ(m.rows().size(), 1u);
    EXPECT_EQ(m.rows()[0].out_rate, 0);
    EXPECT_EQ(m.rows()[0].backlog, 1000u);
    EXPECT_LT(m.rows()[0].eta_seconds, 0);  // not draining yet
    // 200 delivered and 10 new ones in one second.
    m.update(json::array({counters("a", 810, 200, 4)}), 1.0);
    const auto& r = m.rows()[0];
    EXPECT_DOUBLE_EQ(r.out_rate, 100);  // averaged with the previous 0
    EXPECT_DOUBLE_EQ(r.in_rate, 5);
    EXPECT_DOUBLE_EQ(r.rx_rate, 2);
    EXPECT_EQ(r.backlog, 1000u);
    EXPECT_NEAR(r.eta_seconds, 810.0 / 95.0, 1e-9);
    // Empty: the backlog is forgotten.
    m.update(json::array({counters("a", 0, 1010)}), 1.0);
    EXPECT_EQ(m.rows()[0].backlog, 0u);
    EXPECT_LT(m.rows()[0].eta_seconds, 0);
}

TEST(WatchModel, ARestartedDaemonDoesNotMakeNegativeRates) {
    WatchModel m;
    m.update(json::array({counters("a", 5, 500)}), 0);
    m.update(json::array({counters("a", 5, 3)}), 1.0);
    EXPECT_GE(m.rows()[0].out_rate, 0);
    EXPECT_GE(m.rows()[0].in_rate, 0);
}

TEST(WatchFrame, ShowsTheProgressBarAndFitsEightyColumns) {
    const WatchModel::Row r{.route = "a-very-long-route-name",
                            .state = "online",
                            .in_rate = 5,
                            .out_rate = 100,
                            .queued = 250,
                            .backlog = 1000,
                            .eta_seconds = 2.6};
    const auto lines = renderWatch({r}, "uplinkd", 80, 24);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_NE(lines[1].find("OUT/s"), std::string::npos);
    EXPECT_NE(lines[2].find("a-very-long-"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("100.0"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("[#"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("-]  75% 3s"), std::string::npos) << lines[2];
    for (const auto& l : lines) {
        EXPECT_LE(l.size(), 80u) << l;
    }
}

TEST(WatchFrame, TwentyTwoRoutesFitTwentyFourLinesAndMoreAreSummed) {
    std::vector<WatchModel::Row> rows(30);
    for (size_t i = 0; i < rows.size(); ++i) {
        rows[i].route = "r" + std::to_string(i);
        rows[i].state = "online";
    }
    std::vector<WatchModel::Row> fit(rows.begin(), rows.begin() + 22);
    EXPECT_EQ(renderWatch(fit, "h", 80, 24).size(), 24u);
    const auto lines = renderWatch(rows, "h", 80, 24);
    EXPECT_EQ(lines.size(), 24u);
    EXPECT_NE(lines.back().find("9 more route(s)"), std::string::npos) << lines.back();
}

TEST(HealthLine, NamesWhatTheSpoolCannotRead) {
    const auto v = judgeHealth(json::array({{{"route", "aws"},
                                             {"state", "online"},
                                             {"offline_ms", 0},
                                             {"spool_problem", "message 42 (70,000 bytes) ..."}}}),
                               60000);
    ASSERT_EQ(v.problems.size(), 1u);
    EXPECT_EQ(v.problems[0], "aws: held by the spool: message 42 (70,000 bytes) ...");
    EXPECT_EQ(v.json["routes"][0]["spool_problem"], "message 42 (70,000 bytes) ...");
}

TEST(WatchFrame, ARouteHeldByTheSpoolSaysWhereToLook) {
    WatchModel m;
    json held = counters("a", 3, 0);
    held["spool_problem"] = "message 42 cannot be read";
    m.update(json::array({held}), 0);
    ASSERT_EQ(m.rows().size(), 1u);
    const auto lines = renderWatch(m.rows(), "h", 120, 24);
    EXPECT_NE(lines[2].find("held: the spool cannot read a message (uplinkctl status)"),
              std::string::npos)
        << lines[2];
}

TEST(WatchFrame, QueuedButNotDrainingSaysSo) {
    const WatchModel::Row r{.route = "a", .state = "backoff", .queued = 7, .backlog = 7};
    const auto lines = renderWatch({r}, "h", 80, 24);
    EXPECT_NE(lines[2].find("not draining"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace uplinkd::cli
