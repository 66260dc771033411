// SPDX-License-Identifier: Apache-2.0
// aws-iot: a thing on AWS IoT Core over MQTT with an X.509 client certificate (port 8883, or 443
// with ALPN "x-amzn-mqtt-ca"); maps local topics through a template and enforces the broker's
// limits before sending. Pure (no I/O after creation, no clock reads). Thread: loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::aws_iot {

/// Largest PUBLISH payload AWS IoT Core accepts, bytes (128 KiB).
inline constexpr size_t kMaxPayloadBytes = 128 * 1024;
/// Longest topic name or filter, bytes of UTF-8.
inline constexpr size_t kMaxTopicBytes = 256;
/// Most '/' in a topic or filter (8 levels), not counting a "$aws/rules/<rule>/" prefix.
inline constexpr int kMaxTopicSlashes = 7;
/// Longest client id, bytes.
inline constexpr size_t kMaxClientIdBytes = 128;
/// ALPN protocol for certificate-authenticated MQTT on port 443.
inline constexpr const char* kAlpnMqttCa = "x-amzn-mqtt-ca";

struct Settings {
    std::string endpoint;    ///< data endpoint host, e.g. "xxxx-ats.iot.eu-west-1.amazonaws.com"
    std::string thing_name;  ///< also the MQTT client id
    uint16_t port = 8883;    ///< 8883, or 443 with ALPN
    std::string topic_template = "{topic}";
    int mqtt_version = 4;
    int keepalive_seconds = 300;
    /// endpoint_override: dial this host instead of `endpoint` (test brokers, private
    /// endpoints); SNI and the certificate name are then this host. Empty: the endpoint.
    std::string override_host;
    /// endpoint_override's port; none: `port`.
    std::optional<uint16_t> override_port;
};

/// Reads [routes.<name>.cloud] for type "aws-iot".
Result<CloudProfilePtr> create(ConfigTable& cloud);

const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::aws_iot
