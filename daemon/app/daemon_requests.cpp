// SPDX-License-Identifier: Apache-2.0
// Daemon: the local API's requests (socket and D-Bus): publish, status, subscriptions, dead
// letters and the modem ops. Thread: loop.
#include "app/daemon.hpp"
#include "core/wall_clock.hpp"
#include "metrics/metrics_snapshot.hpp"
#include "modem/modem_uplink.hpp"
#include "uplinkd/log.hpp"
#include "uplinkd/mqtt_names.hpp"

namespace uplinkd {

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
    msg.created_ms = wallClockMs();
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
    const int64_t now = wallClockMs();
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
        // A message the spool cannot read holds the route (empty when none).
        jr["spool_problem"] = q.stuck;
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
