// SPDX-License-Identifier: Apache-2.0
// TrafficDays: the bytes one route sent and received over one uplink per UTC day, today and the
// seven days before, rolled over by the time passed in; and the JSON form kept in the state
// directory. Pure: no clock, no I/O. Thread: loop.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// The bytes of one UTC day. `day` counts days since 1970-01-01 (UTC).
struct DayBytes {
    int64_t day = 0;
    uint64_t sent = 0;
    uint64_t received = 0;
    bool operator==(const DayBytes&) const = default;
};

/// The UTC day of a Unix time in ms.
int64_t utcDay(int64_t unix_ms);
/// "YYYY-MM-DD" of a UTC day.
std::string utcDate(int64_t day);
/// The day of "YYYY-MM-DD"; nullopt when it is not such a date.
std::optional<int64_t> parseUtcDate(std::string_view text);

class TrafficDays {
  public:
    /// Days kept before today.
    static constexpr int64_t kPreviousDays = 7;

    /// Adds bytes to the day of `unix_ms`. A clock that went back (the day is older than the
    /// newest one kept) adds to the newest day: counts never go to a day already closed.
    void add(uint64_t sent, uint64_t received, int64_t unix_ms);
    /// The bytes of the day of `unix_ms` (zero when nothing was counted that day); the newest day
    /// with its own date when the clock went back.
    DayBytes today(int64_t unix_ms) const;
    /// The seven days before the day of `unix_ms` that had bytes, newest first.
    std::vector<DayBytes> previous(int64_t unix_ms) const;
    /// Every day kept, newest first.
    const std::vector<DayBytes>& days() const { return days_; }
    bool empty() const { return days_.empty(); }
    /// Drops the days older than the window of `unix_ms` (today and the seven before).
    void prune(int64_t unix_ms);

    /// [{"date": "YYYY-MM-DD", "sent": N, "received": N}, ...], newest first.
    nlohmann::json toJson() const;
    /// From toJson()'s form; errors name the entry and the field.
    static Result<TrafficDays> fromJson(const nlohmann::json& j);

  private:
    std::vector<DayBytes> days_;  ///< newest first, one per day, at most today and 7 before
};

}  // namespace uplinkd
