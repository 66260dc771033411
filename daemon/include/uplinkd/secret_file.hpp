// Reading secrets (passwords, keys) named by path in the configuration. The content is never
// logged; errors name the file and the key, never the content. Thread: any.
#pragma once

#include <optional>
#include <string>

#include "uplinkd/config_table.hpp"

namespace uplinkd {

/// Reads the file named by `key` in `table` (if present). A trailing newline is removed.
/// Problems (missing, unreadable, empty, readable by everyone) become diagnostics of `key`.
std::optional<std::string> readSecretFile(ConfigTable& table, std::string_view key,
                                          bool required = false);

}  // namespace uplinkd
