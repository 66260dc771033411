// SPDX-License-Identifier: Apache-2.0
// A76xxModel's MQTT client, session part: AT+CMQTTSTART/STOP/ACCQ/REL/SSLCFG/CFG/CONNECT/DISC,
// connection loss and the no-network report. Publish, subscribe and incoming messages are in
// model_a76xx_mqtt_data.cpp.
#include "model_a76xx_mqtt.hpp"

#include "connect_error_codes.hpp"
#include "model_a76xx.hpp"

namespace uplinkd::emulator {
namespace {

constexpr size_t kMaxClientId = 128;
constexpr size_t kMinServer = 9;
constexpr size_t kMaxServer = 256;
constexpr size_t kMaxCredential = 256;
constexpr long kMaxKeepalive = 64800;

const char* stateName(CmqttClient::State s) {
    switch (s) {
        case CmqttClient::State::Connecting:
            return "connecting";
        case CmqttClient::State::Connected:
            return "connected";
        case CmqttClient::State::Disconnecting:
            return "disconnecting";
        default:
            return "disconnected";
    }
}

}  // namespace

int cmqttConnectError(MqttConnectResult r, int connack_code) {
    static constexpr MqttConnectCodes kCodes{.ok = cmqtt::kOk,
                                             .dns = cmqtt::kDns,
                                             .refused = cmqtt::kSockConnect,
                                             .timeout = cmqtt::kTimeout,
                                             .tls_init = cmqtt::kHandshake,
                                             .tls_verify = cmqtt::kHandshake,
                                             .tls_handshake = cmqtt::kHandshake,
                                             .closed_without_connack = cmqtt::kClosedByServer,
                                             .connack_base = cmqtt::kConnackBase,
                                             .connack_other = cmqtt::kFailed,
                                             .failed = cmqtt::kFailed};
    return codeFor(r, connack_code, kCodes);
}

bool validMqttUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == 0) {
            return false;
        }
        size_t n = 0;
        if (c >= 0x80) {
            if ((c >> 5) == 0x6) {
                n = 1;
            } else if ((c >> 4) == 0xe) {
                n = 2;
            } else if ((c >> 3) == 0x1e) {
                n = 3;
            } else {
                return false;
            }
        }
        if (i + n >= s.size()) {
            return false;
        }
        uint32_t cp = n == 0 ? c : c & (0x3f >> n);
        for (size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

Final A76xxModel::cmqttFail(const std::string& name, int idx, int err) {
    respond(name + ": " + std::to_string(idx) + "," + std::to_string(err));
    return Final::error();
}

void A76xxModel::addClientCommand(const std::string& name,
                                  std::function<std::string(const CmqttClient&)> readFields,
                                  Handler handler) {
    addCommand(name, [this, name, readFields = std::move(readFields),
                      handler = std::move(handler)](const AtCommand& c) {
        if (!mqtt_started_) {
            misuse("AT" + name + " before AT+CMQTTSTART");
            return Final::error();
        }
        if (c.kind == AtKind::Read) {
            for (size_t i = 0; i < mqtt_.size(); ++i) {
                respond(name + ": " + std::to_string(i) + readFields(mqtt_[i]));
            }
            return Final::ok();
        }
        return handler(c);
    });
}

CmqttClient* A76xxModel::cmqttClient(const AtCommand& c, std::optional<int>* idx) {
    if (!mqtt_started_) {
        misuse("AT" + c.name + " before AT+CMQTTSTART");
        return nullptr;
    }
    *idx = inRange(c, 0, 0, 1);
    if (!*idx) {
        return nullptr;
    }
    return &mqtt_[static_cast<size_t>(**idx)];
}

void A76xxModel::retireMqttLink(CmqttClient& cl) {
    if (!cl.link) {
        return;
    }
    MqttLinkPtr link = std::move(cl.link);
    link->close();
    asio::post(io_, [link] {});  // released after the callback that retired it returned
}

CmqttClient* A76xxModel::currentClient(int idx, uint64_t attempt, CmqttClient::State state) {
    CmqttClient& cl = mqtt_[static_cast<size_t>(idx)];
    return cl.attempt == attempt && cl.state == state ? &cl : nullptr;
}

void A76xxModel::endConnection(CmqttClient& cl) {
    ++cl.attempt;
    retireMqttLink(cl);
    cl.state = CmqttClient::State::Disconnected;
}

void A76xxModel::resetMqtt() {
    for (auto& cl : mqtt_) {
        retireMqttLink(cl);
        cl = CmqttClient{};
    }
    mqtt_started_ = false;
    mqtt_starting_ = false;
}

void A76xxModel::onRegistrationChanged() {
    if ((!mqtt_started_ && !mqtt_starting_) || (radioOn() && registered())) {
        return;
    }
    for (size_t i = 0; i < mqtt_.size(); ++i) {
        auto s = mqtt_[i].state;
        if (s == CmqttClient::State::Connected || s == CmqttClient::State::Disconnecting) {
            urc("+CMQTTCONNLOST: " + std::to_string(i) + ",3");
        }
    }
    log_.note("mqtt: network lost, service stopped");
    resetMqtt();
    urc("+CMQTTNONET");
}

nlohmann::json A76xxModel::mqttStatus() const {
    nlohmann::json clients = nlohmann::json::array();
    for (size_t i = 0; i < mqtt_.size(); ++i) {
        const CmqttClient& cl = mqtt_[i];
        nlohmann::json c = {{"index", i},
                            {"acquired", cl.acquired},
                            {"client_id", cl.client_id},
                            {"server_type", cl.server_type},
                            {"version", cl.version},
                            {"mqtt_protocol", cl.version == 4 ? "3.1.1" : "3.1"},
                            {"check_utf8", cl.check_utf8},
                            {"optimeout", cl.optimeout},
                            {"state", stateName(cl.state)},
                            {"server", cl.server},
                            {"published", cl.published},
                            {"received", cl.received}};
        if (cl.link && !cl.link->sentProtocolName().empty()) {
            c["sent_protocol"] =
                cl.link->sentProtocolName() + "/" + std::to_string(cl.link->sentProtocolLevel());
        }
        c["ssl_ctx"] = cl.ssl_ctx ? nlohmann::json(*cl.ssl_ctx) : nlohmann::json(nullptr);
        clients.push_back(c);
    }
    return {{"enabled", mqtt_enabled_}, {"started", mqtt_started_}, {"clients", clients}};
}

void A76xxModel::addMqttCommands() {
    if (model_id_.find("NOMQTT") != std::string::npos) {
        mqtt_enabled_ = false;  // a firmware build without MQTT: every AT+CMQTT* is unknown
        return;
    }
    addMqttDataCommands();
    addMqttPublishCommands();
    addCommand("+CMQTTSTART", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec || mqtt_started_ || mqtt_starting_) {
            if (mqtt_started_) {
                misuse("AT+CMQTTSTART while the MQTT service is started");
            }
            return Final::error();
        }
        mqtt_starting_ = true;
        after(opts_.bearer_time, [this] {
            if (!mqtt_starting_) {
                return;
            }
            mqtt_starting_ = false;
            if (!radioOn() || !registered()) {
                log_.note("mqtt: start failed, not registered");
                urc("+CMQTTSTART: " + std::to_string(cmqtt::kNetOpenFail));
                return;
            }
            mqtt_started_ = true;
            urc("+CMQTTSTART: 0");
        });
        return Final::ok();
    });
    addCommand("+CMQTTSTOP", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec || !mqtt_started_) {
            return Final::error();
        }
        for (const auto& cl : mqtt_) {
            if (cl.acquired) {
                misuse("AT+CMQTTSTOP with a client not released (AT+CMQTTREL first)");
                respond("+CMQTTSTOP: " + std::to_string(cmqtt::kNotReleased));
                return Final::error();
            }
        }
        resetMqtt();
        urc("+CMQTTSTOP: 0");
        return Final::ok();
    });
    addClientCommand(
        "+CMQTTACCQ",
        [](const CmqttClient& cl) {
            return ",\"" + cl.client_id + "\"," + std::to_string(cl.server_type);
        },
        [this](const AtCommand& c) {
            if (c.kind == AtKind::Test) {
                respond("+CMQTTACCQ: (0-1),(1-128),(0-1)");
                return Final::ok();
            }
            auto idx = inRange(c, 0, 0, 1);
            if (c.kind != AtKind::Set || !idx || c.argc() > 3) {
                return Final::error();
            }
            CmqttClient& cl = mqtt_[static_cast<size_t>(*idx)];
            auto type = c.has(2) ? inRange(c, 2, 0, 1) : std::optional<int>(0);
            const std::string id = c.str(1);
            if (!c.quoted(1) || !type) {
                return cmqttFail("+CMQTTACCQ", *idx, cmqtt::kInvalidParam);
            }
            if (id.empty() || id.size() > kMaxClientId) {
                return cmqttFail("+CMQTTACCQ", *idx, cmqtt::kLengthRange);
            }
            if (cl.acquired) {
                misuse("AT+CMQTTACCQ on client " + std::to_string(*idx) + ", which is acquired");
                return cmqttFail("+CMQTTACCQ", *idx, cmqtt::kClientUsed);
            }
            cl = CmqttClient{};
            cl.acquired = true;
            cl.client_id = id;
            cl.server_type = *type;
            return Final::ok();
        });
    addCommand("+CMQTTREL", [this](const AtCommand& c) {
        std::optional<int> idx;
        CmqttClient* cl = cmqttClient(c, &idx);
        if (!cl || c.kind != AtKind::Set) {
            return Final::error();
        }
        if (!cl->acquired) {
            return cmqttFail("+CMQTTREL", *idx, cmqtt::kNotAcquired);
        }
        if (cl->state != CmqttClient::State::Disconnected) {
            misuse("AT+CMQTTREL on client " + std::to_string(*idx) + " before AT+CMQTTDISC");
            return cmqttFail("+CMQTTREL", *idx, cmqtt::kClientUsed);
        }
        retireMqttLink(*cl);
        *cl = CmqttClient{};  // also clears the CMQTTCFG settings
        return Final::ok();
    });
    addClientCommand(
        "+CMQTTSSLCFG",
        [](const CmqttClient& cl) {
            return "," + (cl.ssl_ctx ? std::to_string(*cl.ssl_ctx) : std::string());
        },
        [this](const AtCommand& c) {
            auto idx = inRange(c, 0, 0, 1);
            auto ctx = inRange(c, 1, 0, 9);
            if (c.kind != AtKind::Set || !idx || !ctx || c.argc() != 2) {
                return Final::error();
            }
            mqtt_[static_cast<size_t>(*idx)].ssl_ctx = *ctx;
            return Final::ok();
        });
    addClientCommand(
        "+CMQTTCFG",
        [](const CmqttClient& cl) {
            return "," + std::to_string(cl.check_utf8) + "," + std::to_string(cl.optimeout);
        },
        [this](const AtCommand& c) {
            auto idx = inRange(c, 1, 0, 1);
            if (c.kind != AtKind::Set || !c.quoted(0) || !idx || c.argc() != 3) {
                return Final::error();
            }
            CmqttClient& cl = mqtt_[static_cast<size_t>(*idx)];
            if (!cl.acquired || cl.state != CmqttClient::State::Disconnected) {
                misuse("AT+CMQTTCFG on client " + std::to_string(*idx) +
                       (cl.acquired ? " while connected" : " before AT+CMQTTACCQ"));
                return Final::error();
            }
            const std::string key = c.str(0);  // matched exactly, as documented
            std::optional<int> v;
            if (key == "checkUTF8") {
                if ((v = inRange(c, 2, 0, 1))) {
                    cl.check_utf8 = *v;
                }
            } else if (key == "optimeout") {
                if ((v = inRange(c, 2, 20, 120))) {
                    cl.optimeout = *v;
                }
            } else if (key == "version") {
                if ((v = inRange(c, 2, 3, 4))) {
                    cl.version = *v;
                }
            }
            return v ? Final::ok() : Final::error();
        });
    addClientCommand(
        "+CMQTTCONNECT",
        [](const CmqttClient& cl) {
            std::string fields;
            if (cl.state == CmqttClient::State::Connected) {
                fields = ",\"" + cl.server + "\"," + std::to_string(cl.keepalive) + "," +
                         std::to_string(cl.clean);
                if (cl.user) {
                    fields += ",\"" + *cl.user + "\"";
                }
            }
            return fields;
        },
        [this](const AtCommand& c) {
            auto idx = inRange(c, 0, 0, 1);
            if (c.kind != AtKind::Set || !idx) {
                return Final::error();
            }
            CmqttClient& cl = mqtt_[static_cast<size_t>(*idx)];
            const char* name = "+CMQTTCONNECT";
            if (!cl.acquired) {
                misuse("AT+CMQTTCONNECT on client " + std::to_string(*idx) +
                       " before AT+CMQTTACCQ");
                return cmqttFail(name, *idx, cmqtt::kNotAcquired);
            }
            if (cl.state != CmqttClient::State::Disconnected) {
                misuse("AT+CMQTTCONNECT on client " + std::to_string(*idx) + ", which is " +
                       stateName(cl.state));
                return cmqttFail(name, *idx, cmqtt::kBusy);
            }
            const std::string server = c.str(1);
            auto keepalive = inRange(c, 2, 1, kMaxKeepalive);
            auto clean = inRange(c, 3, 0, 1);
            if (!c.quoted(1) || !keepalive || !clean || c.argc() > 6 ||
                (c.has(4) && !c.quoted(4)) || (c.has(5) && !c.quoted(5))) {
                return cmqttFail(name, *idx, cmqtt::kInvalidParam);
            }
            if (server.size() < kMinServer || server.size() > kMaxServer ||
                (c.has(4) && (c.str(4).empty() || c.str(4).size() > kMaxCredential)) ||
                (c.has(5) && (c.str(5).empty() || c.str(5).size() > kMaxCredential))) {
                return cmqttFail(name, *idx, cmqtt::kLengthRange);
            }
            if (server.rfind("tcp://", 0) != 0) {
                misuse("AT+CMQTTCONNECT server '" + server +
                       "' does not start with tcp:// (TLS is chosen by AT+CMQTTACCQ)");
                return cmqttFail(name, *idx, cmqtt::kInvalidParam);
            }
            std::string hostport = server.substr(6);
            std::string host = hostport;
            long port = 1883;
            if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
                host = hostport.substr(0, colon);
                auto p = parseInt(hostport.substr(colon + 1));
                if (!p || *p < 1 || *p > 65535) {
                    return cmqttFail(name, *idx, cmqtt::kInvalidParam);
                }
                port = *p;
            }
            if (host.empty()) {
                return cmqttFail(name, *idx, cmqtt::kInvalidParam);
            }
            cl.server = server;
            cl.keepalive = *keepalive;
            cl.clean = *clean;
            cl.user = c.has(4) ? std::optional<std::string>(c.str(4)) : std::nullopt;
            std::optional<std::string> password =
                c.has(5) ? std::optional<std::string>(c.str(5)) : std::nullopt;
            cl.state = CmqttClient::State::Connecting;
            mqttConnect(*idx, host, static_cast<uint16_t>(port), std::move(password));
            return Final::ok();
        });
    addClientCommand(
        "+CMQTTDISC",
        [](const CmqttClient& cl) {
            return std::string(cl.state == CmqttClient::State::Connected ? ",0" : ",1");
        },
        [this](const AtCommand& c) {
            auto idx = inRange(c, 0, 0, 1);
            auto timeout = inRange(c, 1, 0, 180);
            if (c.kind != AtKind::Set || !idx || !timeout) {
                return Final::error();
            }
            CmqttClient& cl = mqtt_[static_cast<size_t>(*idx)];
            if (!cl.acquired) {
                return cmqttFail("+CMQTTDISC", *idx, cmqtt::kNotAcquired);
            }
            if (cl.state != CmqttClient::State::Connected || !cl.link) {
                misuse("AT+CMQTTDISC on client " + std::to_string(*idx) + ", which is " +
                       stateName(cl.state));
                return cmqttFail("+CMQTTDISC", *idx, cmqtt::kNoConnection);
            }
            cl.state = CmqttClient::State::Disconnecting;
            int id = *idx;
            uint64_t attempt = cl.attempt;
            cl.link->disconnect([this, id, attempt](bool, const std::string&) {
                CmqttClient* c2 = currentClient(id, attempt, CmqttClient::State::Disconnecting);
                if (c2 == nullptr) {
                    return;
                }
                endConnection(*c2);
                c2->ssl_ctx.reset();
                urc("+CMQTTDISC: " + std::to_string(id) + ",0");
            });
            return Final::ok();
        });
}

void A76xxModel::mqttConnectFailed(int idx, uint64_t attempt, int err) {
    CmqttClient* cl = currentClient(idx, attempt, CmqttClient::State::Connecting);
    if (cl == nullptr) {
        return;
    }
    endConnection(*cl);
    cl->ssl_ctx.reset();  // cleared after a failed connect
    urc("+CMQTTCONNECT: " + std::to_string(idx) + "," + std::to_string(err));
}

void A76xxModel::mqttConnect(int idx, const std::string& host, uint16_t port,
                             std::optional<std::string> password) {
    CmqttClient& cl = mqtt_[static_cast<size_t>(idx)];
    uint64_t attempt = ++cl.attempt;
    MqttSession session;
    session.client_id = cl.client_id;
    session.version = cl.version;  // 3 (the default) sends a real MQTT 3.1 CONNECT ("MQIsdp")
    session.keep_alive_s = cl.keepalive;
    session.clean_session = cl.clean == 1;
    session.username = cl.user;
    session.password = std::move(password);
    if (cl.will_topic) {
        session.will = MqttWill{*cl.will_topic, cl.will_msg, cl.will_qos, false};
    }
    session.timeout = std::chrono::seconds(cl.optimeout);
    std::string who = "mqtt " + std::to_string(idx);
    log_.note(who + ": connecting to " + host + ":" + std::to_string(port) + " as MQTT " +
              (cl.version == 4 ? "3.1.1" : "3.1") + (cl.server_type == 1 ? " over TLS" : ""));
    TlsOptions tls;
    if (cl.server_type == 1) {
        int ctx = cl.ssl_ctx.value_or(idx);
        auto from_ctx = tlsFromContext(ctx, host);
        if (!from_ctx) {
            log_.note(who + ": certificates not set in SSL context " + std::to_string(ctx));
            after(std::chrono::milliseconds(0),
                  [this, idx, attempt] { mqttConnectFailed(idx, attempt, cmqtt::kCertNotSet); });
            return;
        }
        tls = *from_ctx;
    }
    cl.link = std::make_shared<MqttLink>(io_);
    cl.link->onMessage(
        [this, idx, attempt](const std::string& topic, const std::string& payload, int, bool) {
            if (mqtt_[static_cast<size_t>(idx)].attempt == attempt) {
                onMqttMessage(idx, topic, payload);
            }
        });
    cl.link->onLost([this, idx, attempt](MqttLostReason reason, const std::string& detail) {
        log_.note("mqtt " + std::to_string(idx) + ": " + toString(reason) + ": " + detail);
        onMqttLost(idx, attempt);
    });
    cl.link->connect(
        host, port, std::move(tls), std::move(session),
        [this, idx, attempt, who](const MqttConnectOutcome& out) {
            CmqttClient* c2 = currentClient(idx, attempt, CmqttClient::State::Connecting);
            if (c2 == nullptr) {
                return;
            }
            if (out.result == MqttConnectResult::Ok) {
                log_.note(who + ": connected");
                c2->state = CmqttClient::State::Connected;
                urc("+CMQTTCONNECT: " + std::to_string(idx) + ",0");
                return;
            }
            int err = cmqttConnectError(out.result, out.connack_code);
            log_.note(who + ": connect failed (" + std::to_string(err) + ", " +
                      toString(out.result) + "): " + out.detail);
            if (err == cmqtt::kHandshake) {
                // The module retries the handshake for a while before it reports.
                retireMqttLink(*c2);
                after(opts_.tls_fail_delay,
                      [this, idx, attempt, err] { mqttConnectFailed(idx, attempt, err); });
                return;
            }
            mqttConnectFailed(idx, attempt, err);
        });
}

void A76xxModel::onMqttLost(int idx, uint64_t attempt) {
    CmqttClient& cl = mqtt_[static_cast<size_t>(idx)];
    if (cl.attempt != attempt) {
        return;
    }
    if (cl.state == CmqttClient::State::Connecting) {
        mqttConnectFailed(idx, attempt, cmqtt::kClosedByServer);
        return;
    }
    bool was_disconnecting = cl.state == CmqttClient::State::Disconnecting;
    endConnection(cl);
    if (was_disconnecting) {
        cl.ssl_ctx.reset();
        urc("+CMQTTDISC: " + std::to_string(idx) + ",0");
        return;
    }
    log_.note("mqtt " + std::to_string(idx) + ": connection lost");
    urc("+CMQTTCONNLOST: " + std::to_string(idx) + ",1");
}

}  // namespace uplinkd::emulator
