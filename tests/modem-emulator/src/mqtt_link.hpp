// SPDX-License-Identifier: Apache-2.0
// MqttLink: the built-in MQTT client of an emulated module. Paho MQTT C++ speaks MQTT to a
// loopback listener of the link, which pipes the bytes to a HostSocket (TCP or TLS to the real
// broker), so TLS (SNI, roots, client certificate) is done exactly as for emulated sockets.
#pragma once

#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "host_socket.hpp"

namespace uplinkd::emulator {

/// How an MQTT connect ended; the models map these to their own result codes.
enum class MqttConnectResult {
    Ok,
    Dns,                   ///< the broker's name does not resolve
    Refused,               ///< TCP connect refused / unreachable
    Timeout,               ///< no TCP/TLS connection or no CONNACK in time
    TlsInit,               ///< the module's credentials do not load
    TlsHandshake,          ///< TLS handshake failed (protocol, SNI gate, client cert refused)
    TlsVerify,             ///< the broker's certificate did not verify
    ConnackRefused,        ///< CONNACK with a non-zero return code (`connack_code`)
    ClosedWithoutConnack,  ///< the broker closed the connection before any CONNACK
    Failed,                ///< anything else (Paho could not start, link not open)
};

const char* toString(MqttConnectResult r);

struct MqttConnectOutcome {
    MqttConnectResult result = MqttConnectResult::Failed;
    int connack_code = 0;  ///< the CONNACK return code when result is ConnackRefused
    std::string detail;
};

/// Why an established MQTT connection ended without the module asking for it.
enum class MqttLostReason {
    PeerClosed,    ///< the broker (or the network) closed the connection
    ClientClosed,  ///< the client gave up (no PINGRESP within the keep-alive, protocol error)
};

const char* toString(MqttLostReason r);

struct MqttWill {
    std::string topic;
    std::string payload;
    int qos = 0;
    bool retain = false;
};

/// The CONNECT the module sends.
struct MqttSession {
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;
    int keep_alive_s = 120;
    bool clean_session = true;
    int version = 4;  ///< protocol level: 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1
    std::optional<MqttWill> will;
    std::chrono::milliseconds timeout{20000};  ///< CONNECT to CONNACK
};

/// One module MQTT client connection at a time; loop-bound (single thread, the emulator's
/// io_context). Paho runs on its own threads: every Paho call goes to a worker thread and every
/// Paho callback is posted into the loop, guarded by a token that dies with the connection, so
/// callbacks stop after close(). Create with make_shared; close() before dropping it.
class MqttLink : public std::enable_shared_from_this<MqttLink> {
  public:
    enum class State { Idle, Opening, Open, Connecting, Connected, Disconnecting };

    using OpenDone = std::function<void(ConnectError, const std::string& detail)>;
    using ConnectDone = std::function<void(const MqttConnectOutcome&)>;
    using Done = std::function<void(bool ok, const std::string& detail)>;
    /// `granted`: the granted QoS (0-2) or 0x80 for a refusal; -1 when no SUBACK came.
    using SubscribeDone = std::function<void(int granted)>;
    using MessageFn = std::function<void(const std::string& topic, const std::string& payload,
                                         int qos, bool retain)>;
    using LostFn = std::function<void(MqttLostReason, const std::string& detail)>;

    explicit MqttLink(asio::io_context& io);
    ~MqttLink();
    MqttLink(const MqttLink&) = delete;
    MqttLink& operator=(const MqttLink&) = delete;

    /// Opens the network connection to the broker (TCP, TLS per `tls`); no MQTT yet.
    void open(const std::string& host, uint16_t port, TlsOptions tls,
              std::chrono::milliseconds timeout, OpenDone done);
    /// Sends CONNECT over the open connection; `done` runs once, at CONNACK or failure. After a
    /// failure the network connection is closed (state Idle).
    void connect(MqttSession session, ConnectDone done);
    /// open() then connect(); network failures come as the matching MqttConnectResult.
    void connect(const std::string& host, uint16_t port, TlsOptions tls, MqttSession session,
                 ConnectDone done);

    /// Publishes; `done` runs when the broker acknowledged (PUBACK for QoS 1, PUBCOMP for 2) or
    /// when a QoS 0 message was written, or with ok=false when the connection went first.
    void publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                 Done done);
    void subscribe(const std::string& filter, int qos, SubscribeDone done);
    void unsubscribe(const std::string& filter, Done done);
    /// Sends DISCONNECT, then closes; `done` runs when the connection is closed. No lost().
    void disconnect(Done done);
    /// Closes now, without DISCONNECT; pending `done`s and events are dropped.
    void close();
    /// Fault injection: the network connection goes as if the broker had dropped it; lost()
    /// (or a pending open/connect failure) follows.
    void dropAsRemote();

    /// Incoming PUBLISH.
    void onMessage(MessageFn fn) { on_message_ = std::move(fn); }
    /// The connection ended on its own (not after close()/disconnect()). Also runs when the
    /// network connection of an open (not yet connected) link goes.
    void onLost(LostFn fn) { on_lost_ = std::move(fn); }

    State state() const { return state_; }
    bool connected() const { return state_ == State::Connected; }
    /// The protocol name and level of the last CONNECT that went to the broker, as sent
    /// ("MQIsdp"/3 for MQTT 3.1, "MQTT"/4 for 3.1.1); empty / 0 before any.
    const std::string& sentProtocolName() const { return sent_protocol_name_; }
    int sentProtocolLevel() const { return sent_protocol_level_; }
    nlohmann::json status() const;

    static const char* toString(State s);

  private:
    struct Paho;
    struct Bridge;

    void startPaho(MqttSession session);
    void acceptLoopback();
    void pipeUp();
    void pipeDown();
    void sniffConnect(const std::string& bytes);
    void finishConnect(MqttConnectOutcome outcome);
    void finishDisconnect();
    void onHostClosed();
    void onLoopbackClosed();
    void lose(MqttLostReason reason, const std::string& detail);
    /// Closes everything of the current connection; `fail_ops`: pending dones get ok=false.
    void teardown(bool fail_ops);
    uint64_t addOp(std::function<void(bool ok, int code)> fn);
    void completeOp(uint64_t conn, uint64_t id, bool ok, int code);
    void pahoStartFailed(uint64_t conn, const std::string& what);
    void pahoConnected(uint64_t conn, bool ok, int rc);
    void pahoLost(uint64_t conn, const std::string& cause);
    void pahoMessage(uint64_t conn, const std::string& topic, const std::string& payload, int qos,
                     bool retain);

    asio::io_context& io_;
    State state_ = State::Idle;
    uint64_t conn_ = 0;  ///< connection number; events of older connections are ignored
    HostSocketPtr host_;
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
    std::unique_ptr<asio::ip::tcp::socket> loop_;  ///< Paho's loopback connection, our side
    std::shared_ptr<Paho> paho_;
    std::shared_ptr<Bridge> bridge_;
    asio::steady_timer timer_;
    OpenDone open_done_;
    ConnectDone connect_done_;
    Done disconnect_done_;
    MessageFn on_message_;
    LostFn on_lost_;
    std::map<uint64_t, std::function<void(bool, int)>> ops_;
    uint64_t next_op_ = 1;
    std::array<char, 16384> rbuf_{};
    std::string to_paho_;  ///< broker bytes taken from the socket, not yet written to Paho
    std::string down_;     ///< broker bytes being written to Paho
    bool writing_down_ = false;
    bool reading_up_ = false;
    std::string sniff_;  ///< first bytes from Paho, until the CONNECT header is seen
    bool sniffed_ = false;
    std::optional<int> connack_rc_;  ///< return code of the CONNACK seen on the way to Paho
    bool host_closed_ = false;       ///< the broker side of the current connection is gone
    std::string sent_protocol_name_;
    int sent_protocol_level_ = 0;
    std::string host_name_;
    uint16_t host_port_ = 0;
    uint64_t published_ = 0;
    uint64_t received_ = 0;
};

using MqttLinkPtr = std::shared_ptr<MqttLink>;

}  // namespace uplinkd::emulator
