// SPDX-License-Identifier: Apache-2.0
#include "spwf_mqtt.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "common/at_steps.hpp"
#include "common/generic_at.hpp"
#include "spwf_core.hpp"
#include "spwf_parsers.hpp"

namespace uplinkd::plugins::st_spwf04s {

using modem_common::commandError;

namespace {

/// Arguments of AT+S.MQTT* are unquoted and separated by ','.
bool safeArgument(std::string_view text) {
    return text.find(',') == std::string_view::npos && modem_common::safeForQuotedArgument(text);
}

bool mentions(std::string text, std::initializer_list<const char*> words) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::any_of(words.begin(), words.end(),
                       [&](const char* w) { return text.find(w) != std::string::npos; });
}

/// The error of an AT+S.MQTTCONN that failed, by the step it names.
Error connectError(const Error& channel_error, const ModemMqttConnect& p) {
    const std::string to = p.host + ":" + std::to_string(p.port);
    if (channel_error.code != "at_error") {
        return commandError("AT+S.MQTTCONN", channel_error, explainLine)
            .withContext("MQTT connect to " + to);
    }
    const auto e = parseModuleError(channel_error.message);
    const std::string seen = " (" + channel_error.message + ")";
    if (e && e->code == 44) {
        return makeError("mqtt_network",
                         "MQTT connect to " + to + ": " + errorCodeWords(44) + seen);
    }
    if (p.tls && mentions(channel_error.message, {"tls", "ssl", "cert", "handshake"})) {
        return makeError("mqtt_tls",
                         "MQTT connect to " + to +
                             ": the TLS handshake failed in the module: its credential store "
                             "must hold the root CA of the broker's chain (tls.ca_file, "
                             "provisioned to the module) and the broker's certificate must be "
                             "issued for " +
                             p.host + seen);
    }
    if (mentions(channel_error.message, {"dns", "resolv", "timeout", "unreach", "socket"})) {
        return makeError("mqtt_network", "MQTT connect to " + to +
                                             ": the module could not reach the broker (check the "
                                             "host, the port and the Wi-Fi network)" +
                                             seen);
    }
    if (mentions(channel_error.message, {"auth", "refused", "connack", "not authorized"})) {
        return makeError("mqtt_refused",
                         "MQTT connect to " + to +
                             ": the broker refused the connection (check the client id, the user "
                             "name and the password or SAS token)" +
                             seen);
    }
    return makeError("mqtt_connect",
                     "MQTT connect to " + to + ": " + explainLine(channel_error.message));
}

}  // namespace

ModemMqttLimits spwfMqttLimits() {
    ModemMqttLimits l;
    l.max_topic_bytes = kMqttMaxTopic;
    l.max_payload_bytes = kMqttMaxPayload;
    l.binary_payload = true;  // AT+S.MQTTPUB with a length: the exact bytes follow
    l.topic_forbidden = std::string(",\r\n\0", 4);
    l.max_qos = 1;
    l.qos1_acknowledged = false;
    l.max_subscriptions = 0;
    l.delivery_note =
        "the SPWF04S reports no PUBACK per message: \"delivered\" means the module accepted the "
        "message for sending (AT-S.OK to AT+S.MQTTPUB), not that the broker has it; a message "
        "the module holds when its connection drops can be lost";
    return l;
}

SpwfMqtt::SpwfMqtt(const std::shared_ptr<SpwfCore>& core) : core_(core) {
    std::weak_ptr<int> alive = alive_;
    core->on_mqtt_message = [this, alive](const std::string& line, std::string data) {
        if (!alive.expired()) {
            onMessage(line, std::move(data));
        }
    };
    core->on_mqtt_closed = [this, alive](const std::string& line) {
        if (!alive.expired()) {
            onClosed(line);
        }
    };
    core->on_module_reset = [this, alive](const Error& e) {
        if (!alive.expired()) {
            onLost(e);
        }
    };
}

SpwfMqtt::~SpwfMqtt() {
    alive_.reset();
    if (auto c = core_.lock()) {
        c->on_mqtt_message = nullptr;
        c->on_mqtt_closed = nullptr;
        c->on_module_reset = nullptr;
    }
}

void SpwfMqtt::later(StatusDone done, Status s) {
    auto c = core_.lock();
    if (!c) {
        return;
    }
    asio::post(c->loop, [alive = std::weak_ptr<int>(alive_), done = std::move(done),
                         s = std::move(s)]() mutable {
        if (!alive.expired()) {
            done(std::move(s));
        }
    });
}

void SpwfMqtt::endSession(const std::optional<Error>& e) {
    const bool was_connected = state_ == State::Connected;
    state_ = State::Idle;
    ++session_;
    if (e && was_connected && events_.lost) {
        auto lost = events_.lost;
        lost(*e);
    }
}

void SpwfMqtt::connect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done) {
    auto c = core_.lock();
    if (!c) {
        return;
    }
    auto refuse = [&](std::string why) { later(done, fail("mqtt_unsupported", std::move(why))); };
    if (params.host.empty() || params.host.size() > kSocketLimits.max_host_length ||
        !safeArgument(params.host) || params.port == 0) {
        refuse("the broker host \"" + modem_common::printable(params.host, 64) +
               "\" and port cannot be given to the SPWF04S's MQTT client");
        return;
    }
    if (params.tls && !params.server_name.empty() && params.server_name != params.host) {
        refuse(
            "the SPWF04S's MQTT client checks the broker's certificate against the host it "
            "connects to and cannot use the name " +
            params.server_name + ": set the broker host to it, or use mqtt = \"uplinkd\"");
        return;
    }
    if (!params.alpn.empty()) {
        refuse(
            "the SPWF04S's MQTT client cannot send ALPN: use a broker port that needs none "
            "(8883), or mqtt = \"uplinkd\"");
        return;
    }
    // Never the values themselves: the password is a secret.
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string*>{"client id", &params.client_id},
          {"user name", &params.username},
          {"password", &params.password},
          {"WebSocket path", &params.websocket_path}}) {
        if (!safeArgument(*value) || value->size() > 512) {
            refuse(std::string("the ") + field +
                   " cannot be given to the SPWF04S's MQTT client, whose arguments are unquoted "
                   "and separated by ',' (no ',' or control characters, at most 512 bytes); "
                   "use mqtt = \"uplinkd\"");
            return;
        }
    }
    if (state_ != State::Idle) {
        // A previous session is closed and released first (its events end now).
        c->at.command(mqttDiscCommand(client_), c->timing.command, [](Result<AtResponse>) {});
        endSession(std::nullopt);
    }
    events_ = std::move(events);
    state_ = State::Connecting;
    const uint64_t session = ++session_;
    c->at.command(mqttConnCommand(params), c->timing.mqtt_connect,
                  [this, alive = std::weak_ptr<int>(alive_), session, params,
                   done = std::move(done)](Result<AtResponse> r) {
                      if (alive.expired()) {
                          return;
                      }
                      if (session != session_) {
                          done(r ? fail("cancelled", "the MQTT session was ended while connecting")
                                 : Status(Failure{connectError(r.error(), params)}));
                          return;
                      }
                      if (!r) {
                          state_ = State::Idle;
                          ++session_;
                          done(Failure{connectError(r.error(), params)});
                          return;
                      }
                      client_ = parseMqttOn(r->lines).value_or(0);
                      state_ = State::Connected;
                      done(okStatus());
                  });
}

void SpwfMqtt::publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                       StatusDone done) {
    auto c = core_.lock();
    if (!c) {
        return;
    }
    if (state_ != State::Connected) {
        later(std::move(done), fail("mqtt_not_connected",
                                    "the module's MQTT client is not "
                                    "connected"));
        return;
    }
    if (auto st = checkModemMqttPublish(limits(), topic, payload, qos); !st) {
        later(std::move(done), std::move(st));
        return;
    }
    AtDataWrite w;
    w.immediate = true;
    w.payload = payload;
    c->at.commandWithData(
        mqttPubCommand(client_, topic, qos < 0 ? 0 : qos, retain, payload.size()), w,
        c->timing.mqtt_publish,
        [alive = std::weak_ptr<int>(alive_), done = std::move(done)](Result<AtResponse> r) {
            if (alive.expired()) {
                return;
            }
            if (!r) {
                Error e = commandError("AT+S.MQTTPUB", r.error(), explainLine);
                e.code = r.error().code == "at_error" ? "mqtt_publish" : e.code;
                done(Failure{e});
                return;
            }
            done(okStatus());
        });
}

void SpwfMqtt::sessionCommand(std::string command, const char* what, StatusDone done) {
    auto c = core_.lock();
    if (!c) {
        return;
    }
    c->at.command(
        command, c->timing.command,
        [alive = std::weak_ptr<int>(alive_), what, done = std::move(done)](Result<AtResponse> r) {
            if (alive.expired()) {
                return;
            }
            if (!r) {
                done(Failure{commandError(what, r.error(), explainLine)});
                return;
            }
            done(okStatus());
        });
}

void SpwfMqtt::subscribe(const std::string& filter, int qos, StatusDone done) {
    if (state_ != State::Connected) {
        later(std::move(done), fail("mqtt_not_connected",
                                    "the module's MQTT client is not "
                                    "connected"));
        return;
    }
    if (filter.empty() || filter.size() > kMqttMaxTopic || !safeArgument(filter)) {
        later(std::move(done), fail("bad_topic",
                                    "the SPWF04S's MQTT client cannot subscribe to "
                                    "a filter holding ',' or control characters, or "
                                    "longer than " +
                                        std::to_string(kMqttMaxTopic) + " bytes"));
        return;
    }
    sessionCommand(mqttSubCommand(client_, filter, std::clamp(qos, 0, 1)), "AT+S.MQTTSUB",
                   std::move(done));
}

void SpwfMqtt::unsubscribe(const std::string& filter, StatusDone done) {
    if (state_ != State::Connected) {
        later(std::move(done), fail("mqtt_not_connected",
                                    "the module's MQTT client is not "
                                    "connected"));
        return;
    }
    if (filter.empty() || !safeArgument(filter)) {
        later(std::move(done), fail("bad_topic",
                                    "the SPWF04S's MQTT client cannot unsubscribe "
                                    "from a filter holding ',' or control "
                                    "characters"));
        return;
    }
    sessionCommand(mqttUnsubCommand(client_, filter), "AT+S.MQTTUNSUB", std::move(done));
}

void SpwfMqtt::disconnect(StatusDone done) {
    auto c = core_.lock();
    if (!c) {
        return;
    }
    if (state_ == State::Idle) {
        later(std::move(done), okStatus());
        return;
    }
    const int client = client_;
    endSession(std::nullopt);
    c->at.command(
        mqttDiscCommand(client), c->timing.command,
        [alive = std::weak_ptr<int>(alive_), done = std::move(done)](Result<AtResponse> r) {
            if (alive.expired()) {
                return;
            }
            // The session is gone either way; a module that says it had none agrees.
            if (!r && r.error().code != "at_error") {
                done(Failure{commandError("AT+S.MQTTDISC", r.error(), explainLine)});
                return;
            }
            done(okStatus());
        });
}

void SpwfMqtt::onMessage(const std::string& line, std::string data) {
    if (state_ != State::Connected || !events_.message) {
        return;
    }
    const auto h = parseMqttMessage(line);
    if (!h || data.size() != h->length) {
        return;  // not a message this driver can trust; the line was not framed as announced
    }
    auto message = events_.message;
    message(h->topic, std::move(data), -1, false);
}

void SpwfMqtt::onClosed(const std::string& line) {
    if (state_ != State::Connected) {
        return;
    }
    const auto id = parseMqttClosed(line);
    if (id && *id != client_) {
        return;
    }
    endSession(makeError("mqtt_closed", explainLine(line)));
}

void SpwfMqtt::onLost(const Error& e) {
    if (state_ == State::Idle) {
        return;
    }
    endSession(e);
}

}  // namespace uplinkd::plugins::st_spwf04s
