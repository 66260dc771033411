// SPDX-License-Identifier: Apache-2.0
// ModemMqtt: the module's own MQTT client, used for MQTT offload (route key mqtt = "modem"): one
// MQTT session to one broker, TLS by the module when asked, with the credentials the uplink
// provisioned into the module's store beforehand (ModemDriver::provision). Made and owned by a
// ModemDriver whose family has an MQTT client (ModemDriver::mqtt()). Thread: loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// What the module's MQTT client can carry; enforced at publish time (checkModemMqttPublish) so
/// that a message the module could never send is refused before it is spooled.
struct ModemMqttLimits {
    size_t max_topic_bytes = 0;    ///< 0: no limit of the module's own
    size_t max_payload_bytes = 0;  ///< 0: no limit of the module's own
    /// False when payload bytes go in a quoted AT argument: then no '"', CR, LF, NUL, Ctrl-Z or
    /// other control byte may appear (the driver uses a counted form when it has one).
    bool binary_payload = true;
    /// Characters a topic may not contain in this module's command syntax (e.g. "\"," ).
    std::string topic_forbidden;
    int max_qos = 1;
    /// True when the module reports the broker's PUBACK for each QoS 1 message (then `delivered`
    /// means the broker has it); false when the driver can only report that the module took it.
    bool qos1_acknowledged = true;
    size_t max_subscriptions = 0;  ///< 0: no known limit
    /// One line for `uplinkctl status` and the README: what "delivered" means on this module.
    std::string delivery_note;
};

/// One connection the module's client should make.
struct ModemMqttConnect {
    std::string host;
    uint16_t port = 0;
    bool tls = false;               ///< TLS by the module, with the provisioned certificates
    std::string server_name;        ///< SNI / certificate name (the host unless overridden)
    std::vector<std::string> alpn;  ///< ALPN protocols, when the module can send them
    std::string websocket_path;     ///< empty: MQTT over TCP; else MQTT over WebSocket
    std::string client_id;
    std::string username;
    std::string password;  ///< secret: never logged, never in an error message
    int keep_alive_s = 60;
    bool clean_session = true;
    int timeout_s = 30;  ///< the module's own connect / CONNACK timeout where it takes one
};

/// What the module's client reports on its own. Each runs on the loop.
struct ModemMqttEvents {
    /// A message from the broker on a subscribed topic. `qos` is -1 when the module does not
    /// say; retain is false when it does not say.
    std::function<void(std::string topic, std::string payload, int qos, bool retain)> message;
    /// The connection ended without disconnect() (broker closed, keep-alive lost, module reset):
    /// plain words in the error.
    std::function<void(Error why)> lost;
};

class ModemMqtt {
  public:
    virtual ~ModemMqtt() = default;
    using StatusDone = std::function<void(Status)>;

    virtual ModemMqttLimits limits() const = 0;
    /// Configures the module's client and connects. `done`: ok once the broker accepted
    /// (CONNACK 0); else an error whose code says which step ("mqtt_connack_<n>",
    /// "mqtt_tls", "mqtt_network", "mqtt_unsupported", ...) and whose message says why in plain
    /// words, with the fix. A previous session of the module is closed and released first.
    virtual void connect(const ModemMqttConnect& params, ModemMqttEvents events,
                         StatusDone done) = 0;
    /// Publishes one message. `done` runs once: for QoS 1 when the broker acknowledged it (when
    /// limits().qos1_acknowledged), for QoS 0 when the module took it; an error when the module
    /// refused or the connection went away first. Calls may overlap; the driver queues them in
    /// order.
    virtual void publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                         StatusDone done) = 0;
    virtual void subscribe(const std::string& filter, int qos, StatusDone done) = 0;
    virtual void unsubscribe(const std::string& filter, StatusDone done) = 0;
    /// Disconnects and releases the module's client; no event of this connection comes after
    /// it is called. `done` runs once either way (also when nothing was connected).
    virtual void disconnect(StatusDone done) = 0;
};

/// A publish the module could not carry, as an error naming the limit ("bad_topic",
/// "too_large", "bad_payload", "bad_qos"), or ok. Pure.
Status checkModemMqttPublish(const ModemMqttLimits& limits, const std::string& topic,
                             const std::string& payload, int qos);

}  // namespace uplinkd
