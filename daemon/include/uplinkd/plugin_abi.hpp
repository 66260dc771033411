// SPDX-License-Identifier: Apache-2.0
// The plugin ABI: every plugin shared module exports `uplinkd_plugin()` returning a descriptor.
// The daemon refuses a module whose abi_version differs from its own. Thread: loop (loading).
#pragma once

#include <cstdint>

#include "uplinkd/cloud_profile.hpp"
#include "uplinkd/config_table.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

/// Bump on any change to a type that crosses the plugin boundary.
inline constexpr uint32_t kPluginAbiVersion = 2;

enum class PluginKind : uint32_t { Cloud = 1, Modem = 2 };

/// Entry points of a cloud plugin.
struct CloudPluginApi {
    /// Builds a profile from the route's [routes.<name>.cloud] table. Problems go to the table's
    /// diagnostics (with positions); the result is an error when any was found.
    Result<CloudProfilePtr> (*create)(ConfigTable& cloud);
};

struct PluginDescriptor {
    uint32_t abi_version;
    PluginKind kind;
    const char* name;     ///< as written in configuration, e.g. "generic-mqtt"
    const char* summary;  ///< one line for `uplinkctl` and logs
    const void* api;      ///< CloudPluginApi* for Cloud; the modem API for Modem
};

}  // namespace uplinkd

/// Exported by every plugin module.
extern "C" const uplinkd::PluginDescriptor* uplinkd_plugin();
using UplinkdPluginEntry = const uplinkd::PluginDescriptor* (*)();
