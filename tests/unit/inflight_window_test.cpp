// SPDX-License-Identifier: Apache-2.0
// The automatic in-flight window: grows while the round trip stays near its minimum, holds when
// it rises a little, shrinks when messages queue, stays within its bounds, forgets an old
// minimum, and a configured window never moves.
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

TEST_P(WindowTable, FollowsTheRoundTrip) {
    const Case& c = GetParam();
    InflightWindow w(c.fixed);
    int64_t now_ms = 1'000'000;
    for (const Acks& step : c.steps) {
        for (int i = 0; i < step.acks; ++i) {
            now_ms += step.advance_ms;
            w.onAck(step.rtt_us, now_ms);
        }
    }
    EXPECT_EQ(w.window(), c.expected_window) << c.name;
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

TEST(InflightWindow, ModuleMqttClientKeepsItsCeiling) {
    InflightWindow w(0, inflightWindowSettings(true));
    for (int i = 0; i < 2000; ++i) {
        w.onAck(1000, i);
    }
    EXPECT_EQ(w.window(), 32);
}

}  // namespace
}  // namespace uplinkd
