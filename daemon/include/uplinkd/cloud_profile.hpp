// SPDX-License-Identifier: Apache-2.0
// CloudProfile: what one cloud needs from a connection, as pure logic (no I/O, no clock reads,
// no logging): endpoint, credentials, topic mapping, limits and what a refusal means.
// Implemented by cloud plugins. Thread: loop (instances are not shared between threads).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "uplinkd/diagnosis.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

using SystemTime = std::chrono::system_clock::time_point;

/// Where and how to reach the broker.
struct BrokerEndpoint {
    std::string host;
    uint16_t port = 8883;
    bool tls = true;                ///< false only for plain-TCP test brokers
    std::string sni;                ///< server name for SNI and certificate check; empty = host
    std::vector<std::string> alpn;  ///< ALPN protocols to offer, e.g. "x-amzn-mqtt-ca"
    std::string websocket_path;     ///< non-empty: MQTT over WebSocket on this path
};

/// Another way into the same broker, tried by the doctor when the configured port does not
/// answer (AWS: 443 with ALPN; Azure, HiveMQ: MQTT over WebSockets on 443).
struct EndpointAlternative {
    std::string label;  ///< plain words, e.g. "port 443 with ALPN x-amzn-mqtt-ca"
    BrokerEndpoint endpoint;
    std::string setting;  ///< what to configure to use it, e.g. "port = 443"
};

/// What the doctor needs to know of a cloud beyond connecting.
struct CloudDiagnosis {
    /// The subject CN the device certificate should carry (AWS thing name, Azure device id);
    /// empty when the cloud does not care.
    std::string expected_subject_cn;
    /// True when another CN makes the cloud refuse the device (then a mismatch is a FAIL,
    /// else a warn).
    bool subject_cn_required = false;
    std::vector<EndpointAlternative> alternatives;
    /// A broker topic the device may both publish to and subscribe to, for a round trip; empty
    /// when the cloud allows none (the doctor then stops after CONNECT).
    std::string round_trip_topic;
    /// Files of the cloud's section that hold secrets (password_file, sas_key_file, …) as
    /// ("[routes.<name>] <key>" or just the key, path), for the doctor's permission check.
    std::vector<std::pair<std::string, std::string>> secret_files;
};

/// What goes into the MQTT CONNECT packet.
struct MqttCredentials {
    std::string client_id;
    std::string username;  ///< empty = none
    std::string password;  ///< secret: never logged; empty = none
    /// When the password stops being valid (SAS tokens); the session reconnects before then.
    std::optional<SystemTime> valid_until;
};

/// An outgoing message as the broker must see it.
struct CloudPublish {
    std::string topic;
    Properties user_properties;  ///< sent as MQTT 5 user properties when the version allows
};

/// A subscription on the broker, with the local topic filter it serves.
struct CloudSubscription {
    std::string broker_filter;
    int qos = 1;
};

class CloudProfile {
  public:
    virtual ~CloudProfile() = default;

    /// Plugin name, e.g. "generic-mqtt".
    virtual std::string kind() const = 0;
    virtual BrokerEndpoint endpoint() const = 0;
    /// 4 for MQTT 3.1.1, 5 for MQTT 5.
    virtual int mqttVersion() const = 0;
    virtual int keepAliveSeconds() const = 0;
    /// Credentials for a CONNECT made at `now` (SAS tokens are signed for `now`).
    virtual Result<MqttCredentials> credentials(SystemTime now) const = 0;
    /// Maps a local message to the broker's topic and checks the cloud's limits. The error code
    /// is shown to the publisher ("payload_too_large", "qos_not_supported", "bad_topic", ...).
    virtual Result<CloudPublish> mapOutgoing(const Message& msg) const = 0;
    /// Subscriptions the cloud needs regardless of local subscribers (e.g. Azure C2D).
    virtual std::vector<CloudSubscription> standingSubscriptions() const = 0;
    /// Maps a local subscription filter to a broker filter, or says why it is not allowed.
    virtual Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                                   int qos) const = 0;
    /// Maps a broker topic back to the local topic (and properties taken from the topic).
    virtual IncomingMessage mapIncoming(const std::string& broker_topic) const = 0;
    /// Plain words for a refused CONNECT (MQTT 3.1.1 return code or MQTT 5 reason code).
    virtual std::string explainConnack(int code) const = 0;
    /// Plain words for a broker that closed the connection without any CONNACK.
    virtual std::string explainSilentClose() const = 0;

    /// For `uplinkctl doctor`: what this cloud expects of the device beyond connecting.
    virtual CloudDiagnosis diagnosis() const { return {}; }
    /// For `uplinkctl doctor`: checks of the credentials a CONNECT at `now` would carry (SAS
    /// token fields, user name), in plain words and never showing a secret. Layer Credentials.
    virtual std::vector<Finding> checkCredentials(const MqttCredentials& creds,
                                                  SystemTime now) const {
        (void)creds;
        (void)now;
        return {};
    }
};

using CloudProfilePtr = std::unique_ptr<CloudProfile>;

}  // namespace uplinkd
