// SPDX-License-Identifier: Apache-2.0
// The wall clock in ms since the Unix epoch: message times, dead-letter times, per-day traffic.
// Thread: any.
#pragma once

#include <chrono>
#include <cstdint>

namespace uplinkd {

/// Now, in ms since 1970-01-01 UTC (system_clock: it follows clock changes).
inline int64_t wallClockMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace uplinkd
