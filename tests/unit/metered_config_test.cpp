// SPDX-License-Identifier: Apache-2.0
// The metered keys: [uplinks.X] metered and [routes.X] metered_topics: defaults, values, and
// errors with file:line:col.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"

namespace uplinkd {
namespace {

Result<Config> load(const std::string& text) {
    PluginRegistry plugins;
    return loadConfigFromString(text, "test.toml", plugins, testing::pluginDir());
}

const std::string kUplinks = R"([uplinks.eth]
type = "network"
interface = "eth0"
[uplinks.lte]
type = "network"
interface = "wwan0"
)";
const std::string kRoute = R"([routes.r1]
uplinks = ["eth", "lte"]
)";
const std::string kCloud = R"(
[routes.r1.cloud]
type = "generic-mqtt"
host = "broker.example.com"
client_id = "gw-1"
)";

TEST(MeteredConfig, DefaultsAndValues) {
    auto def = load(kUplinks + kRoute + kCloud);
    ASSERT_TRUE(def) << def.error().message;
    EXPECT_FALSE(def->uplinks.at("eth").metered);
    EXPECT_FALSE(def->uplinks.at("lte").metered);
    EXPECT_TRUE(def->routes[0].metered_topics.empty());
    EXPECT_EQ(def->routes[0].metered_uplinks, (std::vector<bool>{false, false}));

    auto set = load(kUplinks + "metered = true\n" + kRoute +
                    "metered_topics = [\"alarms/#\", \"+/status\"]\n" + kCloud);
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_TRUE(set->uplinks.at("lte").metered);
    EXPECT_EQ(set->routes[0].metered_topics, (std::vector<std::string>{"alarms/#", "+/status"}));
    EXPECT_EQ(set->routes[0].metered_uplinks, (std::vector<bool>{false, true}));

    // A metered uplink without metered_topics: the route sends everything over it.
    auto all = load(kUplinks + "metered = true\n" + kRoute + kCloud);
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_TRUE(all->routes[0].metered_topics.empty());
    EXPECT_EQ(all->routes[0].metered_uplinks, (std::vector<bool>{false, true}));
}

TEST(MeteredConfig, BadValuesNameTheirPlace) {
    struct Case {
        std::string uplink_keys;  ///< added to [uplinks.lte]
        std::string route_keys;   ///< added to [routes.r1]
        std::string error;
    };
    const Case cases[] = {
        {"metered = \"yes\"\n", "", "test.toml:7:11: uplinks.lte.metered: expected a boolean"},
        {"metered = true\n", "metered_topics = [\"alarms/#/x\"]\n",
         "test.toml:10:18: routes.r1.metered_topics: \"alarms/#/x\" is not a topic filter"},
        {"metered = true\n", "metered_topics = [\"\"]\n",
         "test.toml:10:18: routes.r1.metered_topics: \"\" is not a topic filter"},
        {"metered = true\n", "metered_topics = \"alarms/#\"\n",
         "test.toml:10:18: routes.r1.metered_topics: expected an array"},
        {"", "metered_topics = [\"alarms/#\"]\n",
         "test.toml:9:18: routes.r1.metered_topics: none of the route's uplinks (eth, lte) is "
         "metered"},
    };
    for (const auto& c : cases) {
        auto r = load(kUplinks + c.uplink_keys + kRoute + c.route_keys + kCloud);
        ASSERT_FALSE(r) << c.uplink_keys << c.route_keys;
        EXPECT_EQ(r.error().message.rfind(c.error, 0), 0u)
            << c.uplink_keys << c.route_keys << ": " << r.error().message;
    }
}

}  // namespace
}  // namespace uplinkd
