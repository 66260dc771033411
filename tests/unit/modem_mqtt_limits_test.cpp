// SPDX-License-Identifier: Apache-2.0
// What a module's MQTT client cannot carry is refused at publish time, naming the limit.
#include <gtest/gtest.h>

#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd {
namespace {

struct LimitCase {
    const char* what;
    std::string topic;
    std::string payload;
    int qos;
    const char* code;  ///< "" when it is carried
    const char* words;
};

ModemMqttLimits quotedTextModule() {
    ModemMqttLimits l;
    l.max_topic_bytes = 16;
    l.max_payload_bytes = 32;
    l.binary_payload = false;
    l.topic_forbidden = "\",";
    l.max_qos = 1;
    return l;
}

TEST(ModemMqttLimits, EachLimitIsNamed) {
    const LimitCase cases[] = {
        {"fits", "a/b", "21.5", 1, "", ""},
        {"QoS 2", "a/b", "x", 2, "bad_qos", "QoS 2 is more than the module's MQTT client offers"},
        {"long topic", std::string(17, 't'), "x", 1, "bad_topic", "the topic has 17 bytes"},
        {"quote in topic", "a\"b", "x", 1, "bad_topic", "cannot send a topic holding '\"'"},
        {"comma in topic", "a,b", "x", 0, "bad_topic", "holding ','"},
        {"large payload", "a", std::string(33, 'p'), 1, "too_large", "takes at most 32"},
        {"quote in payload", "a", "{\"t\":1}", 1, "bad_payload", "byte 1 of the payload (0x22)"},
        {"line break", "a", "x\r\ny", 1, "bad_payload", "byte 1 of the payload (0x0d)"},
        {"Ctrl-Z", "a", std::string("x\x1a", 2), 1, "bad_payload", "(0x1a)"},
    };
    for (const auto& c : cases) {
        const Status st = checkModemMqttPublish(quotedTextModule(), c.topic, c.payload, c.qos);
        if (std::string(c.code).empty()) {
            EXPECT_TRUE(st) << c.what << ": " << st.error().message;
            continue;
        }
        ASSERT_FALSE(st) << c.what;
        EXPECT_EQ(st.error().code, c.code) << c.what;
        EXPECT_NE(st.error().message.find(c.words), std::string::npos)
            << c.what << ": " << st.error().message;
    }
}

TEST(ModemMqttLimits, ABinaryModuleWithoutLimitsCarriesAnyBytes) {
    const std::string every_byte = [] {
        std::string s;
        for (int b = 0; b < 256; ++b) {
            s.push_back(static_cast<char>(b));
        }
        return s;
    }();
    EXPECT_TRUE(checkModemMqttPublish(ModemMqttLimits{}, "a/b", every_byte, 1));
    EXPECT_TRUE(checkModemMqttPublish(ModemMqttLimits{}, std::string(4000, 't'), "", 0));
}

}  // namespace
}  // namespace uplinkd
