// SPDX-License-Identifier: Apache-2.0
// MetricsSnapshot: the numbers a scrape exports, taken from the same status JSON that
// `uplinkctl status --json` shows (Daemon::status), plus what only the metrics need (spool file
// size, free disk space, cached modem answers). Pure: no I/O. Thread: any (value types).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/latency_histogram.hpp"

namespace uplinkd::metrics {

struct UplinkMetrics {
    std::string name;
    std::string state;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    /// The current UTC day's bytes (kept across restarts); absent when the status has none.
    std::optional<uint64_t> today_sent, today_received;
};

struct HistogramMetrics {
    std::vector<double> bounds;        ///< upper bounds (seconds), ascending
    std::vector<uint64_t> cumulative;  ///< one per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
};

struct RouteMetrics {
    std::string name;
    std::string cloud;
    std::string state;
    uint64_t queued = 0;
    uint64_t queued_bytes = 0;
    double oldest_age_seconds = 0;
    uint64_t in_flight = 0;
    uint64_t sent = 0;
    uint64_t delivered = 0;
    uint64_t received = 0;
    uint64_t dropped = 0;
    uint64_t expired = 0;
    uint64_t rejected = 0;
    uint64_t dead_lettered = 0;
    uint64_t connects = 0;
    std::map<std::string, uint64_t> failures_by_class;  ///< reason class → failed attempts
    HistogramMetrics delivery_latency;
    std::vector<UplinkMetrics> uplinks;  ///< when the status has an "uplinks" array
};

struct ModemMetrics {
    std::string uplink;
    bool ready = false;
    std::optional<int> signal_dbm;  ///< absent when the module did not say
    std::string registration;       ///< "registered (home)", "searching", ... ("" unknown)
};

struct MetricsSnapshot {
    std::vector<RouteMetrics> routes;
    std::vector<ModemMetrics> modems;
    std::optional<uint64_t> spool_file_bytes;  ///< database and its WAL (absent: memory spool)
    std::optional<uint64_t> disk_free_bytes;   ///< free space where the state directory is
};

/// The states a route can be in, in the order they are exported (one 0/1 gauge each).
const std::vector<std::string_view>& routeStates();

/// The reason class of a connection failure's error code ("dns", "tls", "auth", ...), so that
/// the label set stays small and stable while codes grow. A table; unknown codes → "other".
std::string_view reasonClass(std::string_view code);

/// The histogram as the status JSON carries it ({"le": [...], "cumulative": [...], ...}).
nlohmann::json histogramJson(const LatencyHistogram& h);

/// Routes from the status JSON array (Daemon::status); fields that are missing stay zero.
std::vector<RouteMetrics> routesFromStatus(const nlohmann::json& routes);

/// A modem from a cached `modem info` answer.
ModemMetrics modemFromInfo(const nlohmann::json& info);

}  // namespace uplinkd::metrics
