// SPDX-License-Identifier: Apache-2.0
// MqttLink's Paho side: the client, started on the worker thread, and its callbacks in the loop.
#include "mqtt_link_paho.hpp"

#include "mqtt_link.hpp"

namespace uplinkd::emulator {

namespace {

constexpr uintptr_t kConnectOp = 0;

}  // namespace

PahoWorker& pahoWorker() {
    static PahoWorker w;
    return w;
}

void MqttLink::startPaho(MqttSession session) {
    bridge_ = std::make_shared<Bridge>();
    bridge_->io = &io_;
    bridge_->link = this;
    paho_ = std::make_shared<Paho>();
    const uint64_t conn = conn_;
    const std::string uri = "tcp://127.0.0.1:" + std::to_string(acceptor_->local_endpoint().port());
    pahoWorker().post([p = paho_, b = bridge_, conn, uri, s = std::move(session)] {
        p->listener = std::make_unique<Paho::Listener>([b, conn](const mqtt::token& tok, bool ok) {
            const auto op = reinterpret_cast<uintptr_t>(tok.get_user_context());
            if (op == kConnectOp) {
                const int rc = tok.get_return_code();
                b->post([conn, ok, rc](MqttLink& l) { l.pahoConnected(conn, ok, rc); });
                return;
            }
            int code = ok ? 0 : tok.get_return_code();
            if (tok.get_type() == mqtt::token::Type::SUBSCRIBE) {
                code = 0x80;
                if (ok) {
                    const mqtt::subscribe_response rsp = tok.get_subscribe_response();
                    const auto& codes = rsp.get_reason_codes();
                    code = codes.empty() ? 0x80 : static_cast<int>(codes.front());
                }
            }
            b->post([conn, op, ok, code](MqttLink& l) { l.completeOp(conn, op, ok, code); });
        });
        try {
            p->client = std::make_unique<mqtt::async_client>(uri, s.client_id,
                                                             mqtt::create_options(), nullptr);
            // Handlers before the first connect (Paho C++ 1.2 #356).
            p->client->set_connection_lost_handler([b, conn](const std::string& cause) {
                b->post([conn, cause](MqttLink& l) { l.pahoLost(conn, cause); });
            });
            p->client->set_message_callback([b, conn](mqtt::const_message_ptr m) {
                b->post([conn, topic = m->get_topic(), payload = m->get_payload_str(),
                         qos = m->get_qos(), retain = m->is_retained()](MqttLink& l) {
                    l.pahoMessage(conn, topic, payload, qos, retain);
                });
            });
            p->opts = std::make_unique<mqtt::connect_options>();
            mqtt::connect_options& o = *p->opts;
            o.set_mqtt_version(s.version == 3 ? MQTTVERSION_3_1 : MQTTVERSION_3_1_1);
            o.set_keep_alive_interval(s.keep_alive_s);
            o.set_clean_session(s.clean_session);
            o.set_automatic_reconnect(false);
            // The link's own timer decides; Paho's only has to be later.
            o.set_connect_timeout(
                std::chrono::duration_cast<std::chrono::seconds>(s.timeout).count() + 10);
            if (s.username) {
                o.set_user_name(*s.username);
            }
            if (s.password) {
                o.set_password(*s.password);
            }
            if (s.will) {
                o.set_will(mqtt::will_options(s.will->topic, s.will->payload, s.will->qos,
                                              s.will->retain));
            }
            p->connect_token =
                p->client->connect(o, reinterpret_cast<void*>(kConnectOp), *p->listener);
        } catch (const mqtt::exception& e) {
            b->post([conn, what = std::string(e.what())](MqttLink& l) {
                l.pahoStartFailed(conn, what);
            });
        }
    });
}

void MqttLink::pahoStartFailed(uint64_t conn, const std::string& what) {
    if (conn == conn_ && state_ == State::Connecting) {
        finishConnect({MqttConnectResult::Failed, 0, "MQTT client: " + what});
    }
}

void MqttLink::pahoConnected(uint64_t conn, bool ok, int rc) {
    if (conn != conn_ || state_ != State::Connecting) {
        return;
    }
    if (ok) {
        finishConnect({MqttConnectResult::Ok, 0, {}});
    } else if (connack_rc_ && *connack_rc_ != 0) {
        finishConnect({MqttConnectResult::ConnackRefused, *connack_rc_,
                       "CONNACK return code " + std::to_string(*connack_rc_)});
    } else if (rc >= 1 && rc <= 5) {
        finishConnect(
            {MqttConnectResult::ConnackRefused, rc, "CONNACK return code " + std::to_string(rc)});
    } else if (host_closed_ && !connack_rc_) {
        finishConnect({MqttConnectResult::ClosedWithoutConnack, 0,
                       "the broker closed the connection before CONNACK"});
    } else {
        finishConnect({MqttConnectResult::Failed, 0,
                       "MQTT connect failed (code " + std::to_string(rc) + ")"});
    }
}

void MqttLink::pahoLost(uint64_t conn, const std::string& cause) {
    if (conn != conn_ || state_ != State::Connected) {
        return;
    }
    if (host_closed_) {
        lose(MqttLostReason::PeerClosed, "the broker closed the connection");
    } else {
        lose(MqttLostReason::ClientClosed,
             cause.empty() ? "the MQTT client closed the connection" : cause);
    }
}

void MqttLink::pahoMessage(uint64_t conn, const std::string& topic, const std::string& payload,
                           int qos, bool retain) {
    if (conn != conn_ || state_ != State::Connected) {
        return;
    }
    ++received_;
    if (on_message_) {
        auto cb = on_message_;
        cb(topic, payload, qos, retain);
    }
}

}  // namespace uplinkd::emulator
