#include "session/route_session.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <cstdio>
#include <deque>

#include "session/backoff.hpp"
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

Properties userProperties(const mqtt::properties& props) {
    Properties out;
    const MQTTProperties& c = props.c_struct();
    for (int i = 0; i < c.count; ++i) {
        const MQTTProperty& p = c.array[i];
        if (p.identifier == MQTTPROPERTY_CODE_USER_PROPERTY) {
            out.emplace_back(
                std::string(p.value.data.data, static_cast<size_t>(p.value.data.len)),
                std::string(p.value.value.data, static_cast<size_t>(p.value.value.len)));
        }
    }
    return out;
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

namespace {

/// One iaction_listener per connection attempt; the token's user context carries the seq.
class Listener final : public mqtt::iaction_listener {
  public:
    using Fn = std::function<void(const mqtt::token&, bool ok)>;
    explicit Listener(Fn fn) : fn_(std::move(fn)) {}
    void on_success(const mqtt::token& tok) override { fn_(tok, true); }
    void on_failure(const mqtt::token& tok) override { fn_(tok, false); }

  private:
    Fn fn_;
};

}  // namespace

// Listeners must outlive Paho's tokens; the last few attempts' listeners are kept.
struct RouteSession::Listeners {
    std::deque<std::unique_ptr<Listener>> items;
    Listener& add(Listener::Fn fn) {
        items.push_back(std::make_unique<Listener>(std::move(fn)));
        while (items.size() > 16) {
            items.pop_front();
        }
        return *items.back();
    }
};

RouteSession::RouteSession(asio::io_context& loop, RouteConfig config, Spool& spool, Tunnel& tunnel,
                           std::vector<Uplink*> uplinks, Events events)
    : loop_(loop),
      config_(std::move(config)),
      spool_(spool),
      tunnel_(tunnel),
      uplinks_(std::move(uplinks)),
      events_(std::move(events)),
      retry_timer_(loop),
      connect_timer_(loop),
      renew_timer_(loop),
      pump_timer_(loop) {
    listeners_ = std::make_unique<Listeners>();
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
    try {
        mqtt::create_options copts(config_.cloud->mqttVersion() == 5 ? MQTTVERSION_5
                                                                     : MQTTVERSION_3_1_1);
        auto creds = config_.cloud->credentials(std::chrono::system_clock::now());
        const std::string client_id = creds ? creds->client_id : config_.name;
        client_ = std::make_unique<mqtt::async_client>(brokerUri(ep), client_id, copts, nullptr);
        auto bridge = bridge_;
        client_->set_connection_lost_handler([bridge](const std::string& cause) {
            bridge->post([bridge, cause] {
                bridge->session->onConnectionLost(bridge->session->gen_, cause);
            });
        });
        client_->set_message_callback([bridge](mqtt::const_message_ptr m) {
            Properties props = userProperties(m->get_properties());
            bridge->post([bridge, topic = m->get_topic(), payload = m->get_payload_str(),
                          qos = m->get_qos(), retain = m->is_retained(),
                          props = std::move(props)]() mutable {
                bridge->session->onMessage(bridge->session->gen_, std::move(topic),
                                           std::move(payload), qos, retain, std::move(props));
            });
        });
    } catch (const mqtt::exception& e) {
        last_error_ =
            makeError("mqtt_setup", std::string("cannot create the MQTT client: ") + e.what());
        logError("route " + config_.name + ": " + last_error_.message);
        setState(RouteState::Stopped);
        return;
    }
    dial();
}

void RouteSession::stop() {
    ++gen_;
    handshaking_.reset();
    retry_timer_.cancel();
    connect_timer_.cancel();
    renew_timer_.cancel();
    tunnel_.withdraw(config_.name);
    if (client_) {
        try {
            if (client_->is_connected()) {
                client_->disconnect(0)->wait_for(std::chrono::milliseconds(500));
            }
        } catch (const mqtt::exception&) {
            // Already disconnected: nothing to do.
        }
    }
    pump_timer_.cancel();
    unsent_.clear();
    spool_.releaseLeases(config_.name);
    inflight_.clear();
    client_.reset();
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
    connect_opts_ = std::make_unique<mqtt::connect_options>();
    mqtt::connect_options& o = *connect_opts_;
    o.set_http_proxy(tunnel_.proxyUri(config_.name));
    o.set_keep_alive_interval(config_.cloud->keepAliveSeconds());
    o.set_connect_timeout(std::max(1, config_.delivery.connect_timeout_ms / 1000));
    o.set_automatic_reconnect(false);
    if (config_.cloud->mqttVersion() == 5) {
        o.set_mqtt_version(MQTTVERSION_5);
        o.set_clean_start(true);
    } else {
        o.set_mqtt_version(MQTTVERSION_3_1_1);
        o.set_clean_session(true);
    }
    if (!creds->username.empty()) {
        o.set_user_name(creds->username);
    }
    if (!creds->password.empty()) {
        o.set_password(creds->password);
    }
    if (creds->valid_until) {
        scheduleRenewal(*creds->valid_until);
    }
    auto bridge = bridge_;
    const bool v5 = config_.cloud->mqttVersion() == 5;
    Listener& l = listeners_->add([bridge, gen, v5](const mqtt::token& tok, bool ok) {
        // MQTT 3.1.1 refusals come as the CONNACK return code (1-5); MQTT 5 as a reason code
        // (0x80 and up). Negative codes are Paho's own (connection failures).
        const int code = v5 && static_cast<int>(tok.get_reason_code()) >= 0x80
                             ? static_cast<int>(tok.get_reason_code())
                             : tok.get_return_code();
        std::string msg;
        if (!ok) {
            msg = "MQTT connect failed (Paho code " + std::to_string(tok.get_return_code()) + ")";
        }
        bridge->post([bridge, gen, ok, code, msg] {
            if (ok) {
                bridge->session->onConnected(gen);
            } else {
                bridge->session->onConnectFailed(gen, code, msg);
            }
        });
    });
    try {
        client_->connect(o, nullptr, l);
    } catch (const mqtt::exception& e) {
        fail(makeError("mqtt", std::string("MQTT connect could not start: ") + e.what()), false);
    }
}

void RouteSession::onConnected(uint64_t gen) {
    if (gen != gen_) {
        return;
    }
    connect_timer_.cancel();
    attempt_ = 0;
    renewing_ = false;
    refused_on_connection_ = false;
    // One listener for every publish of this connection; the token's context is the seq.
    auto bridge = bridge_;
    publish_listener_ = &listeners_->add([bridge, gen](const mqtt::token& tok, bool ok) {
        const auto seq = reinterpret_cast<uintptr_t>(tok.get_user_context());
        const int reason = ok ? 0 : static_cast<int>(tok.get_reason_code());
        bridge->post(
            [bridge, gen, seq, ok, reason] { bridge->session->onPublished(gen, seq, ok, reason); });
    });
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
    handshaking_.reset();
    tunnel_.withdraw(config_.name);
    spool_.releaseLeases(config_.name);
    inflight_.clear();
    if (client_) {
        try {
            if (client_->is_connected()) {
                client_->disconnect(0);
            }
        } catch (const mqtt::exception&) {
            // Already gone.
        }
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
    if (state_ != RouteState::Online || !client_) {
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
    mqtt::iaction_listener& l = *publish_listener_;
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
        try {
            client_->publish(m, reinterpret_cast<void*>(static_cast<uintptr_t>(msg.seq)), l);
        } catch (const mqtt::exception& e) {
            // Paho's queue is full (or the connection is going away): keep the rest, in order,
            // and try again shortly; a lost connection releases them instead.
            logDebug("route " + config_.name + ": Paho did not take message " +
                     std::to_string(msg.seq) + " (" + e.what() + "), retrying");
            unsent_ = std::move(batch);
            retryPumpSoon();
            return;
        }
        const uint64_t seq = msg.seq;
        inflight_[seq] = Sent{std::move(msg), std::chrono::steady_clock::now()};
        ++counters_.sent;
        batch.pop_front();
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
    if (state_ == RouteState::Online && client_) {
        try {
            client_->subscribe(mapped->broker_filter, mapped->qos);
        } catch (const mqtt::exception& e) {
            logDebug("route " + config_.name + ": subscribe deferred: " + e.what());
        }
    }
    return {};
}

void RouteSession::unsubscribe(const std::string& local_filter) {
    if (subscriptions_.erase(local_filter) == 0) {
        return;
    }
    auto mapped = config_.cloud->mapSubscribe(local_filter, 0);
    if (mapped && state_ == RouteState::Online && client_) {
        try {
            client_->unsubscribe(mapped->broker_filter);
        } catch (const mqtt::exception&) {
            // Not connected: nothing to undo on the broker.
        }
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
        try {
            client_->subscribe(s.broker_filter, s.qos);
        } catch (const mqtt::exception& e) {
            logWarning("route " + config_.name + ": cannot subscribe to \"" + s.broker_filter +
                       "\": " + e.what());
        }
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
