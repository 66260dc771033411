// SPDX-License-Identifier: Apache-2.0
// Message: one publication as accepted from a local app and kept in the spool. Thread: any.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace uplinkd {

using Properties = std::vector<std::pair<std::string, std::string>>;

struct Message {
    uint64_t seq = 0;     ///< assigned by the spool on append; increasing per spool
    std::string route;    ///< route name from the configuration
    std::string topic;    ///< the local topic, before the cloud profile maps it
    std::string payload;  ///< raw bytes
    int qos = 1;          ///< 0, 1 or 2 (the cloud profile may refuse 2)
    bool retain = false;
    Properties properties;   ///< user properties (MQTT 5 user properties, Azure property bag)
    int64_t created_ms = 0;  ///< wall-clock time of acceptance, ms since the epoch
};

/// A message received from the broker, after the cloud profile mapped it back to a local topic.
struct IncomingMessage {
    std::string route;
    std::string topic;  ///< local topic
    std::string broker_topic;
    std::string payload;
    int qos = 0;
    bool retain = false;
    Properties properties;
};

}  // namespace uplinkd
