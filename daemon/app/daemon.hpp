// SPDX-License-Identifier: Apache-2.0
// Daemon: wires configuration, spool, uplinks, routes, tunnel and the local API together, and
// handles reloads. The one place where route errors and API events meet. Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "api/publish_server.hpp"
#include "config/config.hpp"
#include "plugin/plugin_registry.hpp"
#include "session/paho_worker.hpp"
#include "session/route_session.hpp"
#include "tunnel/tunnel.hpp"
#include "uplink/uplink.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {

namespace dbus {
class DbusService;
}
namespace metrics {
class MetricsCollector;
class MetricsServer;
}  // namespace metrics

/// How the daemon runs: settings from the command line rather than the configuration file.
struct DaemonOptions {
    /// The D-Bus API: "system", "session", "none" or a bus address (--dbus). When the bus
    /// cannot be reached the daemon logs a warning and runs without it.
    std::string dbus = "none";
    /// Gets a one-line summary of the routes ("demo: online, 0 queued") whenever it changes;
    /// main() sends it to systemd as STATUS=.
    std::function<void(const std::string&)> status_changed;
};

class ModemUplink;
class PidLock;
class TrafficLedger;

class Daemon final : public api::ApiBackend {
  public:
    Daemon(asio::io_context& loop, ConfigSource source, DaemonOptions options = {});
    ~Daemon() override;

    /// Loads the configuration, checks it against the host, locks the state directory and
    /// starts everything. Errors are configuration errors (exit 78) when their code is "config";
    /// "locked" when another uplinkd uses the state directory; otherwise start-up failures.
    Status start();
    /// Re-reads the configuration; keeps the running one when the new one is bad.
    void reload();
    void stop();

    // api::ApiBackend
    void publish(Message msg, std::function<void(Result<uint64_t>)> done) override;
    Result<nlohmann::json> status(const std::string& route) override;
    Status subscribe(const std::string& route, const std::string& filter, int qos) override;
    void unsubscribe(const std::string& route, const std::string& filter) override;
    void modemInfo(const std::string& uplink,
                   std::function<void(Result<nlohmann::json>)> done) override;
    void modemAt(const std::string& uplink, const std::string& command, int timeout_ms,
                 std::function<void(Result<nlohmann::json>)> done) override;
    void deadLetters(const std::string& action, const std::string& route, uint64_t seq, bool all,
                     std::function<void(Result<nlohmann::json>)> done) override;
    /// The doctor on the daemon's own routes (core/daemon_doctor.cpp); one run per route at a
    /// time, a second request gets "busy".
    void doctor(const std::string& route,
                std::function<void(Result<nlohmann::json>)> done) override;

  private:
    void applyRoutes(const Config& cfg);
    void buildUplinks(const Config& cfg);
    std::unique_ptr<RouteSession> makeRoute(const RouteConfig& rc);
    void startHousekeeping();
    /// Once the routes have gone quiet after some work (no message queued, sent, delivered or
    /// received for a housekeeping tick), has the spool drop its caches, and one tick later gives
    /// the heap's free pages back to the system: glibc keeps what a backlog freed otherwise.
    void trimWhenQuiet();
    void startDbus();
    void onRouteState(const std::string& route, RouteState state);
    /// Sends the routes' summary to options_.status_changed when it changed.
    void updateStatusLine();
    // Observability (daemon_metrics.cpp): the [metrics] endpoint and route up/down events.
    Status startMetrics();
    void noteRouteState(const std::string& route, RouteState state);
    /// ms the route has been offline (0 when online), for `uplinkctl health`.
    int64_t offlineMs(const std::string& route, RouteState state, int64_t now_ms) const;

    // Data budget (daemon_traffic.cpp): per-day bytes of the routes' uplinks, kept in the state
    // directory. `route` empty: every route.
    void startTraffic();
    void syncTraffic(const std::string& route, int64_t now_ms);
    /// Counts what the route(s) sent so far, before they stop (restart, reload, shutdown).
    void settleTraffic(const std::string& route);
    void saveTraffic(int64_t now_ms);
    /// Once a minute: syncTraffic and saveTraffic.
    void tickTraffic(int64_t now_ms);
    /// Adds "today" and "days" to a status uplinks[] entry.
    void addTrafficJson(const std::string& route, nlohmann::json& uplink, int64_t now_ms) const;

    /// The modem uplink named `name`, or the only one when `name` is empty.
    Result<ModemUplink*> findModem(const std::string& name);
    /// Logs, once each, the plugin modules the registry skipped (a duplicate name, a broken
    /// module) while a configuration was read.
    void logPluginProblems();

    asio::io_context& loop_;
    ConfigSource source_;
    DaemonOptions options_;
    PluginRegistry plugins_;
    size_t plugin_problems_logged_ = 0;  ///< of plugins_.problems()
    Config config_;
    std::unique_ptr<PidLock> state_lock_;  ///< held from start() until destruction
    SpoolPtr spool_;
    /// Runs every call into Paho, off the loop; declared before routes_ so that it joins after
    /// the routes have queued their clients' destruction.
    PahoWorker paho_worker_;
    std::unique_ptr<Tunnel> tunnel_;
    std::map<std::string, std::unique_ptr<Uplink>> uplinks_;
    std::map<std::string, std::unique_ptr<RouteSession>> routes_;
    std::unique_ptr<api::PublishServer> api_;
    std::unique_ptr<dbus::DbusService> dbus_;
    /// (route, filter) → how many front ends (socket API, D-Bus) subscribed, and the QoS; kept
    /// across route restarts so that a restarted route subscribes again.
    std::map<std::pair<std::string, std::string>, std::pair<int, int>> subscriptions_;
    std::unique_ptr<metrics::MetricsCollector> metrics_collector_;
    std::unique_ptr<metrics::MetricsServer> metrics_server_;
    std::map<std::string, int64_t> offline_since_ms_;  ///< route → when it left online (or began)
    std::string status_line_;
    std::set<std::string> doctoring_;  ///< routes the doctor is examining
    asio::steady_timer housekeeping_;
    uint64_t activity_seen_ = 0;  ///< the routes' message counts at the last housekeeping tick
    /// Housekeeping ticks without activity (counted up to 2): the first drops the spool's caches,
    /// the second trims the heap. Starts as if long quiet: nothing to give back at start-up.
    int quiet_ticks_ = 2;
    int64_t started_ms_ = 0;
    std::unique_ptr<TrafficLedger> traffic_;
    int64_t traffic_saved_ms_ = 0;
    bool traffic_save_failed_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
