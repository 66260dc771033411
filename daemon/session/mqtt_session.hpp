// SPDX-License-Identifier: Apache-2.0
// MqttSession: a route's MQTT connection, whoever carries it: Paho over the route's uplinks
// (PahoSession: dial, TLS, tunnel, Paho) or a module's own MQTT client (ModemMqttSession, for
// mqtt = "modem"). The route's state machine, spool window, backoff, status and the API talk
// only to this interface. Thread: loop; every callback runs on the loop, and none comes for a
// connection after disconnect() or the session's destruction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "tls/tls_session.hpp"
#include "uplinkd/cloud_profile.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

enum class RouteState { Idle, Dialing, Tls, Mqtt, Online, Backoff, Stopped };
const char* routeStateName(RouteState s);

/// The TLS settings of a route for endpoint `ep`: the route's [tls] files and names, the cloud's
/// SNI and ALPN unless the route overrides them. Pure.
TlsOptions routeTlsOptions(const RouteConfig& config, const BrokerEndpoint& ep);

class MqttSession {
  public:
    /// A message as the broker must see it, with the spool's sequence number.
    struct Outgoing {
        uint64_t seq = 0;
        std::string topic;
        /// Shared with the route's in-flight record and the MQTT client: a large payload is never
        /// copied on its way out. Never null once filled in (bytes() reads it).
        std::shared_ptr<const std::string> payload;
        int qos = 1;
        bool retain = false;
        Properties user_properties;  ///< MQTT 5 user properties

        const std::string& bytes() const {
            static const std::string kNone;
            return payload ? *payload : kNone;
        }
    };

    struct Callbacks {
        /// The connect attempt reached a new step (Dialing, Tls, Mqtt).
        std::function<void(RouteState)> progress;
        std::function<void()> connected;
        /// The attempt failed; `refused` when the other side said no (credentials, certificate),
        /// so the route waits longer before the next one.
        std::function<void(Error, bool refused)> connect_failed;
        /// An established connection went away.
        std::function<void(Error)> lost;
        std::function<void(std::string topic, std::string payload, int qos, bool retain,
                           Properties props)>
            message;
        /// The broker has message `seq` (QoS 1) or it was written (QoS 0); or it failed, with
        /// the broker's MQTT 5 reason code when it refused it (else 0).
        std::function<void(uint64_t seq, bool ok, int reason_code)> published;
        /// A batch handed over by publish(): the first `taken` messages are the session's, the
        /// rest were not taken (queue full, connection going away) and were not sent.
        std::function<void(size_t taken, std::string why)> batch_done;
        /// The session cannot work at all (e.g. the client could not be created): plain words.
        std::function<void(std::string message)> setup_failed;
    };

    virtual ~MqttSession() = default;

    /// Starts one connection attempt with `creds`; the outcome comes as connected or
    /// connect_failed.
    virtual void connect(const MqttCredentials& creds) = 0;
    /// Ends the current connection or attempt; nothing waits for it.
    virtual void disconnect() = 0;
    /// Hands messages over, in order (answered by batch_done, then published for each). Once
    /// one is not taken, the rest and later batches are not taken until resume().
    virtual void publish(std::vector<Outgoing> batch) = 0;
    virtual void resume() = 0;
    virtual void subscribe(const std::string& broker_filter, int qos) = 0;
    virtual void unsubscribe(const std::string& broker_filter) = 0;
    /// Whether this session can carry the message at all (module limits), before it is spooled.
    virtual Status check(const Outgoing& message) const = 0;
    /// The connection was refused: forget what could make the next attempt repeat a mistake
    /// (a TLS session to resume).
    virtual void forgetAfterRefusal() {}
    /// The uplink in use or last tried, and the stream of the current connection, for status.
    virtual std::string uplinkDescription() const = 0;
    virtual std::string streamDescription() const = 0;
    /// The index (in the route's uplinks) of the uplink in use or last tried.
    virtual size_t uplinkIndex() const { return 0; }
    /// What "delivered" means on this session, when it is less than the broker's PUBACK.
    virtual std::string deliveryNote() const { return {}; }
};

}  // namespace uplinkd
