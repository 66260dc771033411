// SPDX-License-Identifier: Apache-2.0
#include "a76xx_commands.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::quoted;

std::string cgdcontCommand(const ModemSettings& settings) {
    return "AT+CGDCONT=1,\"IP\"," + quoted(settings.apn);
}

std::string cgauthCommand(const ModemSettings& settings) {
    return "AT+CGAUTH=1,1," + quoted(settings.apn_user) + "," + quoted(settings.apn_password);
}

std::string cipopenCommand(int link, const std::string& host, uint16_t port) {
    return "AT+CIPOPEN=" + std::to_string(link) + ",\"TCP\"," + quoted(host) + "," +
           std::to_string(port);
}

std::string cipsendCommand(int link, size_t n) {
    return "AT+CIPSEND=" + std::to_string(link) + "," + std::to_string(n);
}

std::string ciprxgetCommand(int link, size_t n) {
    return "AT+CIPRXGET=2," + std::to_string(link) + "," + std::to_string(n);
}

std::string cipcloseCommand(int link) {
    return "AT+CIPCLOSE=" + std::to_string(link);
}

std::vector<AtCommandStep> sslContextSteps(bool client_certificate,
                                           std::chrono::milliseconds timeout) {
    std::vector<modem_common::SslSetting> settings = {
        {"sslversion", "3"},  // TLS 1.2: no fallback to older versions
        {"authmode", client_certificate ? "2" : "1"},
        {"ignorelocaltime", "1"},
    };
    for (auto& s : modem_common::storeFileSettings(client_certificate, "")) {
        settings.push_back(std::move(s));
    }
    settings.push_back({"enableSNI", kEnableSni ? "1" : "0"});
    return modem_common::sslConfigSteps("AT+CSSLCFG", kSslContext, settings, timeout);
}

std::string cchsslcfgCommand(int session) {
    return "AT+CCHSSLCFG=" + std::to_string(session) + "," + std::to_string(kSslContext);
}

std::string cchopenCommand(int session, const std::string& host, uint16_t port) {
    return "AT+CCHOPEN=" + std::to_string(session) + "," + quoted(host) + "," +
           std::to_string(port) + ",2";
}

std::string cchsendCommand(int session, size_t n) {
    return "AT+CCHSEND=" + std::to_string(session) + "," + std::to_string(n);
}

std::string cchrecvCommand(int session, size_t n) {
    return "AT+CCHRECV=" + std::to_string(session) + "," + std::to_string(n);
}

std::string cchcloseCommand(int session) {
    return "AT+CCHCLOSE=" + std::to_string(session);
}

std::string ccertdownCommand(std::string_view name, size_t n) {
    return "AT+CCERTDOWN=" + quoted(name) + "," + std::to_string(n);
}

std::string ccertdeleCommand(std::string_view name) {
    return "AT+CCERTDELE=" + quoted(name);
}

}  // namespace uplinkd::plugins::simcom_a76xx
