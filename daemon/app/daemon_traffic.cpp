// SPDX-License-Identifier: Apache-2.0
// The daemon's data budget wiring: the bytes of each route's uplinks per UTC day (TrafficLedger),
// brought up to date from the routes' counters for status and once a minute, and kept in
// <state_dir>/traffic.json across restarts. Thread: loop.
#include <chrono>

#include "app/daemon.hpp"
#include "uplink/traffic_ledger.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

constexpr int64_t kSaveEveryMs = 60'000;

int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

nlohmann::json dayJson(const DayBytes& d) {
    return {{"date", utcDate(d.day)}, {"sent", d.sent}, {"received", d.received}};
}

}  // namespace

void Daemon::startTraffic() {
    traffic_ = std::make_unique<TrafficLedger>(config_.daemon.state_dir + "/traffic.json");
    if (auto st = traffic_->load(); !st) {
        logWarning("data counters: " + st.error().message +
                   "; the days before are lost, counting from zero");
    }
    traffic_saved_ms_ = wallMs();
}

void Daemon::syncTraffic(const std::string& route, int64_t now_ms) {
    if (!traffic_) {
        return;
    }
    for (const auto& [name, r] : routes_) {
        if (!route.empty() && name != route) {
            continue;
        }
        for (const auto& u : r->status().uplinks) {
            traffic_->observe(name, u.name, u.bytes_sent, u.bytes_received, now_ms);
        }
    }
}

void Daemon::settleTraffic(const std::string& route) {
    if (!traffic_) {
        return;
    }
    syncTraffic(route, wallMs());
    for (const auto& [name, r] : routes_) {
        if (route.empty() || name == route) {
            traffic_->routeStopped(name);
        }
    }
}

void Daemon::saveTraffic(int64_t now_ms) {
    if (!traffic_) {
        return;
    }
    traffic_saved_ms_ = now_ms;
    const auto st = traffic_->save();
    if (!st && !traffic_save_failed_) {
        logWarning("data counters: " + st.error().message +
                   " (the day's counts live on in memory; retrying every minute)");
    } else if (st && traffic_save_failed_) {
        logNotice("data counters: " + traffic_->path() + " written again");
    }
    traffic_save_failed_ = !st;
}

void Daemon::tickTraffic(int64_t now_ms) {
    if (traffic_ && now_ms - traffic_saved_ms_ >= kSaveEveryMs) {
        syncTraffic("", now_ms);
        saveTraffic(now_ms);
    }
}

void Daemon::addTrafficJson(const std::string& route, nlohmann::json& uplink,
                            int64_t now_ms) const {
    if (!traffic_) {
        return;
    }
    const TrafficDays& days = traffic_->days(route, uplink["name"].get<std::string>());
    uplink["today"] = dayJson(days.today(now_ms));
    uplink["days"] = nlohmann::json::array();
    for (const DayBytes& d : days.previous(now_ms)) {
        uplink["days"].push_back(dayJson(d));
    }
}

}  // namespace uplinkd
