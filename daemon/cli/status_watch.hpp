// SPDX-License-Identifier: Apache-2.0
// `uplinkctl status --watch`: a live view redrawn every second, one line per route (msg/s in
// and out from the deltas of the status counters, queue depth, and a progress bar with the time
// left while a backlog drains). WatchModel and renderWatch are pure (tested from tables); only
// runStatusWatch touches the terminal. Thread: the caller's.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace uplinkd {
class ApiClient;
}

namespace uplinkd::cli {

class WatchModel {
  public:
    struct Row {
        std::string route;
        std::string state;
        double in_rate = 0;   ///< msg/s accepted into the queue
        double out_rate = 0;  ///< msg/s delivered to the broker
        double rx_rate = 0;   ///< msg/s received from the broker
        uint64_t queued = 0;
        uint64_t backlog = 0;     ///< the largest depth since the queue was last empty
        double eta_seconds = -1;  ///< time to drain at the current rates (< 0: not draining)
        bool spool_held = false;  ///< a message the spool cannot read holds the route
    };

    /// Takes the status JSON routes array, `seconds` after the previous one (rates need two).
    void update(const nlohmann::json& routes, double seconds);
    const std::vector<Row>& rows() const { return rows_; }

  private:
    struct Counters {
        uint64_t queued = 0, left = 0, delivered = 0, received = 0;
        bool seen = false;
    };
    std::map<std::string, Counters> last_;
    std::map<std::string, uint64_t> backlog_;
    std::map<std::string, Row> smooth_;  ///< rates averaged over the last few seconds
    std::vector<Row> rows_;
};

/// One frame: a header line, a column line, one line per route; never wider than `width` nor
/// taller than `height` (routes that do not fit are summed up in the last line).
std::vector<std::string> renderWatch(const std::vector<WatchModel::Row>& rows,
                                     const std::string& header, int width, int height);

/// Redraws until q or Ctrl-C; restores the terminal. Returns the exit code.
int runStatusWatch(ApiClient& client, const std::string& route);

}  // namespace uplinkd::cli
