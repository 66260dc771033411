// SPDX-License-Identifier: Apache-2.0
// The data-budget lines of `uplinkctl status`: per uplink of a route, today's bytes (UTC day)
// and the bytes since the daemon started, from the status JSON. Pure. Thread: any.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace uplinkd::cli {

/// "812 B", "12.3 KB", "1.2 MB", "3.4 GB" (decimal units, as operators bill).
std::string formatBytes(uint64_t bytes);
/// "lte: 12.3 KB sent, 4.1 KB received today (UTC); 1.2 MB since start" for one entry of a
/// route's uplinks[]; empty when the entry has no day counts (an older daemon).
std::string trafficLine(const nlohmann::json& uplink);

}  // namespace uplinkd::cli
