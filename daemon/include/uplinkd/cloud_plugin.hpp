// SPDX-License-Identifier: Apache-2.0
// What every cloud plugin shares: the MQTT session keys of its [routes.<name>.cloud] section, the
// end of that section (unknown keys, one error for the whole section, the profile), and the
// plugin's descriptor. Thread: the caller's (the loop, while the configuration loads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "uplinkd/cloud_profile.hpp"
#include "uplinkd/config_table.hpp"
#include "uplinkd/plugin_abi.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

/// The MQTT protocol level of `mqtt_version`: "3.1.1" (also when absent) → 4, "5" → 5.
int readMqttVersion(ConfigTable& cloud);

/// `keepalive_seconds` from `min` to `max`; `fallback` when absent or out of range (reported).
int readKeepalive(ConfigTable& cloud, int64_t min, int64_t max, int fallback);

/// Ends the section of cloud plugin `plugin`: reports the keys nobody read (ConfigTable::finish),
/// then fails with "invalid <plugin> settings in <path>" when anything was reported since
/// `errors_before` (the diagnostics count when the plugin began reading).
Status finishCloudSection(ConfigTable& cloud, size_t errors_before, std::string_view plugin);

/// finishCloudSection(), then the plugin's profile, a `Profile` made from `args`.
template <typename Profile, typename... Args>
Result<CloudProfilePtr> finishCloudProfile(ConfigTable& cloud, size_t errors_before,
                                           std::string_view plugin, Args&&... args) {
    if (Status st = finishCloudSection(cloud, errors_before, plugin); !st) {
        return st.failure();
    }
    return CloudProfilePtr(std::make_unique<Profile>(std::forward<Args>(args)...));
}

/// The descriptor of the cloud plugin `name` whose profiles `Create` builds; it lives as long as
/// the module.
template <Result<CloudProfilePtr> (*Create)(ConfigTable&)>
const PluginDescriptor* cloudPluginDescriptor(const char* name, const char* summary) {
    static const CloudPluginApi api{Create};
    static const PluginDescriptor d{kPluginAbiVersion, PluginKind::Cloud, name, summary, &api};
    return &d;
}

}  // namespace uplinkd
