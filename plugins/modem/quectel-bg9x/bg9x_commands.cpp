// SPDX-License-Identifier: Apache-2.0
#include "bg9x_commands.hpp"

#include "bg9x_parsers.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using modem_common::quoted;

namespace {

std::string qmtcfg(std::string_view key, const std::string& value) {
    return "AT+QMTCFG=\"" + std::string(key) + "\"," + std::to_string(kMqttClient) + "," + value;
}

std::string client() {
    return std::to_string(kMqttClient);
}

static_assert(kSslContext == 1, "the AT+QSSLCFG=\"sni\" query below names context 1");

constexpr auto kInfoQueryTable = modem_common::joinedTable<InfoQuery>(
    modem_common::kIdentityQueries,
    {
        {"AT+QCCID", 5s, &applyQccid},
        {"AT+CPIN?", 5s, &modem_common::applySim},
        {"AT+CEREG?", 2s, &applyCeregWithAct},
        {"AT+CGREG?", 2s, &modem_common::applyCgreg},
        {"AT+CSQ", 2s, &modem_common::applyCsq},
        {"AT+COPS?", 5s, &applyCops},
        {"AT+QNWINFO", 5s, &applyQnwinfo},
        {kFileList.command, 5s, &applyFileList},
        {"AT+CCLK?", 2s, &applyClock},
        {"AT+QSSLCFG=\"sni\",1", 2s, &applySniSetting},  // 1: kSslContext
    });

}  // namespace

std::span<const InfoQuery> infoQueries() {
    return kInfoQueryTable;
}

std::string qicsgpCommand(const ModemSettings& settings) {
    const bool auth = !settings.apn_user.empty() || !settings.apn_password.empty();
    return "AT+QICSGP=" + std::to_string(kPdpContext) + ",1," + quoted(settings.apn) + "," +
           quoted(settings.apn_user) + "," + quoted(settings.apn_password) + "," +
           (auth ? "1" : "0");
}

std::string qiactCommand() {
    return "AT+QIACT=" + std::to_string(kPdpContext);
}

std::string qiopenCommand(int id, const std::string& host, uint16_t port) {
    return "AT+QIOPEN=" + std::to_string(kPdpContext) + "," + std::to_string(id) + ",\"TCP\"," +
           quoted(host) + "," + std::to_string(port) + ",0,0";
}

std::string qisendCommand(int id, size_t n) {
    return "AT+QISEND=" + std::to_string(id) + "," + std::to_string(n);
}

std::string qirdCommand(int id, size_t n) {
    return "AT+QIRD=" + std::to_string(id) + "," + std::to_string(n);
}

std::string qicloseCommand(int id) {
    return "AT+QICLOSE=" + std::to_string(id);
}

std::string qsslopenCommand(int id, const std::string& host, uint16_t port) {
    return "AT+QSSLOPEN=" + std::to_string(kPdpContext) + "," + std::to_string(kSslContext) + "," +
           std::to_string(id) + "," + quoted(host) + "," + std::to_string(port) + ",0";
}

std::string qsslsendCommand(int id, size_t n) {
    return "AT+QSSLSEND=" + std::to_string(id) + "," + std::to_string(n);
}

std::string qsslrecvCommand(int id, size_t n) {
    return "AT+QSSLRECV=" + std::to_string(id) + "," + std::to_string(n);
}

std::string qsslcloseCommand(int id) {
    return "AT+QSSLCLOSE=" + std::to_string(id);
}

std::string sniCommand() {
    return modem_common::sslConfigCommand("AT+QSSLCFG", kSslContext,
                                          {"sni", kEnableSni ? "1" : "0"});
}

std::vector<AtCommandStep> sslContextSteps(bool client_certificate,
                                           std::chrono::milliseconds timeout) {
    std::vector<modem_common::SslSetting> settings = {
        {"sslversion", "3"},  // TLS 1.2: no fallback to older versions
        {"ciphersuite", "0XFFFF"},
        {"seclevel", client_certificate ? "2" : "1"},
    };
    for (auto& s : modem_common::storeFileSettings(client_certificate, "UFS:")) {
        settings.push_back(std::move(s));
    }
    return modem_common::sslConfigSteps("AT+QSSLCFG", kSslContext, settings, timeout);
}

std::string qfuplCommand(std::string_view name, size_t n, int timeout_s) {
    return "AT+QFUPL=" + quoted("UFS:" + std::string(name)) + "," + std::to_string(n) + "," +
           std::to_string(timeout_s);
}

std::string qfdelCommand(std::string_view name) {
    return "AT+QFDEL=" + quoted("UFS:" + std::string(name));
}

std::vector<AtCommandStep> mqttConfigSteps(bool tls, int keep_alive_s, bool clean_session,
                                           int timeout_s, std::chrono::milliseconds timeout) {
    return {
        {qmtcfg("version", "4"), timeout},  // MQTT 3.1.1
        {qmtcfg("pdpcid", std::to_string(kPdpContext)), timeout},
        {qmtcfg("ssl", tls ? "1," + std::to_string(kSslContext) : std::string("0")), timeout},
        {qmtcfg("keepalive", std::to_string(keep_alive_s)), timeout},
        {qmtcfg("session", clean_session ? "1" : "0"), timeout},
        {qmtcfg("timeout", std::to_string(timeout_s) + ",3,0"), timeout},
        {qmtcfg("recv/mode", "0,1"), timeout},
    };
}

std::string qmtopenCommand(const std::string& host, uint16_t port) {
    return "AT+QMTOPEN=" + client() + "," + quoted(host) + "," + std::to_string(port);
}

std::string qmtconnCommand(const std::string& client_id, const std::string& user,
                           const std::string& password) {
    std::string cmd = "AT+QMTCONN=" + client() + "," + quoted(client_id);
    if (!user.empty() || !password.empty()) {
        cmd += "," + quoted(user) + "," + quoted(password);
    }
    return cmd;
}

std::string qmtpubCommand(int msg_id, int qos, bool retain, const std::string& topic, size_t n) {
    return "AT+QMTPUB=" + client() + "," + std::to_string(msg_id) + "," + std::to_string(qos) +
           "," + (retain ? "1" : "0") + "," + quoted(topic) + "," + std::to_string(n);
}

std::string qmtsubCommand(int msg_id, const std::string& filter, int qos) {
    return "AT+QMTSUB=" + client() + "," + std::to_string(msg_id) + "," + quoted(filter) + "," +
           std::to_string(qos);
}

std::string qmtunsCommand(int msg_id, const std::string& filter) {
    return "AT+QMTUNS=" + client() + "," + std::to_string(msg_id) + "," + quoted(filter);
}

std::string qmtdiscCommand() {
    return "AT+QMTDISC=" + client();
}

std::string qmtcloseCommand() {
    return "AT+QMTCLOSE=" + client();
}

}  // namespace uplinkd::plugins::quectel_bg9x
