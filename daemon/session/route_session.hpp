// RouteSession: one cloud connection. Dials the broker over the route's uplinks, does TLS,
// hands the stream to Paho through the tunnel, then feeds Paho a bounded window of messages
// from the spool and acknowledges them when the broker has them. State machine:
// idle → dialing → tls → mqtt → online → backoff (→ dialing). Thread: loop; Paho callbacks are
// posted into the loop, and every call into Paho runs on the PahoWorker (never on the loop).
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
#include "uplink/uplink.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {

class PahoClient;
class PahoWorker;
class Tunnel;
class TlsContext;
class TlsSession;

enum class RouteState { Idle, Dialing, Tls, Mqtt, Online, Backoff, Stopped };
const char* routeStateName(RouteState s);

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
    uint64_t sent = 0;          ///< handed to Paho
    uint64_t delivered = 0;     ///< acknowledged by the broker (QoS 1) or written (QoS 0)
    uint64_t connects = 0;      ///< successful connections since start
    uint64_t failures = 0;      ///< failed connection attempts since start
    uint64_t received = 0;      ///< messages from the broker
    int64_t next_retry_ms = 0;  ///< when backing off: ms until the next attempt
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

    /// `paho` runs the calls into Paho; it must outlive the session.
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
    struct PahoBridge;
    void setState(RouteState s);
    void dial();
    void dialNext(size_t uplink_index);
    void onStream(size_t uplink_index, uint64_t gen, Result<ByteStreamPtr> stream);
    void startMqtt(uint64_t gen, ByteStreamPtr stream);
    void onConnected(uint64_t gen);
    void onConnectFailed(uint64_t gen, int code, const std::string& message);
    void onConnectionLost(uint64_t gen, const std::string& cause);
    void onTransportClosed(uint64_t gen, const Error& reason);
    void onPublished(uint64_t gen, uint64_t seq, bool ok, int reason_code);
    /// The broker answered a publish with an MQTT 5 reason code of 0x80 or more.
    void onRefused(uint64_t seq, int reason_code);
    /// The connection was lost: counts a strike against the oldest unacknowledged message.
    void noteLossCulprit(const Error& why);
    void moveToDeadLetters(uint64_t seq, const std::string& reason, int attempts);
    void onMessage(uint64_t gen, std::string topic, std::string payload, int qos, bool retain,
                   Properties props);
    void onBatchDone(uint64_t gen, size_t taken, const std::string& why);
    void onSetupFailed(const std::string& message);
    void fail(const Error& error, bool refused);
    void scheduleRetry(int64_t delay_ms);
    void pump();
    void retryPumpSoon();
    void subscribeAll();
    void scheduleRenewal(SystemTime valid_until);
    void dropConnection();

    asio::io_context& loop_;
    RouteConfig config_;
    Spool& spool_;
    Tunnel& tunnel_;
    std::vector<Uplink*> uplinks_;
    Events events_;

    std::shared_ptr<TlsContext> tls_;
    std::unique_ptr<TlsSession> handshaking_;  ///< the TLS session while its handshake runs
    PahoWorker& paho_worker_;
    std::unique_ptr<PahoClient> paho_;  ///< queues the calls into Paho on paho_worker_
    std::shared_ptr<PahoBridge> bridge_;

    RouteState state_ = RouteState::Idle;
    uint64_t gen_ = 0;  ///< connection attempt number; stale callbacks carry an older one
    int attempt_ = 0;   ///< consecutive failures, for the backoff
    std::string current_uplink_;
    std::string stream_desc_;
    Error last_error_;
    std::optional<Error> transport_error_;  ///< why the broker side of the tunnel closed
    asio::steady_timer retry_timer_;
    asio::steady_timer connect_timer_;
    asio::steady_timer renew_timer_;
    asio::steady_timer pump_timer_;  ///< retries handing messages to Paho when its queue is full
    std::chrono::steady_clock::time_point retry_at_{};
    bool renewing_ = false;

    struct Sent {
        Message message;
        std::chrono::steady_clock::time_point at;  ///< when it was handed to Paho
    };
    std::map<uint64_t, Sent> inflight_;  ///< seq → the message, until acknowledged
    std::map<uint64_t, int> refusals_;   ///< seq → refused publishes (PUBACK >= 0x80)
    /// The oldest unacknowledged message at the last connection losses, and how many losses in
    /// a row it was (see noteLossCulprit).
    uint64_t suspect_seq_ = 0;
    int suspect_strikes_ = 0;
    /// The broker refused a publish on this connection (some brokers close it right after).
    bool refused_on_connection_ = false;
    std::deque<Message> unsent_;               ///< leased, not yet taken by Paho
    std::deque<std::deque<Message>> handing_;  ///< batches with the Paho worker, in order
    bool paho_refused_ = false;  ///< Paho refused one: wait for the batches, then retry
    std::map<std::string, int> subscriptions_;  ///< local filter → qos
    RouteStatus counters_;
    std::mt19937_64 rng_{std::random_device{}()};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
