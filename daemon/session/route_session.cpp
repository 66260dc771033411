#include "session/route_session.hpp"

#include <mqtt/message.h>

#include <algorithm>
#include <cstdio>
#include <deque>

#include "session/backoff.hpp"
#include "session/paho_client.hpp"
#include "tls/tls_session.hpp"
#include "tunnel/tunnel.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

std::string brokerUri(const BrokerEndpoint& ep) {
    // The port is always written: Paho's proxy code assumes 8080 otherwise.
    std::string uri =
        (ep.websocket_path.empty() ? "tcp://" : "ws://") + ep.host + ":" + std::to_string(ep.port);
    return uri + ep.websocket_path;
}

/// Why a broker refuses a PUBLISH, by MQTT 5 PUBACK reason code (MQTT 5.0 §3.4.2.1).
struct PubackReason {
    int code;
    const char* meaning;
};
// clang-format off
constexpr PubackReason kPubackReasons[] = {
    {0x80, "unspecified error"},
    {0x83, "implementation specific error"},
    {0x87, "not authorized"},
    {0x90, "topic name invalid"},
    {0x91, "packet identifier in use"},
    {0x97, "quota exceeded"},
    {0x99, "payload format invalid"},
};
// clang-format on

std::string describePuback(int code) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(code));
    const char* meaning = "an error";
    for (const auto& r : kPubackReasons) {
        if (r.code == code) {
            meaning = r.meaning;
        }
    }
    return std::string("the broker refused it: PUBACK reason code ") + hex + " (" + meaning + ")";
}

/// A connection loss counts against the oldest unacknowledged message only when it came this
/// soon after that message was sent: a broker that refuses a packet closes at once.
constexpr auto kCulpritWindow = std::chrono::seconds(10);

}  // namespace

const char* routeStateName(RouteState s) {
    switch (s) {
        case RouteState::Idle:
            return "idle";
        case RouteState::Dialing:
            return "dialing";
        case RouteState::Tls:
            return "tls";
        case RouteState::Mqtt:
            return "mqtt";
        case RouteState::Online:
            return "online";
        case RouteState::Backoff:
            return "backoff";
        case RouteState::Stopped:
            return "stopped";
    }
    return "?";
}

/// Carries Paho's callbacks (on Paho's threads) into the loop, tagged with the attempt number.
struct RouteSession::PahoBridge {
    asio::io_context& loop;
    std::weak_ptr<bool> alive;
    RouteSession* session;

    template <typename F>
    void post(F&& f) {
        asio::post(loop, [alive = alive, f = std::forward<F>(f)]() mutable {
            if (!alive.expired()) {
                f();
            }
        });
    }
};

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
      pump_timer_(loop) {
    counters_.name = config_.name;
    counters_.cloud = config_.cloud_type;
    const BrokerEndpoint ep = config_.cloud->endpoint();
    counters_.broker = ep.host + ":" + std::to_string(ep.port);
    spool_.configureRoute(config_.name, config_.spool);
    bridge_ = std::make_shared<PahoBridge>(PahoBridge{loop_, alive_, this});
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
    s.uplink = current_uplink_;
    s.stream = state_ == RouteState::Online ? stream_desc_ : "";
    s.last_error = last_error_.message;
    s.last_error_code = last_error_.code;
    s.in_flight = inflight_.size();
    if (state_ == RouteState::Backoff) {
        s.next_retry_ms =
            std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                     retry_at_ - std::chrono::steady_clock::now())
                                     .count());
    }
    return s;
}

void RouteSession::start() {
    const BrokerEndpoint ep = config_.cloud->endpoint();
    if (ep.tls) {
        TlsOptions o;
        o.server_name = config_.tls.server_name.empty() ? (ep.sni.empty() ? ep.host : ep.sni)
                                                        : config_.tls.server_name;
        o.alpn = config_.tls.alpn.empty() ? ep.alpn : config_.tls.alpn;
        o.ca_file = config_.tls.ca_file;
        o.cert_file = config_.tls.cert_file;
        o.key_file = config_.tls.key_file;
        o.ciphers_tls12 = config_.tls.ciphers_tls12;
        auto ctx = TlsContext::create(o);
        if (!ctx) {
            // A bad certificate file will not fix itself: report and wait for a reload.
            last_error_ = ctx.error();
            logError("route " + config_.name + ": " + ctx.error().message +
                     "; not connecting until the configuration is fixed");
            setState(RouteState::Stopped);
            return;
        }
        tls_ = *ctx;
    }
    auto creds = config_.cloud->credentials(std::chrono::system_clock::now());
    const std::string client_id = creds ? creds->client_id : config_.name;
    // Paho calls these on its own threads (or on the Paho worker): they only post into the loop.
    auto bridge = bridge_;
    PahoClient::Callbacks cb;
    cb.connect_done = [bridge](uint64_t gen, bool ok, int code, std::string msg) {
        bridge->post([bridge, gen, ok, code, msg = std::move(msg)] {
            if (ok) {
                bridge->session->onConnected(gen);
            } else {
                bridge->session->onConnectFailed(gen, code, msg);
            }
        });
    };
    cb.connection_lost = [bridge](std::string cause) {
        bridge->post([bridge, cause = std::move(cause)] {
            bridge->session->onConnectionLost(bridge->session->gen_, cause);
        });
    };
    cb.message = [bridge](std::string topic, std::string payload, int qos, bool retain,
                          Properties props) {
        bridge->post([bridge, topic = std::move(topic), payload = std::move(payload), qos, retain,
                      props = std::move(props)]() mutable {
            bridge->session->onMessage(bridge->session->gen_, std::move(topic), std::move(payload),
                                       qos, retain, std::move(props));
        });
    };
    cb.published = [bridge](uint64_t gen, uint64_t seq, bool ok, int reason) {
        bridge->post(
            [bridge, gen, seq, ok, reason] { bridge->session->onPublished(gen, seq, ok, reason); });
    };
    cb.batch_done = [bridge](uint64_t gen, size_t taken, std::string why) {
        bridge->post([bridge, gen, taken, why = std::move(why)] {
            bridge->session->onBatchDone(gen, taken, why);
        });
    };
    cb.setup_failed = [bridge](std::string message) {
        bridge->post(
            [bridge, message = std::move(message)] { bridge->session->onSetupFailed(message); });
    };
    cb.subscribe_failed = [route = config_.name](std::string message) {
        logWarning("route " + route + ": " + message);
    };
    paho_ = std::make_unique<PahoClient>(paho_worker_, brokerUri(ep), client_id,
                                         config_.cloud->mqttVersion() == 5, std::move(cb));
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
    handshaking_.reset();
    retry_timer_.cancel();
    connect_timer_.cancel();
    renew_timer_.cancel();
    tunnel_.withdraw(config_.name);
    pump_timer_.cancel();
    unsent_.clear();
    handing_.clear();
    paho_refused_ = false;
    spool_.releaseLeases(config_.name);
    inflight_.clear();
    // Queues the disconnect and the client's destruction on the Paho worker; nothing waits.
    paho_.reset();
    if (alive_) {
        setState(RouteState::Stopped);
    }
}

void RouteSession::dial() {
    ++gen_;
    transport_error_.reset();
    setState(RouteState::Dialing);
    connect_timer_.expires_after(std::chrono::milliseconds(config_.delivery.connect_timeout_ms));
    std::weak_ptr<bool> alive = alive_;
    connect_timer_.async_wait([this, alive, gen = gen_](asio::error_code ec) {
        if (ec || alive.expired() || gen != gen_ || state_ == RouteState::Online) {
            return;
        }
        tunnel_.withdraw(config_.name);
        fail(makeError("timeout", std::string("no connection after ") +
                                      std::to_string(config_.delivery.connect_timeout_ms / 1000) +
                                      " s (stuck in " + routeStateName(state_) + ")"),
             false);
    });
    dialNext(0);
}

void RouteSession::dialNext(size_t uplink_index) {
    if (uplink_index >= uplinks_.size()) {
        return;  // fail() was called by the last attempt
    }
    Uplink* up = uplinks_[uplink_index];
    current_uplink_ = up->describe();
    const BrokerEndpoint ep = config_.cloud->endpoint();
    std::weak_ptr<bool> alive = alive_;
    auto handler = [this, alive, uplink_index, gen = gen_](Result<ByteStreamPtr> r) {
        if (alive.expired()) {
            return;
        }
        onStream(uplink_index, gen, std::move(r));
    };
    if (tls_ && up->offloadsTls()) {
        setState(RouteState::Tls);
        up->connectTls(ep.host, ep.port, tls_->options(), std::move(handler));
    } else {
        up->connect(ep.host, ep.port, std::move(handler));
    }
}

void RouteSession::onStream(size_t uplink_index, uint64_t gen, Result<ByteStreamPtr> stream) {
    if (gen != gen_) {
        return;  // a late answer to an abandoned attempt; the stream closes as it is dropped
    }
    if (!stream) {
        if (uplink_index + 1 < uplinks_.size()) {
            logWarning("route " + config_.name + ": uplink " + uplinks_[uplink_index]->name() +
                       ": " + stream.error().message + ", trying uplink " +
                       uplinks_[uplink_index + 1]->name());
            dialNext(uplink_index + 1);
            return;
        }
        fail(stream.error().withContext("uplink " + uplinks_[uplink_index]->name()), false);
        return;
    }
    if (!tls_ || uplinks_[uplink_index]->offloadsTls()) {
        startMqtt(gen, std::move(stream.value()));
        return;
    }
    setState(RouteState::Tls);
    handshaking_ = std::make_unique<TlsSession>(tls_, std::move(stream.value()));
    std::weak_ptr<bool> alive = alive_;
    handshaking_->handshake([this, alive, gen](Status s) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        std::unique_ptr<TlsSession> tls = std::move(handshaking_);
        if (!s) {
            // This runs inside the session: let it unwind before it is destroyed.
            asio::post(loop_, [dead = std::shared_ptr<TlsSession>(std::move(tls))] {});
            fail(s.error(), s.error().code == "tls_verify");
            return;
        }
        startMqtt(gen, std::move(tls));
    });
}

void RouteSession::startMqtt(uint64_t gen, ByteStreamPtr stream) {
    setState(RouteState::Mqtt);
    stream_desc_ = stream->describe();
    std::weak_ptr<bool> alive = alive_;
    tunnel_.offer(config_.name, std::move(stream), [this, alive, gen](const Error& reason) {
        if (alive.expired()) {
            return;
        }
        onTransportClosed(gen, reason);
    });

    auto creds = config_.cloud->credentials(std::chrono::system_clock::now());
    if (!creds) {
        fail(creds.error().withContext("credentials"), true);
        return;
    }
    PahoClient::ConnectParams p;
    p.proxy_uri = tunnel_.proxyUri(config_.name);
    p.keep_alive_s = config_.cloud->keepAliveSeconds();
    p.timeout_s = std::max(1, config_.delivery.connect_timeout_ms / 1000);
    p.v5 = config_.cloud->mqttVersion() == 5;
    p.username = creds->username;
    p.password = creds->password;
    if (creds->valid_until) {
        scheduleRenewal(*creds->valid_until);
    }
    // The outcome comes back as onConnected or onConnectFailed.
    paho_->connect(gen, std::move(p));
}

void RouteSession::onConnected(uint64_t gen) {
    if (gen != gen_) {
        return;
    }
    connect_timer_.cancel();
    attempt_ = 0;
    renewing_ = false;
    refused_on_connection_ = false;
    ++counters_.connects;
    last_error_ = Error{};
    setState(RouteState::Online);
    logInfo("route " + config_.name + ": online via " + current_uplink_ + " (" + stream_desc_ +
            ")");
    subscribeAll();
    pump();
}

void RouteSession::onConnectFailed(uint64_t gen, int code, const std::string& message) {
    if (gen != gen_) {
        return;
    }
    // A CONNACK refusal is the broker's own answer: it wins over the close that follows it.
    if (code > 0) {
        fail(makeError("connack_" + std::to_string(code), config_.cloud->explainConnack(code)),
             true);
        return;
    }
    if (transport_error_ && transport_error_->code != "client_closed") {
        const bool silent = transport_error_->code == "eof";
        fail(silent ? makeError("closed_without_connack", config_.cloud->explainSilentClose())
                    : *transport_error_,
             transport_error_->code.starts_with("tls"));
        return;
    }
    fail(makeError("mqtt", message), false);
}

void RouteSession::onTransportClosed(uint64_t gen, const Error& reason) {
    if (gen != gen_) {
        return;
    }
    transport_error_ = reason;
    if (state_ == RouteState::Online) {
        // Paho notices the closed loopback socket and reports the connection lost.
        logInfo("route " + config_.name + ": connection closed: " + reason.message);
    }
}

void RouteSession::onConnectionLost(uint64_t gen, const std::string& cause) {
    // Paho also reports the loss of a connection that was dropped on purpose (to renew the
    // credentials) when the next attempt is already dialing; only an online one can be lost.
    if (gen != gen_ || state_ != RouteState::Online) {
        return;
    }
    if (renewing_) {
        dropConnection();
        attempt_ = 0;
        dial();
        return;
    }
    Error e = transport_error_ && transport_error_->code != "client_closed"
                  ? *transport_error_
                  : makeError("connection_lost",
                              "connection lost" + (cause.empty() ? std::string() : ": " + cause));
    noteLossCulprit(e);
    fail(e, false);
}

void RouteSession::dropConnection() {
    ++gen_;
    connect_timer_.cancel();
    pump_timer_.cancel();
    unsent_.clear();  // still leased: releaseLeases() below returns them to the queue
    handing_.clear();
    paho_refused_ = false;
    handshaking_.reset();
    tunnel_.withdraw(config_.name);
    spool_.releaseLeases(config_.name);
    inflight_.clear();
    if (paho_) {
        paho_->disconnect();  // on the Paho worker, if Paho is connected by then
    }
}

void RouteSession::fail(const Error& error, bool refused) {
    dropConnection();
    renewing_ = false;
    ++counters_.failures;
    ++attempt_;
    last_error_ = error;
    if (tls_ && refused) {
        tls_->forgetSession();
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
    return {};
}

void RouteSession::notifyQueued() {
    if (state_ == RouteState::Online) {
        pump();
    }
}

void RouteSession::pump() {
    if (state_ != RouteState::Online || !paho_) {
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
    if (paho_refused_) {
        return;  // onBatchDone() retries once the worker has answered for every batch
    }
    const size_t window = static_cast<size_t>(config_.delivery.inflight_window);
    if (inflight_.size() >= window) {
        return;
    }
    // Messages Paho could not take last time go first, then new leases, in seq order.
    std::deque<Message> batch = std::move(unsent_);
    unsent_.clear();
    if (batch.size() < window - inflight_.size()) {
        auto more = spool_.lease(config_.name, window - inflight_.size() - batch.size());
        batch.insert(batch.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
    }
    const bool v5 = config_.cloud->mqttVersion() == 5;
    std::vector<PahoClient::OutgoingMessage> out;
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
        auto m = mqtt::make_message(mapped->topic, msg.payload, msg.qos, msg.retain);
        if (v5 && !mapped->user_properties.empty()) {
            mqtt::properties props;
            for (const auto& [k, v] : mapped->user_properties) {
                props.add(mqtt::property(mqtt::property::USER_PROPERTY, k, v));
            }
            m->set_properties(std::move(props));
        }
        out.emplace_back(msg.seq, std::move(m));
        // Counts in the window while the worker hands it over.
        inflight_[msg.seq] = Sent{msg, std::chrono::steady_clock::now()};
        handed.push_back(std::move(msg));
        batch.pop_front();
    }
    if (!out.empty()) {
        handing_.push_back(std::move(handed));
        paho_->publish(gen_, std::move(out));  // answered by onBatchDone
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
        // Paho's queue is full (or the connection is going away): keep the rest, in order, and
        // try again shortly; a lost connection releases them instead.
        if (!paho_refused_) {
            logDebug("route " + config_.name + ": Paho did not take message " +
                     std::to_string(batch[taken].seq) + " (" + why + "), retrying");
        }
        paho_refused_ = true;
        for (size_t i = taken; i < batch.size(); ++i) {
            inflight_.erase(batch[i].seq);
            unsent_.push_back(std::move(batch[i]));
        }
    }
    if (paho_refused_ && handing_.empty()) {
        // Every batch is answered: the refused ones go again first, in order.
        paho_refused_ = false;
        paho_->resume();
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
    pump();
}

void RouteSession::onRefused(uint64_t seq, int reason_code) {
    auto it = inflight_.find(seq);
    Message msg = std::move(it->second.message);
    inflight_.erase(it);
    refused_on_connection_ = true;
    const int attempts = ++refusals_[seq];
    const std::string reason = describePuback(reason_code);
    if (attempts >= config_.delivery.max_attempts) {
        moveToDeadLetters(seq, reason, attempts);
    } else {
        logInfo("route " + config_.name + ": message " + std::to_string(seq) + ": " + reason +
                " (attempt " + std::to_string(attempts) + " of " +
                std::to_string(config_.delivery.max_attempts) + "), sending it again");
        // Still leased: back among the messages Paho has not taken, in seq order.
        const auto pos = std::lower_bound(unsent_.begin(), unsent_.end(), seq,
                                          [](const Message& m, uint64_t s) { return m.seq < s; });
        unsent_.insert(pos, std::move(msg));
    }
    pump();
}

void RouteSession::noteLossCulprit(const Error& why) {
    // A broker that refused a publish may close the connection next (Mosquitto does): that close
    // is the refused message's, already counted, not the next one's.
    if (inflight_.empty() || refused_on_connection_) {
        return;
    }
    const auto& [seq, sent] = *inflight_.begin();
    if (std::chrono::steady_clock::now() - sent.at > kCulpritWindow) {
        return;  // not "right after": most likely the network, not this message
    }
    if (seq == suspect_seq_) {
        ++suspect_strikes_;
    } else {
        suspect_seq_ = seq;
        suspect_strikes_ = 1;
    }
    if (suspect_strikes_ < config_.delivery.max_attempts) {
        return;
    }
    const uint64_t culprit = seq;
    const int strikes = suspect_strikes_;
    suspect_seq_ = 0;
    suspect_strikes_ = 0;
    inflight_.erase(culprit);
    moveToDeadLetters(culprit,
                      "the broker closed the connection right after it was sent, " +
                          std::to_string(strikes) + " times in a row (last: " + why.message + ")",
                      strikes);
}

void RouteSession::moveToDeadLetters(uint64_t seq, const std::string& reason, int attempts) {
    refusals_.erase(seq);
    if (!spool_.deadLetter(config_.name, seq, reason, attempts)) {
        return;
    }
    // Once per message, with its seq and the reason, never its payload.
    logWarning("route " + config_.name + ": message " + std::to_string(seq) +
               " moved to the dead letters after " + std::to_string(attempts) +
               " attempt(s): " + reason + " (uplinkctl deadletter list)");
}

Status RouteSession::subscribe(const std::string& local_filter, int qos) {
    auto mapped = config_.cloud->mapSubscribe(local_filter, qos);
    if (!mapped) {
        return mapped.failure();
    }
    subscriptions_[local_filter] = qos;
    if (state_ == RouteState::Online && paho_) {
        paho_->subscribe(mapped->broker_filter, mapped->qos);
    }
    return {};
}

void RouteSession::unsubscribe(const std::string& local_filter) {
    if (subscriptions_.erase(local_filter) == 0) {
        return;
    }
    auto mapped = config_.cloud->mapSubscribe(local_filter, 0);
    if (mapped && state_ == RouteState::Online && paho_) {
        paho_->unsubscribe(mapped->broker_filter);
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
        paho_->subscribe(s.broker_filter, s.qos);
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
