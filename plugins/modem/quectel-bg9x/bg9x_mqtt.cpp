// SPDX-License-Identifier: Apache-2.0
// The module's MQTT client (AT+QMT*): connect (AT+QMTCFG, QMTOPEN, QMTCONN), publish in the
// length form (">" then exactly the payload; QoS 1 done at "+QMTPUB: 0,<id>,0"), subscribe,
// unsubscribe, incoming messages (+QMTRECV) and loss (+QMTSTAT, module restart).
// Thread: loop.
#include <algorithm>

#include "bg9x_core.hpp"
#include "bg9x_driver.hpp"
#include "bg9x_errors.hpp"
#include "bg9x_parsers.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using modem_common::commandThenUrc;
using modem_common::safeForQuotedArgument;

namespace {

/// Issues `cmd` as a plain command.
std::function<void(AtChannel::Done)> plainCommand(AtChannel& at, std::string cmd,
                                                  std::chrono::milliseconds timeout) {
    return [&at, cmd = std::move(cmd), timeout](AtChannel::Done d) {
        at.command(cmd, timeout, std::move(d));
    };
}

/// Bytes that cannot go in a quoted AT argument of this module.
const std::string kForbidden = std::string("\"\r\n\x1a", 4) + std::string(1, '\0');

/// Why `params` cannot be given to the module's client, or nothing. Never shows the password.
std::optional<Error> connectProblem(const ModemMqttConnect& p) {
    auto unsupported = [](std::string why) {
        return makeError("mqtt_unsupported", std::move(why) + ": use mqtt = \"uplinkd\"");
    };
    if (p.host.empty() || p.host.size() > kSocketLimits.max_host_length ||
        !safeForQuotedArgument(p.host) || p.port == 0) {
        return makeError("mqtt_config",
                         "the broker address cannot be given to the module's MQTT client");
    }
    if (!p.websocket_path.empty()) {
        return unsupported("the module's MQTT client cannot use MQTT over WebSocket");
    }
    if (p.tls && !p.server_name.empty() && p.server_name != p.host) {
        return unsupported("the module sends the host it connects to (" + p.host +
                           ") as the TLS server name and cannot use " + p.server_name);
    }
    if (p.client_id.empty() || !safeForQuotedArgument(p.client_id) ||
        !safeForQuotedArgument(p.username)) {
        return unsupported(
            "the client id or user name holds a '\"' or a control character, "
            "which the module's AT command cannot carry");
    }
    if (!safeForQuotedArgument(p.password)) {
        return unsupported(
            "the password holds a '\"' or a control character, which the module's "
            "AT command cannot carry");
    }
    if (p.keep_alive_s < 0 || p.keep_alive_s > 3600) {
        return makeError("mqtt_config", "keep_alive must be 0-3600 s for the module's client");
    }
    return std::nullopt;
}

/// The error of a "+QMTOPEN: 0,<result>" other than 0.
Error openError(int result, const std::string& line, const ModemMqttConnect& p) {
    const std::string to = p.host + ":" + std::to_string(p.port);
    if (result == 4) {
        return makeError("mqtt_dns",
                         "the module could not resolve \"" + p.host + "\" (" + line + ")");
    }
    if (result == -1 && p.tls) {
        // ALPN is not sent (the module's client has no setting for it): say so where it matters.
        const std::string alpn = p.alpn.empty()
                                     ? ""
                                     : "; the module cannot send ALPN (" + p.alpn.front() +
                                           "): a broker that needs it (AWS IoT on 443) refuses the "
                                           "connection, use port 8883 or mqtt = \"uplinkd\"";
        return makeError("mqtt_tls",
                         "the module could not open a TLS connection to " + to +
                             ": the network failed or the TLS handshake or the certificate check "
                             "failed; check that tls.ca_file is the root CA that signed the "
                             "broker's certificate, the client certificate (tls.cert_file, "
                             "tls.key_file) and the module's clock; SNI is sent" +
                             alpn + " (" + line + ")");
    }
    return makeError("mqtt_network", "opening " + to + ": " + explainLine(line));
}

}  // namespace

ModemMqttLimits Bg9xCore::mqttLimits() const {
    ModemMqttLimits l;
    l.max_topic_bytes = kMaxMqttTopic;
    l.max_payload_bytes = kMaxMqttPayload;
    l.binary_payload = true;  // AT+QMTPUB's length form: exactly the bytes after ">"
    l.topic_forbidden = kForbidden;
    l.max_qos = 1;
    l.qos1_acknowledged = true;
    l.max_subscriptions = 0;
    l.delivery_note =
        "QoS 1: delivered when the module reports the broker's PUBACK (+QMTPUB: 0,<id>,0); "
        "QoS 0: when the module took the message";
    return l;
}

void Bg9xCore::mqttAwaitAck(std::function<void(AtChannel::Done)> issue, const std::string& cmd,
                            const std::string& urc, int id,
                            std::function<bool(const AckResult&)> acked, std::string code,
                            std::string what, StatusDone done) {
    mqtt.ids.hold(id);
    commandThenUrc(
        loop, mqtt.urcs, std::move(issue), cmd,
        {urc + " " + std::to_string(kMqttClient) + "," + std::to_string(id) + ","}, timing.mqtt_ack,
        explain,
        [w = weak_from_this(), id, urc, acked = std::move(acked), code = std::move(code),
         what = std::move(what), done = std::move(done)](Result<std::string> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            c->mqtt.ids.release(id);
            if (!r) {
                done(r.failure());
                return;
            }
            const auto a = parseAck(*r, urc);
            if (a && acked(*a)) {
                done(okStatus());
                return;
            }
            done(fail(code, what + explainLine(*r)));
        },
        [urc](const std::string& line) {
            const auto a = parseAck(line, urc);
            return !a || a->result != 1;  // 1: still retransmitting
        });
}

void Bg9xCore::mqttConnect(const ModemMqttConnect& params, ModemMqttEvents events,
                           StatusDone done) {
    // A previous session ends here: nothing of it reaches the new events.
    const uint64_t session = ++mqtt.session;
    mqtt.connected = false;
    mqtt.connecting = true;
    mqtt.events = std::move(events);
    mqtt.ids.clear();
    auto old = std::move(mqtt.urcs);
    mqtt.urcs = std::make_shared<modem_common::ResultUrcs>();
    old->failAll(makeError("closed", "the module's MQTT client is connecting again"));
    if (auto problem = connectProblem(params)) {
        mqtt.connecting = false;
        failLater(std::move(done), *problem);
        return;
    }
    // Each step goes on only while this session is the current one.
    auto w = weak_from_this();
    auto current = [w, session]() -> std::shared_ptr<Bg9xCore> {
        auto c = w.lock();
        return c && c->mqtt.session == session ? c : nullptr;
    };
    // A stage that finds the session superseded (disconnect(), another connect(), a loss) ends
    // the attempt; nothing is called once the driver is gone.
    auto proceed = [w, session, done]() -> std::shared_ptr<Bg9xCore> {
        auto c = w.lock();
        if (c && c->mqtt.session != session) {
            done(fail("cancelled", "the module's MQTT connection attempt was superseded"));
            return nullptr;
        }
        return c;
    };
    auto end = [current, done](Status s) {
        if (auto c = current()) {
            c->mqtt.connecting = false;
            c->mqtt.connected = s.ok();
        }
        done(std::move(s));
    };
    auto release_then = [current](Status s, std::function<void(Status)> then) {
        // Frees the module's client after a failed step (it may hold the network open).
        auto c = current();
        if (!c) {
            then(std::move(s));
            return;
        }
        commandThenUrc(c->loop, c->at, c->mqtt.urcs, {qmtcloseCommand(), c->timing.command},
                       {"+QMTCLOSE: " + std::to_string(kMqttClient) + ","}, c->timing.mqtt_close,
                       c->explain,
                       [s = std::move(s), then](Result<std::string>) mutable { then(s); });
    };
    auto conn = [proceed, params, end, release_then]() {
        auto c = proceed();
        if (!c) {
            return;
        }
        commandThenUrc(
            c->loop, c->at, c->mqtt.urcs,
            {qmtconnCommand(params.client_id, params.username, params.password), c->timing.command},
            {"+QMTCONN: " + std::to_string(kMqttClient) + ","}, c->timing.mqtt_connect, c->explain,
            [end, release_then](Result<std::string> r) {
                if (!r) {
                    release_then(Status(r.failure("MQTT connect")), end);
                    return;
                }
                const auto res = parseQmtconn(*r);
                if (res && res->result == 0 && res->ret_code.value_or(0) == 0) {
                    end(okStatus());
                    return;
                }
                Error e = makeError("mqtt_network",
                                    "the broker did not answer the CONNECT: " + explainLine(*r));
                if (res && res->result == 0 && res->ret_code) {
                    e = makeError("mqtt_connack_" + std::to_string(*res->ret_code),
                                  "the broker refused the connection: " + explainLine(*r));
                }
                release_then(Status(Failure{e}), end);
            },
            [](const std::string& line) {
                const auto res = parseQmtconn(line);
                return !res || res->result != 1;  // 1: still retransmitting
            });
    };
    auto open = [proceed, params, end, release_then, conn]() {
        auto c = proceed();
        if (!c) {
            return;
        }
        commandThenUrc(c->loop, c->at, c->mqtt.urcs,
                       {qmtopenCommand(params.host, params.port), c->timing.command},
                       {"+QMTOPEN: " + std::to_string(kMqttClient) + ","}, c->timing.mqtt_open,
                       c->explain, [params, end, release_then, conn](Result<std::string> r) {
                           if (!r) {
                               release_then(Status(r.failure("MQTT open")), end);
                               return;
                           }
                           const auto res = parseIdResult(*r, "+QMTOPEN:");
                           if (res && res->err == 0) {
                               conn();
                               return;
                           }
                           release_then(Status(Failure{openError(res ? res->err : -1, *r, params)}),
                                        end);
                       });
    };
    auto configure = [proceed, params, end, open]() {
        auto c = proceed();
        if (!c) {
            return;
        }
        modem_common::runSteps(
            c->at,
            mqttConfigSteps(params.tls, params.keep_alive_s, params.clean_session,
                            std::clamp(params.timeout_s, 1, 60), c->timing.command),
            c->explain, [end, open](Status s) {
                if (!s) {
                    end(Status(fail("mqtt_config",
                                    "configuring the module's MQTT client: " + s.error().message)));
                    return;
                }
                open();
            });
    };
    auto secure = [proceed, params, end, configure]() {
        auto c = proceed();
        if (!c) {
            return;
        }
        if (!params.tls) {
            configure();
            return;
        }
        c->ensureSsl([end, configure](Status s) {
            if (!s) {
                end(Status(fail("mqtt_tls", s.error().message)));
                return;
            }
            configure();
        });
    };
    // Release a session the module may still hold (an earlier run, a lost connection), then go.
    release_then(okStatus(), [proceed, end, secure](Status) {
        auto c = proceed();
        if (!c) {
            return;
        }
        c->activatePdp([end, secure](Status s) {
            if (!s) {
                end(Status(fail("mqtt_network", s.error().message)));
                return;
            }
            secure();
        });
    });
}

void Bg9xCore::mqttPublish(const std::string& topic, const std::string& payload, int qos,
                           bool retain, StatusDone done) {
    if (!mqtt.connected) {
        failLater(std::move(done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    if (auto st = checkModemMqttPublish(mqttLimits(), topic, payload, qos); !st || qos < 0) {
        failLater(std::move(done), st ? makeError("bad_qos", "QoS must be 0 or 1") : st.error());
        return;
    }
    const int id = qos == 0 ? 0 : mqtt.ids.next();
    const std::string cmd = qmtpubCommand(id, qos, retain, topic, payload.size());
    auto issue = [&at = at, cmd, payload, timeout = timing.send](AtChannel::Done d) {
        AtDataWrite w;
        w.prompt = ">";
        w.payload = payload;
        at.commandWithData(cmd, w, timeout, std::move(d));
    };
    if (qos == 0) {
        issue([w = weak_from_this(), done = std::move(done)](Result<AtResponse> r) {
            if (w.expired()) {
                return;
            }
            done(r ? okStatus()
                   : Status(
                         Failure{modem_common::commandError("AT+QMTPUB", r.error(), explainLine)}));
        });
        return;
    }
    mqttAwaitAck(
        issue, cmd, "+QMTPUB:", id, [](const AckResult& a) { return a.result == 0; },
        "mqtt_publish", "the broker did not acknowledge the message: ", std::move(done));
}

void Bg9xCore::mqttSubscribe(const std::string& filter, int qos, StatusDone done) {
    if (!mqtt.connected) {
        failLater(std::move(done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    if (filter.empty() || filter.size() > kMaxMqttTopic || !safeForQuotedArgument(filter) ||
        qos < 0 || qos > 1) {
        failLater(std::move(done),
                  makeError("bad_topic",
                            "the module's MQTT client cannot subscribe to this "
                            "filter (empty, too long, '\"' or control characters)"));
        return;
    }
    const int id = mqtt.ids.next();
    const std::string cmd = qmtsubCommand(id, filter, qos);
    mqttAwaitAck(
        plainCommand(at, cmd, timing.command), cmd, "+QMTSUB:", id,
        [](const AckResult& a) { return a.result == 0 && a.value.value_or(0) != 128; },
        "mqtt_subscribe", "subscribing to " + filter + ": ", std::move(done));
}

void Bg9xCore::mqttUnsubscribe(const std::string& filter, StatusDone done) {
    if (!mqtt.connected) {
        failLater(std::move(done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    if (filter.empty() || !safeForQuotedArgument(filter)) {
        failLater(std::move(done), makeError("bad_topic", "the module cannot carry this filter"));
        return;
    }
    const int id = mqtt.ids.next();
    const std::string cmd = qmtunsCommand(id, filter);
    mqttAwaitAck(
        plainCommand(at, cmd, timing.command), cmd, "+QMTUNS:", id,
        [](const AckResult& a) { return a.result == 0; }, "mqtt_unsubscribe",
        "unsubscribing from " + filter + ": ", std::move(done));
}

void Bg9xCore::mqttDisconnect(StatusDone done) {
    ++mqtt.session;
    const bool was = mqtt.connected || mqtt.connecting;
    mqtt.connected = false;
    mqtt.connecting = false;
    mqtt.events = {};
    mqtt.ids.clear();
    auto old = std::move(mqtt.urcs);
    mqtt.urcs = std::make_shared<modem_common::ResultUrcs>();
    old->failAll(makeError("closed", "the module's MQTT client was disconnected"));
    if (!was) {
        post([done = std::move(done)] { done(okStatus()); });
        return;
    }
    // DISCONNECT, then free the client; their answers do not matter to the caller.
    commandThenUrc(loop, at, mqtt.urcs, {qmtdiscCommand(), timing.command},
                   {"+QMTDISC: " + std::to_string(kMqttClient) + ","}, timing.mqtt_close, explain,
                   [w = weak_from_this(), done = std::move(done)](Result<std::string>) {
                       auto c = w.lock();
                       if (!c) {
                           return;
                       }
                       commandThenUrc(c->loop, c->at, c->mqtt.urcs,
                                      {qmtcloseCommand(), c->timing.command},
                                      {"+QMTCLOSE: " + std::to_string(kMqttClient) + ","},
                                      c->timing.mqtt_close, c->explain,
                                      [done](Result<std::string>) { done(okStatus()); });
                   });
}

void Bg9xCore::mqttLost(const Error& why) {
    if (!mqtt.connected && !mqtt.connecting) {
        return;
    }
    // `lost` is for a connection that was up; an attempt under way just fails.
    const bool was_connected = mqtt.connected;
    ++mqtt.session;
    mqtt.connected = false;
    mqtt.connecting = false;
    mqtt.ids.clear();
    auto events = std::move(mqtt.events);
    mqtt.events = {};
    auto old = std::move(mqtt.urcs);
    mqtt.urcs = std::make_shared<modem_common::ResultUrcs>();
    old->failAll(why);
    if (was_connected && events.lost) {
        post([lost = std::move(events.lost), why] { lost(why); });
    }
}

void Bg9xCore::mqttMessage(const std::string& line, std::string rest) {
    auto in = parseQmtrecv(line);
    if (!in || in->client != kMqttClient || !mqtt.connected || !mqtt.events.message) {
        return;
    }
    std::string payload;
    if (in->missing > 0) {
        auto whole = completePayload(*in, rest);
        if (!whole) {
            return;  // not framed as announced: dropped rather than delivered wrong
        }
        payload = std::move(*whole);
    } else {
        payload = std::move(in->payload);
    }
    post([w = weak_from_this(), session = mqtt.session, topic = std::move(in->topic),
          payload = std::move(payload)]() mutable {
        auto c = w.lock();
        if (c && c->mqtt.session == session && c->mqtt.events.message) {
            c->mqtt.events.message(std::move(topic), std::move(payload), -1, false);
        }
    });
}

}  // namespace uplinkd::plugins::quectel_bg9x
