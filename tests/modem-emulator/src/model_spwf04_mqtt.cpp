// SPDX-License-Identifier: Apache-2.0
// Spwf04Model: the built-in MQTT client (AT+S.MQTTCONN/MQTTPUB/MQTTSUB/MQTTUNSUB/MQTTDISC,
// +WIND:86 incoming messages, +WIND:87 on loss), speaking real MQTT through MqttLink.
#include "connect_error_codes.hpp"
#include "model_spwf04.hpp"
#include "spwf_tables.hpp"

namespace uplinkd::emulator {
namespace {

constexpr int kMqttClients = 2;
constexpr long kMaxMqttPayload = 4096;
constexpr int kDefaultKeepAlive = 60;
const char* const kDefaultClientId = "SPWF04S-emulator";

/// Joins fields [from, to) back with the commas the split took out (topics may hold commas).
std::string joined(const AtCommand& c, size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to; ++i) {
        out += (i > from ? "," : "") + c.str(i);
    }
    return out;
}

int connectCode(const MqttConnectOutcome& o) {
    static constexpr MqttConnectCodes kCodes{.ok = spwf::kMqttConnectFailed,
                                             .dns = spwf::kDnsFailure,
                                             .refused = spwf::kConnectFailed,
                                             .timeout = spwf::kSocketTimeout,
                                             .tls_init = spwf::kTlsCredentials,
                                             .tls_verify = spwf::kTlsCertificate,
                                             .tls_handshake = spwf::kTlsHandshake,
                                             .closed_without_connack = spwf::kMqttConnectFailed,
                                             .connack_base = spwf::kMqttConnectFailed,
                                             .connack_other = spwf::kMqttConnectFailed,
                                             .failed = spwf::kMqttConnectFailed};
    return codeFor(o.result, o.connack_code, kCodes);
}

}  // namespace

Spwf04Model::MqttClient* Spwf04Model::findMqtt(const AtCommand& c, Final& err) {
    auto id = c.intArg(0);
    auto it = id ? mqtt_.find(static_cast<int>(*id)) : mqtt_.end();
    if (it == mqtt_.end() || !it->second.connected) {
        misuse(c.name + " on MQTT client '" + c.str(0) + "', which is not connected");
        err = Final::cme(spwf::kMqttInvalidId);
        return nullptr;
    }
    return &it->second;
}

void Spwf04Model::onMqttLost(int id, MqttLink* link, const std::string& why) {
    auto it = mqtt_.find(id);
    if (it == mqtt_.end() || it->second.link.get() != link) {
        return;
    }
    log_.note("MQTT client " + std::to_string(id) + " lost: " + why);
    MqttLinkPtr keep = it->second.link;  // this callback runs inside it
    keep->close();
    mqtt_.erase(it);
    wind(87, "MQTT Closed:" + std::to_string(id));
    asio::post(io_, [keep] {});  // released once the callback has returned
}

void Spwf04Model::closeMqtt(bool announce) {
    std::vector<MqttLinkPtr> links;
    for (auto& [id, m] : mqtt_) {
        links.push_back(m.link);
    }
    if (announce) {
        // The network went: each client sees its connection drop and reports +WIND:87.
        for (auto& l : links) {
            l->dropAsRemote();
        }
        return;
    }
    mqtt_.clear();
    for (auto& l : links) {
        l->close();
    }
}

nlohmann::json Spwf04Model::mqttStatus() const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [id, m] : mqtt_) {
        list.push_back({{"id", id},
                        {"host", m.host},
                        {"port", m.port},
                        {"tls", m.tls},
                        {"client_id", m.client_id},
                        {"connected", m.connected},
                        {"link", m.link ? m.link->status() : nlohmann::json()}});
    }
    return list;
}

Final Spwf04Model::mqttConnect(const AtCommand& c) {
    // AT+S.MQTTCONN=<host>,<port>,<path>,<TLS>,<user>,<password>,<client id>,<keepalive>,
    //               <retry>,<LWT QoS>,<LWT topic>,<LWT message>; the fields after the path may
    //               be left out.
    auto port = inRange(c, 1, 1, 65535);
    if (c.kind != AtKind::Set || c.argc() < 3 || c.argc() > 12 || c.str(0).empty() || !port) {
        return Final::cme(spwf::kBadParameter);
    }
    if (!c.str(2).empty()) {
        log_.note("MQTTCONN: a path asks for MQTT over WebSocket, which is not emulated");
        return Final::cme(spwf::kMqttTransport);
    }
    auto tls_flag = c.has(3) ? inRange(c, 3, 0, 1) : std::optional<int>(0);
    auto keep_alive = c.has(7) ? inRange(c, 7, 0, 65535) : std::optional<int>(kDefaultKeepAlive);
    auto retry = c.has(8) ? inRange(c, 8, 0, 255) : std::optional<int>(0);
    auto will_qos = c.has(9) ? inRange(c, 9, 0, 2) : std::optional<int>(0);
    if (!tls_flag || !keep_alive || !retry || !will_qos) {
        return Final::cme(spwf::kBadParameter);
    }
    if (!associated_) {
        return needNetwork();
    }
    int id = 0;
    while (id < kMqttClients && mqtt_.count(id) > 0) {
        ++id;
    }
    if (id == kMqttClients) {
        misuse("AT+S.MQTTCONN with both MQTT clients in use");
        return Final::cme(spwf::kNoFreeMqtt);
    }
    const std::string host = c.str(0);
    TlsOptions tls;
    if (*tls_flag == 1) {
        int err = 0;
        auto t = tlsFor(host, err);  // SNI and name check: the broker's host name
        if (!t) {
            log_.note("MQTTCONN: TLS credentials missing (ca, or cert without key)");
            return Final::cme(err);
        }
        tls = *t;
    }
    MqttSession session;
    session.client_id = c.has(6) ? c.str(6) : kDefaultClientId;
    if (c.has(4)) {
        session.username = c.str(4);
    }
    if (c.has(5)) {
        session.password = c.str(5);
    }
    session.keep_alive_s = *keep_alive;
    session.timeout = opts_.connect_timeout;
    if (c.has(10)) {
        session.will = MqttWill{c.str(10), c.str(11), *will_qos, false};
    }
    MqttClient& m = mqtt_[id];
    m.host = host;
    m.port = static_cast<uint16_t>(*port);
    m.tls = *tls_flag == 1;
    m.client_id = session.client_id;
    m.link = std::make_shared<MqttLink>(io_);
    MqttLink* raw = m.link.get();
    m.link->onLost([this, id, raw](MqttLostReason r, const std::string& detail) {
        onMqttLost(id, raw, std::string(toString(r)) + ": " + detail);
    });
    m.link->onMessage(
        [this, id, raw](const std::string& topic, const std::string& payload, int, bool) {
            auto it = mqtt_.find(id);
            if (it == mqtt_.end() || it->second.link.get() != raw) {
                return;
            }
            wind(86,
                 "MQTT Published:" + std::to_string(id) + ":" + topic + ":" +
                     std::to_string(payload.size()),
                 payload);
        });
    m.link->connect(host, m.port, tls, session, [this, id, raw](const MqttConnectOutcome& o) {
        auto it = mqtt_.find(id);
        if (it == mqtt_.end() || it->second.link.get() != raw) {
            return;
        }
        if (o.result != MqttConnectResult::Ok) {
            log_.note("MQTT client " + std::to_string(id) + " failed: " + toString(o.result) +
                      ": " + o.detail);
            MqttLinkPtr keep = it->second.link;
            keep->close();
            mqtt_.erase(it);
            asio::post(io_, [keep] {});
            finishDeferred(Final::cme(connectCode(o)));
            return;
        }
        it->second.connected = true;
        respond("AT-S.On:" + std::to_string(id));
        finishDeferred(Final::ok());
    });
    return Final::deferred();  // the console answers at the CONNACK
}

Final Spwf04Model::mqttPublish(const AtCommand& c) {
    // AT+S.MQTTPUB=<id>,<topic>,<qos>,<retained>,<length>: the last three fields are numbers,
    // so a topic may hold commas. A last field that is not a number is the message itself.
    if (c.kind != AtKind::Set || c.argc() < 5) {
        return Final::cme(spwf::kBadParameter);
    }
    const size_t n = c.argc();
    auto qos = inRange(c, n - 3, 0, 2);
    auto retain = inRange(c, n - 2, 0, 1);
    std::string topic = joined(c, 1, n - 3);
    if (!qos || !retain || topic.empty()) {
        return Final::cme(spwf::kBadParameter);
    }
    Final err;
    MqttClient* m = findMqtt(c, err);
    if (m == nullptr) {
        return err;
    }
    MqttLinkPtr link = m->link;
    auto publish = [this, link, topic, q = *qos, r = *retain == 1](const std::string& payload) {
        link->publish(topic, payload, q, r, [this](bool ok, const std::string& detail) {
            if (!ok) {
                log_.note("MQTT publish failed: " + detail);
            }
            finishDeferred(ok ? Final::ok() : Final::cme(spwf::kRequestFailed));
        });
    };
    auto len = c.intArg(n - 1);
    if (!len) {
        publish(c.str(n - 1));  // the message inline
        return Final::deferred();
    }
    if (*len < 0 || *len > kMaxMqttPayload) {
        misuse("AT+S.MQTTPUB length '" + c.str(n - 1) + "' outside 0-4096");
        return Final::cme(spwf::kBadParameter);
    }
    // Like SOCKW: the bytes follow the command line right away, no prompt. The console answers
    // when the broker acknowledged (QoS 1/2) or the message went out (QoS 0).
    startDataPhase(DataPhase::count(static_cast<size_t>(*len)), "",
                   [this, link, topic, q = *qos, r = *retain == 1](const DataPhase& p) {
                       if (!link->connected()) {
                           return Final::cme(spwf::kRequestFailed);
                       }
                       link->publish(
                           topic, p.data(), q, r, [this](bool ok, const std::string& detail) {
                               if (!ok) {
                                   log_.note("MQTT publish failed: " + detail);
                               }
                               finishDeferred(ok ? Final::ok() : Final::cme(spwf::kRequestFailed));
                           });
                       return Final::deferred();
                   });
    return Final::pending();
}

void Spwf04Model::addMqttCommands() {
    addCommand("+S.MQTTCONN", [this](const AtCommand& c) { return mqttConnect(c); });
    addCommand("+S.MQTTPUB", [this](const AtCommand& c) { return mqttPublish(c); });
    addCommand("+S.MQTTSUB", [this](const AtCommand& c) {
        // AT+S.MQTTSUB=<id>,<topic>,<qos>
        const size_t n = c.argc();
        auto qos = n >= 3 ? inRange(c, n - 1, 0, 2) : std::nullopt;
        std::string filter = n >= 3 ? joined(c, 1, n - 1) : std::string();
        if (c.kind != AtKind::Set || !qos || filter.empty()) {
            return Final::cme(spwf::kBadParameter);
        }
        Final err;
        MqttClient* m = findMqtt(c, err);
        if (m == nullptr) {
            return err;
        }
        m->link->subscribe(filter, *qos, [this](int granted) {
            finishDeferred(granted >= 0 && granted <= 2 ? Final::ok()
                                                        : Final::cme(spwf::kRequestFailed));
        });
        return Final::deferred();
    });
    addCommand("+S.MQTTUNSUB", [this](const AtCommand& c) {
        // AT+S.MQTTUNSUB=<id>,<topic>
        std::string filter = c.argc() >= 2 ? joined(c, 1, c.argc()) : std::string();
        if (c.kind != AtKind::Set || filter.empty()) {
            return Final::cme(spwf::kBadParameter);
        }
        Final err;
        MqttClient* m = findMqtt(c, err);
        if (m == nullptr) {
            return err;
        }
        m->link->unsubscribe(filter, [this](bool ok, const std::string&) {
            finishDeferred(ok ? Final::ok() : Final::cme(spwf::kRequestFailed));
        });
        return Final::deferred();
    });
    addCommand("+S.MQTTDISC", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || c.argc() != 1) {
            return Final::cme(spwf::kBadParameter);
        }
        Final err;
        MqttClient* m = findMqtt(c, err);
        if (m == nullptr) {
            return err;
        }
        int id = static_cast<int>(*c.intArg(0));
        MqttLinkPtr link = m->link;
        m->connected = false;
        link->disconnect([this, id, link](bool, const std::string&) {
            auto it = mqtt_.find(id);
            if (it != mqtt_.end() && it->second.link == link) {
                mqtt_.erase(it);
            }
            asio::post(io_, [link] {});
            finishDeferred(Final::ok());
        });
        return Final::deferred();
    });
}

}  // namespace uplinkd::emulator
