// SPDX-License-Identifier: Apache-2.0
#include "bx_commands.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using modem_common::quoted;

namespace {

std::string session() {
    return std::to_string(kMqttSession);
}

}  // namespace

std::string srwstacfgCommand(const std::string& ssid, const std::string& psk) {
    return "AT+SRWSTACFG=" + quoted(ssid) + "," + quoted(psk) + ",1";
}

std::string kcertstoreRootCommand(size_t n, int index) {
    std::string cmd = "AT+KCERTSTORE=0," + std::to_string(n);
    if (index >= 0) {
        cmd += "," + std::to_string(index);
    }
    return cmd;
}

std::string kcertstoreLocalCommand(size_t n, int index) {
    return "AT+KCERTSTORE=1," + std::to_string(n) + "," + std::to_string(index);
}

std::string kprivkstoreCommand(int index, size_t n) {
    return "AT+KPRIVKSTORE=" + std::to_string(index) + "," + std::to_string(n);
}

std::string kmqttcfgCommand(const ModemMqttConnect& c) {
    return "AT+KMQTTCFG=" + std::string(c.tls ? "1" : "0") + "," + quoted(c.host) + "," +
           std::to_string(c.port) + "," + std::to_string(kMqttVersion311) + "," +
           quoted(c.client_id) + "," + std::to_string(c.keep_alive_s) + "," +
           (c.clean_session ? "1" : "0") + ",0,\"\",\"\",0,0," + quoted(c.username) + "," +
           quoted(c.password);
}

std::string kmqttpubCommand(const std::string& topic, int qos, bool retain,
                            const std::string& payload) {
    return "AT+KMQTTPUB=" + session() + "," + quoted(topic) + "," + std::to_string(qos) + "," +
           (retain ? "1" : "0") + "," + quoted(payload);
}

std::string kmqttpubstartCommand(const std::string& topic, int qos, bool retain) {
    return "AT+KMQTTPUBSTART=" + session() + "," + quoted(topic) + "," + std::to_string(qos) + "," +
           (retain ? "1" : "0");
}

std::string kmqttsubCommand(const std::string& filter, int qos) {
    return "AT+KMQTTSUB=" + session() + "," + quoted(filter) + "," + std::to_string(qos);
}

std::string kmqttunsubCommand(const std::string& filter) {
    return "AT+KMQTTUNSUB=" + session() + "," + quoted(filter);
}

}  // namespace uplinkd::plugins::sierra_bx310x
