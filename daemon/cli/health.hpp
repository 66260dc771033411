// SPDX-License-Identifier: Apache-2.0
// `uplinkctl health`: exit 0 when every route is online or has been offline for less than the
// grace period, else 1 with one line per unhealthy route (or --json), for scripts and container
// health checks. The verdict is pure (tested from tables). Thread: the caller's.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace uplinkd {
class ApiClient;
}

namespace uplinkd::cli {

struct HealthVerdict {
    bool healthy = true;
    std::vector<std::string> problems;  ///< one line per unhealthy route
    nlohmann::json json;                ///< what --json prints
};

/// Judges the status JSON's routes: healthy when "online", or offline ("offline_ms") for less
/// than `grace_ms`.
HealthVerdict judgeHealth(const nlohmann::json& routes, int64_t grace_ms);

/// Asks the daemon and prints the verdict. Returns the exit code (0 healthy, 1 not or no answer).
int runHealth(ApiClient& client, int64_t grace_seconds, bool as_json);

}  // namespace uplinkd::cli
