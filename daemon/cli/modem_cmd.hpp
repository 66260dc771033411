// SPDX-License-Identifier: Apache-2.0
// `uplinkctl modem info` and `uplinkctl modem at`: what the daemon knows of a modem uplink, and
// one AT command sent through it. Thread: main.
#pragma once

#include <string>

#include "cli/api_client.hpp"

namespace uplinkd::cli {

/// Prints the modem uplink's state, module, SIM, network and certificate store (or the JSON
/// answer with `as_json`); exit code.
int runModemInfo(ApiClient& c, const std::string& uplink, bool as_json);

/// Sends `command` to the module of `uplink` and prints its answer; exit code.
int runModemAt(ApiClient& c, const std::string& uplink, const std::string& command, int timeout_s);

}  // namespace uplinkd::cli
