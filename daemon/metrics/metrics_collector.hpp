// SPDX-License-Identifier: Apache-2.0
// MetricsCollector: builds each scrape's MetricsSnapshot from the daemon's status JSON (the same
// numbers `uplinkctl status` shows), the spool file's size, the free space of the state
// directory, and the last answer of each modem (asked in the background every
// kModemRefresh, never during a scrape). Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/metrics_snapshot.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::metrics {

class MetricsCollector {
  public:
    struct Sources {
        std::function<nlohmann::json()> status;  ///< Daemon::status("") routes array
        std::string spool_path;                  ///< empty: memory spool
        std::string state_dir;
        std::function<std::vector<std::string>()> modem_names;  ///< the modem uplinks now
        /// Asks one modem uplink for its info (ModemUplink::info through the daemon).
        std::function<void(const std::string&, std::function<void(Result<nlohmann::json>)>)>
            modem_info;
    };
    static constexpr std::chrono::seconds kModemRefresh{30};

    MetricsCollector(asio::io_context& loop, Sources sources);
    ~MetricsCollector();
    MetricsCollector(const MetricsCollector&) = delete;
    MetricsCollector& operator=(const MetricsCollector&) = delete;

    MetricsSnapshot snapshot() const;
    /// The exposition text of snapshot().
    std::string scrape() const;

  private:
    void refreshModems();

    Sources sources_;
    asio::steady_timer timer_;
    std::map<std::string, nlohmann::json> modem_cache_;  ///< uplink → last info answer
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd::metrics
