// SPDX-License-Identifier: Apache-2.0
// Fuzz target: configuration text (TOML) through the whole loader and validation, with the
// generic-mqtt and azure-iot-hub cloud plugins compiled in. Plugins are looked for only in a
// directory without any (UPLINKD_FUZZ_PLUGIN_DIR, the fuzz sources), whatever the text says.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "plugin/plugin_registry.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd::plugins {
namespace generic_mqtt {
const PluginDescriptor* descriptor();
}
namespace azure_iot_hub {
const PluginDescriptor* descriptor();
}
}  // namespace uplinkd::plugins

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uplinkd::setLogLevel(uplinkd::LogLevel::Error);
    const std::string text(reinterpret_cast<const char*>(data), size);
    uplinkd::PluginRegistry plugins;
    plugins.add(uplinkd::plugins::generic_mqtt::descriptor());
    plugins.add(uplinkd::plugins::azure_iot_hub::descriptor());
    auto cfg = uplinkd::loadConfigFromString(text, "fuzz.toml", plugins, UPLINKD_FUZZ_PLUGIN_DIR);
    if (!cfg && cfg.error().message.empty()) {
        __builtin_trap();  // a refusal always says why
    }
    return 0;
}
