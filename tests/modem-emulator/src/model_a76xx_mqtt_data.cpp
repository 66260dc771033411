// SPDX-License-Identifier: Apache-2.0
// A76xxModel's MQTT client, data part: the `>` data phases (AT+CMQTTTOPIC/PAYLOAD/WILLTOPIC/
// WILLMSG/SUBTOPIC/UNSUBTOPIC), AT+CMQTTPUB/SUB/UNSUB and incoming messages in blocks.
#include "model_a76xx.hpp"
#include "model_a76xx_mqtt.hpp"

namespace uplinkd::emulator {
namespace {

constexpr long kMaxTopic = 1024;
constexpr long kMaxPayload = 10240;
constexpr size_t kRxBlock = 1500;

}  // namespace

std::shared_ptr<bool> A76xxModel::mqttAckTimer(const std::string& name, int idx, uint64_t attempt,
                                               int seconds) {
    auto done = std::make_shared<bool>(false);
    after(std::chrono::seconds(seconds), [this, name, idx, attempt, done] {
        if (!*done && mqtt_[static_cast<size_t>(idx)].attempt == attempt) {
            *done = true;
            urc(name + ": " + std::to_string(idx) + "," + std::to_string(cmqtt::kTimeout));
        }
    });
    return done;
}

void A76xxModel::onMqttMessage(int idx, const std::string& topic, const std::string& payload) {
    CmqttClient& cl = mqtt_[static_cast<size_t>(idx)];
    ++cl.received;
    std::string id = std::to_string(idx);
    urc("+CMQTTRXSTART: " + id + "," + std::to_string(topic.size()) + "," +
        std::to_string(payload.size()));
    for (size_t at = 0; at < topic.size(); at += kRxBlock) {
        std::string part = topic.substr(at, kRxBlock);
        urc("+CMQTTRXTOPIC: " + id + "," + std::to_string(part.size()), part);
    }
    for (size_t at = 0; at < payload.size(); at += kRxBlock) {
        std::string part = payload.substr(at, kRxBlock);
        urc("+CMQTTRXPAYLOAD: " + id + "," + std::to_string(part.size()), part);
    }
    urc("+CMQTTRXEND: " + id);
}

void A76xxModel::addMqttDataCommands() {
    // Every `>` phase: started, index 0-1, client acquired, length in range; the bytes are
    // read by count, then `store` keeps them (topics checked for UTF-8 when checkUTF8 is 1).
    auto prompt = [this](const std::string& name, const AtCommand& c, long max, bool is_topic,
                         std::function<void(CmqttClient&, std::string)> store) {
        std::optional<int> idx;
        CmqttClient* cl = cmqttClient(c, &idx);
        if (!cl || c.kind != AtKind::Set) {
            return Final::error();
        }
        if (!cl->acquired) {
            misuse("AT" + name + " on client " + std::to_string(*idx) + " before AT+CMQTTACCQ");
            return cmqttFail(name, *idx, cmqtt::kNotAcquired);
        }
        auto len = inRange(c, 1, 1, max);
        if (!len) {
            misuse("AT" + name + " length '" + c.str(1) + "' outside 1-" + std::to_string(max));
            return cmqttFail(name, *idx, cmqtt::kLengthRange);
        }
        int id = *idx;
        startDataPhase(DataPhase::count(static_cast<size_t>(*len)), kDataPrompt,
                       [this, id, name, is_topic, store](const DataPhase& p) {
                           CmqttClient& c2 = mqtt_[static_cast<size_t>(id)];
                           if (is_topic && c2.check_utf8 == 1 && !validMqttUtf8(p.data())) {
                               return cmqttFail(name, id, cmqtt::kBadUtf8);
                           }
                           store(c2, p.data());
                           return Final::ok();
                       });
        return Final::pending();
    };
    addCommand("+CMQTTTOPIC", [prompt](const AtCommand& c) {
        return prompt("+CMQTTTOPIC", c, kMaxTopic, true,
                      [](CmqttClient& cl, std::string d) { cl.topic = std::move(d); });
    });
    addCommand("+CMQTTPAYLOAD", [prompt](const AtCommand& c) {
        return prompt("+CMQTTPAYLOAD", c, kMaxPayload, false,
                      [](CmqttClient& cl, std::string d) { cl.payload = std::move(d); });
    });
    addCommand("+CMQTTWILLTOPIC", [prompt](const AtCommand& c) {
        return prompt("+CMQTTWILLTOPIC", c, kMaxTopic, true,
                      [](CmqttClient& cl, std::string d) { cl.will_topic = std::move(d); });
    });
    addCommand("+CMQTTWILLMSG", [this, prompt](const AtCommand& c) {
        auto qos = inRange(c, 2, 0, 2);
        if (mqtt_started_ && !qos) {
            return Final::error();
        }
        int q = qos.value_or(0);
        return prompt("+CMQTTWILLMSG", c, kMaxTopic, false, [q](CmqttClient& cl, std::string d) {
            cl.will_msg = std::move(d);
            cl.will_qos = q;
        });
    });
    addCommand("+CMQTTSUBTOPIC", [this, prompt](const AtCommand& c) {
        auto qos = inRange(c, 2, 0, 2);
        if (mqtt_started_ && (!qos || c.argc() != 3)) {
            return Final::error();
        }
        int q = qos.value_or(0);
        return prompt("+CMQTTSUBTOPIC", c, kMaxTopic, true, [q](CmqttClient& cl, std::string d) {
            cl.sub_topics.emplace_back(std::move(d), q);
        });
    });
    addCommand("+CMQTTUNSUBTOPIC", [this, prompt](const AtCommand& c) {
        if (mqtt_started_ && c.argc() != 2) {
            return Final::error();
        }
        return prompt("+CMQTTUNSUBTOPIC", c, kMaxTopic, true,
                      [](CmqttClient& cl, std::string d) { cl.unsub_topics.push_back(d); });
    });
}

void A76xxModel::addMqttPublishCommands() {
    addCommand("+CMQTTPUB", [this](const AtCommand& c) {
        std::optional<int> idx;
        CmqttClient* cl = cmqttClient(c, &idx);
        if (!cl || c.kind != AtKind::Set) {
            return Final::error();
        }
        const char* name = "+CMQTTPUB";
        auto qos = inRange(c, 1, 0, 2);
        auto timeout = inRange(c, 2, 1, 180);
        auto retain = c.has(3) ? inRange(c, 3, 0, 1) : std::optional<int>(0);
        auto dup = c.has(4) ? inRange(c, 4, 0, 1) : std::optional<int>(0);
        if (!qos || !timeout || !retain || !dup || c.argc() > 5) {
            return cmqttFail(name, *idx, cmqtt::kInvalidParam);
        }
        if (!cl->acquired) {
            return cmqttFail(name, *idx, cmqtt::kNotAcquired);
        }
        if (cl->state != CmqttClient::State::Connected || !cl->link) {
            misuse("AT+CMQTTPUB on client " + std::to_string(*idx) + ", which is not connected");
            return cmqttFail(name, *idx, cmqtt::kNoConnection);
        }
        if (!cl->topic) {
            misuse("AT+CMQTTPUB without AT+CMQTTTOPIC");
            return cmqttFail(name, *idx, cmqtt::kTopicEmpty);
        }
        std::string topic = std::move(*cl->topic);
        std::string payload = std::move(cl->payload);
        cl->topic.reset();  // topic and payload are cleared by CMQTTPUB
        cl->payload.clear();
        ++cl->published;
        int id = *idx;
        auto done = mqttAckTimer(name, id, cl->attempt, *timeout);
        cl->link->publish(std::move(topic), std::move(payload), *qos, *retain == 1,
                          [this, id, done](bool ok, const std::string&) {
                              if (!*done) {
                                  *done = true;
                                  urc("+CMQTTPUB: " + std::to_string(id) + "," +
                                      std::to_string(ok ? cmqtt::kOk : cmqtt::kFailed));
                              }
                          });
        return Final::ok();
    });
    // SUB and UNSUB: with a length the topic follows a `>` prompt; without one the topics
    // collected by SUBTOPIC / UNSUBTOPIC are sent.
    auto request = [this](const std::string& name, int id, bool subscribe,
                          std::vector<std::pair<std::string, int>> topics) {
        CmqttClient& cl = mqtt_[static_cast<size_t>(id)];
        auto done = mqttAckTimer(name, id, cl.attempt, cl.optimeout);
        auto report = [this, name, id, done](bool ok) {
            if (!*done) {
                *done = true;
                urc(name + ": " + std::to_string(id) + "," +
                    std::to_string(ok ? cmqtt::kOk : cmqtt::kFailed));
            }
        };
        // One request per topic; the client reports once, when all are acknowledged.
        auto left = std::make_shared<size_t>(topics.size());
        auto all_ok = std::make_shared<bool>(true);
        auto one = [report, left, all_ok](bool ok) {
            *all_ok = *all_ok && ok;
            if (--*left == 0) {
                report(*all_ok);
            }
        };
        for (const auto& [topic, qos] : topics) {
            if (subscribe) {
                cl.link->subscribe(topic, qos,
                                   [one](int granted) { one(granted >= 0 && granted <= 2); });
            } else {
                cl.link->unsubscribe(topic, [one](bool ok, const std::string&) { one(ok); });
            }
        }
    };
    auto handler = [this, request](const std::string& name, bool subscribe, const AtCommand& c) {
        std::optional<int> idx;
        CmqttClient* cl = cmqttClient(c, &idx);
        if (!cl || c.kind != AtKind::Set) {
            return Final::error();
        }
        if (!cl->acquired) {
            return cmqttFail(name, *idx, cmqtt::kNotAcquired);
        }
        // SUB: idx,len,qos[,dup] or idx[,dup]; UNSUB: idx,len,dup or idx[,dup].
        bool with_topic = c.argc() >= 3;
        std::optional<int> len;
        std::optional<int> qos = 0;
        if (with_topic) {
            len = inRange(c, 1, 1, kMaxTopic);
            qos = subscribe ? inRange(c, 2, 0, 2) : std::optional<int>(0);
            auto dup = inRange(c, subscribe ? 3 : 2, 0, 1);
            if (!qos || (c.has(subscribe ? 3 : 2) && !dup) || c.argc() > (subscribe ? 4u : 3u)) {
                return cmqttFail(name, *idx, cmqtt::kInvalidParam);
            }
            if (!len) {
                misuse("AT" + name + " length '" + c.str(1) + "' outside 1-1024");
                return cmqttFail(name, *idx, cmqtt::kLengthRange);
            }
        } else if (c.has(1) && !inRange(c, 1, 0, 1)) {
            return cmqttFail(name, *idx, cmqtt::kInvalidParam);
        }
        if (cl->state != CmqttClient::State::Connected || !cl->link) {
            misuse("AT" + name + " on client " + std::to_string(*idx) + ", which is not connected");
            return cmqttFail(name, *idx, cmqtt::kNoConnection);
        }
        int id = *idx;
        if (!with_topic) {
            bool empty = subscribe ? cl->sub_topics.empty() : cl->unsub_topics.empty();
            if (empty) {
                misuse("AT" + name + " without topics (AT" + name + "TOPIC first)");
                return cmqttFail(name, id, cmqtt::kTopicEmpty);
            }
            std::vector<std::pair<std::string, int>> topics;
            if (subscribe) {
                topics = std::move(cl->sub_topics);
            } else {
                for (auto& t : cl->unsub_topics) {
                    topics.emplace_back(std::move(t), 0);
                }
            }
            cl->sub_topics.clear();
            cl->unsub_topics.clear();
            request(name, id, subscribe, std::move(topics));
            return Final::ok();
        }
        int q = *qos;
        startDataPhase(DataPhase::count(static_cast<size_t>(*len)), kDataPrompt,
                       [this, id, q, name, subscribe, request](const DataPhase& p) {
                           CmqttClient& c2 = mqtt_[static_cast<size_t>(id)];
                           if (c2.check_utf8 == 1 && !validMqttUtf8(p.data())) {
                               return cmqttFail(name, id, cmqtt::kBadUtf8);
                           }
                           if (c2.state != CmqttClient::State::Connected || !c2.link) {
                               return cmqttFail(name, id, cmqtt::kNoConnection);
                           }
                           request(name, id, subscribe, {{p.data(), q}});
                           return Final::ok();
                       });
        return Final::pending();
    };
    addCommand("+CMQTTSUB",
               [handler](const AtCommand& c) { return handler("+CMQTTSUB", true, c); });
    addCommand("+CMQTTUNSUB",
               [handler](const AtCommand& c) { return handler("+CMQTTUNSUB", false, c); });
}

}  // namespace uplinkd::emulator
