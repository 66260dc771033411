// SPDX-License-Identifier: Apache-2.0
// Bx310xModel's MQTT client: AT+KMQTTCFG / CNX / PUB / PUBSTART / SUB / UNSUB / CLOSE / DEL and
// the +KMQTT_IND / +KMQTT_DATA URCs, over a real MqttLink (TLS by the module with its store).
#include <algorithm>

#include "k_errors.hpp"
#include "model_bx310x.hpp"

namespace uplinkd::emulator {
namespace {

constexpr int kSessionId = 1;
constexpr size_t kMaxCfgArgs = 14;
constexpr size_t kMaxTopics = 5;
constexpr size_t kMaxPayload = 65536;

// +KMQTT_IND codes (reference 2.7 / 3.2).
constexpr int kIndAborted = 0;
constexpr int kIndConnected = 1;
constexpr int kIndSuback = 2;
constexpr int kIndUnsuback = 3;
constexpr int kIndPublished = 4;
constexpr int kIndError = 5;

std::string ind(int code) {
    return "+KMQTT_IND: " + std::to_string(kSessionId) + "," + std::to_string(code);
}

/// Integer argument `i` in [lo, hi], or `dflt` when the field is empty; nullopt when invalid.
std::optional<long> intIn(const AtCommand& c, size_t i, long lo, long hi, long dflt) {
    if (!c.has(i)) {
        return dflt;
    }
    auto v = c.intArg(i);
    if (!v || *v < lo || *v > hi) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

bool Bx310xModel::mqttSession(const AtCommand& c, Final& err) const {
    if (!c.has(0)) {
        err = Final::cme(kerr::kMissing);
        return false;
    }
    auto id = c.intArg(0);
    if (!id || *id != kSessionId || !mqtt_cfg_) {
        err = Final::cme(kerr::kBadSession);
        return false;
    }
    return true;
}

bool Bx310xModel::mqttCommand(const AtCommand& c, size_t need, size_t most, Final& err) const {
    if (c.kind != AtKind::Set) {
        err = Final::error();
        return false;
    }
    if (!mqttSession(c, err)) {
        return false;
    }
    for (size_t i = 1; i < need; ++i) {
        if (!c.has(i)) {
            err = Final::cme(kerr::kMissing);
            return false;
        }
    }
    if (c.argc() > most) {
        err = Final::cme(kerr::kUnexpected);
        return false;
    }
    return true;
}

Final Bx310xModel::mqttConfigure(const AtCommand& c) {
    if (!c.has(0) || !c.has(1) || !c.has(2) || !c.has(3) || !c.has(4)) {
        return Final::cme(kerr::kMissing);
    }
    if (c.argc() > kMaxCfgArgs) {
        return Final::cme(kerr::kUnexpected);
    }
    auto secure = intIn(c, 0, 0, 1, 0);
    auto port = intIn(c, 2, 1, 65535, 1883);
    auto version = intIn(c, 3, 3, 4, 4);
    auto keepalive = intIn(c, 5, 0, 65535, 120);
    auto clean = intIn(c, 6, 0, 1, 1);
    auto will_flag = intIn(c, 7, 0, 1, 0);
    auto will_qos = intIn(c, 10, 0, 2, 0);
    auto will_retain = intIn(c, 11, 0, 1, 0);
    if (!secure || !port || !version || !keepalive || !clean || !will_flag || !will_qos ||
        !will_retain || !c.quoted(1) || c.str(1).empty() || !c.quoted(4) || c.str(4).size() > 128 ||
        (*version == 3 && c.str(4).empty())) {
        return Final::cme(kerr::kOutOfRange);
    }
    if (*will_flag == 1 && !c.has(8)) {
        return Final::cme(kerr::kMissing);
    }
    if (mqtt_state_ != MqttState::Idle) {
        return Final::cme(kerr::kSessionRunning);
    }
    MqttConfig cfg;
    cfg.secure = *secure == 1;
    cfg.host = c.str(1);
    cfg.port = static_cast<uint16_t>(*port);
    cfg.version = static_cast<int>(*version);
    cfg.client_id = c.str(4);
    cfg.keepalive = static_cast<int>(*keepalive);
    cfg.clean = *clean == 1;
    if (*will_flag == 1) {
        cfg.will = MqttWill{c.str(8), c.str(9), static_cast<int>(*will_qos), *will_retain == 1};
    }
    if (c.has(12)) {
        cfg.user = c.str(12);
    }
    if (c.has(13)) {
        cfg.password = c.str(13);
    }
    mqtt_cfg_ = std::move(cfg);
    mqtt_topics_.clear();
    respond("+KMQTTCFG: " + std::to_string(kSessionId));
    return Final::ok();
}

void Bx310xModel::mqttConnect() {
    const MqttConfig& cfg = *mqtt_cfg_;
    mqtt_state_ = MqttState::Connecting;
    uint64_t attempt = ++mqtt_attempt_;
    auto fail = [this, attempt](const std::string& why) {
        if (attempt != mqtt_attempt_) {
            return;
        }
        log_.note("MQTT connect failed: " + why);
        mqttClose();
        urc(ind(kIndAborted));  // the module tells no more than that
    };
    TlsOptions tls;
    if (cfg.secure) {
        std::string why;
        auto t = moduleTls(cfg.host, why);
        if (!t) {
            after(std::chrono::milliseconds(10), [fail, why] { fail("TLS setup: " + why); });
            return;
        }
        tls = std::move(*t);
    }
    MqttSession s;
    s.client_id = cfg.client_id;
    s.username = cfg.user;
    s.password = cfg.password;
    s.keep_alive_s = cfg.keepalive;
    s.clean_session = cfg.clean;
    s.version = cfg.version;
    s.will = cfg.will;
    s.timeout = opts_.connect_timeout;
    mqtt_ = std::make_shared<MqttLink>(io_);
    mqtt_->onMessage([this](const std::string& topic, const std::string& payload, int, bool) {
        if (old_sub_urc_) {
            urc("+KMQTTSUB: \"" + topic + "\",\"" + payload + "\"");
        } else {
            urc("+KMQTT_DATA: " + std::to_string(kSessionId) + ",\"" + topic + "\",\"" + payload +
                "\"");
        }
    });
    mqtt_->onLost([this, attempt](MqttLostReason r, const std::string& detail) {
        if (attempt == mqtt_attempt_ && mqtt_state_ == MqttState::Connected) {
            mqttLost(std::string(toString(r)) + ": " + detail);
        }
    });
    log_.note("MQTT connect to " + cfg.host + ":" + std::to_string(cfg.port) +
              (cfg.secure ? " (TLS)" : "") + " as '" + cfg.client_id + "'");
    mqtt_->connect(cfg.host, cfg.port, std::move(tls), std::move(s),
                   [this, attempt, fail](const MqttConnectOutcome& o) {
                       if (attempt != mqtt_attempt_) {
                           return;
                       }
                       if (o.result != MqttConnectResult::Ok) {
                           std::string why = toString(o.result);
                           if (o.result == MqttConnectResult::ConnackRefused) {
                               why += " (CONNACK " + std::to_string(o.connack_code) + ")";
                           }
                           fail(why + ": " + o.detail);
                           return;
                       }
                       mqtt_state_ = MqttState::Connected;
                       log_.note("MQTT connected");
                       urc(ind(kIndConnected));
                   });
}

void Bx310xModel::mqttPublish(const std::string& topic, const std::string& payload, int qos,
                              bool retain) {
    uint64_t attempt = mqtt_attempt_;
    mqtt_->publish(topic, payload, qos, retain,
                   [this, attempt, qos](bool ok, const std::string& detail) {
                       if (attempt != mqtt_attempt_) {
                           return;
                       }
                       if (!ok) {
                           log_.note("MQTT publish not acknowledged: " + detail);
                       } else if (qos > 0) {
                           urc(ind(kIndPublished));
                       }
                   });
}

void Bx310xModel::mqttLost(const std::string& why) {
    log_.note("MQTT connection lost: " + why);
    mqttClose();
    urc(ind(kIndAborted));
}

void Bx310xModel::mqttClose() {
    ++mqtt_attempt_;
    if (mqtt_closing_) {
        mqtt_closing_->close();
        mqtt_closing_.reset();
    }
    if (mqtt_) {
        mqtt_->close();
        mqtt_.reset();
    }
    mqtt_state_ = MqttState::Idle;
    mqtt_topics_.clear();
}

void Bx310xModel::addMqttCommands() {
    addCommand("+KMQTTCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            if (mqtt_cfg_) {
                const MqttConfig& m = *mqtt_cfg_;
                const MqttWill w = m.will.value_or(MqttWill{});
                // The password is not read back.
                respond("+KMQTTCFG: " + std::to_string(kSessionId) + "," + (m.secure ? "1" : "0") +
                        ",\"" + m.host + "\"," + std::to_string(m.port) + "," +
                        std::to_string(m.version) + ",\"" + m.client_id + "\"," +
                        std::to_string(m.keepalive) + "," + (m.clean ? "1" : "0") + "," +
                        (m.will ? "1" : "0") + ",\"" + w.topic + "\",\"" + w.payload + "\"," +
                        std::to_string(w.qos) + "," + (w.retain ? "1" : "0") + ",\"" +
                        m.user.value_or("") + "\",\"\"");
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        return mqttConfigure(c);
    });
    addCommand("+KMQTTCNX", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 1, 1, err)) {
            return err;
        }
        if (mqtt_state_ != MqttState::Idle) {
            return Final::cme(kerr::kSessionRunning);
        }
        if (!networkUp()) {
            misuse("AT+KMQTTCNX while the Wi-Fi station has no address");
            return Final::cme(kerr::kBearerState);
        }
        mqttConnect();
        return Final::ok();
    });
    addCommand("+KMQTTPUB", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 4, 5, err)) {
            return err;
        }
        if (c.argc() < 5) {
            return Final::cme(kerr::kMissing);
        }
        auto qos = c.intArg(2);
        auto retain = c.intArg(3);
        if (!qos || *qos < 0 || *qos > 2 || !retain || *retain < 0 || *retain > 1) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (mqtt_state_ != MqttState::Connected) {
            misuse("AT+KMQTTPUB while the MQTT session is not connected");
            return Final::cme(kerr::kSessionState);
        }
        mqttPublish(c.str(1), c.str(4), static_cast<int>(*qos), *retain == 1);
        return Final::ok();
    });
    addCommand("+KMQTTPUBSTART", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 4, 5, err)) {
            return err;
        }
        auto qos = c.intArg(2);
        auto retain = c.intArg(3);
        auto len = intIn(c, 4, 1, static_cast<long>(kMaxPayload), 0);
        if (!qos || *qos < 0 || *qos > 2 || !retain || *retain < 0 || *retain > 1 || !len) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (mqtt_state_ != MqttState::Connected) {
            misuse("AT+KMQTTPUBSTART while the MQTT session is not connected");
            return Final::cme(kerr::kSessionState);
        }
        std::string topic = c.str(1);
        int q = static_cast<int>(*qos);
        bool r = *retain == 1;
        size_t want = static_cast<size_t>(*len);
        startDataPhase(DataPhase::escape(kMaxPayload, guard_, DataPhase::Clock::now()),
                       "\r\nCONNECT\r\n", [this, topic, q, r, want](const DataPhase& p) {
                           if (p.outcome() != DataPhase::Outcome::Complete) {
                               misuse("AT+KMQTTPUBSTART: more than " + std::to_string(kMaxPayload) +
                                      " bytes without a +++ escape");
                               return Final::cme(kerr::kLengthInvalid);
                           }
                           if (want != 0 && p.data().size() != want) {
                               misuse("AT+KMQTTPUBSTART: announced " + std::to_string(want) +
                                      " bytes, got " + std::to_string(p.data().size()) +
                                      " before the +++");
                               return Final::cme(kerr::kLengthInvalid);
                           }
                           if (mqtt_state_ != MqttState::Connected) {
                               return Final::cme(kerr::kSessionState);
                           }
                           mqttPublish(topic, p.data(), q, r);
                           return Final::ok();
                       });
        return Final::pending();
    });
    addCommand("+KMQTTSUB", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 3, 3, err)) {
            return err;
        }
        auto qos = c.intArg(2);
        if (!qos || *qos < 0 || *qos > 2) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (mqtt_state_ != MqttState::Connected) {
            misuse("AT+KMQTTSUB while the MQTT session is not connected");
            return Final::cme(kerr::kSessionState);
        }
        std::string topic = c.str(1);
        bool known =
            std::find(mqtt_topics_.begin(), mqtt_topics_.end(), topic) != mqtt_topics_.end();
        if (!known && mqtt_topics_.size() >= kMaxTopics) {
            misuse("AT+KMQTTSUB: a " + std::to_string(kMaxTopics + 1) + "th topic (" + topic +
                   "); the module takes " + std::to_string(kMaxTopics));
            return Final::error();
        }
        if (!known) {
            mqtt_topics_.push_back(topic);
        }
        uint64_t attempt = mqtt_attempt_;
        mqtt_->subscribe(topic, static_cast<int>(*qos), [this, attempt](int granted) {
            if (attempt == mqtt_attempt_ && granted >= 0) {
                urc(ind(granted <= 2 ? kIndSuback : kIndError));
            }
        });
        return Final::ok();
    });
    addCommand("+KMQTTUNSUB", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 2, 2, err)) {
            return err;
        }
        if (mqtt_state_ != MqttState::Connected) {
            return Final::cme(kerr::kSessionState);
        }
        std::string topic = c.str(1);
        std::erase(mqtt_topics_, topic);
        uint64_t attempt = mqtt_attempt_;
        mqtt_->unsubscribe(topic, [this, attempt](bool ok, const std::string&) {
            if (attempt == mqtt_attempt_ && ok) {
                urc(ind(kIndUnsuback));
            }
        });
        return Final::ok();
    });
    addCommand("+KMQTTCLOSE", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 1, 1, err)) {
            return err;
        }
        if (mqtt_ && mqtt_state_ == MqttState::Connected) {
            // A clean DISCONNECT; the link is kept until it is done.
            if (mqtt_closing_) {
                mqtt_closing_->close();
            }
            mqtt_closing_ = std::move(mqtt_);
            ++mqtt_attempt_;
            mqtt_state_ = MqttState::Idle;
            mqtt_topics_.clear();
            MqttLink* closing = mqtt_closing_.get();
            mqtt_closing_->disconnect([this, closing](bool, const std::string&) {
                if (mqtt_closing_.get() == closing) {
                    mqtt_closing_->close();
                    mqtt_closing_.reset();
                }
            });
            return Final::ok();
        }
        mqttClose();
        return Final::ok();
    });
    addCommand("+KMQTTDEL", [this](const AtCommand& c) {
        Final err;
        if (!mqttCommand(c, 1, 1, err)) {
            return err;
        }
        mqttClose();
        mqtt_cfg_.reset();
        return Final::ok();
    });
}

void Bx310xModel::addMqttStatus(nlohmann::json& j) const {
    const char* states[] = {"idle", "connecting", "connected"};
    nlohmann::json m;
    m["configured"] = mqtt_cfg_.has_value();
    m["state"] = states[static_cast<int>(mqtt_state_)];
    m["topics"] = mqtt_topics_;
    if (mqtt_cfg_) {
        m["host"] = mqtt_cfg_->host;
        m["port"] = mqtt_cfg_->port;
        m["secure"] = mqtt_cfg_->secure;
        m["version"] = mqtt_cfg_->version;
        m["client_id"] = mqtt_cfg_->client_id;
    }
    if (mqtt_) {
        m["link"] = mqtt_->status();
    }
    j["mqtt"] = m;
}

}  // namespace uplinkd::emulator
