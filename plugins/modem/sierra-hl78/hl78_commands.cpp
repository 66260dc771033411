// SPDX-License-Identifier: Apache-2.0
#include "hl78_commands.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::quoted;

std::string kcnxcfgCommand(const ModemSettings& settings) {
    std::string cmd = "AT+KCNXCFG=" + std::to_string(kCnx) + ",\"GPRS\"," + quoted(settings.apn);
    if (!settings.apn_user.empty() || !settings.apn_password.empty()) {
        cmd += "," + quoted(settings.apn_user) + "," + quoted(settings.apn_password);
    }
    return cmd;
}

std::string ktcpcfgCommand(int mode, const std::string& host, uint16_t port) {
    std::string cmd = "AT+KTCPCFG=" + std::to_string(kCnx) + "," + std::to_string(mode) + "," +
                      quoted(host) + "," + std::to_string(port);
    if (mode == kModeTlsClient) {
        // source port, data mode, URC end, address family: module defaults.
        cmd += ",,,,," + std::to_string(kTlsProfile.profile);
    }
    return cmd;
}

std::string ksslcryptoCommand(const CryptoProfile& p, bool mutual, bool with_root_index) {
    std::string cmd = "AT+KSSLCRYPTO=";
    for (const int v : {p.profile, p.key_exchange, p.authentication, p.encryption, p.mac,
                        p.tls_version, mutual ? p.verify_mutual : p.verify_server}) {
        cmd += std::to_string(v) + ",";
    }
    cmd.pop_back();
    if (with_root_index) {
        cmd += "," + std::to_string(p.root_index);
    }
    return cmd;
}

std::string ktcpcnxCommand(int session) {
    return "AT+KTCPCNX=" + std::to_string(session);
}

std::string ktcpsndCommand(int session, size_t n) {
    return "AT+KTCPSND=" + std::to_string(session) + "," + std::to_string(n);
}

std::string ktcprcvCommand(int session, size_t n) {
    return "AT+KTCPRCV=" + std::to_string(session) + "," + std::to_string(n);
}

std::string ktcpstatCommand(int session) {
    return "AT+KTCPSTAT=" + std::to_string(session);
}

std::string ktcpcloseCommand(int session) {
    return "AT+KTCPCLOSE=" + std::to_string(session);
}

std::string ktcpdelCommand(int session) {
    return "AT+KTCPDEL=" + std::to_string(session);
}

std::string kcertstoreCommand(int data_type, size_t n, int index) {
    std::string cmd = "AT+KCERTSTORE=" + std::to_string(data_type) + "," + std::to_string(n);
    if (index >= 0) {
        cmd += "," + std::to_string(index);
    }
    return cmd;
}

std::string kprivkstoreCommand(size_t n) {
    return "AT+KPRIVKSTORE=0," + std::to_string(n);
}

}  // namespace uplinkd::plugins::sierra_hl78
