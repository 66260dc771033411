// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/cloud_plugin.hpp"

#include <string>

namespace uplinkd {

int readMqttVersion(ConfigTable& cloud) {
    return cloud.choice("mqtt_version", {"3.1.1", "5"}).value_or("3.1.1") == "5" ? 5 : 4;
}

int readKeepalive(ConfigTable& cloud, int64_t min, int64_t max, int fallback) {
    return static_cast<int>(cloud.integer("keepalive_seconds", min, max).value_or(fallback));
}

Status finishCloudSection(ConfigTable& cloud, size_t errors_before, std::string_view plugin) {
    cloud.finish();
    if (cloud.diagnostics().items().size() != errors_before) {
        return fail("config", "invalid " + std::string(plugin) + " settings in " + cloud.path());
    }
    return {};
}

}  // namespace uplinkd
