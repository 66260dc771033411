// SPDX-License-Identifier: Apache-2.0
#include "cli/health.hpp"

#include <iostream>

#include "cli/api_client.hpp"

namespace uplinkd::cli {

namespace {

std::string duration(int64_t ms) {
    const int64_t s = ms / 1000;
    if (s < 120) {
        return std::to_string(s) + " s";
    }
    if (s < 7200) {
        return std::to_string(s / 60) + " min";
    }
    return std::to_string(s / 3600) + " h";
}

}  // namespace

HealthVerdict judgeHealth(const nlohmann::json& routes, int64_t grace_ms) {
    HealthVerdict v;
    v.json = {
        {"healthy", true}, {"grace_seconds", grace_ms / 1000}, {"routes", nlohmann::json::array()}};
    if (!routes.is_array()) {
        v.healthy = false;
        v.problems.emplace_back("the daemon's status has no list of routes");
        v.json["healthy"] = false;
        return v;
    }
    for (const auto& r : routes) {
        const std::string name = r.value("route", std::string("?"));
        const std::string state = r.value("state", std::string("unknown"));
        const std::string error = r.value("last_error", std::string());
        // A daemon that does not report offline_ms: only "online" counts.
        const int64_t offline = state == "online" ? 0 : r.value("offline_ms", grace_ms);
        // A message the spool cannot read holds the whole route, online or not: no grace, a
        // passing cause (memory) clears within seconds by itself.
        const std::string held = r.value("spool_problem", std::string());
        const bool connected = state == "online" || offline < grace_ms;
        const bool ok = connected && held.empty();
        v.json["routes"].push_back({{"route", name},
                                    {"state", state},
                                    {"offline_ms", offline},
                                    {"healthy", ok},
                                    {"last_error", error},
                                    {"spool_problem", held}});
        if (!connected) {
            v.problems.push_back(name + ": " + state + " for " + duration(offline) +
                                 (error.empty() ? std::string() : " (" + error + ")"));
        }
        if (!held.empty()) {
            v.problems.push_back(name + ": held by the spool: " + held);
        }
        v.healthy = v.healthy && ok;
    }
    v.json["healthy"] = v.healthy;
    return v;
}

int runHealth(ApiClient& client, int64_t grace_seconds, bool as_json) {
    auto unhealthy = [&](const std::string& why) {
        if (as_json) {
            std::cout << nlohmann::json{{"healthy", false}, {"error", why}}.dump(2) << "\n";
        } else {
            std::cout << "unhealthy: " << why << "\n";
        }
        return 1;
    };
    if (auto st = client.send({{"op", "status"}, {"id", 1}}); !st) {
        return unhealthy(st.error().message);
    }
    auto r = client.receive(std::chrono::seconds(10));
    if (!r) {
        return unhealthy(r.error().message);
    }
    if ((*r).value("status", std::string()) != "ok") {
        return unhealthy(
            (*r).value("message", std::string("the daemon refused the status request")));
    }
    const HealthVerdict v = judgeHealth((*r)["routes"], grace_seconds * 1000);
    if (as_json) {
        std::cout << v.json.dump(2) << "\n";
    } else if (v.healthy) {
        std::cout << "healthy: " << (*r)["routes"].size() << " route(s)\n";
    } else {
        for (const auto& p : v.problems) {
            std::cout << p << "\n";
        }
    }
    return v.healthy ? 0 : 1;
}

}  // namespace uplinkd::cli
