// SPDX-License-Identifier: Apache-2.0
// `uplinkctl certs`: every certificate and key a route names (subject, issuer, validity, key,
// fingerprint, root or not, which key matches), and `certs check FILE...` for PEM files not yet
// in a configuration. Thread: main.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace uplinkd::cli {

struct CertsOptions {
    std::string route;  ///< empty: every route
    ConfigSource source;
    std::vector<std::string> files;  ///< `certs check`
};

/// Adds `certs` (and `certs check`) to `app`; `check` receives the subcommand.
CLI::App* addCertsCommand(CLI::App& app, CertsOptions& options, CLI::App*& check);

/// Exit 0 when nothing is wrong, 1 when something is (expired, not yet valid, a key that
/// matches no certificate, a CA file without a root), 78 when the configuration does not load.
int runCerts(const CertsOptions& options, bool check);

}  // namespace uplinkd::cli
