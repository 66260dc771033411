// The A76xx MQTT client (AT+CMQTT*): per-client state, the broker side it talks through, and
// the CMQTT <err> table. The commands themselves are in model_a76xx_mqtt.cpp.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "host_socket.hpp"

namespace uplinkd::emulator {

/// CMQTT <err> codes (SIMCom A76XX manual ch. 18.3).
namespace cmqtt {
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kBadUtf8 = 2;
constexpr int kSockConnect = 3;
constexpr int kNetOpenFail = 7;
constexpr int kNoConnection = 11;
constexpr int kInvalidParam = 12;
constexpr int kBusy = 14;
constexpr int kTimeout = 17;
constexpr int kTopicEmpty = 18;
constexpr int kClientUsed = 19;
constexpr int kNotAcquired = 20;
constexpr int kNotReleased = 21;
constexpr int kLengthRange = 22;
constexpr int kDns = 25;
constexpr int kClosedByServer = 26;
constexpr int kConnackBase = 26;  ///< CONNACK return code 1-5 → 27-31
constexpr int kHandshake = 32;
constexpr int kCertNotSet = 33;
}  // namespace cmqtt

/// How an MQTT connect through the broker side ended.
enum class MqttFailure {
    None,
    Dns,
    Refused,
    Timeout,
    TlsInit,       ///< the client certificate or key does not load
    TlsHandshake,  ///< handshake or server verification failed
    Closed,        ///< the server closed before CONNACK
    Connack,       ///< CONNACK with a non-zero return code
};

/// The CMQTT <err> of a failed connect (pure).
int cmqttConnectError(MqttFailure f, int connack_code);

/// True when `s` is well-formed UTF-8 without NUL (what checkUTF8 1 asks of topics).
bool validMqttUtf8(std::string_view s);

/// What a CMQTTCONNECT asks of the broker side.
struct MqttConnectSpec {
    std::string host;
    uint16_t port = 1883;
    TlsOptions tls;
    std::string client_id;
    int version = 3;  ///< 3 = MQTT 3.1 (the module's default), 4 = 3.1.1
    int keepalive = 60;
    bool clean = true;
    std::optional<std::string> user;
    std::optional<std::string> password;
    std::optional<std::string> will_topic;
    std::string will_payload;
    int will_qos = 0;
    std::chrono::milliseconds timeout{120000};
};

/// The broker side of one CMQTT client: one real MQTT connection; loop-bound (single thread).
/// Every callback runs on the loop; none runs after close().
class MqttBrokerLink {
  public:
    using ConnectDone = std::function<void(MqttFailure, int connack_code, const std::string&)>;
    using Done = std::function<void(bool ok)>;
    using Message = std::function<void(const std::string& topic, const std::string& payload)>;
    using Lost = std::function<void()>;

    virtual ~MqttBrokerLink() = default;
    virtual void connect(MqttConnectSpec spec, ConnectDone done) = 0;
    /// `done` at the broker's PUBACK (QoS 1) / PUBCOMP (QoS 2), or once written (QoS 0).
    virtual void publish(std::string topic, std::string payload, int qos, bool retain,
                         Done done) = 0;
    virtual void subscribe(std::vector<std::pair<std::string, int>> topics, Done done) = 0;
    virtual void unsubscribe(std::vector<std::string> topics, Done done) = 0;
    /// A clean MQTT DISCONNECT, then the connection closes; `done` once it did.
    virtual void disconnect(Done done) = 0;
    /// Closes at once, without callbacks.
    virtual void close() = 0;
    /// Drops the connection as if the broker had gone: the Lost callback runs.
    virtual void dropAsRemote() = 0;
    void onMessage(Message m) { on_message_ = std::move(m); }
    void onLost(Lost l) { on_lost_ = std::move(l); }

  protected:
    Message on_message_;
    Lost on_lost_;
};

/// The broker side used by the model.
std::unique_ptr<MqttBrokerLink> makeMqttBrokerLink(asio::io_context& io);

/// One CMQTT client (index 0-1) as the host set it up; a value type, loop thread.
struct CmqttClient {
    enum class State { Disconnected, Connecting, Connected, Disconnecting };

    bool acquired = false;
    std::string client_id;
    int server_type = 0;         ///< 0 TCP, 1 SSL/TLS
    std::optional<int> ssl_ctx;  ///< AT+CMQTTSSLCFG; cleared after a failed connect or DISC
    int check_utf8 = 1;
    int optimeout = 120;
    int version = 3;  ///< the module's default: MQTT 3.1
    std::optional<std::string> will_topic;
    std::string will_msg;
    int will_qos = 0;

    State state = State::Disconnected;
    std::string server;  ///< "tcp://host:port" as given
    int keepalive = 0;
    int clean = 1;
    std::optional<std::string> user;

    std::optional<std::string> topic;  ///< AT+CMQTTTOPIC, cleared by CMQTTPUB
    std::string payload;               ///< AT+CMQTTPAYLOAD, cleared by CMQTTPUB
    std::vector<std::pair<std::string, int>> sub_topics;
    std::vector<std::string> unsub_topics;
    std::unique_ptr<MqttBrokerLink> link;
    uint64_t attempt = 0;  ///< bumped at each connect and loss: stale callbacks are ignored
    uint64_t published = 0;
    uint64_t received = 0;
};

}  // namespace uplinkd::emulator
