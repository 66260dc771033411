// SPDX-License-Identifier: Apache-2.0
// Reading secrets (passwords, keys) named by path in the configuration. The content is never
// logged; errors name the file and the key, never the content. Rules for a file that holds a
// secret: it is a regular file named directly (not a symbolic link, so that a link cannot lead
// uplinkd to a file the configuration did not name) and it is not readable by every user.
// Thread: any.
#pragma once

#include <optional>
#include <string>

#include "uplinkd/config_table.hpp"

namespace uplinkd {

/// Why the file at `path` must not hold a secret (missing, a symbolic link, not a regular file,
/// readable by every user), in words that name the path; nullopt when it may.
std::optional<std::string> secretFileProblem(const std::string& path);

/// Reads the file named by `key` in `table` (if present). A trailing newline is removed.
/// Problems (missing, unreadable, empty, a symbolic link, readable by everyone) become
/// diagnostics of `key`.
std::optional<std::string> readSecretFile(ConfigTable& table, std::string_view key,
                                          bool required = false);

}  // namespace uplinkd
