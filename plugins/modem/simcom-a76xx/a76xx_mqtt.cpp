// SPDX-License-Identifier: Apache-2.0
#include "a76xx_mqtt.hpp"

#include <utility>

#include "a76xx_parsers.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::commandError;
using modem_common::commandThenUrc;
using modem_common::toCommandStep;

namespace {

/// A failed set-up command as a connect error: the channel's codes stay (timeouts and resets
/// matter to the supervisor); a refusal becomes "mqtt_error".
Error setupError(const Error& e) {
    Error out = e.withContext("setting up the module's MQTT client");
    if (out.code == "at_error") {
        out.code = "mqtt_error";
    }
    return out;
}

}  // namespace

A76xxMqtt::A76xxMqtt(Host host) : host_(std::move(host)) {}

A76xxMqtt::~A76xxMqtt() = default;

ModemMqttLimits A76xxMqtt::limits() const {
    return mqttLimits();
}

std::function<bool()> A76xxMqtt::guard(uint64_t session) const {
    return [w = std::weak_ptr<int>(alive_), this, session] {
        return !w.expired() && (session == 0 || session == session_);
    };
}

void A76xxMqtt::post(std::function<void()> fn) {
    asio::post(host_.loop, [w = std::weak_ptr<int>(alive_), fn = std::move(fn)] {
        if (!w.expired()) {
            fn();
        }
    });
}

void A76xxMqtt::failLater(StatusDone done, Error e) {
    post([done = std::move(done), e = std::move(e)] { done(Failure{e}); });
}

// ---- the service ------------------------------------------------------------------------------

void A76xxMqtt::checkFirmware(StatusDone done) {
    service_ = Service::Unknown;
    startService(std::move(done));
}

void A76xxMqtt::startService(StatusDone done) {
    commandThenUrc(
        host_.loop, host_.at, urcs_, toCommandStep(kMqttStart), {"+CMQTTSTART:"},
        host_.timing.mqtt_start, host_.explain,
        [this, ok = guard(0), done = std::move(done)](Result<std::string> r) mutable {
            if (!ok()) {
                return;
            }
            if (r) {
                const auto code = parseMqttCode(*r, "+CMQTTSTART:");
                if (code && (*code == 0 || *code == 23)) {
                    // 0: started now, so no client is acquired; 23 ("network is opened"):
                    // it ran already, with clients unknown.
                    service_ = Service::Running;
                    held_ = *code == 0 ? Held::None : Held::Unknown;
                    done(okStatus());
                    return;
                }
                done(fail("mqtt_network",
                          "the module's MQTT service could not be started: " + explainLine(*r)));
                return;
            }
            if (r.error().code != "at_error") {
                done(r.failure("starting the module's MQTT service"));
                return;
            }
            // ERROR: the service runs already (an earlier run of uplinkd), or the firmware has
            // no MQTT client at all. A read tells them apart.
            probeService(std::move(done));
        });
}

void A76xxMqtt::probeService(StatusDone done) {
    host_.at.command(std::string(kMqttAcquiredRead.command), kMqttAcquiredRead.timeout,
                     [this, ok = guard(0), done = std::move(done)](Result<AtResponse> r) {
                         if (!ok()) {
                             return;
                         }
                         if (r) {
                             service_ = Service::Running;
                             held_ = parseMqttAcquired(r->lines, kMqttClient).value_or(true)
                                         ? Held::Unknown
                                         : Held::None;
                             done(okStatus());
                             return;
                         }
                         if (r.error().code == "at_error") {
                             done(fail("mqtt_unsupported", std::string(kNoMqttClient)));
                             return;
                         }
                         done(r.failure("checking the module's MQTT service (AT+CMQTTACCQ?)"));
                     });
}

void A76xxMqtt::releaseClient(std::function<void()> then) {
    auto release = [this, ok = guard(0), then = std::move(then)]() mutable {
        if (!ok()) {
            return;
        }
        if (held_ == Held::None) {
            then();
            return;
        }
        // An error means it was not acquired after all.
        host_.at.command(cmqttRelCommand(), host_.timing.command,
                         [this, ok, then = std::move(then)](Result<AtResponse>) {
                             if (!ok()) {
                                 return;
                             }
                             held_ = Held::None;
                             then();
                         });
    };
    switch (held_) {
        case Held::None:
        case Held::Acquired:
            release();
            return;
        case Held::Connected:
            disconnectClient(std::move(release));
            return;
        case Held::Unknown:
            // "+CMQTTDISC: 0,0" says client 0 is connected (1: disconnected).
            host_.at.command(
                std::string(kMqttConnectedRead.command), kMqttConnectedRead.timeout,
                [this, ok = guard(0), release = std::move(release)](Result<AtResponse> r) mutable {
                    if (!ok()) {
                        return;
                    }
                    const bool connected =
                        r && parseMqttConnected(r->lines, kMqttClient).value_or(false);
                    if (connected) {
                        disconnectClient(std::move(release));
                    } else {
                        release();
                    }
                });
            return;
    }
}

void A76xxMqtt::disconnectClient(std::function<void()> then) {
    commandThenUrc(host_.loop, host_.at, urcs_, {cmqttDiscCommand(), host_.timing.command},
                   {mqttResultPrefix("+CMQTTDISC:")}, host_.timing.mqtt_disc, host_.explain,
                   [this, ok = guard(0), then = std::move(then)](Result<std::string>) mutable {
                       if (!ok()) {
                           return;
                       }
                       held_ = Held::Acquired;
                       then();
                   });
}

// ---- connect ----------------------------------------------------------------------------------

void A76xxMqtt::connect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done) {
    endSession(makeError("cancelled", "a new connection to the broker replaces this one"));
    if (auto problem = mqttConnectProblem(params)) {
        failLater(std::move(done), *problem);
        return;
    }
    const uint64_t session = ++session_;
    state_ = State::Connecting;
    events_ = std::move(events);
    connect_done_ = std::move(done);
    server_ = params.host + ":" + std::to_string(params.port);
    auto service = [this](StatusDone d) {
        if (service_ == Service::Running) {
            d(okStatus());
        } else {
            startService(std::move(d));
        }
    };
    service([this, ok = guard(session), session, params](Status s) {
        if (!ok()) {
            return;
        }
        if (!s) {
            finishConnect(session, s);
            return;
        }
        releaseClient([this, ok, session, params] {
            if (ok()) {
                setUp(session, params);
            }
        });
    });
}

void A76xxMqtt::setUp(uint64_t session, ModemMqttConnect params) {
    auto steps = [this, ok = guard(session), session, params]() {
        // From AT+CMQTTACCQ on, the client may be acquired (also when this run is abandoned).
        held_ = Held::Acquired;
        modem_common::runSteps(host_.at, mqttSetupSteps(params, host_.timing.command),
                               host_.explain, [this, ok, session, params](Status s) {
                                   if (!ok()) {
                                       return;
                                   }
                                   if (!s) {
                                       finishConnect(session, Failure{setupError(s.error())});
                                       return;
                                   }
                                   connectBroker(session, params);
                               });
    };
    if (!params.tls) {
        steps();
        return;
    }
    host_.ssl_context([this, ok = guard(session), session, steps](Status s) {
        if (!ok()) {
            return;
        }
        if (!s) {
            Error e = s.error().withContext("TLS set-up in the module");
            e.code = "mqtt_tls";
            finishConnect(session, Failure{e});
            return;
        }
        steps();
    });
}

void A76xxMqtt::connectBroker(uint64_t session, const ModemMqttConnect& params) {
    const auto wait =
        std::chrono::seconds(mqttOpTimeout(params.timeout_s)) + host_.timing.mqtt_connect_extra;
    commandThenUrc(host_.loop, host_.at, urcs_, {cmqttConnectCommand(params), host_.timing.command},
                   {mqttResultPrefix("+CMQTTCONNECT:")}, wait, host_.explain,
                   [this, ok = guard(session), session](Result<std::string> r) {
                       if (!ok()) {
                           return;
                       }
                       if (!r) {
                           Error e = r.error().withContext("connecting to " + server_);
                           if (e.code == "timeout") {
                               held_ = Held::Unknown;  // it may connect still
                               e.code = "mqtt_timeout";
                           } else if (e.code == "at_error") {
                               e.code = "mqtt_error";
                           }
                           finishConnect(session, Failure{e});
                           return;
                       }
                       const auto res = parseIdResult(*r, "+CMQTTCONNECT:");
                       if (!res) {
                           finishConnect(session, res.failure("connecting to " + server_));
                           return;
                       }
                       if (res->err != 0) {
                           finishConnect(session, Failure{mqttConnectError(res->err, *r, server_)});
                           return;
                       }
                       finishConnect(session, okStatus());
                   });
}

void A76xxMqtt::finishConnect(uint64_t session, Status s) {
    if (session != session_ || !connect_done_) {
        return;
    }
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (s) {
        state_ = State::Connected;
        held_ = Held::Connected;
        post([done = std::move(done)] { done(okStatus()); });
        pump();
        return;
    }
    // The connect ended (what the module holds of the client is known by now): operations
    // queued for it fail, and no event comes.
    state_ = State::Idle;
    endSession(s.error());
    post([done = std::move(done), s] { done(s); });
}

// ---- ending -----------------------------------------------------------------------------------

void A76xxMqtt::endSession(const Error& e) {
    ++session_;
    if (state_ == State::Connecting && held_ == Held::Acquired) {
        held_ = Held::Unknown;  // an AT+CMQTTCONNECT may be under way
    }
    state_ = State::Idle;
    events_ = {};
    rx_.reset();
    if (connect_done_) {
        failLater(std::move(connect_done_), e);
        connect_done_ = nullptr;
    }
    if (op_done_) {
        ++op_id_;  // its commands' answers are ignored from now on
        failLater(std::move(op_done_), e);
        op_done_ = nullptr;
    }
    auto ops = std::move(ops_);
    ops_.clear();
    for (auto& op : ops) {
        failLater(std::move(op.done), e);
    }
    // A result that still comes for an abandoned command must not be taken for a later one's.
    urcs_->failAll(e);
}

void A76xxMqtt::lose(const Error& e) {
    const bool was_up = state_ == State::Connected;
    auto lost = std::move(events_.lost);
    endSession(e);
    if (was_up && lost) {
        lost(e);
    }
}

void A76xxMqtt::moduleGone(const Error& e, bool restarted) {
    service_ = Service::Unknown;
    lose(e);
    // After a restart nothing is held; otherwise the module may still hold the client.
    held_ = restarted ? Held::None : Held::Unknown;
}

void A76xxMqtt::disconnect(StatusDone done) {
    endSession(makeError("closed", "the MQTT connection to the broker was closed (disconnect)"));
    if (service_ != Service::Running) {
        post([done = std::move(done)] { done(okStatus()); });
        return;
    }
    // The reference order: AT+CMQTTDISC, AT+CMQTTREL, AT+CMQTTSTOP (the next connect starts
    // the service again).
    releaseClient([this, ok = guard(0), done = std::move(done)]() mutable {
        if (!ok()) {
            return;
        }
        commandThenUrc(host_.loop, host_.at, urcs_, toCommandStep(kMqttStop), {"+CMQTTSTOP:"},
                       host_.timing.mqtt_start, host_.explain,
                       [this, ok, done = std::move(done)](Result<std::string>) {
                           if (!ok()) {
                               return;
                           }
                           service_ = Service::Unknown;
                           done(okStatus());
                       });
    });
}

// ---- operations -------------------------------------------------------------------------------

void A76xxMqtt::publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                        StatusDone done) {
    if (topic.empty()) {
        failLater(std::move(done), makeError("bad_topic", "a message needs a topic"));
        return;
    }
    if (qos < 0) {
        failLater(std::move(done), makeError("bad_qos", "QoS " + std::to_string(qos)));
        return;
    }
    if (auto st = checkModemMqttPublish(limits(), topic, payload, qos); !st) {
        failLater(std::move(done), st.error());
        return;
    }
    enqueue(Op{Op::Kind::Publish, topic, payload, qos, retain, std::move(done)});
}

void A76xxMqtt::subscribe(const std::string& filter, int qos, StatusDone done) {
    if (qos < 0 || qos > kMqttMaxQos) {
        failLater(std::move(done),
                  makeError("bad_qos", "the module's MQTT client subscribes with QoS 0 or 1"));
        return;
    }
    if (filter.empty() || filter.size() > kMqttMaxTopic) {
        failLater(std::move(done),
                  makeError("bad_topic", "the module takes filters of 1 to 1024 bytes"));
        return;
    }
    enqueue(Op{Op::Kind::Subscribe, filter, "", qos, false, std::move(done)});
}

void A76xxMqtt::unsubscribe(const std::string& filter, StatusDone done) {
    if (filter.empty() || filter.size() > kMqttMaxTopic) {
        failLater(std::move(done),
                  makeError("bad_topic", "the module takes filters of 1 to 1024 bytes"));
        return;
    }
    enqueue(Op{Op::Kind::Unsubscribe, filter, "", 0, false, std::move(done)});
}

void A76xxMqtt::enqueue(Op op) {
    if (state_ == State::Idle) {
        failLater(std::move(op.done),
                  makeError("mqtt_not_connected", "the module's MQTT client is not connected"));
        return;
    }
    ops_.push_back(std::move(op));
    pump();
}

void A76xxMqtt::pump() {
    if (op_done_ || state_ != State::Connected || ops_.empty()) {
        return;
    }
    Op op = std::move(ops_.front());
    ops_.pop_front();
    const uint64_t id = ++op_id_;
    op_done_ = std::move(op.done);
    if (op.kind == Op::Kind::Publish) {
        runPublish(id, op);
    } else {
        runTopicCommand(id, op);
    }
}

void A76xxMqtt::runPublish(uint64_t id, const Op& op) {
    auto ok = [this, w = std::weak_ptr<int>(alive_), id] { return !w.expired() && id == op_id_; };
    const std::string pub = cmqttPubCommand(op.qos, op.retain);
    const std::string what = "publishing on " + modem_common::printable(op.topic, 80);
    auto publish = [this, id, pub, what] {
        awaitResult(
            id,
            [&at = host_.at, pub, t = host_.timing.command](AtChannel::Done d) {
                at.command(pub, t, std::move(d));
            },
            pub, "+CMQTTPUB:", what);
    };
    // The topic, then the payload (none for an empty one: the module clears it after each
    // publish), each as exactly its bytes after ">".
    auto payload = [this, ok, id, publish, bytes = op.payload](Status s) {
        if (!ok()) {
            return;
        }
        if (!s) {
            finishOp(id, s);
            return;
        }
        if (bytes.empty()) {
            publish();
            return;
        }
        const std::string command = cmqttPayloadCommand(bytes.size());
        host_.at.commandWithData(
            command, AtDataWrite{">", bytes, ""}, host_.timing.send,
            [this, ok, id, command, publish](Result<AtResponse> r) {
                if (!ok()) {
                    return;
                }
                if (!r) {
                    finishOp(id, Failure{commandError(command, r.error(), host_.explain)});
                    return;
                }
                publish();
            });
    };
    const std::string command = cmqttTopicCommand(op.topic.size());
    host_.at.commandWithData(
        command, AtDataWrite{">", op.topic, ""}, host_.timing.send,
        [this, ok, command, payload](Result<AtResponse> r) {
            if (!ok()) {
                return;
            }
            payload(r ? okStatus()
                      : Status(Failure{commandError(command, r.error(), host_.explain)}));
        });
}

void A76xxMqtt::runTopicCommand(uint64_t id, const Op& op) {
    const bool sub = op.kind == Op::Kind::Subscribe;
    const std::string command =
        sub ? cmqttSubCommand(op.topic.size(), op.qos) : cmqttUnsubCommand(op.topic.size());
    awaitResult(
        id,
        [&at = host_.at, command, topic = op.topic, t = host_.timing.send](AtChannel::Done d) {
            at.commandWithData(command, AtDataWrite{">", topic, ""}, t, std::move(d));
        },
        command, sub ? "+CMQTTSUB:" : "+CMQTTUNSUB:",
        (sub ? "subscribing to " : "unsubscribing from ") + modem_common::printable(op.topic, 80));
}

void A76xxMqtt::awaitResult(uint64_t id, std::function<void(AtChannel::Done)> issue,
                            std::string command, std::string_view result, std::string what) {
    commandThenUrc(
        host_.loop, urcs_, std::move(issue), command, {mqttResultPrefix(result)},
        host_.timing.mqtt_result, host_.explain,
        [this, w = std::weak_ptr<int>(alive_), id, result,
         what = std::move(what)](Result<std::string> r) {
            if (w.expired() || id != op_id_) {
                return;
            }
            if (!r) {
                Error e = r.error().withContext(what);
                if (e.code == "timeout") {
                    e.code = "mqtt_timeout";
                }
                finishOp(id, Failure{e});
                return;
            }
            const auto res = parseIdResult(*r, result);
            if (!res) {
                finishOp(id, res.failure(what));
                return;
            }
            if (res->err != 0) {
                const auto* info = mqttErrorInfo(res->err);
                finishOp(id, fail(info != nullptr && !info->code.empty() ? std::string(info->code)
                                                                         : "mqtt_error",
                                  what + ": " + explainLine(*r)));
                return;
            }
            finishOp(id, okStatus());
        });
}

void A76xxMqtt::finishOp(uint64_t id, Status s) {
    if (id != op_id_ || !op_done_) {
        return;
    }
    auto done = std::move(op_done_);
    op_done_ = nullptr;
    post([done = std::move(done), s = std::move(s)] { done(s); });
    pump();
}

// ---- URCs -------------------------------------------------------------------------------------

bool A76xxMqtt::onUrc(const std::string& line) {
    if (!line.starts_with("+CMQTT")) {
        return false;
    }
    if (urcs_->offer(line)) {
        return true;
    }
    if (line.starts_with("+CMQTTRXSTART:")) {
        deliver(rx_.start(line));
    } else if (line.starts_with("+CMQTTRXEND:")) {
        deliver(rx_.end(line));
    } else if (line.starts_with("+CMQTTCONNLOST:")) {
        const auto r = parseIdResult(line, "+CMQTTCONNLOST:");
        if (r && r->id == kMqttClient) {
            if (held_ == Held::Connected) {
                held_ = Held::Acquired;  // the module keeps the client
            }
            lose(makeError("mqtt_lost", "the MQTT connection to " + server_ + " was lost: " +
                                            mqttLostWords(r->err) + " (" + line + ")"));
        }
    } else if (line.starts_with("+CMQTTNONET")) {
        // The service has to be started again (one still running answers ERROR to that and is
        // taken over, its client freed).
        service_ = Service::Unknown;
        held_ = Held::Unknown;
        lose(makeError("mqtt_network", "the MQTT connection to " + server_ +
                                           " was lost: the module has no data connection (" + line +
                                           ")"));
    } else if (line.starts_with("+CMQTTPING:")) {
        const auto r = parseIdResult(line, "+CMQTTPING:");
        if (r && r->id == kMqttClient && r->err != 0) {
            held_ = Held::Unknown;
            lose(makeError("mqtt_lost", "the MQTT connection to " + server_ +
                                            " was lost: the keep-alive failed (" + line + ")"));
        }
    }
    // Late results of abandoned commands need nothing.
    return true;
}

void A76xxMqtt::onRxData(const std::string& line, std::string bytes) {
    if (line.starts_with(kMqttRxTopic)) {
        deliver(rx_.topic(line, bytes));
    } else if (line.starts_with(kMqttRxPayload)) {
        deliver(rx_.payload(line, bytes));
    }
}

void A76xxMqtt::deliver(MqttRxAssembler::Outcome outcome) {
    // A malformed message is dropped whole; the next one starts afresh at +CMQTTRXSTART.
    if (!outcome || !*outcome || state_ == State::Idle || !events_.message) {
        return;
    }
    auto m = std::move(outcome->value());
    events_.message(std::move(m.topic), std::move(m.payload), -1, false);
}

}  // namespace uplinkd::plugins::simcom_a76xx
