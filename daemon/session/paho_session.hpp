// SPDX-License-Identifier: Apache-2.0
// PahoSession: the MqttSession in which uplinkd speaks MQTT itself: it dials the broker over the
// route's uplinks in order, does TLS (OpenSSL, or the module's when the uplink offloads it),
// offers the stream to Paho through the loopback tunnel and runs Paho on the PahoWorker.
// Thread: loop; Paho's callbacks are posted into the loop.
#pragma once

#include <asio.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "session/mqtt_session.hpp"
#include "session/uplink_selector.hpp"
#include "uplink/uplink.hpp"

namespace uplinkd {

class PahoClient;
class PahoWorker;
class Tunnel;
class TlsContext;
class TlsSession;

class PahoSession final : public MqttSession {
  public:
    /// Fails when the route's TLS settings cannot work (a certificate file that does not load):
    /// that will not fix itself. `selector` (the route's, outliving the session) orders the
    /// uplinks to dial and counts their bytes.
    static Result<std::unique_ptr<PahoSession>> create(asio::io_context& loop,
                                                       const RouteConfig& config, Tunnel& tunnel,
                                                       std::vector<Uplink*> uplinks,
                                                       UplinkSelector& selector, PahoWorker& paho,
                                                       Callbacks callbacks);
    ~PahoSession() override;

    void connect(const MqttCredentials& creds) override;
    void disconnect() override;
    void publish(std::vector<Outgoing> batch) override;
    void resume() override;
    void subscribe(const std::string& broker_filter, int qos) override;
    void unsubscribe(const std::string& broker_filter) override;
    Status check(const Outgoing& message) const override;
    void forgetAfterRefusal() override;
    std::string uplinkDescription() const override { return current_uplink_; }
    std::string streamDescription() const override { return stream_desc_; }
    size_t uplinkIndex() const override { return current_index_; }

  private:
    struct Bridge;
    PahoSession(asio::io_context& loop, const RouteConfig& config, Tunnel& tunnel,
                std::vector<Uplink*> uplinks, UplinkSelector& selector, PahoWorker& paho,
                Callbacks callbacks, std::shared_ptr<TlsContext> tls);
    /// Dials over the uplink at `position` in this attempt's dial order.
    void dialNext(size_t position);
    /// A new Paho client for the next connection (the old one is disconnected and destroyed on
    /// the worker).
    void makeClient();
    void onStream(size_t position, uint64_t gen, Result<ByteStreamPtr> stream);
    void startMqtt(uint64_t gen, ByteStreamPtr stream);
    void onConnectDone(uint64_t gen, bool ok, int code, const std::string& message,
                       bool session_present);
    /// The TLS context for uplink `index`: a frugal one (created on first use) over a frugal
    /// uplink, else the route's.
    const std::shared_ptr<TlsContext>& tlsFor(size_t index);
    void onConnectionLost(uint64_t gen, const std::string& cause);
    void failAttempt(uint64_t gen, const Error& error, bool refused);

    asio::io_context& loop_;
    const RouteConfig& config_;
    Tunnel& tunnel_;
    std::vector<Uplink*> uplinks_;
    UplinkSelector& selector_;
    PahoWorker& paho_worker_;
    uint64_t client_serial_ = 0;  ///< which Paho client is the current one
    bool client_used_ = false;    ///< the current client was asked to connect
    std::vector<size_t> order_;   ///< this attempt's uplinks, in the order to dial them
    size_t current_index_ = 0;
    Callbacks cb_;
    std::shared_ptr<TlsContext> tls_;
    std::shared_ptr<TlsContext> frugal_tls_;   ///< for frugal uplinks (own session cache)
    std::unique_ptr<TlsSession> handshaking_;  ///< the TLS session while its handshake runs
    std::unique_ptr<PahoClient> paho_;
    std::shared_ptr<Bridge> bridge_;
    MqttCredentials creds_;
    uint64_t gen_ = 0;  ///< connection attempt number; stale callbacks carry an older one
    bool online_ = false;
    bool persistent_ = false;  ///< this connection asked the broker to keep the MQTT session
    /// The broker kept the session of the last connection: its subscriptions hold.
    bool session_present_ = false;
    /// Broker filters (and QoS) subscribed in the broker's current session; with a session kept
    /// they are not sent again.
    std::map<std::string, int> broker_subs_;
    std::set<std::string> requested_;  ///< filters the route asked for on this connection
    std::string current_uplink_;
    std::string stream_desc_;
    std::optional<Error> transport_error_;  ///< why the broker side of the tunnel closed
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
