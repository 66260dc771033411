// SPDX-License-Identifier: Apache-2.0
#include "a76xx_mqtt_commands.hpp"

#include <algorithm>

#include "a76xx_commands.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::simcom_a76xx {

namespace {

using modem_common::AtCommandStep;
using modem_common::quoted;
using modem_common::safeForQuotedArgument;
using modem_common::StepPolicy;

std::string client() {
    return std::to_string(kMqttClient);
}

/// A value for a quoted argument of at most `max` bytes (`optional`: may be empty).
bool quotable(const std::string& value, size_t max, bool optional) {
    return (optional || !value.empty()) && value.size() <= max && safeForQuotedArgument(value);
}

int keepAlive(int seconds) {
    // 0 (no keep-alive) is not offered by the module: the longest it takes instead.
    return seconds <= 0 ? kMqttMaxKeepAlive
                        : std::clamp(seconds, kMqttMinKeepAlive, kMqttMaxKeepAlive);
}

}  // namespace

std::optional<Error> mqttConnectProblem(const ModemMqttConnect& p) {
    const std::string fallback =
        " (or use mqtt = \"uplinkd\", which speaks MQTT over the "
        "module's sockets)";
    if (!p.websocket_path.empty()) {
        return makeError("mqtt_unsupported",
                         "the module's MQTT client speaks MQTT over TCP only, not over "
                         "WebSocket" +
                             fallback);
    }
    if (!p.alpn.empty()) {
        return makeError("mqtt_unsupported",
                         "the module's MQTT client cannot offer ALPN protocols (wanted for " +
                             p.host + ":" + std::to_string(p.port) +
                             "): connect to a port that needs none (AWS IoT: 8883)" + fallback);
    }
    if (p.host.empty() || !safeForQuotedArgument(p.host) || mqttServer(p).size() > kMqttMaxServer) {
        return makeError("bad_host", "the host name \"" + p.host.substr(0, 64) +
                                         "\" cannot be given to the module's MQTT client (\"tcp://"
                                         "host:port\" has at most 256 characters)");
    }
    if (p.tls && !p.server_name.empty() && p.server_name != p.host) {
        return makeError("mqtt_unsupported",
                         "the module's MQTT client sends the host it connects to as the TLS "
                         "server name (SNI) and checks the certificate against it; it cannot "
                         "connect to " +
                             p.host + " and use the name " + p.server_name +
                             ": set the broker host to " + p.server_name +
                             " or leave tls.server_name unset" + fallback);
    }
    if (p.port == 0) {
        return makeError("bad_port", "port 0 cannot be connected to");
    }
    if (!quotable(p.client_id, kMqttMaxClientId, false)) {
        return makeError("config",
                         "the MQTT client id \"" + modem_common::printable(p.client_id, 64) +
                             "\" cannot be given to the module: it takes 1 to 128 characters, "
                             "no '\"' and no control characters");
    }
    if (!quotable(p.username, kMqttMaxCredential, true)) {
        return makeError("config",
                         "the MQTT user name cannot be given to the module: it takes at most "
                         "256 characters, no '\"' and no control characters");
    }
    if (!quotable(p.password, kMqttMaxCredential, true)) {
        // The password itself is never shown.
        return makeError("config",
                         "the MQTT password cannot be given to the module: it takes at most 256 "
                         "characters, no '\"' and no control characters");
    }
    if (!p.password.empty() && p.username.empty()) {
        return makeError("config",
                         "the module's MQTT client sends a password only with a user name: set "
                         "the user name too");
    }
    return std::nullopt;
}

std::string mqttServer(const ModemMqttConnect& p) {
    return "tcp://" + p.host + ":" + std::to_string(p.port);
}

int mqttOpTimeout(int timeout_s) {
    return std::clamp(timeout_s, kMqttMinOpTimeout, kMqttMaxOpTimeout);
}

std::vector<AtCommandStep> mqttSetupSteps(const ModemMqttConnect& p,
                                          std::chrono::milliseconds timeout) {
    std::vector<AtCommandStep> steps = {
        {"AT+CMQTTACCQ=" + client() + "," + quoted(p.client_id) + "," + (p.tls ? "1" : "0"),
         timeout}};
    if (p.tls) {
        steps.push_back(
            {"AT+CMQTTSSLCFG=" + client() + "," + std::to_string(kSslContext), timeout});
    }
    steps.push_back(
        {"AT+CMQTTCFG=\"version\"," + client() + "," + std::to_string(kMqttVersion), timeout});
    steps.push_back(
        {"AT+CMQTTCFG=\"optimeout\"," + client() + "," + std::to_string(mqttOpTimeout(p.timeout_s)),
         timeout, StepPolicy::Optional});
    return steps;
}

std::string cmqttConnectCommand(const ModemMqttConnect& p) {
    std::string c = "AT+CMQTTCONNECT=" + client() + "," + quoted(mqttServer(p)) + "," +
                    std::to_string(keepAlive(p.keep_alive_s)) + "," + (p.clean_session ? "1" : "0");
    if (!p.username.empty()) {
        c += "," + quoted(p.username);
        if (!p.password.empty()) {
            c += "," + quoted(p.password);
        }
    }
    return c;
}

std::string cmqttDiscCommand() {
    return "AT+CMQTTDISC=" + client() + "," + std::to_string(kMqttDiscTimeout);
}

std::string cmqttRelCommand() {
    return "AT+CMQTTREL=" + client();
}

std::string cmqttTopicCommand(size_t length) {
    return "AT+CMQTTTOPIC=" + client() + "," + std::to_string(length);
}

std::string cmqttPayloadCommand(size_t length) {
    return "AT+CMQTTPAYLOAD=" + client() + "," + std::to_string(length);
}

std::string cmqttPubCommand(int qos, bool retain) {
    return "AT+CMQTTPUB=" + client() + "," + std::to_string(qos) + "," +
           std::to_string(kMqttPubTimeout) + "," + (retain ? "1" : "0");
}

std::string cmqttSubCommand(size_t length, int qos) {
    return "AT+CMQTTSUB=" + client() + "," + std::to_string(length) + "," + std::to_string(qos);
}

std::string cmqttUnsubCommand(size_t length) {
    return "AT+CMQTTUNSUB=" + client() + "," + std::to_string(length) + ",0";
}

std::string mqttResultPrefix(std::string_view command) {
    return std::string(command) + " " + client() + ",";
}

ModemMqttLimits mqttLimits() {
    ModemMqttLimits l;
    l.max_topic_bytes = kMqttMaxTopic;
    l.max_payload_bytes = kMqttMaxPayload;
    l.binary_payload = true;  // AT+CMQTTPAYLOAD takes exactly <len> bytes after ">"
    l.max_qos = kMqttMaxQos;
    l.qos1_acknowledged = true;
    l.max_subscriptions = 0;
    l.delivery_note =
        "QoS 1: delivered once the module reports +CMQTTPUB: 0,0, which it sends when the "
        "broker acknowledged (PUBACK); one publish at a time. QoS 0: once the module sent it. "
        "Payloads of up to 10240 bytes, topics of up to 1024.";
    return l;
}

}  // namespace uplinkd::plugins::simcom_a76xx
