// SPDX-License-Identifier: Apache-2.0
// readFileText: a whole file into memory (certificates, keys, PEM bundles, configuration).
// Thread: any.
#pragma once

#include <string>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// The bytes of the file at `path`; error "read" naming the path and the system's reason.
Result<std::string> readFileText(const std::string& path);

}  // namespace uplinkd
