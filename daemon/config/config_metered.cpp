// SPDX-License-Identifier: Apache-2.0
#include "config/config_metered.hpp"

#include <algorithm>

#include "uplinkd/mqtt_names.hpp"

namespace uplinkd {

void readMeteredTopics(ConfigTable& t, RouteConfig& r, const Config& cfg) {
    r.metered_topics = t.stringArray("metered_topics").value_or(std::vector<std::string>{});
    for (const auto& f : r.metered_topics) {
        if (auto problem = mqtt::topicFilterProblem(f)) {
            t.error("metered_topics", "\"" + f + "\" is not a topic filter: " + *problem);
        }
    }
    std::string names;
    r.metered_uplinks.clear();
    for (const auto& name : r.uplinks) {
        const auto it = cfg.uplinks.find(name);
        r.metered_uplinks.push_back(it != cfg.uplinks.end() && it->second.metered);
        names += (names.empty() ? "" : ", ") + name;
    }
    const bool any = std::find(r.metered_uplinks.begin(), r.metered_uplinks.end(), true) !=
                     r.metered_uplinks.end();
    if (!r.metered_topics.empty() && !any) {
        t.error("metered_topics", "none of the route's uplinks (" + names +
                                      ") is metered, so it would never apply: set metered = true "
                                      "on the uplink that costs per byte, or remove it");
    }
}

}  // namespace uplinkd
