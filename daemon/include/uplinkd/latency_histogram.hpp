// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram: counts of durations (seconds) in fixed buckets, the shape a Prometheus
// histogram exports (cumulative counts per upper bound, a sum and a count). Pure value type.
// Thread: the owner's (the route's loop thread); copies are handed out as snapshots.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace uplinkd {

class LatencyHistogram {
  public:
    /// Upper bounds in seconds, from a LAN round trip to a backlog kept over a long outage.
    static constexpr std::array<double, 14> kBounds = {
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0};

    void observe(double seconds) {
        if (seconds < 0) {
            seconds = 0;  // a clock step backwards: count it as immediate
        }
        size_t i = 0;
        while (i < kBounds.size() && seconds > kBounds[i]) {
            ++i;
        }
        ++counts_[i];
        ++count_;
        sum_ += seconds;
    }
    /// Observations at or below kBounds[i] (i == kBounds.size(): all of them, +Inf).
    uint64_t cumulative(size_t i) const {
        uint64_t n = 0;
        for (size_t k = 0; k <= i && k < counts_.size(); ++k) {
            n += counts_[k];
        }
        return n;
    }
    uint64_t count() const { return count_; }
    double sum() const { return sum_; }

  private:
    std::array<uint64_t, kBounds.size() + 1> counts_{};  ///< last: above every bound
    uint64_t count_ = 0;
    double sum_ = 0;
};

}  // namespace uplinkd
