// SPDX-License-Identifier: Apache-2.0
#include "cli/traffic_view.hpp"

#include <cstdio>

namespace uplinkd::cli {

namespace {

uint64_t count(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace

std::string formatBytes(uint64_t bytes) {
    if (bytes < 1000) {
        return std::to_string(bytes) + " B";
    }
    const char* const units[] = {"KB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes) / 1000.0;
    size_t u = 0;
    while (v >= 999.95 && u + 1 < std::size(units)) {
        v /= 1000.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string trafficLine(const nlohmann::json& uplink) {
    const auto today = uplink.find("today");
    if (!uplink.is_object() || today == uplink.end() || !today->is_object()) {
        return {};
    }
    const auto name = uplink.find("name");
    return (name != uplink.end() && name->is_string() ? name->get<std::string>() : "?") + ": " +
           formatBytes(count(*today, "sent")) + " sent, " + formatBytes(count(*today, "received")) +
           " received today (UTC); " +
           formatBytes(count(uplink, "bytes_sent") + count(uplink, "bytes_received")) +
           " since start";
}

}  // namespace uplinkd::cli
