// SPDX-License-Identifier: Apache-2.0
// RouteSession: one cloud connection. Connects its MqttSession (Paho over the route's uplinks,
// or the module's own MQTT client), then feeds it a bounded window of messages from the spool
// and acknowledges them when the broker has them. State machine:
// idle → dialing → tls → mqtt → online → backoff (→ dialing). Thread: loop.
#pragma once

#include <asio.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "session/inflight_window.hpp"
#include "session/mqtt_session.hpp"
#include "session/uplink_health.hpp"
#include "session/uplink_selector.hpp"
#include "uplink/uplink.hpp"
#include "uplinkd/latency_histogram.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {

class MqttSession;
class PahoWorker;
class Tunnel;

/// One uplink of a route, for status.
struct UplinkStatus {
    std::string name;
    std::string state;  ///< "active", "standby" or "failing"
    std::string reason;
    int64_t last_probe_ms = 0;  ///< Unix time of the last probe; 0: never
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    bool metered = false;  ///< costs per byte: the route sends only metered_topics over it
};

/// A change of the uplink that carries a route.
struct FailoverStatus {
    int64_t at_ms = 0;  ///< Unix time
    std::string from, to, reason;
};

/// What `uplinkctl status` shows about a route.
struct RouteStatus {
    std::string name;
    std::string cloud;
    std::string broker;  ///< host:port
    std::string uplink;  ///< the uplink in use or last tried
    std::string stream;  ///< description of the connected stream (TLS version, resumed)
    RouteState state = RouteState::Idle;
    std::string last_error;  ///< plain words; empty when none since the last success
    std::string last_error_code;
    uint64_t in_flight = 0;
    int inflight_window = 0;  ///< the window now (configured, or chosen from the RTT)
    bool inflight_window_auto = false;
    int64_t round_trip_us = 0;     ///< smoothed publish → acknowledgement time; 0: not measured
    uint64_t sent = 0;             ///< handed to Paho
    uint64_t delivered = 0;        ///< acknowledged by the broker (QoS 1) or written (QoS 0)
    uint64_t connects = 0;         ///< successful connections since start
    uint64_t failures = 0;         ///< failed connection attempts since start
    uint64_t received = 0;         ///< messages from the broker
    std::string mqtt = "uplinkd";  ///< who speaks MQTT: "uplinkd" or "modem"
    std::string delivery_note;     ///< what "delivered" means, when less than the broker's PUBACK
    int64_t next_retry_ms = 0;     ///< when backing off: ms until the next attempt
    std::map<std::string, uint64_t> failure_codes;  ///< failed connection attempts by error code
    LatencyHistogram delivery_latency;              ///< queued (created_ms) → delivered
    std::string active_uplink;          ///< the name of the uplink that carries the route, or empty
    std::vector<UplinkStatus> uplinks;  ///< in order of preference
    std::vector<FailoverStatus> failovers;  ///< the last switches, oldest first
};

class RouteSession {
  public:
    struct Events {
        /// A message left the spool because the broker has it.
        std::function<void(const std::string& route, uint64_t seq)> delivered;
        /// A message came from the broker (already mapped to a local topic).
        std::function<void(const IncomingMessage&)> incoming;
        /// The state changed (for logs, D-Bus, systemd STATUS).
        std::function<void(const std::string& route, RouteState)> state_changed;
    };

    /// `paho` runs the calls into Paho (mqtt = "uplinkd"); it must outlive the session.
    RouteSession(asio::io_context& loop, RouteConfig config, Spool& spool, Tunnel& tunnel,
                 std::vector<Uplink*> uplinks, Events events, PahoWorker& paho);
    ~RouteSession();
    RouteSession(const RouteSession&) = delete;
    RouteSession& operator=(const RouteSession&) = delete;

    void start();
    /// Disconnects; messages in flight go back to the spool.
    void stop();
    /// New messages are in the spool for this route.
    void notifyQueued();
    /// Checks a message against the cloud's rules before it is accepted.
    Status validate(const Message& msg) const;
    /// Adds a subscription (kept across reconnects). Errors when the cloud refuses the filter.
    Status subscribe(const std::string& local_filter, int qos);
    void unsubscribe(const std::string& local_filter);

    const RouteConfig& config() const { return config_; }
    RouteStatus status() const;

  private:
    void setState(RouteState s);
    void dial();
    void onConnected(uint64_t gen);
    void onConnectFailed(uint64_t gen, const Error& error, bool refused);
    void onConnectionLost(uint64_t gen, const Error& error);
    void onPublished(uint64_t gen, uint64_t seq, bool ok, int reason_code);

    // The dead-letter rules (route_dead_letters.cpp).
    /// The broker answered a publish with an MQTT 5 reason code of 0x80 or more.
    void onRefused(uint64_t seq, int reason_code);
    /// The connection was lost: counts a strike against the oldest unacknowledged message.
    void noteLossCulprit(const Error& why);
    void moveToDeadLetters(uint64_t seq, const std::string& reason, int attempts);
    /// After a lease: logs once when the spool cannot hand out the route's oldest message (a
    /// new reason) and once when it can again; while it cannot, pumps again every few seconds
    /// (route_spool_problem.cpp).
    void noteSpoolProblem();

    void onMessage(uint64_t gen, std::string topic, std::string payload, int qos, bool retain,
                   Properties props);
    void onBatchDone(uint64_t gen, size_t taken, const std::string& why);
    void onSetupFailed(const std::string& message);
    /// The session's callbacks, each tagged with the attempt number it belongs to.
    MqttSession::Callbacks sessionCallbacks();
    void fail(const Error& error, bool refused);
    void scheduleRetry(int64_t delay_ms);
    void pump();
    /// pump() once the loop has run what is already queued: the acknowledgements of one
    /// gathering (and the appends of one commit) make one lease and one hand-over, not one each.
    void pumpSoon();
    void retryPumpSoon();
    void subscribeAll();
    void scheduleRenewal(SystemTime valid_until);
    void dropConnection();

    // Failover between the route's uplinks (route_failover.cpp).
    void startHealth();
    /// The active uplink died (silent, interface down, connection lost): dial the next.
    void onUplinkDead(const std::string& reason);
    /// A preferred uplink is healthy again: stop taking new messages, then move back to it.
    void onFailbackDue(size_t index);
    void failBack();
    /// Online over the session's uplink: tells the selector, logs a switch.
    void noteOnline();
    void fillUplinkStatus(RouteStatus& s) const;
    /// "; nothing received for N s" when the active uplink has been quiet a while, else empty.
    std::string silenceNote() const;
    /// The topic filters the route may send now: metered_topics while a metered uplink carries
    /// it, else none (everything goes).
    const std::vector<std::string>& meteredTopics() const;

    asio::io_context& loop_;
    RouteConfig config_;
    Spool& spool_;
    Tunnel& tunnel_;
    std::vector<Uplink*> uplinks_;
    Events events_;

    PahoWorker& paho_worker_;
    std::unique_ptr<MqttSession> session_;

    RouteState state_ = RouteState::Idle;
    uint64_t gen_ = 0;  ///< connection attempt number; stale callbacks carry an older one
    int attempt_ = 0;   ///< consecutive failures, for the backoff
    Error last_error_;
    asio::steady_timer retry_timer_;
    asio::steady_timer connect_timer_;
    asio::steady_timer renew_timer_;
    asio::steady_timer pump_timer_;  ///< retries handing messages to Paho when its queue is full
    /// While the spool cannot read the oldest message: leases it again every kSpoolRetry, so a
    /// passing cause (out of memory) clears without new traffic.
    asio::steady_timer spool_retry_timer_;
    bool spool_retry_armed_ = false;
    std::chrono::steady_clock::time_point retry_at_{};
    bool renewing_ = false;

    struct Sent {
        Message message;                           ///< without its payload (below)
        std::shared_ptr<std::string> payload;      ///< shared with the session until acknowledged
        std::chrono::steady_clock::time_point at;  ///< when it was handed to the session
    };
    /// The payload back as a message's own: moved when nothing else holds it, else copied.
    static std::string takePayload(std::shared_ptr<std::string> payload);
    std::map<uint64_t, Sent> inflight_;  ///< seq → the message, until acknowledged
    InflightWindow window_;              ///< how many may be in flight (issue 14)
    std::map<uint64_t, int> refusals_;   ///< seq → refused publishes (PUBACK >= 0x80)
    /// The oldest unacknowledged message at the last connection losses, and how many losses in
    /// a row it was (see noteLossCulprit).
    uint64_t suspect_seq_ = 0;
    int suspect_strikes_ = 0;
    /// The broker refused a publish on this connection (some brokers close it right after).
    bool refused_on_connection_ = false;
    /// The spool's last reason for holding the route that was logged; empty when none.
    std::string spool_problem_;
    std::deque<Message> unsent_;               ///< leased, not yet taken by the session
    std::deque<std::deque<Message>> handing_;  ///< batches with the session, in order
    bool session_refused_ = false;  ///< one was not taken: wait for the batches, then retry
    bool pump_posted_ = false;      ///< a pumpSoon() is queued on the loop
    std::map<std::string, int> subscriptions_;  ///< local filter → qos
    RouteStatus counters_;
    std::mt19937_64 rng_{std::random_device{}()};
    UplinkSelector selector_;
    std::unique_ptr<UplinkHealth> health_;  ///< with several uplinks
    bool failback_pending_ = false;         ///< draining the window before moving back
    std::string failback_reason_;
    asio::steady_timer failback_timer_;  ///< bounds the drain
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
