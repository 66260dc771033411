// SPDX-License-Identifier: Apache-2.0
// Reconnect delays grow exponentially, stay within the configured bounds and are jittered.
#include "session/backoff.hpp"

#include <gtest/gtest.h>

namespace uplinkd {
namespace {

struct Step {
    int attempt;
    double random;
    int64_t expected_ms;
};

class Backoff : public ::testing::TestWithParam<Step> {};

TEST_P(Backoff, FollowsTheTable) {
    const auto& s = GetParam();
    EXPECT_EQ(backoffDelayMs(s.attempt, 1000, 60000, s.random), s.expected_ms)
        << "attempt " << s.attempt << " random " << s.random;
}

INSTANTIATE_TEST_SUITE_P(Table, Backoff,
                         ::testing::Values(Step{1, 0.999999, 999}, Step{1, 0.0, 500},
                                           Step{2, 0.0, 1000}, Step{3, 0.5, 3000},
                                           Step{6, 0.0, 16000}, Step{7, 0.999999, 59999},
                                           Step{7, 0.0, 30000}, Step{40, 0.0, 30000},
                                           Step{0, 0.0, 500}));

TEST(BackoffBounds, NeverBelowHalfTheMinimumNorAboveTheMaximum) {
    for (int attempt = 0; attempt < 64; ++attempt) {
        for (double r : {0.0, 0.25, 0.5, 0.75, 1.0}) {
            const int64_t d = backoffDelayMs(attempt, 100, 5000, r);
            EXPECT_GE(d, 50);
            EXPECT_LE(d, 5000);
        }
    }
}

}  // namespace
}  // namespace uplinkd
