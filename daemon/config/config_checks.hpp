// SPDX-License-Identifier: Apache-2.0
// Rules that look at a whole loaded configuration rather than one key (credentials sent in
// clear, two routes with one client id on one broker, a host that is a URL, a world-writable
// socket, a key that does not match its certificate), and the start-up checks against the host
// (state directory, socket path, socket group) that --check-config runs too. Thread: loop (or
// main before the loop runs).
#pragma once

#include "config/config.hpp"
#include "uplinkd/config_table.hpp"

namespace uplinkd {

/// Adds a diagnostic for every rule `cfg` breaks, at the position of the key in `root`.
/// Also records in cfg.positions where the keys checked by checkHost() were set.
void checkConfigRules(const toml::table& root, Config& cfg, Diagnostics& diags);

/// Whether the route would send a password or a SAS token without TLS.
bool sendsCredentialsInClear(const RouteConfig& route);

/// Checks the configuration against this host: daemon.state_dir is (or can be created as) a
/// writable directory; api.socket's directory is (or can be created as) a writable directory
/// and nothing but a socket is at the path; api.socket_group exists. Error code "config", one
/// problem per line.
Status checkHost(const Config& cfg);

}  // namespace uplinkd
