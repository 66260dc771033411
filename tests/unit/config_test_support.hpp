// SPDX-License-Identifier: Apache-2.0
// What the configuration unit tests share: a TOML text loaded with the plugins of the build, and
// the smallest valid cloud section of a route. Thread: the test's.
#pragma once

#include <string>

#include "config/config.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {

/// Loads `text` as if it were the file `name` (errors name it with line and column).
inline Result<Config> loadConfigText(const std::string& text,
                                     const std::string& name = "test.toml") {
    PluginRegistry plugins;
    return loadConfigFromString(text, name, plugins, pluginDir());
}

/// A blank line, then the cloud of route `route`: generic-mqtt to broker.example.com as gw-1.
inline std::string minimalCloud(const std::string& route) {
    return "\n[routes." + route +
           ".cloud]\ntype = \"generic-mqtt\"\nhost = \"broker.example.com\"\nclient_id = "
           "\"gw-1\"\n";
}

}  // namespace uplinkd::testing
