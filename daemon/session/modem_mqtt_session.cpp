// SPDX-License-Identifier: Apache-2.0
#include "session/modem_mqtt_session.hpp"

#include "uplinkd/log.hpp"

namespace uplinkd {

ModemMqttSession::ModemMqttSession(asio::io_context& loop, const RouteConfig& config,
                                   Uplink& uplink, Callbacks callbacks)
    : loop_(loop), config_(config), uplink_(uplink), cb_(std::move(callbacks)) {}

ModemMqttSession::~ModemMqttSession() {
    alive_.reset();
    if (client_ != nullptr) {
        client_->disconnect([](Status) {});
    }
}

namespace {

/// Refusals that the next attempt would meet again unless something is changed.
bool refusal(const Error& e) {
    return e.code.starts_with("mqtt_connack") || e.code.starts_with("mqtt_tls") ||
           e.code == "tls_config" || e.code.starts_with("certificate") ||
           e.code == "mqtt_unsupported";
}

}  // namespace

void ModemMqttSession::connect(const MqttCredentials& creds) {
    ++gen_;
    online_ = false;
    if (cb_.progress) {
        cb_.progress(RouteState::Dialing);
    }
    const BrokerEndpoint ep = config_.cloud->endpoint();
    std::optional<TlsOptions> tls;
    if (ep.tls) {
        tls = routeTlsOptions(config_, ep);
    }
    std::weak_ptr<bool> alive = alive_;
    uplink_.openMqtt(tls, [this, alive, gen = gen_, creds](Result<ModemMqtt*> client) {
        if (!alive.expired()) {
            onOpened(gen, creds, std::move(client));
        }
    });
}

void ModemMqttSession::onOpened(uint64_t gen, const MqttCredentials& creds,
                                Result<ModemMqtt*> client) {
    if (gen != gen_) {
        return;
    }
    if (!client) {
        if (cb_.connect_failed) {
            cb_.connect_failed(client.error().withContext("uplink " + uplink_.name()),
                               refusal(client.error()));
        }
        return;
    }
    client_ = *client;
    if (cb_.progress) {
        cb_.progress(RouteState::Mqtt);
    }
    const BrokerEndpoint ep = config_.cloud->endpoint();
    const TlsOptions tls = ep.tls ? routeTlsOptions(config_, ep) : TlsOptions{};
    const int uplink_keep_alive = uplink_.keepAliveSeconds();  // the cellular data budget
    ModemMqttConnect p{
        .host = ep.host,
        .port = ep.port,
        .tls = ep.tls,
        .server_name = tls.server_name,
        .alpn = tls.alpn,
        .websocket_path = ep.websocket_path,
        .client_id = creds.client_id,
        .username = creds.username,
        .password = creds.password,
        .keep_alive_s =
            uplink_keep_alive > 0 ? uplink_keep_alive : config_.cloud->keepAliveSeconds(),
        .clean_session = true,
        .timeout_s = std::max(1, config_.delivery.connect_timeout_ms / 1000),
    };

    std::weak_ptr<bool> alive = alive_;
    ModemMqttEvents events;
    events.message = [this, alive, gen](std::string topic, std::string payload, int qos,
                                        bool retain) {
        if (alive.expired() || gen != gen_ || !online_ || !cb_.message) {
            return;
        }
        cb_.message(std::move(topic), std::move(payload), qos < 0 ? 0 : qos, retain, {});
    };
    events.lost = [this, alive, gen](Error why) {
        if (alive.expired() || gen != gen_ || !online_) {
            return;
        }
        online_ = false;
        ++gen_;
        if (cb_.lost) {
            cb_.lost(why);
        }
    };
    client_->connect(p, std::move(events), [this, alive, gen](Status st) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        if (!st) {
            ++gen_;
            if (cb_.connect_failed) {
                cb_.connect_failed(st.error(), refusal(st.error()));
            }
            return;
        }
        online_ = true;
        if (cb_.connected) {
            cb_.connected();
        }
    });
}

void ModemMqttSession::disconnect() {
    ++gen_;
    online_ = false;
    if (client_ != nullptr) {
        client_->disconnect([](Status) {});
    }
}

void ModemMqttSession::publish(std::vector<Outgoing> batch) {
    const size_t n = batch.size();
    if (!online_ || client_ == nullptr) {
        asio::post(loop_, [this, alive = std::weak_ptr<bool>(alive_), gen = gen_] {
            if (!alive.expired() && gen == gen_ && cb_.batch_done) {
                cb_.batch_done(0, "not connected");
            }
        });
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    const uint64_t gen = gen_;
    for (auto& m : batch) {
        client_->publish(m.topic, m.bytes(), m.qos, m.retain,
                         [this, alive, gen, seq = m.seq](Status st) {
                             if (alive.expired() || gen != gen_) {
                                 return;
                             }
                             if (!st) {
                                 logDebug("route " + config_.name + ": message " +
                                          std::to_string(seq) + ": " + st.error().message);
                             }
                             if (cb_.published) {
                                 cb_.published(seq, st.ok(), 0);
                             }
                         });
    }
    // The driver queues them all, in order: every message is taken.
    asio::post(loop_, [this, alive, gen, n] {
        if (!alive.expired() && gen == gen_ && cb_.batch_done) {
            cb_.batch_done(n, "");
        }
    });
}

void ModemMqttSession::subscribe(const std::string& broker_filter, int qos) {
    if (client_ == nullptr) {
        return;
    }
    client_->subscribe(broker_filter, qos, [route = config_.name, broker_filter](Status st) {
        if (!st) {
            logWarning("route " + route + ": the module could not subscribe to " + broker_filter +
                       ": " + st.error().message);
        }
    });
}

void ModemMqttSession::unsubscribe(const std::string& broker_filter) {
    if (client_ == nullptr) {
        return;
    }
    client_->unsubscribe(broker_filter, [](Status) {});
}

Status ModemMqttSession::check(const Outgoing& message) const {
    const ModemMqtt* client = uplink_.moduleMqtt();
    if (client == nullptr) {
        return {};  // the uplink reports why it has no client when the route connects
    }
    if (!message.user_properties.empty()) {
        return fail("bad_property",
                    "the module's MQTT client speaks MQTT 3.1.1 and cannot send properties; "
                    "publish without them or use mqtt = \"uplinkd\" on route " +
                        config_.name);
    }
    return checkModemMqttPublish(client->limits(), message.topic, message.bytes(), message.qos);
}

std::string ModemMqttSession::streamDescription() const {
    return std::string("the module's MQTT client") +
           (config_.cloud->endpoint().tls ? ", TLS by the module" : "");
}

std::string ModemMqttSession::deliveryNote() const {
    const ModemMqtt* client = uplink_.moduleMqtt();
    return client == nullptr ? std::string() : client->limits().delivery_note;
}

}  // namespace uplinkd
