// SPDX-License-Identifier: Apache-2.0
// A plugin module built for another ABI version: the daemon must refuse it with a reason.
#include "uplinkd/plugin_abi.hpp"

extern "C" __attribute__((visibility("default"))) const uplinkd::PluginDescriptor*
uplinkd_plugin() {
    static const uplinkd::PluginDescriptor d{999, uplinkd::PluginKind::Cloud, "from-the-future",
                                             "test", nullptr};
    return &d;
}
