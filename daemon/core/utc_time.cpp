// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/utc_time.hpp"

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

}  // namespace uplinkd
