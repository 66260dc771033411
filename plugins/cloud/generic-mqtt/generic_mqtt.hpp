// SPDX-License-Identifier: Apache-2.0
// generic-mqtt: any MQTT 3.1.1 or 5 broker: host, port, client id, user name and password,
// an optional topic prefix. Pure (no I/O after creation). Thread: loop.
#pragma once

#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::generic_mqtt {

struct Settings {
    BrokerEndpoint endpoint;
    std::string client_id;
    std::string username;
    std::string password;       ///< secret, from password_file
    std::string password_file;  ///< where it came from (the doctor checks the file's mode)
    int mqtt_version = 4;
    int keepalive_seconds = 60;
    std::string topic_prefix;
};

/// Reads [routes.<name>.cloud] for type "generic-mqtt".
Result<CloudProfilePtr> create(ConfigTable& cloud);

const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::generic_mqtt
