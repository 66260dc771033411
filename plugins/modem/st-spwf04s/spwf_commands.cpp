// SPDX-License-Identifier: Apache-2.0
#include "spwf_commands.hpp"

#include <algorithm>

namespace uplinkd::plugins::st_spwf04s {

std::string privModeCommand(bool open_network) {
    return std::string("AT+S.SCFG=wifi_priv_mode,") + (open_network ? "0" : "2");
}

std::string pskCommand(const std::string& psk) {
    return "AT+S.SCFG=wifi_wpa_psk_text," + psk;
}

std::string ssidCommand(const std::string& ssid) {
    return "AT+S.SSIDTXT=" + ssid;
}

std::string sockonCommand(const std::string& host, uint16_t port, bool tls) {
    return "AT+S.SOCKON=" + host + "," + std::to_string(port) + "," + (tls ? host : "") + "," +
           (tls ? "s" : "t");
}

std::string sockwCommand(int id, size_t n) {
    return "AT+S.SOCKW=" + std::to_string(id) + "," + std::to_string(n);
}

std::string sockqCommand(int id) {
    return "AT+S.SOCKQ=" + std::to_string(id);
}

std::string sockrCommand(int id, size_t n) {
    return "AT+S.SOCKR=" + std::to_string(id) + "," + std::to_string(n);
}

std::string sockrAllCommand(int id) {
    return "AT+S.SOCKR=" + std::to_string(id);
}

std::string sockcCommand(int id) {
    return "AT+S.SOCKC=" + std::to_string(id);
}

std::string tlscertCommand(std::string_view type, size_t n) {
    return "AT+S.TLSCERT=" + std::string(type) + "," + std::to_string(n);
}

std::string mqttConnCommand(const ModemMqttConnect& p) {
    // Retry, LWT QoS, LWT topic and LWT message are left out: the module's defaults (none).
    return "AT+S.MQTTCONN=" + p.host + "," + std::to_string(p.port) + "," + p.websocket_path + "," +
           (p.tls ? "1" : "0") + "," + p.username + "," + p.password + "," + p.client_id + "," +
           std::to_string(std::clamp(p.keep_alive_s, 0, 65535));
}

std::string mqttPubCommand(int client, const std::string& topic, int qos, bool retain, size_t n) {
    return "AT+S.MQTTPUB=" + std::to_string(client) + "," + topic + "," + std::to_string(qos) +
           "," + (retain ? "1" : "0") + "," + std::to_string(n);
}

std::string mqttSubCommand(int client, const std::string& filter, int qos) {
    return "AT+S.MQTTSUB=" + std::to_string(client) + "," + filter + "," + std::to_string(qos);
}

std::string mqttUnsubCommand(int client, const std::string& filter) {
    return "AT+S.MQTTUNSUB=" + std::to_string(client) + "," + filter;
}

std::string mqttDiscCommand(int client) {
    return "AT+S.MQTTDISC=" + std::to_string(client);
}

}  // namespace uplinkd::plugins::st_spwf04s
