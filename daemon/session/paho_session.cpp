// SPDX-License-Identifier: Apache-2.0
#include "session/paho_session.hpp"

#include <mqtt/message.h>

#include <algorithm>
#include <mutex>

#include "session/paho_client.hpp"
#include "session/uplink_health.hpp"
#include "tls/tls_session.hpp"
#include "tunnel/tunnel.hpp"
#include "uplink/counting_stream.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

/// How long a broker keeps a persistent session (MQTT 5 session expiry) after a frugal uplink
/// dropped: reconnects within it neither subscribe again nor lose queued commands.
constexpr int kSessionExpirySeconds = 3600;

std::string brokerUri(const BrokerEndpoint& ep) {
    // The port is always written: Paho's proxy code assumes 8080 otherwise.
    std::string uri =
        (ep.websocket_path.empty() ? "tcp://" : "ws://") + ep.host + ":" + std::to_string(ep.port);
    return uri + ep.websocket_path;
}

}  // namespace

TlsOptions routeTlsOptions(const RouteConfig& config, const BrokerEndpoint& ep) {
    TlsOptions o;
    o.server_name = config.tls.server_name.empty() ? (ep.sni.empty() ? ep.host : ep.sni)
                                                   : config.tls.server_name;
    o.alpn = config.tls.alpn.empty() ? ep.alpn : config.tls.alpn;
    o.ca_file = config.tls.ca_file;
    o.cert_file = config.tls.cert_file;
    o.key_file = config.tls.key_file;
    return o;
}

/// Carries Paho's callbacks (on Paho's threads) into the loop.
struct PahoSession::Bridge {
    Bridge(asio::io_context& l, std::weak_ptr<bool> a, PahoSession* s)
        : loop(l), alive(std::move(a)), session(s) {}

    asio::io_context& loop;
    std::weak_ptr<bool> alive;
    PahoSession* session;

    template <typename F>
    void post(F&& f) {
        asio::post(loop, [alive = alive, f = std::forward<F>(f)]() mutable {
            if (!alive.expired()) {
                f();
            }
        });
    }

    /// Publish outcomes, gathered: one task in the loop takes every outcome that arrived until
    /// it ran, instead of one task (and one wake-up of the loop) per message.
    struct Outcome {
        uint64_t gen, seq;
        bool ok;
        int reason;
    };
    std::mutex outcomes_mu;
    std::vector<Outcome> outcomes;  ///< guarded by outcomes_mu

    /// Paho's threads.
    static void published(const std::shared_ptr<Bridge>& self, Outcome o) {
        bool first = false;
        {
            std::lock_guard lock(self->outcomes_mu);
            first = self->outcomes.empty();
            self->outcomes.push_back(o);
        }
        if (first) {
            self->post([self] { self->deliverOutcomes(); });
        }
    }

    /// The loop.
    void deliverOutcomes() {
        std::vector<Outcome> taken;
        {
            std::lock_guard lock(outcomes_mu);
            taken.swap(outcomes);
        }
        for (const Outcome& o : taken) {
            if (alive.expired()) {
                return;  // a callback ended the session
            }
            if (o.gen == session->gen_ && session->cb_.published) {
                session->cb_.published(o.seq, o.ok, o.reason);
            }
        }
    }
};

Result<std::unique_ptr<PahoSession>> PahoSession::create(asio::io_context& loop,
                                                         const RouteConfig& config, Tunnel& tunnel,
                                                         std::vector<Uplink*> uplinks,
                                                         UplinkSelector& selector, PahoWorker& paho,
                                                         Callbacks callbacks) {
    const BrokerEndpoint ep = config.cloud->endpoint();
    std::shared_ptr<TlsContext> tls;
    if (ep.tls) {
        TlsOptions o = routeTlsOptions(config, ep);
        o.ciphers_tls12 = config.tls.ciphers_tls12;
        auto ctx = TlsContext::create(o);
        if (!ctx) {
            return ctx.failure();
        }
        tls = *ctx;
    }
    return std::unique_ptr<PahoSession>(new PahoSession(loop, config, tunnel, std::move(uplinks),
                                                        selector, paho, std::move(callbacks),
                                                        std::move(tls)));
}

PahoSession::PahoSession(asio::io_context& loop, const RouteConfig& config, Tunnel& tunnel,
                         std::vector<Uplink*> uplinks, UplinkSelector& selector, PahoWorker& paho,
                         Callbacks callbacks, std::shared_ptr<TlsContext> tls)
    : loop_(loop),
      config_(config),
      tunnel_(tunnel),
      uplinks_(std::move(uplinks)),
      selector_(selector),
      paho_worker_(paho),
      cb_(std::move(callbacks)),
      tls_(std::move(tls)) {
    bridge_ = std::make_shared<Bridge>(loop_, alive_, this);
    makeClient();
}

void PahoSession::makeClient() {
    // Each connection gets a client of its own: nothing queued in an earlier one can be sent
    // on a later connection (out of order, after the route sent it again), and its late
    // callbacks are told apart by the serial.
    const uint64_t serial = ++client_serial_;
    client_used_ = false;
    auto creds = config_.cloud->credentials(std::chrono::system_clock::now());
    const std::string client_id = creds ? creds->client_id : config_.name;
    // Paho calls these on its own threads (or on the Paho worker): they only post into the loop.
    auto bridge = bridge_;
    PahoClient::Callbacks cb;
    cb.connect_done = [bridge](uint64_t gen, bool ok, int code, std::string msg, bool present) {
        bridge->post([bridge, gen, ok, code, msg = std::move(msg), present] {
            bridge->session->onConnectDone(gen, ok, code, msg, present);
        });
    };
    cb.connection_lost = [bridge, serial](std::string cause) {
        bridge->post([bridge, serial, cause = std::move(cause)] {
            if (bridge->session->client_serial_ == serial) {
                bridge->session->onConnectionLost(bridge->session->gen_, cause);
            }
        });
    };
    cb.message = [bridge, serial](std::string topic, std::string payload, int qos, bool retain,
                                  Properties props) {
        bridge->post([bridge, serial, topic = std::move(topic), payload = std::move(payload), qos,
                      retain, props = std::move(props)]() mutable {
            PahoSession& s = *bridge->session;
            if (s.online_ && s.client_serial_ == serial && s.cb_.message) {
                s.cb_.message(std::move(topic), std::move(payload), qos, retain, std::move(props));
            }
        });
    };
    cb.published = [bridge](uint64_t gen, uint64_t seq, bool ok, int reason) {
        Bridge::published(bridge, {gen, seq, ok, reason});
    };
    cb.batch_done = [bridge](uint64_t gen, size_t taken, std::string why) {
        bridge->post([bridge, gen, taken, why = std::move(why)] {
            PahoSession& s = *bridge->session;
            if (gen == s.gen_ && s.cb_.batch_done) {
                s.cb_.batch_done(taken, why);
            }
        });
    };
    cb.setup_failed = [bridge](std::string message) {
        bridge->post([bridge, message = std::move(message)] {
            PahoSession& s = *bridge->session;
            if (s.cb_.setup_failed) {
                s.cb_.setup_failed(message);
            }
        });
    };
    cb.subscribe_failed = [route = config_.name](std::string message) {
        logWarning("route " + route + ": " + message);
    };
    paho_ =
        std::make_unique<PahoClient>(paho_worker_, brokerUri(config_.cloud->endpoint()), client_id,
                                     config_.cloud->mqttVersion() == 5, std::move(cb));
}

PahoSession::~PahoSession() {
    alive_.reset();
    ++gen_;
    handshaking_.reset();
    tunnel_.withdraw(config_.name);
    // Queues the disconnect and the client's destruction on the Paho worker; nothing waits.
    paho_.reset();
}

void PahoSession::connect(const MqttCredentials& creds) {
    ++gen_;
    online_ = false;
    creds_ = creds;
    transport_error_.reset();
    if (cb_.progress) {
        cb_.progress(RouteState::Dialing);
    }
    order_ = selector_.dialOrder();
    dialNext(0);
}

void PahoSession::disconnect() {
    ++gen_;
    online_ = false;
    handshaking_.reset();
    tunnel_.withdraw(config_.name);
    paho_->disconnect();  // on the Paho worker, if Paho is connected by then
    // The old client's disconnect and destruction are queued on the worker before anything of
    // the new one. Only a client that was asked to connect is replaced (one that could not be
    // created reports that once, and the route stops).
    if (client_used_) {
        makeClient();
    }
}

void PahoSession::failAttempt(uint64_t gen, const Error& error, bool refused) {
    if (gen != gen_) {
        return;
    }
    ++gen_;
    tunnel_.withdraw(config_.name);
    if (cb_.connect_failed) {
        cb_.connect_failed(error, refused);
    }
}

void PahoSession::dialNext(size_t position) {
    if (position >= order_.size()) {
        failAttempt(gen_, makeError("config", "the route has no uplink"), false);
        return;
    }
    current_index_ = order_[position];
    Uplink* up = uplinks_[current_index_];
    current_uplink_ = up->describe();
    const BrokerEndpoint ep = config_.cloud->endpoint();
    std::weak_ptr<bool> alive = alive_;
    auto handler = [this, alive, position, gen = gen_](Result<ByteStreamPtr> r) {
        if (alive.expired()) {
            return;
        }
        onStream(position, gen, std::move(r));
    };
    if (tls_ && up->offloadsTls()) {
        if (cb_.progress) {
            cb_.progress(RouteState::Tls);
        }
        up->connectTls(ep.host, ep.port, tlsFor(current_index_)->options(), std::move(handler));
    } else {
        up->connect(ep.host, ep.port, std::move(handler));
    }
}

void PahoSession::onStream(size_t position, uint64_t gen, Result<ByteStreamPtr> stream) {
    if (gen != gen_) {
        return;  // a late answer to an abandoned attempt; the stream closes as it is dropped
    }
    const size_t index = order_[position];
    if (!stream) {
        selector_.dialFailed(index, stream.error().message, steadyNowMs());
        if (position + 1 < order_.size()) {
            logWarning("route " + config_.name + ": uplink " + uplinks_[index]->name() + ": " +
                       stream.error().message + ", trying uplink " +
                       uplinks_[order_[position + 1]]->name());
            dialNext(position + 1);
            return;
        }
        failAttempt(gen, stream.error().withContext("uplink " + uplinks_[index]->name()), false);
        return;
    }
    // Every byte over this uplink is counted (status, and the silence that means "dead").
    ByteStreamPtr counted = std::make_unique<CountingStream>(std::move(stream.value()),
                                                             trafficSink(selector_.traffic(index)));
    if (!tls_ || uplinks_[index]->offloadsTls()) {
        startMqtt(gen, std::move(counted));
        return;
    }
    if (cb_.progress) {
        cb_.progress(RouteState::Tls);
    }
    handshaking_ = std::make_unique<TlsSession>(tlsFor(index), std::move(counted));
    std::weak_ptr<bool> alive = alive_;
    handshaking_->handshake([this, alive, gen](Status s) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        std::unique_ptr<TlsSession> tls = std::move(handshaking_);
        if (!s) {
            // This runs inside the session: let it unwind before it is destroyed.
            asio::post(loop_, [dead = std::shared_ptr<TlsSession>(std::move(tls))] {});
            failAttempt(gen, s.error(), s.error().code == "tls_verify");
            return;
        }
        startMqtt(gen, std::move(tls));
    });
}

const std::shared_ptr<TlsContext>& PahoSession::tlsFor(size_t index) {
    if (!uplinks_[index]->frugal()) {
        return tls_;
    }
    if (!frugal_tls_) {
        TlsOptions o = tls_->options();
        o.frugal = true;
        auto ctx = TlsContext::create(o);
        if (!ctx) {
            // The same files loaded a moment ago; use the route's context rather than fail.
            logWarning("route " + config_.name + ": " + ctx.error().message);
            return tls_;
        }
        frugal_tls_ = *ctx;
    }
    return frugal_tls_;
}

void PahoSession::startMqtt(uint64_t gen, ByteStreamPtr stream) {
    if (cb_.progress) {
        cb_.progress(RouteState::Mqtt);
    }
    stream_desc_ = stream->describe();
    std::weak_ptr<bool> alive = alive_;
    tunnel_.offer(config_.name, std::move(stream), [this, alive, gen](const Error& reason) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        transport_error_ = reason;
        if (online_) {
            // Paho notices the closed loopback socket and reports the connection lost.
            logInfo("route " + config_.name + ": connection closed: " + reason.message);
        }
    });
    PahoClient::ConnectParams p;
    p.proxy_uri = tunnel_.proxyUri(config_.name);
    p.keep_alive_s = config_.cloud->keepAliveSeconds();
    if (const int ka = uplinks_[current_index_]->keepAliveSeconds(); ka > 0) {
        p.keep_alive_s = ka;  // a modem's: the cellular data budget
    }
    if (uplinks_.size() > 1) {
        // A PINGREQ at least every third of failover_after_ms, answered by the broker: then an
        // uplink that stays silent that long is dead, even when no message is sent.
        const int ka = std::max(1, config_.failover.failover_after_ms / 3000);
        if (p.keep_alive_s == 0 || p.keep_alive_s > ka) {
            p.keep_alive_s = ka;
        }
    }
    p.timeout_s = std::max(1, config_.delivery.connect_timeout_ms / 1000);
    p.v5 = config_.cloud->mqttVersion() == 5;
    p.username = creds_.username;
    p.password = creds_.password;
    // Over a frugal uplink the broker keeps the session, so a reconnect need not subscribe again.
    persistent_ = uplinks_[current_index_]->frugal();
    p.persistent = persistent_;
    p.session_expiry_s = kSessionExpirySeconds;
    // The outcome comes back as onConnectDone.
    client_used_ = true;
    paho_->connect(gen, std::move(p));
}

void PahoSession::onConnectDone(uint64_t gen, bool ok, int code, const std::string& message,
                                bool session_present) {
    if (gen != gen_) {
        return;
    }
    if (ok) {
        online_ = true;
        session_present_ = persistent_ && session_present;
        requested_.clear();
        if (!session_present_) {
            broker_subs_.clear();  // a new session on the broker: it has no subscriptions
        } else {
            stream_desc_ += ", MQTT session kept";
        }
        std::weak_ptr<bool> alive = alive_;
        if (cb_.connected) {
            cb_.connected();  // the route subscribes to everything it needs in this call
        }
        if (alive.expired() || gen != gen_ || !session_present_) {
            return;
        }
        // What the kept session still holds but the route no longer wants (it unsubscribed
        // while the link was down).
        for (auto it = broker_subs_.begin(); it != broker_subs_.end();) {
            if (requested_.count(it->first) == 0) {
                paho_->unsubscribe(it->first);
                it = broker_subs_.erase(it);
            } else {
                ++it;
            }
        }
        return;
    }
    // A CONNACK refusal is the broker's own answer: it wins over the close that follows it.
    if (code > 0) {
        failAttempt(
            gen, makeError("connack_" + std::to_string(code), config_.cloud->explainConnack(code)),
            true);
        return;
    }
    if (transport_error_ && transport_error_->code != "client_closed") {
        const bool silent = transport_error_->code == "eof";
        failAttempt(gen,
                    silent
                        ? makeError("closed_without_connack", config_.cloud->explainSilentClose())
                        : *transport_error_,
                    transport_error_->code.starts_with("tls"));
        return;
    }
    failAttempt(gen, makeError("mqtt", message), false);
}

void PahoSession::onConnectionLost(uint64_t gen, const std::string& cause) {
    // Paho also reports the loss of a connection that was dropped on purpose (to renew the
    // credentials) when the next attempt is already dialing; only an online one can be lost.
    if (gen != gen_ || !online_) {
        return;
    }
    online_ = false;
    ++gen_;
    tunnel_.withdraw(config_.name);
    Error e = transport_error_ && transport_error_->code != "client_closed"
                  ? *transport_error_
                  : makeError("connection_lost",
                              "connection lost" + (cause.empty() ? std::string() : ": " + cause));
    if (cb_.lost) {
        cb_.lost(e);
    }
}

void PahoSession::publish(std::vector<Outgoing> batch) {
    const bool v5 = config_.cloud->mqttVersion() == 5;
    std::vector<PahoClient::OutgoingMessage> out;
    out.reserve(batch.size());
    for (auto& o : batch) {
        // The payload is shared, not copied (binary_ref holds the same buffer): Paho C takes its
        // own copy when the message is queued (MQTTAsync_send), and that is the only one.
        auto m =
            mqtt::make_message(o.topic, mqtt::binary_ref(std::move(o.payload)), o.qos, o.retain);
        if (v5 && !o.user_properties.empty()) {
            mqtt::properties props;
            for (const auto& [k, v] : o.user_properties) {
                props.add(mqtt::property(mqtt::property::USER_PROPERTY, k, v));
            }
            m->set_properties(std::move(props));
        }
        out.emplace_back(o.seq, std::move(m));
    }
    paho_->publish(gen_, std::move(out));  // answered by batch_done
}

void PahoSession::resume() {
    paho_->resume();
}

void PahoSession::subscribe(const std::string& broker_filter, int qos) {
    requested_.insert(broker_filter);
    const auto held = broker_subs_.find(broker_filter);
    if (session_present_ && held != broker_subs_.end() && held->second == qos) {
        return;  // the broker kept this subscription with the session
    }
    broker_subs_[broker_filter] = qos;
    paho_->subscribe(broker_filter, qos);
}

void PahoSession::unsubscribe(const std::string& broker_filter) {
    requested_.erase(broker_filter);
    broker_subs_.erase(broker_filter);
    paho_->unsubscribe(broker_filter);
}

Status PahoSession::check(const Outgoing& message) const {
    (void)message;
    return {};  // the cloud's rules (mapOutgoing) are all there is
}

void PahoSession::forgetAfterRefusal() {
    if (tls_) {
        tls_->forgetSession();
    }
}

}  // namespace uplinkd
