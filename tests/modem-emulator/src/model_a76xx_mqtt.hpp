// SPDX-License-Identifier: Apache-2.0
// The A76xx MQTT client (AT+CMQTT*): per-client state and the CMQTT <err> table. The commands
// are in model_a76xx_mqtt.cpp and model_a76xx_mqtt_data.cpp; MQTT itself is MqttLink's.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt_link.hpp"

namespace uplinkd::emulator {

/// CMQTT <err> codes (SIMCom A76XX manual ch. 18.3).
namespace cmqtt {
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kBadUtf8 = 2;
constexpr int kSockConnect = 3;
constexpr int kNetOpenFail = 7;
constexpr int kNoConnection = 11;
constexpr int kInvalidParam = 12;
constexpr int kBusy = 14;
constexpr int kTimeout = 17;
constexpr int kTopicEmpty = 18;
constexpr int kClientUsed = 19;
constexpr int kNotAcquired = 20;
constexpr int kNotReleased = 21;
constexpr int kLengthRange = 22;
constexpr int kDns = 25;
constexpr int kClosedByServer = 26;
constexpr int kConnackBase = 26;  ///< CONNACK return code 1-5 → 27-31
constexpr int kHandshake = 32;
constexpr int kCertNotSet = 33;
}  // namespace cmqtt

/// The CMQTT <err> of a failed connect (pure).
int cmqttConnectError(MqttConnectResult r, int connack_code);

/// True when `s` is well-formed UTF-8 without NUL (what checkUTF8 1 asks of topics).
bool validMqttUtf8(std::string_view s);

/// One CMQTT client (index 0-1) as the host set it up; a value type, loop thread.
struct CmqttClient {
    enum class State { Disconnected, Connecting, Connected, Disconnecting };

    bool acquired = false;
    std::string client_id;
    int server_type = 0;         ///< 0 TCP, 1 SSL/TLS
    std::optional<int> ssl_ctx;  ///< AT+CMQTTSSLCFG; cleared after a failed connect or DISC
    int check_utf8 = 1;
    int optimeout = 120;
    int version = 3;  ///< the module's default: MQTT 3.1
    std::optional<std::string> will_topic;
    std::string will_msg;
    int will_qos = 0;

    State state = State::Disconnected;
    std::string server;  ///< "tcp://host:port" as given
    int keepalive = 0;
    int clean = 1;
    std::optional<std::string> user;

    std::optional<std::string> topic;  ///< AT+CMQTTTOPIC, cleared by CMQTTPUB
    std::string payload;               ///< AT+CMQTTPAYLOAD, cleared by CMQTTPUB
    std::vector<std::pair<std::string, int>> sub_topics;
    std::vector<std::string> unsub_topics;
    MqttLinkPtr link;
    uint64_t attempt = 0;  ///< bumped at each connect and loss: stale callbacks are ignored
    uint64_t published = 0;
    uint64_t received = 0;
};

}  // namespace uplinkd::emulator
