// SPDX-License-Identifier: Apache-2.0
// Per-day byte counts of an uplink (TrafficDays, TrafficLedger) from tables with an injected
// clock: the UTC day boundary, the 7-day window, a clock that goes back, a route that restarts,
// and the state file's form (what a daemon restart restores).
#include "uplink/traffic_days.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/traffic_view.hpp"
#include "metrics/exposition.hpp"
#include "metrics/metrics_snapshot.hpp"
#include "uplink/traffic_ledger.hpp"

namespace uplinkd {
namespace {

constexpr int64_t kDay = 86'400'000;
// 2026-12-05T00:00:00Z
constexpr int64_t kDec5 = 1'796'428'800'000;

TEST(TrafficDates, UtcDatesBothWays) {
    struct Case {
        int64_t unix_ms;
        const char* date;
    };
    const Case cases[] = {
        {0, "1970-01-01"},
        {kDay - 1, "1970-01-01"},
        {kDay, "1970-01-02"},
        {-1, "1969-12-31"},
        {kDec5, "2026-12-05"},
        {kDec5 - 1, "2026-12-04"},
        {kDec5 + 27 * kDay, "2027-01-01"},
        {951'782'400'000, "2000-02-29"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.date);
        EXPECT_EQ(utcDate(utcDay(c.unix_ms)), c.date);
        EXPECT_EQ(parseUtcDate(c.date), utcDay(c.unix_ms));
    }
    for (const char* bad :
         {"", "2026-12-5", "2026/12/05", "2026-13-01", "2026-02-30", "20x6-01-01", "2026-12-05T"}) {
        EXPECT_FALSE(parseUtcDate(bad)) << bad;
    }
}

// One step: add bytes at a time, then what today and the previous days say at that time.
struct Step {
    int64_t at_ms;
    uint64_t sent, received;
    const char* today;     ///< "date sent received"
    const char* previous;  ///< "date sent received; ..." newest first
};

std::string show(const DayBytes& d) {
    return utcDate(d.day) + " " + std::to_string(d.sent) + " " + std::to_string(d.received);
}

std::string show(const std::vector<DayBytes>& days) {
    std::string out;
    for (const auto& d : days) {
        out += (out.empty() ? "" : "; ") + show(d);
    }
    return out;
}

TEST(TrafficDays, RollsOverAtUtcMidnightAndKeepsSevenDays) {
    const Step steps[] = {
        {kDec5 + 1000, 100, 10, "2026-12-05 100 10", ""},
        {kDec5 + kDay - 1, 5, 1, "2026-12-05 105 11", ""},
        // Midnight UTC: a new day; yesterday is kept.
        {kDec5 + kDay, 7, 0, "2026-12-06 7 0", "2026-12-05 105 11"},
        // A day without traffic leaves no entry.
        {kDec5 + 3 * kDay, 1, 2, "2026-12-08 1 2", "2026-12-06 7 0; 2026-12-05 105 11"},
        // The clock goes back a day (NTP): the bytes go to the newest day, not to a closed one.
        {kDec5 + 2 * kDay, 3, 3, "2026-12-08 4 5", "2026-12-06 7 0; 2026-12-05 105 11"},
        // 2026-12-12: Dec 5 is the 7th day before, still shown.
        {kDec5 + 7 * kDay, 1, 1, "2026-12-12 1 1",
         "2026-12-08 4 5; 2026-12-06 7 0; 2026-12-05 105 11"},
        // 2026-12-13: Dec 5 falls out of the window.
        {kDec5 + 8 * kDay, 0, 9, "2026-12-13 0 9",
         "2026-12-12 1 1; 2026-12-08 4 5; 2026-12-06 7 0"},
    };
    TrafficDays t;
    for (const auto& s : steps) {
        SCOPED_TRACE(s.today);
        t.add(s.sent, s.received, s.at_ms);
        EXPECT_EQ(show(t.today(s.at_ms)), s.today);
        EXPECT_EQ(show(t.previous(s.at_ms)), s.previous);
        EXPECT_LE(t.days().size(), 8u);
    }
}

TEST(TrafficDays, ReadingLaterShowsAnEmptyTodayAndAgesTheWindow) {
    TrafficDays t;
    t.add(50, 5, kDec5 + 1000);
    // Nothing yet on Dec 6: today is zero, Dec 5 is a previous day.
    EXPECT_EQ(show(t.today(kDec5 + kDay + 5)), "2026-12-06 0 0");
    EXPECT_EQ(show(t.previous(kDec5 + kDay + 5)), "2026-12-05 50 5");
    // Eight days later it is out of the window, without any new bytes.
    EXPECT_EQ(show(t.previous(kDec5 + 8 * kDay)), "");
}

TEST(TrafficLedger, CountsGrowthOfTheRouteCountersAndRouteRestarts) {
    TrafficLedger l("unused");
    const int64_t t0 = kDec5 + 3600'000;
    l.observe("cloud", "lte", 100, 40, t0);
    l.observe("cloud", "lte", 150, 40, t0 + 60'000);
    EXPECT_EQ(show(l.days("cloud", "lte").today(t0)), "2026-12-05 150 40");
    // The route restarts: its counters start again from zero.
    l.routeStopped("cloud");
    l.observe("cloud", "lte", 30, 2, t0 + 120'000);
    EXPECT_EQ(show(l.days("cloud", "lte").today(t0)), "2026-12-05 180 42");
    // A restart nobody announced (counters went down): what is there now is new.
    l.observe("cloud", "lte", 10, 1, t0 + 180'000);
    EXPECT_EQ(show(l.days("cloud", "lte").today(t0)), "2026-12-05 190 43");
    // Other routes and uplinks are separate.
    l.observe("cloud", "eth", 7, 7, t0);
    l.observe("backup", "lte", 1, 0, t0);
    EXPECT_EQ(show(l.days("cloud", "lte").today(t0)), "2026-12-05 190 43");
    EXPECT_EQ(show(l.days("cloud", "eth").today(t0)), "2026-12-05 7 7");
    EXPECT_EQ(show(l.days("backup", "lte").today(t0)), "2026-12-05 1 0");
    EXPECT_EQ(show(l.days("none", "lte").today(t0)), "2026-12-05 0 0");
}

TEST(TrafficLedger, ADaemonRestartRestoresTheDaysFromTheFile) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("traffic-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "traffic.json").string();
    const int64_t t0 = kDec5 - kDay + 1000;  // Dec 4
    {
        TrafficLedger before(path);
        ASSERT_TRUE(before.load());  // no file yet: empty
        before.observe("cloud", "lte", 1000, 200, t0);
        before.observe("cloud", "lte", 1500, 300, kDec5 + 1000);  // Dec 5
        ASSERT_TRUE(before.save());
    }
    TrafficLedger after(path);
    ASSERT_TRUE(after.load());
    // The restarted daemon's route counts from zero again; the day's total goes on.
    after.observe("cloud", "lte", 20, 2, kDec5 + 2000);
    EXPECT_EQ(show(after.days("cloud", "lte").today(kDec5 + 2000)), "2026-12-05 520 102");
    EXPECT_EQ(show(after.days("cloud", "lte").previous(kDec5 + 2000)), "2026-12-04 1000 200");
    std::filesystem::remove_all(dir);
}

TEST(TrafficLedger, BadFilesAreErrorsThatNameTheEntry) {
    struct Case {
        const char* json;
        const char* message;
    };
    const Case cases[] = {
        {R"([])", "\"version\" is not 1"},
        {R"({"version":2,"uplinks":[]})", "\"version\" is not 1"},
        {R"({"version":1})", "\"uplinks\" is not an array"},
        {R"({"version":1,"uplinks":[{"route":"a"}]})",
         "uplinks[0]: \"route\" and \"uplink\" must be strings"},
        {R"({"version":1,"uplinks":[{"route":"a","uplink":"b","days":[{"date":"2026-12-5","sent":1,"received":1}]}]})",
         "uplinks[0]: days[0].date is not a date \"YYYY-MM-DD\""},
        {R"({"version":1,"uplinks":[{"route":"a","uplink":"b","days":[{"date":"2026-12-05","sent":-1,"received":1}]}]})",
         "uplinks[0]: days[0].sent is not a byte count"},
        {R"({"version":1,"uplinks":[{"route":"a","uplink":"b","days":[{"date":"2026-12-04","sent":1,"received":1},{"date":"2026-12-05","sent":1,"received":1}]}]})",
         "uplinks[0]: days[1].date is not older than the entry before it"},
    };
    for (const auto& c : cases) {
        TrafficLedger l("unused");
        const auto st = l.fromJson(nlohmann::json::parse(c.json));
        ASSERT_FALSE(st) << c.json;
        EXPECT_EQ(st.error().message, c.message);
        EXPECT_TRUE(l.days("a", "b").empty());
    }
    // And the file's name when it is not JSON at all.
    const auto dir =
        std::filesystem::temp_directory_path() / ("traffic-bad-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "traffic.json").string();
    std::ofstream(path) << "{garbage";
    TrafficLedger l(path);
    const auto st = l.load();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message, path + ": not JSON");
    std::filesystem::remove_all(dir);
}

TEST(TrafficView, OneShortLinePerUplink) {
    const struct {
        uint64_t bytes;
        const char* text;
    } sizes[] = {{0, "0 B"},
                 {999, "999 B"},
                 {1000, "1.0 KB"},
                 {12'345, "12.3 KB"},
                 {999'949, "999.9 KB"},
                 {999'950, "1.0 MB"},
                 {1'234'567, "1.2 MB"},
                 {3'400'000'000, "3.4 GB"}};
    for (const auto& s : sizes) {
        EXPECT_EQ(cli::formatBytes(s.bytes), s.text) << s.bytes;
    }
    const auto u = nlohmann::json::parse(R"({"name":"lte","bytes_sent":1000000,
        "bytes_received":234567,"today":{"date":"2026-12-05","sent":12345,"received":4100}})");
    EXPECT_EQ(cli::trafficLine(u),
              "lte: 12.3 KB sent, 4.1 KB received today (UTC); 1.2 MB since start");
    EXPECT_EQ(cli::trafficLine(nlohmann::json::parse(R"({"name":"lte","bytes_sent":1})")), "");
}

TEST(TrafficMetrics, TodaysBytesAreGaugesPerRouteAndUplink) {
    metrics::MetricsSnapshot s;
    s.routes = metrics::routesFromStatus(nlohmann::json::parse(R"([{"route":"cloud",
        "state":"online","uplinks":[{"name":"lte","state":"active","bytes_sent":9,
        "bytes_received":8,"today":{"date":"2026-12-05","sent":1234,"received":567}}]}])"));
    const std::string text = metrics::formatExposition(s);
    for (const char* line :
         {"# TYPE uplinkd_uplink_today_sent_bytes gauge",
          "uplinkd_uplink_today_sent_bytes{route=\"cloud\",uplink=\"lte\"} 1234",
          "# TYPE uplinkd_uplink_today_received_bytes gauge",
          "uplinkd_uplink_today_received_bytes{route=\"cloud\",uplink=\"lte\"} 567",
          "uplinkd_uplink_sent_bytes_total{route=\"cloud\",uplink=\"lte\"} 9"}) {
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
    }
}

}  // namespace
}  // namespace uplinkd
