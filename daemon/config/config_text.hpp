// SPDX-License-Identifier: Apache-2.0
// The configuration's text layer: TOML files (the main file, then drop-ins) and --set overrides
// merged into one table, with text toml++ must not see refused first. Typed reading happens in
// config.cpp. Thread: the caller's (configuration loading is single-threaded).
#pragma once

#include <string>
#include <string_view>

#include "uplinkd/config_table.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::config_text {

/// The text as toml++ 3.3 may see it, or "name:line:col: ..." for text it must not see (see
/// config_text.cpp).
Result<std::string> tomlSafeText(std::string_view text, const std::string& name);

/// Parses the TOML file at `path` and merges it into `into` (later layers win: tables merge key
/// by key, anything else replaces). Problems go to `diags`.
Status parseFile(const std::string& path, toml::table& into, Diagnostics& diags);

/// "a.b.c=value" (an uplinkd --set) merged into `into`. Problems go to `diags`.
Status applyOverride(const std::string& spec, toml::table& into, Diagnostics& diags);

}  // namespace uplinkd::config_text
