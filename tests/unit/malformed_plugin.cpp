// SPDX-License-Identifier: Apache-2.0
// A plugin module of the right ABI whose descriptor lacks its functions: the daemon must refuse
// it with a reason instead of calling through a null pointer later.
#include "uplinkd/plugin_abi.hpp"

extern "C" __attribute__((visibility("default"))) const uplinkd::PluginDescriptor*
uplinkd_plugin() {
    static const uplinkd::PluginDescriptor d{uplinkd::kPluginAbiVersion, uplinkd::PluginKind::Cloud,
                                             "no-functions", "test", nullptr};
    return &d;
}
