// SPDX-License-Identifier: Apache-2.0
// Reading a route's metered_topics (README, "Several uplinks"): what a route sends while a metered
// uplink carries it. Part of the configuration loader (config.cpp). Thread: loop (or main before
// the loop runs).
#pragma once

#include "config/config.hpp"

namespace uplinkd {

/// Reads metered_topics of route table `t` into `r` (topic filters, each checked) and fills
/// r.metered_uplinks from the uplinks of `cfg` (read before the routes). metered_topics on a route
/// without a metered uplink is an error: it would never apply.
void readMeteredTopics(ConfigTable& t, RouteConfig& r, const Config& cfg);

}  // namespace uplinkd
