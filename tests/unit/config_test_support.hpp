// SPDX-License-Identifier: Apache-2.0
// What the configuration unit tests share: a TOML text loaded with the plugins of the build, the
// smallest valid cloud section of a route, a network uplink, and checking that a mistake is
// refused with its position. Thread: the test's.
#pragma once

#include <gtest/gtest.h>

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

/// An [uplinks.<name>] table of type "network" on `interface`.
inline std::string networkUplink(const std::string& name, const std::string& interface) {
    return "[uplinks." + name + "]\ntype = \"network\"\ninterface = \"" + interface + "\"\n";
}

/// `cfg` was refused (with the error code `code`, unless empty) and its message holds `expected`
/// (a position and what is wrong); `what` names the mistake in a failure.
inline void expectRefusedWith(const Result<Config>& cfg, const std::string& what,
                              const std::string& expected, const std::string& code = "") {
    ASSERT_FALSE(cfg) << what << ": accepted";
    if (!code.empty()) {
        EXPECT_EQ(cfg.error().code, code);
    }
    EXPECT_NE(cfg.error().message.find(expected), std::string::npos)
        << what << ": expected \"" << expected << "\" in:\n"
        << cfg.error().message;
}

}  // namespace uplinkd::testing
