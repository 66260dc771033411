// SPDX-License-Identifier: Apache-2.0
// The automatic in-flight window: grows while the round trip stays near its minimum, holds when
// it rises a little, shrinks when messages queue, stays within its bounds, forgets an old
// minimum, and a configured window never moves; a route's allows a short queue in the broker.
#include "session/inflight_window.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace uplinkd {
namespace {

/// `acks` acknowledgements, each `rtt_us` after its publish, `advance_ms` apart.
struct Acks {
    int acks;
    int64_t rtt_us;
    int64_t advance_ms = 0;
};

struct Case {
    const char* name;
    int fixed;  ///< 0: automatic
    std::vector<Acks> steps;
    int expected_window;
};

class WindowTable : public ::testing::TestWithParam<Case> {};

/// Feeds `w` the acknowledgements of `c`'s steps, in order; returns the window it ends with.
int replay(InflightWindow& w, const Case& c) {
    int64_t now_ms = 1'000'000;
    for (const Acks& step : c.steps) {
        for (int i = 0; i < step.acks; ++i) {
            now_ms += step.advance_ms;
            w.onAck(step.rtt_us, now_ms);
        }
    }
    return w.window();
}

TEST_P(WindowTable, FollowsTheRoundTrip) {
    const Case& c = GetParam();
    InflightWindow w(c.fixed);
    EXPECT_EQ(replay(w, c), c.expected_window) << c.name;
    EXPECT_EQ(w.automatic(), c.fixed == 0) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, WindowTable,
    ::testing::Values(
        Case{"starts at 32 and waits a whole round", 0, {{31, 1000}}, 32},
        Case{"a round near the minimum grows it by half", 0, {{32, 1000}}, 48},
        Case{"two rounds near the minimum", 0, {{32, 1000}, {48, 1000}}, 72},
        Case{"stops at the ceiling", 0, {{5000, 1000}}, 1024},
        Case{"holds while the round trip is up a little", 0, {{32, 10'000}, {48, 30'000}}, 48},
        Case{"shrinks by a quarter when messages queue", 0, {{32, 10'000}, {48, 50'000}}, 36},
        Case{"never below the floor", 0, {{32, 1000}, {400, 100'000}}, 8},
        Case{
            "a few milliseconds of jitter on a fast link is noise", 0, {{32, 200}, {48, 2000}}, 72},
        Case{"the minimum of the previous period still counts",
             0,
             {{32, 1000}, {48, 50'000}, {36, 50'000, 300}},
             27},
        Case{"a minimum two periods old is forgotten (slower uplink)",
             0,
             {{32, 1000}, {48, 50'000}, {36, 50'000, 300}, {27, 50'000, 400}},
             40},
        Case{"a configured window ignores the round trip", 256, {{32, 1000}, {400, 100'000}}, 256}),
    [](const ::testing::TestParamInfo<Case>& param) {
        return "case" + std::to_string(param.index);
    });

TEST(InflightWindow, ResetStartsOver) {
    InflightWindow w;
    for (int i = 0; i < 80; ++i) {
        w.onAck(1000, i);
    }
    ASSERT_EQ(w.window(), 72);
    EXPECT_EQ(w.baseRttUs(), 1000);
    w.reset();
    EXPECT_EQ(w.window(), 32);
    EXPECT_EQ(w.smoothedRttUs(), 0);
    EXPECT_EQ(w.baseRttUs(), 0);
}

TEST(InflightWindow, RouteNeverGoesBelowItsFormerFixedWindow) {
    InflightWindow w(0, inflightWindowSettings(false));
    for (int i = 0; i < 2000; ++i) {
        w.onAck(i < 32 ? 1000 : 200'000, i);
    }
    EXPECT_EQ(w.window(), 32);
    for (int i = 0; i < 5000; ++i) {
        w.onAck(1000, 2000 + i);
    }
    EXPECT_GT(w.window(), 32);
}

// A route's rule (inflightWindowSettings): a queue that drains within ~100 ms is worth its
// throughput, so a fast link keeps growing where the bare rule above would hold or shrink, while a
// slow link's base round trip still decides (issue 14).
class RouteWindowTable : public ::testing::TestWithParam<Case> {};

TEST_P(RouteWindowTable, AllowsAShortQueueInTheBroker) {
    const Case& c = GetParam();
    InflightWindow w(c.fixed, inflightWindowSettings(false));
    EXPECT_EQ(replay(w, c), c.expected_window) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RouteWindowTable,
    ::testing::Values(
        Case{"LAN, 2 ms base: 50 ms of queue still grows", 0, {{32, 2000}, {48, 50'000}}, 72},
        Case{"LAN, 2 ms base: 100 ms of queue holds", 0, {{32, 2000}, {48, 100'000}}, 48},
        Case{"LAN, 2 ms base: 150 ms of queue shrinks", 0, {{32, 2000}, {48, 150'000}}, 36},
        Case{"LAN, 2 ms base: a second of queue shrinks round after round",
             0,
             {{32, 2000}, {48, 1'000'000}, {36, 1'000'000}, {27, 1'000'000}},
             32},
        Case{"cellular, 600 ms base: up to 1.5× grows", 0, {{32, 600'000}, {48, 900'000}}, 72},
        Case{"cellular, 600 ms base: 2 s holds", 0, {{32, 600'000}, {48, 2'000'000}}, 48},
        Case{"cellular, 600 ms base: 3 s shrinks", 0, {{32, 600'000}, {48, 3'000'000}}, 36}),
    [](const ::testing::TestParamInfo<Case>& param) {
        return "case" + std::to_string(param.index);
    });

/// A broker that takes `rate` messages per second behind a `base_us` round trip: each
/// acknowledgement comes after the base plus the time to drain the window ahead of it.
int windowAgainstQueueingBroker(const InflightWindowSettings& s, double rate, int64_t base_us) {
    InflightWindow w(0, s);
    for (int i = 0; i < 40'000; ++i) {
        const auto queue_us = static_cast<int64_t>(w.window() * 1e6 / rate);
        w.onAck(base_us + queue_us, static_cast<int64_t>(i * 1000 / rate));
    }
    return w.window();
}

TEST(InflightWindow, RouteOnAFastLinkKeepsHundredsInFlight) {
    // 12,000 msg/s behind 3 ms (a broker on the LAN): the bare rule settles near 250 in flight,
    // a quarter of what a direct client keeps (1,000); the route's keeps at least 750.
    EXPECT_LT(windowAgainstQueueingBroker(InflightWindowSettings{32, 1024, 32, 10'000, 0, 1.5, 4.0},
                                          12'000, 3000),
              400);
    EXPECT_GE(windowAgainstQueueingBroker(inflightWindowSettings(false), 12'000, 3000), 750);
}

TEST(InflightWindow, ModuleMqttClientKeepsItsCeiling) {
    InflightWindow w(0, inflightWindowSettings(true));
    for (int i = 0; i < 2000; ++i) {
        w.onAck(1000, i);
    }
    EXPECT_EQ(w.window(), 32);
}

}  // namespace
}  // namespace uplinkd
