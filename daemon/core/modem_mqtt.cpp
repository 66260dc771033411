// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd {

namespace {

/// A byte that cannot go inside a quoted AT argument.
bool breaksQuotedArgument(unsigned char c) {
    return c == '"' || c < 0x20 || c == 0x7F;
}

}  // namespace

Status checkModemMqttPublish(const ModemMqttLimits& limits, const std::string& topic,
                             const std::string& payload, int qos) {
    if (qos > limits.max_qos) {
        return fail("bad_qos", "QoS " + std::to_string(qos) + " is more than the module's MQTT " +
                                   "client offers (at most " + std::to_string(limits.max_qos) +
                                   ")");
    }
    if (limits.max_topic_bytes != 0 && topic.size() > limits.max_topic_bytes) {
        return fail("bad_topic", "the topic has " + std::to_string(topic.size()) +
                                     " bytes; the module's MQTT client takes at most " +
                                     std::to_string(limits.max_topic_bytes));
    }
    for (char c : topic) {
        if (limits.topic_forbidden.find(c) != std::string::npos) {
            return fail("bad_topic", std::string("the module's MQTT client cannot send a topic "
                                                 "holding '") +
                                         c + "'");
        }
    }
    if (limits.max_payload_bytes != 0 && payload.size() > limits.max_payload_bytes) {
        return fail("too_large", "the payload has " + std::to_string(payload.size()) +
                                     " bytes; the module's MQTT client takes at most " +
                                     std::to_string(limits.max_payload_bytes));
    }
    if (!limits.binary_payload) {
        for (size_t i = 0; i < payload.size(); ++i) {
            const auto c = static_cast<unsigned char>(payload[i]);
            if (breaksQuotedArgument(c)) {
                return fail("bad_payload",
                            "byte " + std::to_string(i) + " of the payload (0x" +
                                std::string(1, "0123456789abcdef"[c >> 4]) +
                                std::string(1, "0123456789abcdef"[c & 15]) +
                                ") cannot be sent by the module's MQTT client, which takes only "
                                "text without quotes or control characters");
            }
        }
    }
    return {};
}

}  // namespace uplinkd
