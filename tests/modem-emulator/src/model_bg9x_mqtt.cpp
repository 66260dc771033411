// SPDX-License-Identifier: Apache-2.0
// Bg9xModel: the MQTT client (AT+QMTCFG/QMTOPEN/QMTCONN/QMTPUB/QMTSUB/QMTUNS/QMTRECV/QMTDISC/
// QMTCLOSE, +QMTRECV and +QMTSTAT URCs) over MqttLink.
#include "bg9x_codes.hpp"
#include "model_bg9x.hpp"

namespace uplinkd::emulator {

namespace {

constexpr size_t kMaxPublish = 4096;
constexpr int kStoreSlots = 5;

// +QMTOPEN <result>
constexpr int kOpenNetworkFailed = -1;
constexpr int kOpenIdentifierUsed = 2;
constexpr int kOpenPdpFailed = 3;
constexpr int kOpenDnsFailed = 4;
// +QMTSTAT <err>
constexpr int kStatPeerClosed = 1;
constexpr int kStatPingTimeout = 2;
constexpr int kStatConnackTimeout = 4;

const char* stateName(int s) {
    static const char* const kNames[] = {"closed",     "opening",   "open",
                                         "connecting", "connected", "disconnecting"};
    return kNames[s];
}

}  // namespace

MqttLinkPtr Bg9xModel::newLink(int c) {
    auto link = std::make_shared<MqttLink>(io_);
    MqttLink* raw = link.get();
    link->onMessage(
        [this, c, raw](const std::string& topic, const std::string& payload, int qos, bool) {
            if (mqtt_[static_cast<size_t>(c)].link.get() == raw) {
                mqttMessage(c, topic, payload, qos);
            }
        });
    link->onLost([this, c, raw](MqttLostReason r, const std::string& detail) {
        if (mqtt_[static_cast<size_t>(c)].link.get() == raw) {
            log_.note("MQTT client " + std::to_string(c) + " lost: " + detail);
            mqttLost(c, r);
        }
    });
    return link;
}

void Bg9xModel::mqttReset(int c) {
    MqttClient& m = mqtt_[static_cast<size_t>(c)];
    if (m.link) {
        m.link->close();
        m.link.reset();
    }
    m.state = MqttClient::State::Closed;
    m.stored.clear();
}

void Bg9xModel::mqttLost(int c, MqttLostReason r) {
    mqttReset(c);
    urc("+QMTSTAT: " + std::to_string(c) + "," +
        std::to_string(r == MqttLostReason::PeerClosed ? kStatPeerClosed : kStatPingTimeout));
}

void Bg9xModel::mqttOpen(int c, const std::string& host, uint16_t port) {
    MqttClient& m = mqtt_[static_cast<size_t>(c)];
    const std::string result = "+QMTOPEN: " + std::to_string(c) + ",";
    if (!pdps_[static_cast<size_t>(m.pdp)].active) {
        urc(result + std::to_string(kOpenPdpFailed));
        return;
    }
    TlsOptions tls;
    if (m.ssl) {
        std::string why;
        auto t = tlsFor(m.ssl_ctx, host, why);
        if (!t) {
            log_.note("MQTT client " + std::to_string(c) + ": " + why);
            urc(result + std::to_string(kOpenNetworkFailed));
            return;
        }
        tls = std::move(*t);
    }
    m.link = newLink(c);
    m.state = MqttClient::State::Opening;
    m.host = host;
    m.port = port;
    MqttLink* raw = m.link.get();
    m.link->open(host, port, std::move(tls), opts_.connect_timeout,
                 [this, c, raw, result](ConnectError e, const std::string& detail) {
                     MqttClient& mm = mqtt_[static_cast<size_t>(c)];
                     if (mm.link.get() != raw) {
                         return;
                     }
                     if (e == ConnectError::None) {
                         mm.state = MqttClient::State::Open;
                         urc(result + "0");
                         return;
                     }
                     log_.note("MQTT client " + std::to_string(c) + " open failed: " + toString(e) +
                               ": " + detail);
                     mqttReset(c);
                     urc(result + std::to_string(e == ConnectError::Dns ? kOpenDnsFailed
                                                                        : kOpenNetworkFailed));
                 });
}

void Bg9xModel::mqttConnect(int c, MqttSession s) {
    MqttClient& m = mqtt_[static_cast<size_t>(c)];
    m.state = MqttClient::State::Connecting;
    MqttLink* raw = m.link.get();
    m.link->connect(std::move(s), [this, c, raw](const MqttConnectOutcome& o) {
        MqttClient& mm = mqtt_[static_cast<size_t>(c)];
        if (mm.link.get() != raw) {
            return;
        }
        const std::string head = "+QMTCONN: " + std::to_string(c) + ",";
        switch (o.result) {
            case MqttConnectResult::Ok:
                mm.state = MqttClient::State::Connected;
                urc(head + "0,0");
                return;
            case MqttConnectResult::ConnackRefused:
                // The packet went out and the broker answered: result 0 with its return code.
                mqttReset(c);
                urc(head + "0," + std::to_string(o.connack_code));
                return;
            default:
                log_.note("MQTT client " + std::to_string(c) +
                          " connect failed: " + toString(o.result) + ": " + o.detail);
                mqttReset(c);
                urc(head + "2");
                urc("+QMTSTAT: " + std::to_string(c) + "," +
                    std::to_string(o.result == MqttConnectResult::Timeout ? kStatConnackTimeout
                                                                          : kStatPeerClosed));
                return;
        }
    });
}

void Bg9xModel::mqttPublishData(int c, int msgid, int qos, bool retain, const std::string& topic,
                                const std::string& payload) {
    MqttClient& m = mqtt_[static_cast<size_t>(c)];
    const std::string head = "+QMTPUB: " + std::to_string(c) + "," + std::to_string(msgid) + ",";
    if (m.state != MqttClient::State::Connected || !m.link) {
        urc(head + "2");
        return;
    }
    MqttLink* raw = m.link.get();
    m.link->publish(topic, payload, qos, retain, [this, c, raw, head](bool ok, const std::string&) {
        if (mqtt_[static_cast<size_t>(c)].link.get() == raw || !ok) {
            urc(head + (ok ? "0" : "2"));
        }
    });
}

void Bg9xModel::mqttMessage(int c, const std::string& topic, const std::string& payload, int qos) {
    MqttClient& m = mqtt_[static_cast<size_t>(c)];
    int msgid = 0;
    if (qos > 0) {
        m.rx_id = static_cast<uint16_t>(m.rx_id == 65535 ? 1 : m.rx_id + 1);
        msgid = m.rx_id;
    }
    std::string body = std::to_string(c) + "," + std::to_string(msgid) + ",\"" + topic + "\"";
    if (m.recv_len == 1) {
        body += "," + std::to_string(payload.size());
    }
    body += ",\"" + payload + "\"";
    if (m.recv_mode == 0) {
        urc("+QMTRECV: " + body);
        return;
    }
    for (int slot = 0; slot < kStoreSlots; ++slot) {
        if (m.stored.count(slot) == 0) {
            m.stored[slot] = body;
            urc("+QMTRECV: " + std::to_string(c) + "," + std::to_string(slot));
            return;
        }
    }
    log_.note("MQTT client " + std::to_string(c) + ": message store full, message dropped");
}

nlohmann::json Bg9xModel::mqttStatus() const {
    nlohmann::json list = nlohmann::json::array();
    for (int c = 0; c < kMqttClients; ++c) {
        const MqttClient& m = mqtt_[static_cast<size_t>(c)];
        nlohmann::json j = {{"client", c},
                            {"state", stateName(static_cast<int>(m.state))},
                            {"version", m.version},
                            {"ssl", m.ssl},
                            {"ssl_ctx", m.ssl_ctx},
                            {"keepalive", m.keepalive},
                            {"clean_session", m.clean},
                            {"host", m.host},
                            {"port", m.port}};
        if (m.link) {
            j["link"] = m.link->status();
        }
        list.push_back(j);
    }
    return list;
}

void Bg9xModel::addMqttCommands() {
    auto client = [this](const AtCommand& c) -> std::optional<int> {
        return c.kind == AtKind::Set ? inRange(c, 0, 0, kMqttClients - 1) : std::nullopt;
    };
    const std::vector<std::string> qmtopen_test = {"+QMTOPEN: (0-5),\"<hostname>\",(0-65535)"};
    addCommand("+QMTOPEN", qmtopen_test, [this, client](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            if (model_id_.rfind("BG96", 0) == 0) {
                // BG96 quirk: the query does not answer reliably over serial; here it never
                // lists the open clients, so a host must track QMTOPEN results itself.
                log_.note("AT+QMTOPEN? on a BG96: no client lines (unreliable on this firmware)");
                return Final::ok();
            }
            for (int i = 0; i < kMqttClients; ++i) {
                const MqttClient& m = mqtt_[static_cast<size_t>(i)];
                if (m.state != MqttClient::State::Closed) {
                    respond("+QMTOPEN: " + std::to_string(i) + ",\"" + m.host + "\"," +
                            std::to_string(m.port));
                }
            }
            return Final::ok();
        }
        auto id = client(c);
        auto port = inRange(c, 2, 1, 65535);
        if (!id || !port || !c.quoted(1) || c.str(1).empty() || c.argc() != 3) {
            return Final::error();
        }
        if (mqtt_[static_cast<size_t>(*id)].state != MqttClient::State::Closed) {
            misuse("AT+QMTOPEN on MQTT client " + std::to_string(*id) + ", which is open");
            urc("+QMTOPEN: " + std::to_string(*id) + "," + std::to_string(kOpenIdentifierUsed));
            return Final::ok();
        }
        mqttOpen(*id, c.str(1), static_cast<uint16_t>(*port));
        return Final::ok();
    });
    // The <state> that AT+QMTCONN? reports for a client; 0 for one it does not list.
    auto qmtconn_state = [](MqttClient::State s) {
        switch (s) {
            case MqttClient::State::Open:
                return 1;
            case MqttClient::State::Connecting:
                return 2;
            case MqttClient::State::Connected:
                return 3;
            case MqttClient::State::Disconnecting:
                return 4;
            default:
                return 0;
        }
    };
    const std::vector<std::string> qmtconn_test = {
        "+QMTCONN: (0-5),\"<clientID>\",\"<username>\",\"<password>\""};
    addCommand("+QMTCONN", qmtconn_test, [this, client, qmtconn_state](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (int i = 0; i < kMqttClients; ++i) {
                const MqttClient& m = mqtt_[static_cast<size_t>(i)];
                const int state = qmtconn_state(m.state);
                if (state != 0) {
                    respond("+QMTCONN: " + std::to_string(i) + "," + std::to_string(state));
                }
            }
            return Final::ok();
        }
        auto id = client(c);
        if (!id || !c.quoted(1) || c.str(1).empty() || (c.argc() != 2 && c.argc() != 4)) {
            return Final::error();
        }
        MqttClient& m = mqtt_[static_cast<size_t>(*id)];
        if (m.state != MqttClient::State::Open) {
            misuse("AT+QMTCONN on MQTT client " + std::to_string(*id) + ", which is " +
                   stateName(static_cast<int>(m.state)) + " (AT+QMTOPEN first)");
            return Final::error();
        }
        MqttSession s;
        s.client_id = c.str(1);
        if (c.argc() == 4) {
            s.username = c.str(2);
            s.password = c.str(3);
        }
        s.version = m.version;
        s.keep_alive_s = m.keepalive;
        s.clean_session = m.clean;
        s.will = m.will;
        s.timeout = std::chrono::seconds(m.pkt_timeout);
        mqttConnect(*id, std::move(s));
        return Final::ok();
    });
    const std::vector<std::string> qmtpub_test = {
        "+QMTPUB: (0-5),<msgid>,(0-2),(0,1),\"<topic>\",(1-4096)"};
    addCommand("+QMTPUB", qmtpub_test, [this, client](const AtCommand& c) {
        auto id = client(c);
        auto qos = inRange(c, 2, 0, 2);
        auto msgid = qos && *qos == 0 ? inRange(c, 1, 0, 0) : inRange(c, 1, 1, 65535);
        auto retain = inRange(c, 3, 0, 1);
        if (!id || !qos || !msgid || !retain || !c.quoted(4) || c.str(4).empty() || c.argc() > 6) {
            return Final::error();
        }
        if (mqtt_[static_cast<size_t>(*id)].state != MqttClient::State::Connected) {
            misuse("AT+QMTPUB on MQTT client " + std::to_string(*id) + ", which is not connected");
            return Final::error();
        }
        const int cid = *id;
        const int mid = *msgid;
        const int q = *qos;
        const bool r = *retain == 1;
        const std::string topic = c.str(4);
        auto done = whenComplete([this, cid, mid, q, r, topic](const DataPhase& p) {
            mqttPublishData(cid, mid, q, r, topic, p.data());
            return Final::ok();
        });
        if (!c.has(5)) {
            startDataPhase(DataPhase::ctrlZ(kMaxPublish), kDataPrompt, done);
            return Final::pending();
        }
        return countedSend(c, 5, 0, kMaxPublish, "AT+QMTPUB", done);
    });
    auto subscription = [this, client](const AtCommand& c, bool subscribe) {
        auto id = client(c);
        auto msgid = inRange(c, 1, 1, 65535);
        const size_t per = subscribe ? 2 : 1;
        if (!id || !msgid || c.argc() < 2 + per || (c.argc() - 2) % per != 0) {
            return Final::error();
        }
        std::vector<std::pair<std::string, int>> filters;
        for (size_t i = 2; i < c.argc(); i += per) {
            auto qos = subscribe ? inRange(c, i + 1, 0, 2) : std::optional<int>(0);
            if (!c.quoted(i) || c.str(i).empty() || !qos) {
                return Final::error();
            }
            filters.emplace_back(c.str(i), *qos);
        }
        MqttClient& m = mqtt_[static_cast<size_t>(*id)];
        if (m.state != MqttClient::State::Connected) {
            misuse(std::string(subscribe ? "AT+QMTSUB" : "AT+QMTUNS") + " on MQTT client " +
                   std::to_string(*id) + ", which is not connected");
            return Final::error();
        }
        // One request per filter; the URC comes when all are answered.
        struct Pending {
            size_t left;
            std::vector<int> granted;
            bool failed = false;
        };
        auto pending = std::make_shared<Pending>(Pending{filters.size(), {}, false});
        pending->granted.resize(filters.size(), 0);
        const std::string head = std::string(subscribe ? "+QMTSUB: " : "+QMTUNS: ") +
                                 std::to_string(*id) + "," + std::to_string(*msgid) + ",";
        auto finish = [this, pending, head, subscribe] {
            if (--pending->left > 0) {
                return;
            }
            if (pending->failed) {
                urc(head + "2");
                return;
            }
            std::string line = head + "0";
            if (subscribe) {
                for (int g : pending->granted) {
                    line += "," + std::to_string(g);
                }
            }
            urc(line);
        };
        for (size_t i = 0; i < filters.size(); ++i) {
            if (subscribe) {
                m.link->subscribe(filters[i].first, filters[i].second,
                                  [pending, i, finish](int granted) {
                                      pending->failed = pending->failed || granted < 0;
                                      pending->granted[i] = granted;
                                      finish();
                                  });
            } else {
                m.link->unsubscribe(filters[i].first,
                                    [pending, finish](bool ok, const std::string&) {
                                        pending->failed = pending->failed || !ok;
                                        finish();
                                    });
            }
        }
        return Final::ok();
    };
    addCommand("+QMTSUB", [subscription](const AtCommand& c) { return subscription(c, true); });
    addCommand("+QMTUNS", [subscription](const AtCommand& c) { return subscription(c, false); });
    addCommand("+QMTRECV", [this, client](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (int i = 0; i < kMqttClients; ++i) {
                const MqttClient& m = mqtt_[static_cast<size_t>(i)];
                if (m.recv_mode == 1 && m.state == MqttClient::State::Connected) {
                    std::string line = "+QMTRECV: " + std::to_string(i);
                    for (int s = 0; s < kStoreSlots; ++s) {
                        line += m.stored.count(s) ? ",1" : ",0";
                    }
                    respond(line);
                }
            }
            return Final::ok();
        }
        auto id = client(c);
        if (!id) {
            return Final::error();
        }
        MqttClient& m = mqtt_[static_cast<size_t>(*id)];
        std::optional<int> only;
        if (c.has(1)) {
            only = inRange(c, 1, 0, kStoreSlots - 1);
            if (!only) {
                return Final::error();
            }
        }
        for (auto it = m.stored.begin(); it != m.stored.end();) {
            if (only && it->first != *only) {
                ++it;
                continue;
            }
            respond("+QMTRECV: " + it->second);
            it = m.stored.erase(it);
        }
        return Final::ok();
    });
    addCommand("+QMTDISC", [this, client](const AtCommand& c) {
        auto id = client(c);
        if (!id) {
            return c.kind == AtKind::Test ? Final::ok() : Final::error();
        }
        MqttClient& m = mqtt_[static_cast<size_t>(*id)];
        if (m.state != MqttClient::State::Connected) {
            misuse("AT+QMTDISC on MQTT client " + std::to_string(*id) + ", which is not connected");
            return Final::error();
        }
        m.state = MqttClient::State::Disconnecting;
        const int cid = *id;
        MqttLink* raw = m.link.get();
        m.link->disconnect([this, cid, raw](bool, const std::string&) {
            if (mqtt_[static_cast<size_t>(cid)].link.get() == raw) {
                mqttReset(cid);
                urc("+QMTDISC: " + std::to_string(cid) + ",0");
            }
        });
        return Final::ok();
    });
    addCommand("+QMTCLOSE", [this, client](const AtCommand& c) {
        auto id = client(c);
        if (!id) {
            return c.kind == AtKind::Test ? Final::ok() : Final::error();
        }
        if (mqtt_[static_cast<size_t>(*id)].state == MqttClient::State::Closed) {
            misuse("AT+QMTCLOSE on MQTT client " + std::to_string(*id) + ", which is not open");
            return Final::error();
        }
        mqttReset(*id);
        urc("+QMTCLOSE: " + std::to_string(*id) + ",0");
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
