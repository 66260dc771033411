// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/time_text.hpp"

#include <cstdlib>
#include <ctime>

namespace uplinkd {

std::string formatUtc(int64_t unix_seconds) {
    const auto t = static_cast<time_t>(unix_seconds);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string durationText(int64_t seconds) {
    const int64_t s = std::llabs(seconds);
    if (s < 120) {
        return std::to_string(s) + " s";
    }
    if (s < 2 * 3600) {
        return std::to_string(s / 60) + " min";
    }
    if (s < 2 * 86400) {
        return std::to_string(s / 3600) + " h";
    }
    return std::to_string(s / 86400) + " days";
}

}  // namespace uplinkd
