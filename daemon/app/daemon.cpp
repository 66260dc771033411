// SPDX-License-Identifier: Apache-2.0
#include "app/daemon.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "config/config_checks.hpp"
#include "core/pid_lock.hpp"
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

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
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
    started_ms_ = nowMs();
    auto cfg = loadConfig(source_, plugins_);
    if (!cfg) {
        return cfg.failure();
    }
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
    offline_since_ms_.try_emplace(rc.name, nowMs());
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

void Daemon::reload() {
    auto cfg = loadConfig(source_, plugins_);
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
    saveTraffic(nowMs());
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
        const int64_t now = nowMs();
        for (auto& [name, route] : routes_) {
            if (const uint64_t n = spool_->expire(name, now); n > 0) {
                logWarning("route " + name + ": " + std::to_string(n) +
                           " message(s) expired before delivery (spool.max_age_seconds)");
            }
        }
        updateStatusLine();  // queue depths change without a state change
        tickTraffic(now);
        startHousekeeping();
    });
}

void Daemon::publish(Message msg, std::function<void(Result<uint64_t>)> done) {
    // The socket and D-Bus both come here: one check of what brokers refuse to carry.
    if (auto st = mqtt::checkPublishText(msg.topic, msg.properties); !st) {
        done(st.failure());
        return;
    }
    auto it = routes_.find(msg.route);
    if (it == routes_.end()) {
        std::string known;
        for (const auto& [name, r] : routes_) {
            known += known.empty() ? name : ", " + name;
        }
        done(fail("unknown_route", "no route \"" + msg.route + "\" (configured: " +
                                       (known.empty() ? "none" : known) + ")"));
        return;
    }
    if (auto st = it->second->validate(msg); !st) {
        done(st.failure());
        return;
    }
    msg.created_ms = nowMs();
    const std::string route = msg.route;
    std::weak_ptr<bool> alive = alive_;
    spool_->append(std::move(msg),
                   [this, alive, route, done = std::move(done)](Result<uint64_t> r) {
                       done(r);
                       if (r && !alive.expired()) {
                           if (auto rit = routes_.find(route); rit != routes_.end()) {
                               rit->second->notifyQueued();
                           }
                       }
                   });
}

Result<nlohmann::json> Daemon::status(const std::string& route) {
    nlohmann::json out = nlohmann::json::array();
    const int64_t now = nowMs();
    syncTraffic(route, now);
    for (const auto& [name, r] : routes_) {
        if (!route.empty() && name != route) {
            continue;
        }
        const RouteStatus s = r->status();
        const SpoolStats q = spool_->stats(name);
        out.push_back({{"route", name},
                       {"cloud", s.cloud},
                       {"state", routeStateName(s.state)},
                       {"broker", s.broker},
                       {"uplink", s.uplink},
                       {"stream", s.stream},
                       {"mqtt", s.mqtt},
                       {"delivery_note", s.delivery_note},
                       {"last_error", s.last_error},
                       {"last_error_code", s.last_error_code},
                       {"next_retry_ms", s.next_retry_ms},
                       {"queued", q.depth},
                       {"queued_bytes", q.bytes},
                       {"oldest_age_ms", q.oldest_created_ms ? now - q.oldest_created_ms : 0},
                       {"in_flight", s.in_flight},
                       {"inflight_window", s.inflight_window},
                       {"inflight_window_auto", s.inflight_window_auto},
                       {"round_trip_ms", static_cast<double>(s.round_trip_us) / 1000.0},
                       {"leased", q.leased},
                       {"sent", s.sent},
                       {"delivered", s.delivered},
                       {"received", s.received},
                       {"dropped", q.dropped},
                       {"expired", q.expired},
                       {"rejected", q.rejected},
                       {"dead_lettered", q.dead_lettered},
                       {"connects", s.connects},
                       {"failures", s.failures},
                       {"failure_codes", s.failure_codes},
                       {"delivery_latency", metrics::histogramJson(s.delivery_latency)},
                       {"offline_ms", offlineMs(name, s.state, now)}});
        // Failover between the route's uplinks (names read by the metrics export).
        nlohmann::json& jr = out.back();
        jr["active_uplink"] = s.active_uplink;
        jr["uplinks"] = nlohmann::json::array();
        for (const auto& u : s.uplinks) {
            jr["uplinks"].push_back({{"name", u.name},
                                     {"state", u.state},
                                     {"reason", u.reason},
                                     {"last_probe_ms", u.last_probe_ms},
                                     {"bytes_sent", u.bytes_sent},
                                     {"bytes_received", u.bytes_received}});
            addTrafficJson(name, jr["uplinks"].back(), now);
        }
        jr["failovers"] = nlohmann::json::array();
        for (const auto& f : s.failovers) {
            jr["failovers"].push_back(
                {{"at_ms", f.at_ms}, {"from", f.from}, {"to", f.to}, {"reason", f.reason}});
        }
        // Metered uplinks: which ones, and what waits in the spool for an unmetered one.
        jr["held_metered"] = q.held;
        for (size_t i = 0; i < s.uplinks.size(); ++i) {
            jr["uplinks"][i]["metered"] = s.uplinks[i].metered;
        }
    }
    if (!route.empty() && out.empty()) {
        return fail("unknown_route", "no route \"" + route + "\"");
    }
    return out;
}

// Both front ends (socket API, D-Bus) call subscribe once per (route, filter) they need; the
// route subscribes on the first and unsubscribes after the last.
Status Daemon::subscribe(const std::string& route, const std::string& filter, int qos) {
    auto it = routes_.find(route);
    if (it == routes_.end()) {
        return fail("unknown_route", "no route \"" + route + "\"");
    }
    auto& use = subscriptions_[{route, filter}];
    if (use.first == 0) {
        if (auto st = it->second->subscribe(filter, qos); !st) {
            subscriptions_.erase({route, filter});
            return st;
        }
        use.second = qos;
    }
    ++use.first;
    return {};
}

void Daemon::unsubscribe(const std::string& route, const std::string& filter) {
    auto use = subscriptions_.find({route, filter});
    if (use == subscriptions_.end() || --use->second.first > 0) {
        return;
    }
    subscriptions_.erase(use);
    if (auto it = routes_.find(route); it != routes_.end()) {
        it->second->unsubscribe(filter);
    }
}

void Daemon::deadLetters(const std::string& action, const std::string& route, uint64_t seq,
                         bool all, std::function<void(Result<nlohmann::json>)> done) {
    using nlohmann::json;
    auto list = spool_->deadLetters(route);
    if (!list) {
        done(list.failure());
        return;
    }
    if (action == "list") {
        json out = json::array();
        for (const DeadLetter& d : *list) {
            json props = json::object();
            for (const auto& [k, v] : d.message.properties) {
                props[k] = v;
            }
            // Everything but the payload (its size only): a listing must not leak data.
            out.push_back({{"route", d.message.route},
                           {"seq", d.message.seq},
                           {"topic", d.message.topic},
                           {"qos", d.message.qos},
                           {"retain", d.message.retain},
                           {"bytes", d.message.payload.size()},
                           {"properties", props},
                           {"created_ms", d.message.created_ms},
                           {"reason", d.reason},
                           {"attempts", d.attempts},
                           {"dead_ms", d.dead_ms}});
        }
        done(json{{"dead_letters", out}});
        return;
    }
    std::vector<uint64_t> seqs;
    for (const DeadLetter& d : *list) {
        if (all || d.message.seq == seq) {
            seqs.push_back(d.message.seq);
        }
    }
    if (!all && seqs.empty()) {
        done(fail("not_found", "no dead letter with seq " + std::to_string(seq) +
                                   (route.empty() ? std::string() : " on route " + route)));
        return;
    }
    if (action == "drop") {
        json dropped = json::array();
        for (const uint64_t s : seqs) {
            if (spool_->dropDeadLetter(s)) {
                dropped.push_back(s);
            }
        }
        logInfo("dead letters: dropped " + std::to_string(dropped.size()) + " message(s)");
        done(json{{"dropped", dropped}});
        return;
    }
    // retry: each goes back to the end of its route's queue; the reply waits for all of them.
    struct Retry {
        size_t left;
        json retried = json::array();
        json failed = json::array();
        std::function<void(Result<json>)> done;
    };
    auto state = std::make_shared<Retry>(Retry{seqs.size(), json::array(), json::array(), done});
    if (seqs.empty()) {
        done(json{{"retried", state->retried}, {"failed", state->failed}});
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    for (const uint64_t s : seqs) {
        spool_->retryDeadLetter(s, [this, alive, state, s](Result<uint64_t> r) {
            if (r) {
                state->retried.push_back({{"seq", s}, {"new_seq", *r}});
            } else {
                state->failed.push_back(
                    {{"seq", s}, {"code", r.error().code}, {"message", r.error().message}});
            }
            if (--state->left > 0) {
                return;
            }
            if (!alive.expired()) {
                logInfo("dead letters: " + std::to_string(state->retried.size()) +
                        " message(s) queued again");
                for (auto& [name, route_session] : routes_) {
                    route_session->notifyQueued();
                }
            }
            if (state->failed.size() == 1 && state->retried.empty()) {
                const json& f = state->failed.front();
                state->done(fail(f["code"].get<std::string>(), f["message"].get<std::string>()));
                return;
            }
            state->done(json{{"retried", state->retried}, {"failed", state->failed}});
        });
    }
}

Result<ModemUplink*> Daemon::findModem(const std::string& name) {
    std::vector<ModemUplink*> modems;
    std::string names;
    for (const auto& [uname, up] : uplinks_) {
        if (auto* m = dynamic_cast<ModemUplink*>(up.get())) {
            if (uname == name) {
                return m;
            }
            modems.push_back(m);
            names += names.empty() ? uname : ", " + uname;
        }
    }
    if (!name.empty()) {
        if (uplinks_.count(name) > 0) {
            return fail("unknown_uplink", "uplink \"" + name + "\" is not a modem uplink");
        }
        return fail("unknown_uplink", "no uplink \"" + name + "\" (modem uplinks: " +
                                          (names.empty() ? "none" : names) + ")");
    }
    if (modems.empty()) {
        return fail("no_modem",
                    "no modem uplink is configured (an [uplinks.<name>] with type = \"modem\")");
    }
    if (modems.size() > 1) {
        return fail("bad_request",
                    "there are several modem uplinks (" + names + "): name one (--uplink)");
    }
    return modems.front();
}

void Daemon::modemInfo(const std::string& uplink,
                       std::function<void(Result<nlohmann::json>)> done) {
    auto modem = findModem(uplink);
    if (!modem) {
        done(modem.failure());
        return;
    }
    (*modem)->info(std::move(done));
}

void Daemon::modemAt(const std::string& uplink, const std::string& command, int timeout_ms,
                     std::function<void(Result<nlohmann::json>)> done) {
    auto modem = findModem(uplink);
    if (!modem) {
        done(modem.failure());
        return;
    }
    (*modem)->at(command, std::chrono::milliseconds(timeout_ms),
                 [name = (*modem)->name(), done = std::move(done)](Result<nlohmann::json> r) {
                     if (r) {
                         (*r)["uplink"] = name;
                     }
                     done(std::move(r));
                 });
}

}  // namespace uplinkd
