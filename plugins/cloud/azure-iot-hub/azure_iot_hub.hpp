// SPDX-License-Identifier: Apache-2.0
// azure-iot-hub: a device or module identity on Azure IoT Hub over MQTT 3.1.1 (port 8883, or
// WebSocket on 443), authenticated by SAS tokens signed here from the device key, or by an X.509
// client certificate. Pure (no I/O after creation, no clock reads). Thread: loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::azure_iot_hub {

/// Device-to-cloud message limit (payload plus property bag), bytes.
inline constexpr size_t kMaxD2cBytes = 256 * 1024;
/// Reported twin properties limit, bytes.
inline constexpr size_t kMaxTwinPatchBytes = 32 * 1024;
/// Direct-method response limit, bytes.
inline constexpr size_t kMaxMethodResponseBytes = 128 * 1024;
/// Earliest plausible wall-clock time (2024-01-01T00:00:00Z): a gateway whose clock says
/// earlier would sign tokens that the hub takes as long expired.
inline constexpr int64_t kEarliestPlausibleUnix = 1704067200;
/// The local topic of a cloud-to-device message whose property bag has no usable "topic".
inline constexpr const char* kC2dLocalTopic = "c2d";
/// The property that carries the local topic in both directions.
inline constexpr const char* kTopicProperty = "topic";

enum class AuthMode { Sas, X509 };

struct Settings {
    std::string hub;  ///< host name, lower case, e.g. "myhub.azure-devices.net"
    std::string device_id;
    std::string module_id;  ///< empty for a device identity
    AuthMode auth = AuthMode::Sas;
    std::string sas_key;  ///< secret: base64 device (or module) key, from sas_key_file
    /// secret: a token made elsewhere (az iot hub generate-sas-token), from sas_token_file, sent
    /// as it is and never renewed; used instead of sas_key.
    std::string sas_token;
    std::string sas_key_file;    ///< where sas_key came from (the doctor checks the file's mode)
    std::string sas_token_file;  ///< where sas_token came from
    int64_t sas_token_lifetime_seconds = 3600;
    std::string api_version = "2021-04-12";
    bool websocket = false;
    int keepalive_seconds = 240;
    std::string gateway_host;      ///< dial this host instead of the hub (IoT Edge, test broker)
    std::optional<uint16_t> port;  ///< overrides 8883 / 443
    bool tls = true;               ///< false only for plain-TCP test brokers
};

/// Reads [routes.<name>.cloud] for type "azure-iot-hub".
Result<CloudProfilePtr> create(ConfigTable& cloud);

const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::azure_iot_hub
