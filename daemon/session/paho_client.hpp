// SPDX-License-Identifier: Apache-2.0
// PahoClient: a route's Paho async_client, of which the loop thread only ever queues work. Every
// call that can take Paho's process-wide mutex (create, connect, is_connected, publish,
// subscribe, disconnect, destruction) runs on the PahoWorker; outcomes come back through the
// Callbacks, which run on Paho's threads or on the worker (the owner posts them into its loop).
// Thread: the methods are called from the loop thread only and never block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "uplinkd/message.hpp"

namespace mqtt {
class message;
}  // namespace mqtt

namespace uplinkd {

class PahoWorker;

class PahoClient {
  public:
    struct Callbacks {
        /// Connect attempt `gen` ended: ok (with the CONNACK's session-present flag), or refused
        /// with the CONNACK/reason code (> 0) or a Paho failure (<= 0), with plain words.
        std::function<void(uint64_t gen, bool ok, int code, std::string message,
                           bool session_present)>
            connect_done;
        /// The connection went away without being asked to.
        std::function<void(std::string cause)> connection_lost;
        std::function<void(std::string topic, std::string payload, int qos, bool retain,
                           Properties props)>
            message;
        /// The broker has message `seq` (QoS 1/2) or it was written (QoS 0); or it failed, with
        /// the broker's MQTT 5 reason code when it refused it (else 0).
        std::function<void(uint64_t gen, uint64_t seq, bool ok, int reason_code)> published;
        /// A batch handed over by publish(): the first `taken` messages are Paho's, the rest
        /// were refused (queue full, connection going away) and were not sent.
        std::function<void(uint64_t gen, size_t taken, std::string why)> batch_done;
        /// The client could not be created, or a subscription could not be sent: plain words.
        std::function<void(std::string message)> setup_failed;
        std::function<void(std::string message)> subscribe_failed;
    };

    struct ConnectParams {
        std::string proxy_uri;
        int keep_alive_s = 60;
        int timeout_s = 10;
        bool v5 = false;
        std::string username;
        std::string password;
        /// Ask the broker to keep the session (subscriptions, queued QoS 1 messages) for
        /// `session_expiry_s` after the connection ends: MQTT 3.1.1 clean session 0 (the broker
        /// decides how long), MQTT 5 clean start 0 with a session expiry interval.
        bool persistent = false;
        int session_expiry_s = 0;
    };

    using OutgoingMessage = std::pair<uint64_t, std::shared_ptr<const mqtt::message>>;

    /// Queues the creation of the client for `uri` (with `client_id`).
    PahoClient(PahoWorker& worker, std::string uri, std::string client_id, bool v5,
               Callbacks callbacks);
    /// Queues a disconnect (waiting at most 500 ms for it) and the destruction of the client.
    ~PahoClient();
    PahoClient(const PahoClient&) = delete;
    PahoClient& operator=(const PahoClient&) = delete;

    /// Starts connect attempt `gen`; publishes refused before it are accepted again.
    void connect(uint64_t gen, ConnectParams params);
    /// Ends the current connection, if there is one; nothing waits for it.
    void disconnect();
    /// Hands messages of connection `gen` to Paho, in order. Once one is refused, the rest and
    /// every later batch are refused as well until resume(), so that order is kept.
    void publish(uint64_t gen, std::vector<OutgoingMessage> batch);
    void resume();
    void subscribe(std::string filter, int qos);
    void unsubscribe(std::string filter);

  private:
    struct State;
    PahoWorker& worker_;
    std::shared_ptr<State> state_;
};

}  // namespace uplinkd
