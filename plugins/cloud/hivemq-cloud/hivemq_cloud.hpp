// SPDX-License-Identifier: Apache-2.0
// hivemq-cloud: a HiveMQ Cloud cluster (MQTT over TLS on 8883, or secure WebSocket on 8884 at
// /mqtt) with user name and password; always sends SNI, which the multi-tenant cluster needs.
// Pure (no I/O after creation, no clock reads). Thread: loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::hivemq_cloud {

inline constexpr uint16_t kTlsPort = 8883;
inline constexpr uint16_t kWebSocketPort = 8884;
inline constexpr const char* kWebSocketPath = "/mqtt";

struct Settings {
    std::string cluster;  ///< host, e.g. "0123abcd.s1.eu.hivemq.cloud"
    std::string username;
    std::string password;       ///< secret, from password_file
    std::string password_file;  ///< where it came from (the doctor checks the file's mode)
    std::string client_id;
    bool websocket = false;
    int mqtt_version = 4;
    int keepalive_seconds = 60;
    /// endpoint_override: dial this host instead of the cluster (test brokers, private
    /// endpoints); SNI and the certificate name are then this host. Empty: the cluster.
    std::string override_host;
    /// endpoint_override's port; none: 8883 or 8884 (websocket).
    std::optional<uint16_t> override_port;
};

/// Reads [routes.<name>.cloud] for type "hivemq-cloud".
Result<CloudProfilePtr> create(ConfigTable& cloud);

const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::hivemq_cloud
