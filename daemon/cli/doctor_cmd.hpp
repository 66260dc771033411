// SPDX-License-Identifier: Apache-2.0
// `uplinkctl doctor`: asks the running daemon to examine its routes (API op "doctor"), or with
// --config examines them itself (offline: config, plugins, uplinks, tunnel, Paho worker, spool
// when no daemon holds it). Thread: main.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "config/config.hpp"

namespace uplinkd::cli {

struct DoctorOptions {
    std::string route;  ///< empty: every route
    bool json = false;
    ConfigSource source;  ///< main_file empty: ask the running daemon
};

/// Adds the `doctor` subcommand to `app`, filling `options` when it is parsed.
CLI::App* addDoctorCommand(CLI::App& app, DoctorOptions& options);

/// Runs it: exit 0 when every examined route is ready, 1 otherwise, 2 on usage errors.
int runDoctor(const DoctorOptions& options, const std::string& socket);

}  // namespace uplinkd::cli
