// SPDX-License-Identifier: Apache-2.0
#include "session/paho_client.hpp"

#include <mqtt/async_client.h>

#include <deque>

#include "session/paho_worker.hpp"

namespace uplinkd {

namespace {

// The largest in-flight window a route can configure.
constexpr int kMaxQueuedInPaho = 65535;

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

/// One iaction_listener per connection attempt; a publish token's user context carries the seq.
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

/// What the worker owns: the client, the listeners its tokens point to, the connect options.
/// Touched on the worker thread only; destroyed there by the last queued task.
struct PahoClient::State {
    Callbacks cb;
    // Listeners must outlive Paho's tokens; the last few attempts' listeners are kept. Declared
    // before the client, so they go after it.
    std::deque<std::unique_ptr<Listener>> listeners;
    // The last few connect tokens: a new connect() drops the client's reference to the previous
    // one, which may still be completing on Paho's thread (it must not be destroyed under it).
    std::deque<mqtt::token_ptr> connect_tokens;
    std::unique_ptr<mqtt::connect_options> opts;  // long-lived (Paho C++ 1.2 #395)
    std::unique_ptr<mqtt::async_client> client;
    Listener* publish_listener = nullptr;  // of connection `gen`
    uint64_t gen = 0;
    bool refusing = false;  // a publish was refused: refuse the rest until resume()

    Listener& addListener(Listener::Fn fn) {
        listeners.push_back(std::make_unique<Listener>(std::move(fn)));
        while (listeners.size() > 16) {
            listeners.pop_front();
        }
        return *listeners.back();
    }
};

PahoClient::PahoClient(PahoWorker& worker, std::string uri, std::string client_id, bool v5,
                       Callbacks callbacks)
    : worker_(worker), state_(std::make_shared<State>()) {
    state_->cb = std::move(callbacks);
    worker_.post([s = state_, uri = std::move(uri), client_id = std::move(client_id), v5] {
        try {
            mqtt::create_options copts(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
            // Paho refuses a publish while this many wait in its queue, connected or not
            // (default 100): the route's in-flight window is the bound, not Paho's queue, or a
            // window above 100 stalls on refusals and retries (issue 14).
            copts.set_max_buffered_messages(kMaxQueuedInPaho);
            s->client = std::make_unique<mqtt::async_client>(uri, client_id, copts, nullptr);
            // Handlers before the first connect (Paho C++ 1.2 #356). They hold the callbacks,
            // not the state, so the state can go away with the client.
            auto lost = s->cb.connection_lost;
            s->client->set_connection_lost_handler(
                [lost](const std::string& cause) { lost(cause); });
            auto on_message = s->cb.message;
            s->client->set_message_callback([on_message](mqtt::const_message_ptr m) {
                on_message(m->get_topic(), m->get_payload_str(), m->get_qos(), m->is_retained(),
                           userProperties(m->get_properties()));
            });
        } catch (const mqtt::exception& e) {
            s->client.reset();
            s->cb.setup_failed(std::string("cannot create the MQTT client: ") + e.what());
        }
    });
}

PahoClient::~PahoClient() {
    // The task takes the last reference from the loop: the client is destroyed on the worker.
    worker_.post([s = std::move(state_)]() mutable {
        if (s->client) {
            try {
                if (s->client->is_connected()) {
                    s->client->disconnect(0)->wait_for(std::chrono::milliseconds(500));
                }
            } catch (const mqtt::exception&) {
                // Already disconnected: nothing to do.
            }
        }
        s.reset();
    });
}

void PahoClient::connect(uint64_t gen, ConnectParams params) {
    worker_.post([s = state_, gen, p = std::move(params)] {
        if (!s->client) {
            return;  // creation failed and was reported
        }
        s->gen = gen;
        s->refusing = false;
        s->opts = std::make_unique<mqtt::connect_options>();
        mqtt::connect_options& o = *s->opts;
        o.set_http_proxy(p.proxy_uri);
        o.set_keep_alive_interval(p.keep_alive_s);
        o.set_connect_timeout(p.timeout_s);
        o.set_automatic_reconnect(false);
        if (p.v5) {
            o.set_mqtt_version(MQTTVERSION_5);
            o.set_clean_start(!p.persistent);
            if (p.persistent) {
                mqtt::properties props;
                props.add(mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL,
                                         static_cast<int32_t>(p.session_expiry_s)));
                o.set_properties(std::move(props));
            }
        } else {
            o.set_mqtt_version(MQTTVERSION_3_1_1);
            o.set_clean_session(!p.persistent);
        }
        if (!p.username.empty()) {
            o.set_user_name(p.username);
        }
        if (!p.password.empty()) {
            o.set_password(p.password);
        }
        // One listener for every publish of this connection; the token's context is the seq.
        auto published = s->cb.published;
        s->publish_listener = &s->addListener([published, gen](const mqtt::token& tok, bool ok) {
            // A refusal carries the broker's MQTT 5 reason code (PUBACK >= 0x80); 0 otherwise.
            const int reason = ok ? 0 : static_cast<int>(tok.get_reason_code());
            published(gen, reinterpret_cast<uintptr_t>(tok.get_user_context()), ok, reason);
        });
        auto done = s->cb.connect_done;
        const bool v5 = p.v5;
        Listener& l = s->addListener([done, gen, v5](const mqtt::token& tok, bool ok) {
            // MQTT 3.1.1 refusals come as the CONNACK return code (1-5); MQTT 5 as a reason
            // code (0x80 and up). Negative codes are Paho's own (connection failures).
            const int code = v5 && static_cast<int>(tok.get_reason_code()) >= 0x80
                                 ? static_cast<int>(tok.get_reason_code())
                                 : tok.get_return_code();
            std::string msg;
            bool session_present = false;
            if (!ok) {
                msg =
                    "MQTT connect failed (Paho code " + std::to_string(tok.get_return_code()) + ")";
            } else {
                try {
                    session_present = tok.get_connect_response().is_session_present();
                } catch (const mqtt::exception&) {
                    // No CONNACK details: treat the session as new (subscribe again).
                }
            }
            done(gen, ok, code, std::move(msg), session_present);
        });
        try {
            s->connect_tokens.push_back(s->client->connect(o, nullptr, l));
            while (s->connect_tokens.size() > 4) {
                s->connect_tokens.pop_front();
            }
        } catch (const mqtt::exception& e) {
            done(gen, false, 0, std::string("MQTT connect could not start: ") + e.what(), false);
        }
    });
}

void PahoClient::disconnect() {
    worker_.post([s = state_] {
        if (!s->client) {
            return;
        }
        try {
            if (s->client->is_connected()) {
                s->client->disconnect(0);
            }
        } catch (const mqtt::exception&) {
            // Already gone.
        }
    });
}

void PahoClient::publish(uint64_t gen, std::vector<OutgoingMessage> batch) {
    worker_.post([s = state_, gen, batch = std::move(batch)] {
        size_t taken = 0;
        std::string why;
        if (!s->client || s->gen != gen || s->publish_listener == nullptr) {
            why = "the connection is gone";
        } else if (s->refusing) {
            why = "an earlier message is waiting";
        } else {
            for (const auto& [seq, msg] : batch) {
                try {
                    s->client->publish(msg, reinterpret_cast<void*>(static_cast<uintptr_t>(seq)),
                                       *s->publish_listener);
                } catch (const mqtt::exception& e) {
                    // Paho's queue is full (or the connection is going away).
                    why = e.what();
                    s->refusing = true;
                    break;
                }
                ++taken;
            }
        }
        s->cb.batch_done(gen, taken, std::move(why));
    });
}

void PahoClient::resume() {
    worker_.post([s = state_] { s->refusing = false; });
}

void PahoClient::subscribe(std::string filter, int qos) {
    worker_.post([s = state_, filter = std::move(filter), qos] {
        if (!s->client) {
            return;
        }
        try {
            s->client->subscribe(filter, qos);
        } catch (const mqtt::exception& e) {
            s->cb.subscribe_failed("cannot subscribe to \"" + filter + "\": " + e.what());
        }
    });
}

void PahoClient::unsubscribe(std::string filter) {
    worker_.post([s = state_, filter = std::move(filter)] {
        if (!s->client) {
            return;
        }
        try {
            s->client->unsubscribe(filter);
        } catch (const mqtt::exception&) {
            // Not connected: nothing to undo on the broker.
        }
    });
}

}  // namespace uplinkd
