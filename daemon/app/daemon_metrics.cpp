// SPDX-License-Identifier: Apache-2.0
// The daemon's observability wiring: the [metrics] endpoint, route online/down events for the
// journal, and how long each route has been offline (for `uplinkctl health`). Thread: loop.
#include <chrono>

#include "app/daemon.hpp"
#include "core/wall_clock.hpp"
#include "metrics/metrics_collector.hpp"
#include "metrics/metrics_server.hpp"
#include "modem/modem_uplink.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

Status Daemon::startMetrics() {
    if (config_.metrics.listen.empty()) {
        return okStatus();
    }
    metrics::MetricsCollector::Sources src;
    src.status = [this]() {
        auto r = status("");
        return r ? std::move(r.value()) : nlohmann::json::array();
    };
    src.spool_path = config_.daemon.spool == "memory" ? "" : config_.daemon.state_dir + "/spool.db";
    src.state_dir = config_.daemon.state_dir;
    src.modem_names = [this]() {
        std::vector<std::string> names;
        for (const auto& [name, up] : uplinks_) {
            if (dynamic_cast<ModemUplink*>(up.get()) != nullptr) {
                names.push_back(name);
            }
        }
        return names;
    };
    src.modem_info = [this](const std::string& name,
                            std::function<void(Result<nlohmann::json>)> done) {
        modemInfo(name, std::move(done));
    };
    metrics_collector_ = std::make_unique<metrics::MetricsCollector>(loop_, std::move(src));
    auto server = metrics::MetricsServer::start(loop_, config_.metrics,
                                                [this]() { return metrics_collector_->scrape(); });
    if (!server) {
        return server.failure();
    }
    metrics_server_ = std::move(server.value());
    logNotice("metrics: Prometheus endpoint on " + metrics_server_->endpoint() + "/metrics");
    return okStatus();
}

void Daemon::noteRouteState(const std::string& route, RouteState state) {
    auto since = offline_since_ms_.find(route);
    const bool was_offline = since != offline_since_ms_.end();
    if (state == RouteState::Online) {
        if (was_offline) {
            offline_since_ms_.erase(since);
        }
        return;  // the route logs its "online" event itself, with the stream it uses
    }
    if (was_offline) {
        return;
    }
    offline_since_ms_[route] = wallClockMs();
    if (state == RouteState::Stopped) {
        return;  // stopped on purpose (reload, shutdown): not an outage
    }
    auto it = routes_.find(route);
    RouteStatus s;
    if (it != routes_.end()) {
        s = it->second->status();
    }
    logEvent(
        LogLevel::Warning, LogEvent::RouteDown, {route, s.uplink, s.last_error_code},
        "route " + route + ": down" + (s.last_error.empty() ? std::string() : ": " + s.last_error));
}

int64_t Daemon::offlineMs(const std::string& route, RouteState state, int64_t now_ms) const {
    if (state == RouteState::Online) {
        return 0;
    }
    auto it = offline_since_ms_.find(route);
    const int64_t since = it != offline_since_ms_.end() ? it->second : started_ms_;
    return std::max<int64_t>(0, now_ms - since);
}

}  // namespace uplinkd
