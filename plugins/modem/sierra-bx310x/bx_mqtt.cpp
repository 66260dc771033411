// SPDX-License-Identifier: Apache-2.0
// BxCore's MQTT client part: the module's own client (AT+KMQTTCFG / KMQTTCNX / KMQTTPUB /
// KMQTTPUBSTART / KMQTTSUB / KMQTTUNSUB / KMQTTCLOSE / KMQTTDEL) as ModemMqtt, with QoS 1
// acknowledgements matched to publishes in order and a refused connection explained from what
// uplinkd knows. Thread: loop.
#include <algorithm>

#include "bx_core.hpp"
#include "bx_errors.hpp"
#include "bx_parsers.hpp"
#include "bx_refusal.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using modem_common::commandError;
using modem_common::safeForQuotedArgument;

namespace {

std::string endpoint(const ModemMqttConnect& p) {
    return p.host + ":" + std::to_string(p.port);
}

/// The answer handler of `command`, a step of MQTT connect run `session`: nothing when the core
/// is gone or the run was replaced; a failed command ends the connect ("MQTT connect to
/// <endpoint>: AT+X: ..."); an answer goes to `then(core, answer)`.
template <class Then>
std::function<void(Result<AtResponse>)> connectStep(std::weak_ptr<BxCore> core, uint64_t session,
                                                    std::string command, Then then) {
    return [w = std::move(core), session, command = std::move(command),
            then = std::move(then)](Result<AtResponse> r) {
        auto c = w.lock();
        if (!c || c->mqtt.session != session) {
            return;
        }
        if (!r) {
            c->mqttConnectFinished(
                Failure{commandError(command, r.error(), c->explain)
                            .withContext("MQTT connect to " + endpoint(c->mqtt.params))});
            return;
        }
        then(*c, *r);
    };
}

AtDataWrite publishData(const std::string& payload, std::chrono::milliseconds pause) {
    AtDataWrite w;
    w.prompt = "CONNECT";
    w.payload = payload;
    w.terminator = std::string(kEscape);
    w.guard = pause;
    return w;
}

/// Why the module should not be asked to connect with `p`, or nothing. The password is never
/// shown.
std::optional<Error> connectProblem(const ModemMqttConnect& p) {
    if (p.host.empty() || p.host.size() > kMaxHostLength || !safeForQuotedArgument(p.host)) {
        return makeError("bad_host", "the broker host \"" + modem_common::printable(p.host, 64) +
                                         "\" cannot be given to the module");
    }
    if (p.port == 0) {
        return makeError("bad_port", "port 0 cannot be connected to");
    }
    if (!p.websocket_path.empty()) {
        return makeError("mqtt_unsupported",
                         "the module's MQTT client speaks MQTT over TCP only, not over "
                         "WebSocket: use the broker's MQTT port (8883) instead of a ws path");
    }
    if (!p.alpn.empty()) {
        return makeError("mqtt_unsupported", "the module's MQTT client cannot send ALPN (" +
                                                 p.alpn.front() +
                                                 "): use the broker's port 8883, which needs none");
    }
    if (p.tls && !p.server_name.empty() && p.server_name != p.host) {
        return makeError("mqtt_unsupported",
                         "the module sends the host it connects to as the TLS server name and "
                         "checks the certificate against it; it cannot connect to " +
                             p.host + " and use the name " + p.server_name +
                             ": set the broker host to " + p.server_name);
    }
    const std::pair<const char*, const std::string*> fields[] = {
        {"client id", &p.client_id}, {"username", &p.username}, {"password", &p.password}};
    for (const auto& [name, value] : fields) {
        if (!safeForQuotedArgument(*value) || value->size() > 256) {
            return makeError("mqtt_unsupported",
                             std::string("the MQTT ") + name +
                                 " cannot be given to the module (at most 256 characters, no "
                                 "'\"' and no control characters)");
        }
    }
    if (p.keep_alive_s < 0 || p.keep_alive_s > 65535) {
        return makeError("mqtt_unsupported", "keep-alive out of range (0-65535 s)");
    }
    return std::nullopt;
}

}  // namespace

ModemMqttLimits BxCore::mqttLimits() const {
    ModemMqttLimits l;
    l.max_topic_bytes = kMaxTopicBytes;
    l.max_payload_bytes = 0;
    l.binary_payload = true;  // AT+KMQTTPUBSTART takes the exact bytes
    l.topic_forbidden = std::string("\"\r\n\x1a") + std::string(1, '\0');
    l.max_qos = 1;
    l.qos1_acknowledged = true;
    l.max_subscriptions = kMaxSubscriptions;
    l.delivery_note =
        "QoS 1: delivered once the module reports the broker's PUBACK (+KMQTT_IND: 1,4); the "
        "indication carries no message id, so acknowledgements are matched to publishes in the "
        "order they were sent (a missing one drops the session, so nothing is reported "
        "delivered that was not); QoS 0: once the module took the message";
    return l;
}

// ---- connect ----------------------------------------------------------------------------------

void BxCore::mqttConnect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done) {
    if (auto problem = connectProblem(params)) {
        failLater(std::move(done), problem->withContext("MQTT connect to " + endpoint(params)));
        return;
    }
    if (!station.associated || !station.has_ip) {
        std::string words = "MQTT connect to " + endpoint(params) + ": " + stationProblem();
        if (!station.associated && !start_done) {
            // The module may not join again by itself: ask it, paced by the route's back-off.
            at.command(std::string(kStationConnect.command), kStationConnect.timeout,
                       [](Result<AtResponse>) {});
            words += "; the module was asked to join the network again";
        }
        failLater(std::move(done), makeError("mqtt_network", words));
        return;
    }
    // A session under way ends first (without a `lost` event: the caller starts anew).
    if (mqtt.state != Mqtt::State::Idle) {
        mqtt.events.lost = nullptr;
        mqttLost(makeError("cancelled", "a new MQTT connection was asked for"));
    }
    const uint64_t session = ++mqtt.session;
    mqtt.state = Mqtt::State::Connecting;
    mqtt.params = params;
    mqtt.events = std::move(events);
    mqtt.connect_done = std::move(done);
    mqtt.subscriptions.clear();
    mqttRelease([w = weak_from_this(), session] {
        auto c = w.lock();
        if (c && c->mqtt.session == session) {
            c->mqttConfigure(session);
        }
    });
}

void BxCore::mqttConfigure(uint64_t session) {
    at.command(kmqttcfgCommand(mqtt.params), timing.command,
               connectStep(weak_from_this(), session, "AT+KMQTTCFG",
                           [session](BxCore& c, const AtResponse& answer) {
                               std::optional<int> id;
                               for (const auto& line : answer.lines) {
                                   if (auto v = parseKmqttCfg(line)) {
                                       id = *v;
                                   }
                               }
                               if (id != kMqttSession) {
                                   c.mqttConnectFinished(fail(
                                       "bad_reply", "MQTT connect to " + endpoint(c.mqtt.params) +
                                                        ": AT+KMQTTCFG did not give session 1"));
                                   return;
                               }
                               c.mqttOpen(session);
                           }));
}

void BxCore::mqttOpen(uint64_t session) {
    const int timeout_s = std::clamp(mqtt.params.timeout_s, 5, 300);
    mqtt.connect_timer =
        std::make_unique<asio::steady_timer>(loop, std::chrono::seconds(timeout_s));
    mqtt.connect_timer->async_wait([w = weak_from_this(), session, timeout_s](asio::error_code ec) {
        auto c = w.lock();
        if (ec || !c || c->mqtt.session != session || c->mqtt.state != Mqtt::State::Connecting) {
            return;
        }
        c->mqttConnectFinished(
            fail("mqtt_timeout", "MQTT connect to " + endpoint(c->mqtt.params) +
                                     ": no answer within " + std::to_string(timeout_s) +
                                     " s (+KMQTT_IND): check that the broker is reachable from the "
                                     "Wi-Fi network on this port"));
    });
    // The outcome comes as +KMQTT_IND: 1,<code> (mqttUrc), before or after OK.
    at.command(std::string(kMqttConnect.command), kMqttConnect.timeout,
               connectStep(weak_from_this(), session, "AT+KMQTTCNX",
                           [](BxCore& c, const AtResponse& answer) {
                               for (const auto& line : answer.lines) {
                                   if (line.starts_with("+KMQTT_IND:")) {
                                       c.mqttUrc(line);
                                   }
                               }
                           }));
}

void BxCore::mqttRefused(uint64_t session, const std::string& line) {
    // What uplinkd knows orders the causes; the module's clock is read for the validity check.
    at.command(std::string(kClockRead.command), kClockRead.timeout,
               [w = weak_from_this(), session, line](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c || c->mqtt.session != session) {
                       return;
                   }
                   RefusalFacts f;
                   if (r) {
                       for (const auto& l : r->lines) {
                           if (auto t = parseCclk(l)) {
                               f.clock = *t;
                           }
                       }
                   }
                   const auto& p = c->mqtt.params;
                   f.endpoint = endpoint(p);
                   f.line = line;
                   f.tls = p.tls;
                   f.port = p.port;
                   f.client_id = p.client_id;
                   f.root_subject = c->provisioned.root_subject;
                   f.client = c->provisioned.client;
                   c->mqttConnectFinished(fail("mqtt_refused", refusalWords(f)));
               });
}

void BxCore::mqttConnectFinished(Status s) {
    if (mqtt.connect_timer) {
        mqtt.connect_timer->cancel();
    }
    if (!mqtt.connect_done) {
        return;
    }
    auto done = std::move(mqtt.connect_done);
    mqtt.connect_done = nullptr;
    if (s) {
        mqtt.state = Mqtt::State::Online;
    } else {
        ++mqtt.session;
        mqtt.state = Mqtt::State::Idle;
        mqtt.events = {};
        mqttRelease([] {});
    }
    post([done = std::move(done), s = std::move(s)] { done(s); });
}

// ---- URCs -------------------------------------------------------------------------------------

void BxCore::mqttUrc(const std::string& line) {
    if (isIncoming(line)) {
        mqttIncoming(line);
        return;
    }
    const auto ind = parseKmqttInd(line);
    if (!ind || ind->session != kMqttSession) {
        return;
    }
    if (mqtt.state == Mqtt::State::Connecting) {
        if (!mqtt.connect_done) {
            return;
        }
        if (ind->code == 1) {
            mqttConnectFinished(okStatus());
        } else if (ind->code == 0) {
            if (mqtt.connect_timer) {
                mqtt.connect_timer->cancel();
            }
            mqttRefused(mqtt.session, modem_common::printable(line, 40));
        } else if (ind->code == 5) {
            mqttConnectFinished(fail("mqtt_error", "MQTT connect to " + endpoint(mqtt.params) +
                                                       ": " + explainLine(line)));
        }
        return;
    }
    if (mqtt.state != Mqtt::State::Online) {
        return;
    }
    if (ind->code == 4) {
        if (mqtt.awaiting_ack.empty()) {
            return;  // a QoS 0 or an already failed publish: nothing to match
        }
        auto done = std::move(mqtt.awaiting_ack.front().done);
        mqtt.awaiting_ack.pop_front();
        mqttArmAckTimer();
        post([done = std::move(done)] { done(okStatus()); });
        return;
    }
    if (ind->code == 0 || ind->code == 5) {
        const std::string wifi = stationProblem();
        mqttLost(makeError("mqtt_lost", "the MQTT connection to " + endpoint(mqtt.params) +
                                            " was lost: " + explainLine(line) +
                                            (wifi.empty() ? "" : " (" + wifi + ")")));
    }
}

void BxCore::mqttIncoming(const std::string& line) {
    if (mqtt.state != Mqtt::State::Online || !mqtt.events.message) {
        return;
    }
    auto in = parseIncoming(line);
    if (!in) {
        return;
    }
    mqtt.events.message(std::move(in->topic), std::move(in->payload), -1, false);
}

void BxCore::mqttLost(Error why) {
    if (mqtt.state == Mqtt::State::Idle) {
        return;
    }
    const bool connecting = mqtt.state == Mqtt::State::Connecting;
    ++mqtt.session;
    mqtt.state = Mqtt::State::Idle;
    mqtt.subscriptions.clear();
    if (mqtt.ack_timer) {
        mqtt.ack_timer->cancel();
    }
    if (mqtt.connect_timer) {
        mqtt.connect_timer->cancel();
    }
    auto pending = std::move(mqtt.awaiting_ack);
    mqtt.awaiting_ack.clear();
    for (auto& p : pending) {
        failLater(std::move(p.done), why);
    }
    if (connecting) {
        if (auto done = std::move(mqtt.connect_done)) {
            mqtt.connect_done = nullptr;
            failLater(std::move(done), why);
        }
    } else if (auto lost = mqtt.events.lost) {
        post([lost, why] { lost(why); });
    }
    mqtt.events = {};
}

void BxCore::mqttArmAckTimer() {
    if (mqtt.awaiting_ack.empty()) {
        if (mqtt.ack_timer) {
            mqtt.ack_timer->cancel();
        }
        return;
    }
    if (!mqtt.ack_timer) {
        mqtt.ack_timer = std::make_unique<asio::steady_timer>(loop);
    }
    mqtt.ack_timer->expires_after(timing.puback);
    mqtt.ack_timer->async_wait([w = weak_from_this(), session = mqtt.session,
                                front = mqtt.awaiting_ack.front().id](asio::error_code ec) {
        auto c = w.lock();
        if (ec || !c || c->mqtt.session != session || c->mqtt.awaiting_ack.empty() ||
            c->mqtt.awaiting_ack.front().id != front) {
            return;
        }
        c->mqttLost(makeError(
            "mqtt_timeout",
            "the module reported no PUBACK (+KMQTT_IND: 1,4) for a QoS 1 message within " +
                std::to_string(c->timing.puback.count() / 1000) +
                " s; since acknowledgements carry no message id, the session is dropped and the "
                "unacknowledged messages are sent again"));
    });
}

// ---- publish / subscribe ----------------------------------------------------------------------

void BxCore::mqttPublish(const std::string& topic, const std::string& payload, int qos, bool retain,
                         StatusDone done) {
    if (mqtt.state != Mqtt::State::Online) {
        failLater(std::move(done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    if (auto st = checkModemMqttPublish(mqttLimits(), topic, payload, qos); !st) {
        failLater(std::move(done), st.error());
        return;
    }
    if (topic.empty() || !safeForQuotedArgument(topic) || qos < 0) {
        failLater(std::move(done),
                  makeError("bad_topic", "the module cannot take this topic in its command"));
        return;
    }
    const uint64_t session = mqtt.session;
    uint64_t id = 0;
    if (qos == 1) {
        id = mqtt.next_publish++;
        mqtt.awaiting_ack.push_back({id, std::move(done)});
        if (mqtt.awaiting_ack.size() == 1) {
            mqttArmAckTimer();
        }
    }
    auto answered = [w = weak_from_this(), session, id,
                     done = qos == 1 ? StatusDone{} : std::move(done)](Result<AtResponse> r) {
        auto c = w.lock();
        if (!c || c->mqtt.session != session) {
            return;  // the loss already failed it
        }
        if (id == 0) {
            done(r ? okStatus()
                   : Status(Failure{commandError("AT+KMQTTPUB", r.error(), c->explain)}));
            return;
        }
        if (r) {
            return;  // done at +KMQTT_IND: 1,4
        }
        auto& q = c->mqtt.awaiting_ack;
        const auto it = std::find_if(q.begin(), q.end(), [&](const auto& p) { return p.id == id; });
        if (it == q.end()) {
            return;
        }
        auto failed = std::move(it->done);
        const bool was_front = it == q.begin();
        q.erase(it);
        if (was_front) {
            c->mqttArmAckTimer();
        }
        failed(Failure{commandError("AT+KMQTTPUB", r.error(), c->explain)});
    };
    if (payload.size() <= kMaxQuotedPayload && safeForQuotedArgument(payload)) {
        at.command(kmqttpubCommand(topic, qos, retain, payload), timing.publish,
                   std::move(answered));
        return;
    }
    // Quotes, control bytes or binary: the exact bytes in data mode, then a pause and "+++".
    at.commandWithData(kmqttpubstartCommand(topic, qos, retain),
                       publishData(payload, timing.publish_pause), timing.publish,
                       std::move(answered));
}

void BxCore::mqttSubscribe(const std::string& filter, int qos, StatusDone done) {
    if (mqtt.state != Mqtt::State::Online) {
        failLater(std::move(done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    if (filter.empty() || filter.size() > kMaxTopicBytes || !safeForQuotedArgument(filter)) {
        failLater(std::move(done),
                  makeError("bad_topic", "the module cannot take this topic filter"));
        return;
    }
    if (mqtt.subscriptions.size() >= kMaxSubscriptions && !mqtt.subscriptions.contains(filter)) {
        failLater(std::move(done),
                  makeError("too_many_subscriptions",
                            "the module's MQTT client holds at most " +
                                std::to_string(kMaxSubscriptions) +
                                " subscriptions: use a wildcard filter (e.g. \"cmd/#\") instead "
                                "of several topics"));
        return;
    }
    at.command(kmqttsubCommand(filter, std::clamp(qos, 0, 1)), timing.command,
               [w = weak_from_this(), session = mqtt.session, filter,
                done = std::move(done)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c || c->mqtt.session != session) {
                       done(fail("mqtt_lost",
                                 "the MQTT connection ended before the module "
                                 "subscribed"));
                       return;
                   }
                   if (!r) {
                       done(Failure{commandError("AT+KMQTTSUB", r.error(), c->explain)});
                       return;
                   }
                   c->mqtt.subscriptions.insert(filter);
                   done(okStatus());
                   // A retained message can come among the command's own lines.
                   for (const auto& line : r->lines) {
                       if (isIncoming(line)) {
                           c->mqttIncoming(line);
                       }
                   }
               });
}

void BxCore::mqttUnsubscribe(const std::string& filter, StatusDone done) {
    if (mqtt.state != Mqtt::State::Online) {
        failLater(std::move(done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    if (filter.empty() || !safeForQuotedArgument(filter)) {
        failLater(std::move(done),
                  makeError("bad_topic", "the module cannot take this topic filter"));
        return;
    }
    at.command(kmqttunsubCommand(filter), timing.command,
               [w = weak_from_this(), filter, done = std::move(done)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       done(fail("closed", "the modem driver is gone"));
                       return;
                   }
                   if (!r) {
                       done(Failure{commandError("AT+KMQTTUNSUB", r.error(), c->explain)});
                       return;
                   }
                   c->mqtt.subscriptions.erase(filter);
                   done(okStatus());
               });
}

void BxCore::mqttDisconnect(StatusDone done) {
    ++mqtt.session;
    const bool was_idle = mqtt.state == Mqtt::State::Idle;
    mqtt.state = Mqtt::State::Idle;
    mqtt.events = {};
    mqtt.subscriptions.clear();
    if (mqtt.ack_timer) {
        mqtt.ack_timer->cancel();
    }
    if (mqtt.connect_timer) {
        mqtt.connect_timer->cancel();
    }
    const Error gone = makeError("mqtt_disconnected", "the MQTT connection was closed");
    auto pending = std::move(mqtt.awaiting_ack);
    mqtt.awaiting_ack.clear();
    for (auto& p : pending) {
        failLater(std::move(p.done), gone);
    }
    if (auto d = std::move(mqtt.connect_done)) {
        mqtt.connect_done = nullptr;
        failLater(std::move(d), makeError("cancelled",
                                          "disconnected before the connection was "
                                          "made"));
    }
    if (was_idle) {
        post([done = std::move(done)] { done(okStatus()); });
        return;
    }
    mqttRelease([done = std::move(done)] { done(okStatus()); });
}

void BxCore::mqttRelease(std::function<void()> then) {
    // The channel outlives the driver: `then` runs even when the driver goes meanwhile.
    AtChannel* channel = &at;
    const auto timeout = timing.command;
    channel->command(std::string(kMqttClose.command), timeout,
                     [channel, timeout, then = std::move(then)](Result<AtResponse>) mutable {
                         channel->command(std::string(kMqttDelete.command), timeout,
                                          [then = std::move(then)](Result<AtResponse>) { then(); });
                     });
}

}  // namespace uplinkd::plugins::sierra_bx310x
