// SPDX-License-Identifier: Apache-2.0
// TrafficLedger: the per-day bytes (TrafficDays) of every route's uplinks, fed from the routes'
// counters (which count since the route started) and kept across restarts in a small JSON file
// in the state directory, written whole (temporary file, fsync, rename) when asked: at most once
// a minute and at a clean stop. Thread: loop.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "uplink/traffic_days.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

class TrafficLedger {
  public:
    using Key = std::pair<std::string, std::string>;  ///< (route, uplink)

    explicit TrafficLedger(std::string path) : path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    /// Reads the file. A missing file is an empty ledger; a bad one is an error naming the file
    /// and the entry, and leaves the ledger empty (the next save replaces the file).
    Status load();
    /// Writes the file if something changed since the last save.
    Status save();

    /// The route's counters for the uplink now (bytes since the route started): what grew since
    /// the last call goes to the UTC day of `unix_ms`.
    void observe(const std::string& route, const std::string& uplink, uint64_t sent_total,
                 uint64_t received_total, int64_t unix_ms);
    /// The route stops (restart, reload, shutdown): its next counters start from zero.
    void routeStopped(const std::string& route);
    /// The days of (route, uplink); an empty one when nothing was counted.
    const TrafficDays& days(const std::string& route, const std::string& uplink) const;

    /// The file's content: {"version": 1, "uplinks": [{"route", "uplink", "days": [...]}]};
    /// entries without a day in the window of `unix_ms` are left out.
    nlohmann::json toJson(int64_t unix_ms) const;
    /// Replaces the days from toJson()'s form; errors name the entry and the field.
    Status fromJson(const nlohmann::json& j);

  private:
    struct Entry {
        TrafficDays days;
        uint64_t last_sent = 0;  ///< the route's counters at the last observe()
        uint64_t last_received = 0;
    };
    std::string path_;
    std::map<Key, Entry> entries_;
    bool dirty_ = false;
};

}  // namespace uplinkd
