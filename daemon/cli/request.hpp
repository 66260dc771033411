// SPDX-License-Identifier: Apache-2.0
// uplinkctl's requests to the daemon: one request and its answer, errors printed for the user,
// and reading the answer's text fields. Thread: main.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/api_client.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::cli {

/// uplinkctl's exit code when the daemon refused or could not be asked.
inline constexpr int kExitFailure = 1;

/// Prints "uplinkctl: <message>" to stderr; returns kExitFailure.
int report(const Error& e);

/// The string field `key` of `j`, or "" when it is absent or not a string.
std::string text(const nlohmann::json& j, const char* key);

/// The request `op` (id 1); when `name` is not empty, limited to that one route or uplink,
/// named under `key` ("route", "uplink"); else it is about all of them.
nlohmann::json request(const char* op, const char* key, const std::string& name);

/// Sends one request and waits for its answer; nothing after printing why when the call
/// fails or the daemon says no.
std::optional<nlohmann::json> call(ApiClient& c, const nlohmann::json& req,
                                   std::chrono::seconds timeout);

}  // namespace uplinkd::cli
