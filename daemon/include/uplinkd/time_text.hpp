// SPDX-License-Identifier: Apache-2.0
// Times and durations in the words of uplinkd's messages (certificate dates, token expiry, clock
// offsets). Pure. Thread: any.
#pragma once

#include <cstdint>
#include <string>

namespace uplinkd {

/// "2026-12-05 03:07:14 UTC".
std::string formatUtc(int64_t unix_seconds);

/// The length of `seconds` (its sign is ignored), rounded down to one unit: "90 s" below two
/// minutes, "5 min" below two hours, "3 h" below two days, else "4 days".
std::string durationText(int64_t seconds);

}  // namespace uplinkd
