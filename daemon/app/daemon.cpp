// SPDX-License-Identifier: Apache-2.0
#include "app/daemon.hpp"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "config/config_checks.hpp"
#include "core/pid_lock.hpp"
#include "core/wall_clock.hpp"
#include "dbus/dbus_service.hpp"
#include "metrics/metrics_collector.hpp"
#include "metrics/metrics_server.hpp"
#include "modem/modem_uplink.hpp"
#include "spool/memory_spool.hpp"
#include "spool/sqlite_spool.hpp"
#include "uplink/local_network.hpp"
#include "uplink/traffic_ledger.hpp"
#include "uplinkd/log.hpp"
#include "uplinkd/mqtt_names.hpp"

namespace uplinkd {

namespace {

std::shared_ptr<const api::Acl> makeAcl(const Config& cfg) {
    return std::make_shared<const api::Acl>(cfg.api.acl, static_cast<uint32_t>(::geteuid()));
}

/// Creates the state directory (and its parents) if it is missing: the directory itself mode
/// 0750 whatever the umask, since spooled payloads are kept there.
Status makeStateDirectory(const std::string& dir) {
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) {
        return okStatus();
    }
    const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent, ec);
    }
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
        return fail("state",
                    "cannot create the state directory " + dir + ": " + std::strerror(errno));
    }
    if (::chmod(dir.c_str(), 0750) != 0) {
        return fail("state", "cannot set the mode of the state directory " + dir + ": " +
                                 std::strerror(errno));
    }
    return okStatus();
}

}  // namespace

Daemon::Daemon(asio::io_context& loop, ConfigSource source, DaemonOptions options)
    : loop_(loop), source_(std::move(source)), options_(std::move(options)), housekeeping_(loop) {}

Daemon::~Daemon() {
    alive_.reset();
    stop();
}

Status Daemon::start() {
    started_ms_ = wallClockMs();
    auto cfg = loadConfig(source_, plugins_);
    if (!cfg) {
        return cfg.failure();
    }
    logPluginProblems();
    if (auto st = checkHost(*cfg); !st) {
        return st;
    }
    config_ = std::move(cfg.value());
    setLogLevel(config_.daemon.log_level);

    if (auto st = makeStateDirectory(config_.daemon.state_dir); !st) {
        return st;
    }
    // One uplinkd per state directory: a second one would deliver the same spool again and take
    // the broker connection (same client id) away from the first.
    auto lock =
        PidLock::acquire(config_.daemon.state_dir + "/lock", "using " + config_.daemon.state_dir);
    if (!lock) {
        if (lock.error().code == "locked") {
            return fail("locked", lock.error().message +
                                      "; stop it, or give this one another daemon.state_dir");
        }
        return lock.failure();
    }
    state_lock_ = std::move(lock.value());
    startTraffic();
    if (config_.daemon.spool == "memory") {
        logWarning("daemon.spool = \"memory\": messages are lost when uplinkd stops");
        spool_ = std::make_unique<MemorySpool>(loop_);
    } else {
        const std::string path = config_.daemon.state_dir + "/spool.db";
        std::string note;
        auto sq = SqliteSpool::open(loop_, path, &note);
        if (!sq) {
            return sq.failure("spool " + path);
        }
        if (!note.empty()) {
            logWarning("spool: " + note);
        }
        switch (sq.value()->openCheck()) {
            case SqliteSpool::OpenCheck::Created:
                logInfo("spool: created " + path);
                break;
            case SqliteSpool::OpenCheck::Checked:
                logInfo("spool: " + path +
                        " checked page by page (the last shutdown was not clean)");
                break;
            case SqliteSpool::OpenCheck::TrustedAfterCleanClose:
                logInfo("spool: " + path + " opened without a full check (the last shutdown was " +
                        (sq.value()->countersRestored() ? "clean; queue counters restored from it)"
                                                        : "clean; queue counters counted)"));
                break;
        }
        // Logged once per episode: the spool reports the change, not every refused append.
        sq.value()->onDiskFull([path](bool full, const std::string& route) {
            if (full) {
                logEvent(LogLevel::Warning, LogEvent::SpoolFull, {route, {}, "disk_full"},
                         "spool: the disk holding " + path + " is full" +
                             (route.empty() ? std::string()
                                            : " (route " + route + " could not queue a message)") +
                             ": new messages are refused (spool_io, disk full) until space is "
                             "freed; queued messages are still delivered");
            } else {
                logNotice("spool: there is room on the disk holding " + path +
                          " again: new messages are accepted");
            }
        });
        spool_ = std::move(sq.value());
    }

    auto tunnel = Tunnel::start(loop_);
    if (!tunnel) {
        return tunnel.failure();
    }
    tunnel_ = std::move(tunnel.value());

    buildUplinks(config_);
    applyRoutes(config_);
    // Before the socket: once the socket answers, the D-Bus name is owned and the metrics
    // endpoint listens too.
    startDbus();
    if (auto st = startMetrics(); !st) {
        return st;
    }

    api::ServerOptions opts;
    opts.path = config_.api.socket;
    opts.mode = config_.api.socket_mode;
    opts.group = config_.api.socket_group;
    opts.max_line_bytes = config_.api.max_line_bytes;
    opts.max_message_bytes = config_.api.max_message_bytes;
    opts.max_connections_per_uid = config_.api.max_connections_per_uid;
    opts.max_buffered_input_bytes = config_.api.max_buffered_input_bytes;
    opts.partial_line_timeout_ms = config_.api.partial_line_timeout_ms;
    opts.acl = makeAcl(config_);
    auto server = api::PublishServer::start(loop_, opts, *this);
    if (!server) {
        return server.failure();
    }
    api_ = std::move(server.value());
    startHousekeeping();
    updateStatusLine();
    logNotice("uplinkd started: " + std::to_string(routes_.size()) + " route(s), API on " +
              config_.api.socket +
              (dbus_ ? std::string(" and as ") + dbus::kBusName + " on " + dbus_->busDescription()
                     : std::string()));
    return {};
}

void Daemon::startDbus() {
    if (options_.dbus == "none" || options_.dbus.empty()) {
        return;
    }
    auto service = dbus::DbusService::start(loop_, options_.dbus, *this, makeAcl(config_));
    if (!service) {
        logWarning("D-Bus: " + service.error().message +
                   "; running without the D-Bus API (the socket API works)");
        return;
    }
    dbus_ = std::move(service.value());
}

void Daemon::buildUplinks(const Config& cfg) {
    uplinks_.clear();
    for (const auto& [name, u] : cfg.uplinks) {
        if (u.type == "modem") {
            // The configuration was checked against the loaded plugins.
            const ModemPluginApi* api = plugins_.modem(u.driver);
            if (api == nullptr) {
                logError("uplink " + name + ": no modem plugin \"" + u.driver + "\"");
                continue;
            }
            auto modem = std::make_unique<ModemUplink>(loop_, u, *api);
            modem->start();
            uplinks_[name] = std::move(modem);
        } else {
            uplinks_[name] = std::make_unique<LocalNetwork>(loop_, name, u.interface);
        }
    }
}

std::unique_ptr<RouteSession> Daemon::makeRoute(const RouteConfig& rc) {
    std::vector<Uplink*> ups;
    for (const auto& name : rc.uplinks) {
        if (auto it = uplinks_.find(name); it != uplinks_.end()) {
            ups.push_back(it->second.get());
        }
    }
    RouteSession::Events ev;
    std::weak_ptr<bool> alive = alive_;
    ev.delivered = [this, alive](const std::string& route, uint64_t seq) {
        if (!alive.expired() && api_) {
            api_->delivered(route, seq);
        }
        if (!alive.expired() && dbus_) {
            dbus_->delivered(route, seq);
        }
    };
    ev.incoming = [this, alive](const IncomingMessage& msg) {
        if (!alive.expired() && api_) {
            api_->incoming(msg);
        }
        if (!alive.expired() && dbus_) {
            dbus_->incoming(msg);
        }
    };
    ev.state_changed = [this, alive](const std::string& route, RouteState s) {
        logDebug("route " + route + ": " + routeStateName(s));
        if (!alive.expired()) {
            onRouteState(route, s);
        }
    };
    offline_since_ms_.try_emplace(rc.name, wallClockMs());
    return std::make_unique<RouteSession>(loop_, rc, *spool_, *tunnel_, std::move(ups),
                                          std::move(ev), paho_worker_);
}

void Daemon::applyRoutes(const Config& cfg) {
    // Routes whose settings did not change keep their connection; the rest restart.
    for (auto it = routes_.begin(); it != routes_.end();) {
        const RouteConfig* rc = cfg.route(it->first);
        if (rc == nullptr || rc->fingerprint != it->second->config().fingerprint) {
            logInfo(
                "route " + it->first +
                (rc ? ": configuration changed, restarting" : ": removed from the configuration"));
            settleTraffic(it->first);
            it = routes_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& rc : cfg.routes) {
        if (routes_.count(rc.name) == 0) {
            if (sendsCredentialsInClear(rc)) {
                const BrokerEndpoint ep = rc.cloud->endpoint();
                logWarning("route " + rc.name +
                           ": tls = false: the password (or SAS token) goes "
                           "to " +
                           ep.host + ":" + std::to_string(ep.port) +
                           " in clear text (allow_plaintext_credentials = true)");
            }
            auto r = makeRoute(rc);
            // A restarted route keeps the subscriptions of the local clients.
            for (const auto& [key, use] : subscriptions_) {
                if (key.first == rc.name) {
                    if (auto st = r->subscribe(key.second, use.second); !st) {
                        logWarning("route " + rc.name + ": cannot subscribe again to \"" +
                                   key.second + "\": " + st.error().message + ", ignoring");
                    }
                }
            }
            r->start();
            routes_[rc.name] = std::move(r);
        }
    }
}

void Daemon::logPluginProblems() {
    const auto& problems = plugins_.problems();
    for (; plugin_problems_logged_ < problems.size(); ++plugin_problems_logged_) {
        logWarning(problems[plugin_problems_logged_]);
    }
}

void Daemon::reload() {
    auto cfg = loadConfig(source_, plugins_);
    logPluginProblems();
    if (!cfg) {
        logError("reload: the new configuration is invalid, keeping the running one:\n" +
                 cfg.error().message);
        return;
    }
    if (cfg->api.socket != config_.api.socket) {
        logWarning("reload: api.socket changed; the new path takes effect after a restart");
    }
    if (!(cfg->metrics == config_.metrics)) {
        logWarning("reload: [metrics] changed; it takes effect after a restart");
    }
    setLogLevel(cfg->daemon.log_level);
    if (cfg->api.acl != config_.api.acl) {
        const auto acl = makeAcl(*cfg);
        if (api_) {
            api_->setAcl(acl);
        }
        if (dbus_) {
            dbus_->setAcl(acl);
        }
        logNotice("reload: [api.acl] changed; it applies to requests from now on");
    }
    // Uplinks are rebuilt only when routes restart; running routes keep their pointers.
    bool uplinks_changed = cfg->uplinks.size() != config_.uplinks.size();
    for (const auto& [name, u] : cfg->uplinks) {
        auto old = config_.uplinks.find(name);
        uplinks_changed |= old == config_.uplinks.end() || !(old->second == u);
    }
    if (uplinks_changed) {
        settleTraffic("");
        routes_.clear();
        buildUplinks(*cfg);
    }
    applyRoutes(*cfg);
    config_ = std::move(cfg.value());
    updateStatusLine();
    logNotice("reload: configuration applied (" + std::to_string(routes_.size()) + " route(s))");
}

void Daemon::stop() {
    housekeeping_.cancel();
    metrics_server_.reset();
    metrics_collector_.reset();
    settleTraffic("");
    saveTraffic(wallClockMs());
    routes_.clear();
    dbus_.reset();
    api_.reset();
    tunnel_.reset();
}

void Daemon::onRouteState(const std::string& route, RouteState state) {
    noteRouteState(route, state);
    if (dbus_) {
        auto it = routes_.find(route);
        const RouteStatus st = it != routes_.end() ? it->second->status() : RouteStatus{};
        dbus_->routeStateChanged(route, routeStateName(state), st.last_error, st.active_uplink);
    }
    updateStatusLine();
}

void Daemon::updateStatusLine() {
    if (!options_.status_changed) {
        return;
    }
    std::string line;
    for (const auto& [name, r] : routes_) {
        line += (line.empty() ? "" : "; ") + name + ": " + routeStateName(r->status().state) +
                ", " + std::to_string(spool_ ? spool_->stats(name).depth : 0) + " queued";
    }
    if (line.empty()) {
        line = "no route configured";
    }
    if (line != status_line_) {
        status_line_ = line;
        options_.status_changed(line);
    }
}

void Daemon::startHousekeeping() {
    housekeeping_.expires_after(std::chrono::seconds(1));
    std::weak_ptr<bool> alive = alive_;
    housekeeping_.async_wait([this, alive](asio::error_code ec) {
        if (ec || alive.expired()) {
            return;
        }
        const int64_t now = wallClockMs();
        for (auto& [name, route] : routes_) {
            if (const uint64_t n = spool_->expire(name, now); n > 0) {
                logWarning("route " + name + ": " + std::to_string(n) +
                           " message(s) expired before delivery (spool.max_age_seconds)");
            }
        }
        updateStatusLine();  // queue depths change without a state change
        tickTraffic(now);
        trimWhenQuiet();
        startHousekeeping();
    });
}

void Daemon::trimWhenQuiet() {
    uint64_t activity = 0;
    for (const auto& [name, route] : routes_) {
        const RouteStatus s = route->status();
        activity += s.sent + s.delivered + s.received + spool_->stats(name).depth;
    }
    if (activity != activity_seen_) {
        activity_seen_ = activity;
        quiet_ticks_ = 0;
        return;
    }
    if (quiet_ticks_ == 0) {
        spool_->releaseMemory();  // the spool's worker frees its share before the next tick
    } else if (quiet_ticks_ == 1) {
        ::malloc_trim(0);
    }
    quiet_ticks_ = std::min(quiet_ticks_ + 1, 2);
}

}  // namespace uplinkd
