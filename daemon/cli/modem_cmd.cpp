// SPDX-License-Identifier: Apache-2.0
#include "cli/modem_cmd.hpp"

#include <iostream>

#include "cli/request.hpp"

namespace uplinkd::cli {

using nlohmann::json;

int runModemInfo(ApiClient& c, const std::string& uplink, bool as_json) {
    auto r = call(c, request("modem_info", "uplink", uplink), std::chrono::seconds(60));
    if (!r)
        return kExitFailure;
    const json& m = (*r)["modem"];
    if (as_json) {
        std::cout << m.dump(2) << "\n";
        return 0;
    }
    std::cout << "modem " << text(m, "uplink") << " (" << text(m, "driver") << " on "
              << text(m, "device") << " " << m.value("baud", 0) << " 8N1"
              << (m.value("flow_control", false) ? " RTS/CTS" : "") << ", TLS "
              << (text(m, "tls") == "modem" ? "by the module" : "by uplinkd") << ")\n";
    std::cout << "  state         " << text(m, "state") << "\n";
    if (!text(m, "problem").empty())
        std::cout << "  problem       " << text(m, "problem") << "\n";
    if (!text(m, "model").empty()) {
        std::cout << "  module        " << text(m, "manufacturer") << " " << text(m, "model")
                  << ", firmware " << text(m, "firmware") << "\n";
        if (!text(m, "ssid").empty()) {
            // A Wi-Fi module: no SIM, no operator.
            std::cout << "  Wi-Fi         " << text(m, "ssid") << ": " << text(m, "association");
            if (m.value("wifi_rssi_dbm", 0) != 0)
                std::cout << ", RSSI " << m.value("wifi_rssi_dbm", 0) << " dBm";
            if (!text(m, "ip_address").empty())
                std::cout << ", address " << text(m, "ip_address");
            std::cout << "\n";
        } else {
            std::cout << "  IMEI          " << text(m, "imei") << "\n";
            std::cout << "  SIM           " << text(m, "sim");
            if (!text(m, "iccid").empty())
                std::cout << " (ICCID " << text(m, "iccid") << ")";
            std::cout << "\n  network       " << text(m, "registration");
            for (const char* key : {"operator", "access_technology", "band"}) {
                if (!text(m, key).empty())
                    std::cout << ", " << text(m, key);
            }
            if (m.value("signal_dbm", 0) != 0)
                std::cout << ", signal " << m.value("signal_dbm", 0) << " dBm";
            std::cout << "\n";
        }
        for (const auto& e : m.value("store", json::array())) {
            std::cout << "  store         " << text(e, "slot") << ": " << text(e, "kind");
            if (!text(e, "subject").empty())
                std::cout << " \"" << text(e, "subject") << "\"";
            if (!text(e, "not_after").empty())
                std::cout << ", valid until " << text(e, "not_after");
            if (!text(e, "note").empty())
                std::cout << " (" << text(e, "note") << ")";
            std::cout << "\n";
        }
    }
    if (!text(m, "info_error").empty())
        std::cout << "  info error    " << text(m, "info_error") << "\n";
    std::cout << "  power control " << text(m, "power");
    if (!text(m, "power_error").empty())
        std::cout << " (" << text(m, "power_error") << ")";
    std::cout << "\n  line          " << m.value("bytes_written", uint64_t{0}) << " bytes out, "
              << m.value("bytes_read", uint64_t{0}) << " bytes in, "
              << m.value("at_timeouts", uint64_t{0}) << " AT timeout(s)\n";
    std::cout << "  recoveries    " << m.value("recoveries", uint64_t{0});
    if (!text(m, "last_recovery").empty())
        std::cout << " (last: " << text(m, "last_recovery") << ")";
    std::cout << "\n";
    return 0;
}

int runModemAt(ApiClient& c, const std::string& uplink, const std::string& command, int timeout_s) {
    json req{{"op", "modem_at"}, {"id", 1}, {"command", command}, {"timeout_ms", timeout_s * 1000}};
    if (!uplink.empty())
        req["uplink"] = uplink;
    auto r = call(c, req, std::chrono::seconds(timeout_s + 60));
    if (!r)
        return kExitFailure;
    for (const auto& line : (*r)["lines"]) {
        std::cout << line.get<std::string>() << "\n";
    }
    std::cout << text(*r, "final") << "\n";
    if (!text(*r, "explanation").empty()) {
        std::cout << "  (" << text(*r, "explanation") << ")\n";
    }
    return text(*r, "final") == "OK" ? 0 : kExitFailure;
}

/// `uplinkctl deadletter list|retry|drop`: the messages the broker kept refusing.

}  // namespace uplinkd::cli
