// SPDX-License-Identifier: Apache-2.0
#include "session/route_session.hpp"

#include <algorithm>
#include <deque>
#include <iterator>

#include "core/enum_names.hpp"
#include "session/backoff.hpp"
#include "session/modem_mqtt_session.hpp"
#include "session/paho_session.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

/// The message as the session sends it: the cloud's topic and properties, with `payload` (the
/// message's own, which the caller took out of it).
MqttSession::Outgoing outgoing(const Message& msg, const CloudPublish& mapped,
                               std::shared_ptr<const std::string> payload) {
    MqttSession::Outgoing o;
    o.seq = msg.seq;
    o.topic = mapped.topic;
    o.payload = std::move(payload);
    o.qos = msg.qos;
    o.retain = msg.retain;
    o.user_properties = mapped.user_properties;
    return o;
}

std::vector<std::string> uplinkNames(const std::vector<Uplink*>& uplinks) {
    std::vector<std::string> names;
    for (const Uplink* u : uplinks) {
        names.push_back(u->name());
    }
    return names;
}

UplinkSelector::Settings selectorSettings(const FailoverConfig& f) {
    return {f.failover_after_ms, f.failback_hold_ms, f.probe_interval_ms, f.probe_max_ms};
}

}  // namespace

const char* routeStateName(RouteState s) {
    static constexpr const char* kNames[] = {"idle",   "dialing", "tls",    "mqtt",
                                             "online", "backoff", "stopped"};
    static_assert(std::size(kNames) == static_cast<size_t>(RouteState::Stopped) + 1);
    return enumName(s, kNames);
}

RouteSession::RouteSession(asio::io_context& loop, RouteConfig config, Spool& spool, Tunnel& tunnel,
                           std::vector<Uplink*> uplinks, Events events, PahoWorker& paho)
    : loop_(loop),
      config_(std::move(config)),
      spool_(spool),
      tunnel_(tunnel),
      uplinks_(std::move(uplinks)),
      events_(std::move(events)),
      paho_worker_(paho),
      retry_timer_(loop),
      connect_timer_(loop),
      renew_timer_(loop),
      pump_timer_(loop),
      spool_retry_timer_(loop),
      window_(config_.delivery.inflight_window, inflightWindowSettings(config_.mqtt == "modem")),
      selector_(uplinkNames(uplinks_), selectorSettings(config_.failover)),
      failback_timer_(loop) {
    counters_.name = config_.name;
    counters_.cloud = config_.cloud_type;
    const BrokerEndpoint ep = config_.cloud->endpoint();
    counters_.broker = ep.host + ":" + std::to_string(ep.port);
    counters_.mqtt = config_.mqtt;
    spool_.configureRoute(config_.name, config_.spool);
}

RouteSession::~RouteSession() {
    alive_.reset();
    stop();
}

void RouteSession::setState(RouteState s) {
    if (state_ == s) {
        return;
    }
    state_ = s;
    if (events_.state_changed) {
        events_.state_changed(config_.name, s);
    }
}

RouteStatus RouteSession::status() const {
    RouteStatus s = counters_;
    s.state = state_;
    if (session_) {
        s.uplink = session_->uplinkDescription();
        s.stream = state_ == RouteState::Online ? session_->streamDescription() : "";
        s.delivery_note = session_->deliveryNote();
    }
    s.last_error = last_error_.message;
    s.last_error_code = last_error_.code;
    s.in_flight = inflight_.size();
    s.inflight_window = window_.window();
    s.inflight_window_auto = window_.automatic();
    s.round_trip_us = window_.smoothedRttUs();
    fillUplinkStatus(s);
    if (state_ == RouteState::Backoff) {
        s.next_retry_ms =
            std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                     retry_at_ - std::chrono::steady_clock::now())
                                     .count());
    }
    return s;
}

MqttSession::Callbacks RouteSession::sessionCallbacks() {
    // The session calls these on the loop; a callback of an attempt given up is ignored.
    MqttSession::Callbacks cb;
    cb.progress = [this](RouteState s) {
        if (state_ != RouteState::Stopped && state_ != RouteState::Backoff) {
            setState(s);
        }
    };
    cb.connected = [this] { onConnected(gen_); };
    cb.connect_failed = [this](Error e, bool refused) { onConnectFailed(gen_, e, refused); };
    cb.lost = [this](Error e) { onConnectionLost(gen_, e); };
    cb.message = [this](std::string topic, std::string payload, int qos, bool retain,
                        Properties props) {
        onMessage(gen_, std::move(topic), std::move(payload), qos, retain, std::move(props));
    };
    cb.published = [this](uint64_t seq, bool ok, int reason) {
        onPublished(gen_, seq, ok, reason);
    };
    cb.batch_done = [this](size_t taken, std::string why) { onBatchDone(gen_, taken, why); };
    cb.setup_failed = [this](std::string message) { onSetupFailed(message); };
    return cb;
}

void RouteSession::start() {
    if (config_.mqtt == "modem") {
        // The configuration allows this only with exactly one modem uplink.
        session_ = std::make_unique<ModemMqttSession>(loop_, config_, *uplinks_.front(),
                                                      sessionCallbacks());
    } else {
        auto s = PahoSession::create(loop_, config_, tunnel_, uplinks_, selector_, paho_worker_,
                                     sessionCallbacks());
        if (!s) {
            // A bad certificate file will not fix itself: report and wait for a reload.
            last_error_ = s.error();
            logError("route " + config_.name + ": " + s.error().message +
                     "; not connecting until the configuration is fixed");
            setState(RouteState::Stopped);
            return;
        }
        session_ = std::move(s.value());
        startHealth();
    }
    dial();
}

void RouteSession::onSetupFailed(const std::string& message) {
    dropConnection();
    retry_timer_.cancel();
    renew_timer_.cancel();
    last_error_ = makeError("mqtt_setup", message);
    logError("route " + config_.name + ": " + message);
    setState(RouteState::Stopped);
}

void RouteSession::stop() {
    ++gen_;
    retry_timer_.cancel();
    connect_timer_.cancel();
    renew_timer_.cancel();
    pump_timer_.cancel();
    spool_retry_timer_.cancel();
    spool_retry_armed_ = false;
    failback_timer_.cancel();
    failback_pending_ = false;
    if (health_) {
        health_->offline();
    }
    unsent_.clear();
    handing_.clear();
    session_refused_ = false;
    spool_.releaseLeases(config_.name);
    inflight_.clear();
    // A Paho session queues its disconnect and destruction on the Paho worker; nothing waits.
    session_.reset();
    if (alive_) {
        setState(RouteState::Stopped);
    }
}

void RouteSession::dial() {
    ++gen_;
    setState(RouteState::Dialing);
    connect_timer_.expires_after(std::chrono::milliseconds(config_.delivery.connect_timeout_ms));
    std::weak_ptr<bool> alive = alive_;
    connect_timer_.async_wait([this, alive, gen = gen_](asio::error_code ec) {
        if (ec || alive.expired() || gen != gen_ || state_ == RouteState::Online) {
            return;
        }
        fail(makeError("timeout", std::string("no connection after ") +
                                      std::to_string(config_.delivery.connect_timeout_ms / 1000) +
                                      " s (stuck in " + routeStateName(state_) + ")"),
             false);
    });
    auto creds = config_.cloud->credentials(std::chrono::system_clock::now());
    if (!creds) {
        fail(creds.error().withContext("credentials"), true);
        return;
    }
    if (creds->valid_until) {
        scheduleRenewal(*creds->valid_until);
    }
    session_->connect(*creds);
}

void RouteSession::onConnected(uint64_t gen) {
    if (gen != gen_) {
        return;
    }
    connect_timer_.cancel();
    attempt_ = 0;
    renewing_ = false;
    refused_on_connection_ = false;
    window_.reset();  // maybe another uplink: measure again
    ++counters_.connects;
    last_error_ = Error{};
    noteOnline();
    setState(RouteState::Online);
    // One line, and the journal's "route online" event (issue 16: docs/journal.md).
    logEvent(LogLevel::Notice, LogEvent::RouteOnline,
             {config_.name, session_->uplinkDescription(), {}},
             "route " + config_.name + ": online via " + session_->uplinkDescription() + " (" +
                 session_->streamDescription() + ")");
    subscribeAll();
    pump();
}

void RouteSession::onConnectFailed(uint64_t gen, const Error& error, bool refused) {
    if (gen != gen_ || state_ == RouteState::Online) {
        return;
    }
    fail(error, refused);
}

void RouteSession::onConnectionLost(uint64_t gen, const Error& error) {
    if (gen != gen_ || state_ != RouteState::Online) {
        return;
    }
    if (renewing_) {
        dropConnection();
        attempt_ = 0;
        dial();
        return;
    }
    noteLossCulprit(error);
    if (health_) {
        onUplinkDead(error.message + silenceNote());
        return;
    }
    selector_.lost(error.message, steadyNowMs());
    fail(error, false);
}

void RouteSession::dropConnection() {
    ++gen_;
    connect_timer_.cancel();
    pump_timer_.cancel();
    spool_retry_timer_.cancel();
    spool_retry_armed_ = false;
    failback_timer_.cancel();
    failback_pending_ = false;
    if (health_) {
        health_->offline();
    }
    unsent_.clear();  // still leased: releaseLeases() below returns them to the queue
    handing_.clear();
    session_refused_ = false;
    spool_.releaseLeases(config_.name);
    inflight_.clear();
    if (session_) {
        session_->disconnect();
    }
}

void RouteSession::fail(const Error& error, bool refused) {
    if (health_ && session_ && !refused && state_ != RouteState::Online) {
        // This uplink did not get the route online: the next attempt tries the others first.
        selector_.dialFailed(session_->uplinkIndex(), error.message, steadyNowMs());
    }
    dropConnection();
    renewing_ = false;
    ++counters_.failures;
    ++counters_.failure_codes[error.code.empty() ? "unknown" : error.code];
    ++attempt_;
    last_error_ = error;
    if (session_ && refused) {
        session_->forgetAfterRefusal();
    }
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    int64_t delay = backoffDelayMs(attempt_, config_.delivery.backoff_min_ms,
                                   config_.delivery.backoff_max_ms, unit(rng_));
    if (refused) {
        delay = std::max<int64_t>(delay, config_.delivery.refused_backoff_ms);
    }
    logWarning("route " + config_.name + ": " + error.message + "; retrying in " +
               std::to_string((delay + 500) / 1000) + " s");
    scheduleRetry(delay);
}

void RouteSession::scheduleRetry(int64_t delay_ms) {
    setState(RouteState::Backoff);
    retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
    retry_timer_.expires_at(retry_at_);
    std::weak_ptr<bool> alive = alive_;
    retry_timer_.async_wait([this, alive](asio::error_code ec) {
        if (!ec && !alive.expired() && state_ == RouteState::Backoff) {
            dial();
        }
    });
}

void RouteSession::scheduleRenewal(SystemTime valid_until) {
    const auto now = std::chrono::system_clock::now();
    const auto lifetime = valid_until - now;
    // Reconnect with fresh credentials when a fifth of the lifetime is left (at least 2 s).
    auto lead =
        std::max<std::chrono::system_clock::duration>(lifetime / 5, std::chrono::seconds(2));
    const auto when = lifetime > lead ? lifetime - lead : std::chrono::seconds(0);
    renew_timer_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(when));
    std::weak_ptr<bool> alive = alive_;
    renew_timer_.async_wait([this, alive, gen = gen_](asio::error_code ec) {
        if (ec || alive.expired() || gen != gen_) {
            return;
        }
        logInfo("route " + config_.name + ": credentials expire soon, reconnecting with new ones");
        renewing_ = true;
        if (inflight_.empty()) {
            dropConnection();
            renewing_ = false;
            dial();
        }
        // Otherwise pump() stops leasing; the last acknowledgement triggers the reconnect.
    });
}

Status RouteSession::validate(const Message& msg) const {
    auto r = config_.cloud->mapOutgoing(msg);
    if (!r) {
        return r.failure();
    }
    if (!session_) {
        return {};
    }
    // The payload is lent for the check (a pointer that owns nothing), not copied.
    return session_->check(outgoing(
        msg, *r, std::shared_ptr<const std::string>(std::shared_ptr<void>(), &msg.payload)));
}

std::string RouteSession::takePayload(std::shared_ptr<std::string> payload) {
    if (!payload) {
        return {};
    }
    // Only this route makes new references, so a single owner stays the single owner.
    return payload.use_count() == 1 ? std::move(*payload) : *payload;
}

void RouteSession::notifyQueued() {
    if (state_ == RouteState::Online) {
        pumpSoon();
    }
}

void RouteSession::pumpSoon() {
    if (pump_posted_) {
        return;
    }
    pump_posted_ = true;
    asio::post(loop_, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.expired()) {
            return;
        }
        pump_posted_ = false;
        pump();
    });
}

void RouteSession::pump() {
    if (state_ != RouteState::Online || !session_) {
        return;
    }
    if (renewing_) {
        if (inflight_.empty()) {
            dropConnection();
            renewing_ = false;
            dial();
        }
        return;
    }
    if (failback_pending_) {
        if (inflight_.empty() && handing_.empty()) {
            failBack();
        }
        return;  // no new messages until the route is on the preferred uplink
    }
    if (session_refused_) {
        return;  // onBatchDone() retries once the session has answered for every batch
    }
    const size_t window = static_cast<size_t>(window_.window());
    if (inflight_.size() >= window) {
        return;
    }
    // Messages Paho could not take last time go first, then new leases, in seq order.
    std::deque<Message> batch = std::move(unsent_);
    unsent_.clear();
    if (const size_t room = window - inflight_.size(); batch.size() < room) {
        auto more = spool_.lease(config_.name, room - batch.size(), meteredTopics());
        if (more.size() < room - batch.size() || !spool_problem_.empty()) {
            noteSpoolProblem();
        }
        batch.insert(batch.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
    }
    std::vector<MqttSession::Outgoing> out;
    std::deque<Message> handed;
    while (!batch.empty()) {
        Message& msg = batch.front();
        auto mapped = config_.cloud->mapOutgoing(msg);
        if (!mapped) {
            // Accepted under an earlier configuration (or uplinkd) that this cloud no longer
            // allows: it would never go through, so it must not hold up the route.
            moveToDeadLetters(msg.seq, "the cloud's rules refuse it: " + mapped.error().message, 1);
            batch.pop_front();
            continue;
        }
        // One buffer from here on, shared by the in-flight record and the session (issue 14).
        auto payload = std::make_shared<std::string>(std::move(msg.payload));
        MqttSession::Outgoing o = outgoing(msg, *mapped, payload);
        if (auto st = session_->check(o); !st) {
            moveToDeadLetters(msg.seq, "this route cannot carry it: " + st.error().message, 1);
            batch.pop_front();
            continue;
        }
        out.push_back(std::move(o));
        // Counts in the window while the session takes it over.
        inflight_[msg.seq] = Sent{msg, std::move(payload), std::chrono::steady_clock::now()};
        handed.push_back(std::move(msg));
        batch.pop_front();
    }
    if (!out.empty()) {
        handing_.push_back(std::move(handed));
        session_->publish(std::move(out));  // answered by onBatchDone
    }
}

void RouteSession::onBatchDone(uint64_t gen, size_t taken, const std::string& why) {
    if (gen != gen_ || handing_.empty()) {
        return;
    }
    std::deque<Message> batch = std::move(handing_.front());
    handing_.pop_front();
    counters_.sent += std::min(taken, batch.size());
    if (taken < batch.size()) {
        // The session's queue is full (or the connection is going away): keep the rest, in
        // order, and try again shortly; a lost connection releases them instead.
        if (!session_refused_) {
            logDebug("route " + config_.name + ": the session did not take message " +
                     std::to_string(batch[taken].seq) + " (" + why + "), retrying");
        }
        session_refused_ = true;
        for (size_t i = taken; i < batch.size(); ++i) {
            if (auto it = inflight_.find(batch[i].seq); it != inflight_.end()) {
                batch[i].payload = takePayload(std::move(it->second.payload));
                inflight_.erase(it);
            }
            unsent_.push_back(std::move(batch[i]));
        }
    }
    if (session_refused_ && handing_.empty()) {
        // Every batch is answered: the refused ones go again first, in order.
        session_refused_ = false;
        session_->resume();
        retryPumpSoon();
    }
}

void RouteSession::retryPumpSoon() {
    pump_timer_.expires_after(std::chrono::milliseconds(20));
    std::weak_ptr<bool> alive = alive_;
    pump_timer_.async_wait([this, alive](asio::error_code ec) {
        if (!ec && !alive.expired()) {
            pump();
        }
    });
}

void RouteSession::onPublished(uint64_t gen, uint64_t seq, bool ok, int reason_code) {
    if (gen != gen_) {
        return;
    }
    auto it = inflight_.find(seq);
    if (it == inflight_.end()) {
        return;
    }
    if (!ok) {
        if (reason_code >= 0x80 && config_.cloud->mqttVersion() == 5) {
            onRefused(seq, reason_code);
            return;
        }
        logDebug("route " + config_.name + ": message " + std::to_string(seq) +
                 ": publish failed; it stays in the spool");
        return;  // stays leased until the connection is dropped, then goes out again
    }
    if (const int64_t created = it->second.message.created_ms; created > 0) {
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        counters_.delivery_latency.observe(static_cast<double>(now_ms - created) / 1000.0);
    }
    const auto now = std::chrono::steady_clock::now();
    window_.onAck(
        std::chrono::duration_cast<std::chrono::microseconds>(now - it->second.at).count(),
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
    inflight_.erase(it);
    refusals_.erase(seq);
    if (seq == suspect_seq_) {
        suspect_seq_ = 0;
        suspect_strikes_ = 0;
    }
    spool_.ack(config_.name, seq);
    ++counters_.delivered;
    if (events_.delivered) {
        events_.delivered(config_.name, seq);
    }
    pumpSoon();
}

Status RouteSession::subscribe(const std::string& local_filter, int qos) {
    auto mapped = config_.cloud->mapSubscribe(local_filter, qos);
    if (!mapped) {
        return mapped.failure();
    }
    subscriptions_[local_filter] = qos;
    if (state_ == RouteState::Online && session_) {
        session_->subscribe(mapped->broker_filter, mapped->qos);
    }
    return {};
}

void RouteSession::unsubscribe(const std::string& local_filter) {
    if (subscriptions_.erase(local_filter) == 0) {
        return;
    }
    auto mapped = config_.cloud->mapSubscribe(local_filter, 0);
    if (mapped && state_ == RouteState::Online && session_) {
        session_->unsubscribe(mapped->broker_filter);
    }
}

void RouteSession::subscribeAll() {
    std::vector<CloudSubscription> subs = config_.cloud->standingSubscriptions();
    for (const auto& [filter, qos] : subscriptions_) {
        if (auto m = config_.cloud->mapSubscribe(filter, qos)) {
            subs.push_back(*m);
        }
    }
    for (const auto& s : subs) {
        session_->subscribe(s.broker_filter, s.qos);
    }
}

void RouteSession::onMessage(uint64_t gen, std::string topic, std::string payload, int qos,
                             bool retain, Properties props) {
    if (gen != gen_) {
        return;
    }
    ++counters_.received;
    IncomingMessage in = config_.cloud->mapIncoming(topic);
    in.route = config_.name;
    in.payload = std::move(payload);
    in.qos = qos;
    in.retain = retain;
    in.properties.insert(in.properties.end(), props.begin(), props.end());
    if (events_.incoming) {
        events_.incoming(in);
    }
}

}  // namespace uplinkd
