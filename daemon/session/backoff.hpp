// SPDX-License-Identifier: Apache-2.0
// Reconnect delays: exponential backoff with jitter. Pure. Thread: any.
#pragma once

#include <algorithm>
#include <cstdint>

namespace uplinkd {

/// Delay before attempt number `attempt` (1 = first retry): min·2^(attempt-1), capped at max,
/// then scaled by a jitter factor in [0.5, 1.0] taken from `unit_random` in [0, 1).
inline int64_t backoffDelayMs(int attempt, int64_t min_ms, int64_t max_ms, double unit_random) {
    const int shift = std::clamp(attempt - 1, 0, 30);
    const int64_t base = std::min<int64_t>(max_ms, min_ms << shift);
    const double factor = 0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0);
    return std::max<int64_t>(min_ms / 2, static_cast<int64_t>(static_cast<double>(base) * factor));
}

}  // namespace uplinkd
