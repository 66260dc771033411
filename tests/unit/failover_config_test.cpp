// SPDX-License-Identifier: Apache-2.0
// The failover keys of a route: defaults, values, and errors with file:line:col.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_test_support.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"

namespace uplinkd {
namespace {

Result<Config> load(const std::string& text) {
    return testing::loadConfigText(text);
}

const std::string kRoute = R"([uplinks.eth]
type = "network"
interface = "eth0"
[uplinks.wifi]
type = "network"
interface = "wlan0"
[routes.r1]
uplinks = ["eth", "wifi"]
)";
const std::string kCloud = testing::minimalCloud("r1");

TEST(FailoverConfig, DefaultsAndValues) {
    auto def = load(kRoute + kCloud);
    ASSERT_TRUE(def) << def.error().message;
    EXPECT_EQ(def->routes[0].failover.failover_after_ms, 30000);
    EXPECT_EQ(def->routes[0].failover.failback_hold_ms, 60000);
    auto set = load(kRoute +
                    "failover_after_ms = 5000\nfailback_hold_ms = 0\nprobe_interval_ms = 250\n"
                    "probe_max_ms = 1000\n" +
                    kCloud);
    ASSERT_TRUE(set) << set.error().message;
    const FailoverConfig& f = set->routes[0].failover;
    EXPECT_EQ(f.failover_after_ms, 5000);
    EXPECT_EQ(f.failback_hold_ms, 0);
    EXPECT_EQ(f.probe_interval_ms, 250);
    EXPECT_EQ(f.probe_max_ms, 1000);
}

TEST(FailoverConfig, BadValuesNameTheirPlace) {
    struct Case {
        std::string keys;
        std::string error;
    };
    const Case cases[] = {
        {"failover_after_ms = 10\n",
         "test.toml:9:21: routes.r1.failover_after_ms: 10 is out of range"},
        {"failover_after_ms = \"30s\"\n",
         "test.toml:9:21: routes.r1.failover_after_ms: expected an integer"},
        {"probe_interval_ms = 5000\nprobe_max_ms = 1000\n",
         "test.toml:9:21: routes.r1.probe_interval_ms: must not be larger"},
        {"failback_after = 100\n", "test.toml:9:1: routes.r1.failback_after: unknown key"},
    };
    for (const auto& c : cases) {
        auto r = load(kRoute + c.keys + kCloud);
        ASSERT_FALSE(r) << c.keys;
        EXPECT_EQ(r.error().message.rfind(c.error, 0), 0u) << c.keys << ": " << r.error().message;
    }
}

}  // namespace
}  // namespace uplinkd
