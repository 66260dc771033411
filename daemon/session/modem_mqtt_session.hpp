// SPDX-License-Identifier: Apache-2.0
// ModemMqttSession: the MqttSession of a route with mqtt = "modem": the module's own MQTT client
// (ModemMqtt, reached through the route's one modem uplink) connects, publishes and subscribes;
// uplinkd does neither TLS nor MQTT itself. The certificates of [routes.X.tls] go into the
// module's store first (the uplink writes them when they changed). Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "session/mqtt_session.hpp"
#include "uplink/uplink.hpp"

namespace uplinkd {

class ModemMqttSession final : public MqttSession {
  public:
    /// `uplink` must outlive the session and be a modem uplink with an MQTT client.
    ModemMqttSession(asio::io_context& loop, const RouteConfig& config, Uplink& uplink,
                     Callbacks callbacks);
    ~ModemMqttSession() override;

    void connect(const MqttCredentials& creds) override;
    void disconnect() override;
    void publish(std::vector<Outgoing> batch) override;
    void resume() override {}
    void subscribe(const std::string& broker_filter, int qos) override;
    void unsubscribe(const std::string& broker_filter) override;
    Status check(const Outgoing& message) const override;
    std::string uplinkDescription() const override { return uplink_.describe(); }
    std::string streamDescription() const override;
    std::string deliveryNote() const override;

  private:
    void onOpened(uint64_t gen, const MqttCredentials& creds, Result<ModemMqtt*> client);

    asio::io_context& loop_;
    const RouteConfig& config_;
    Uplink& uplink_;
    Callbacks cb_;
    ModemMqtt* client_ = nullptr;  ///< the module's client, while a connection is wanted
    uint64_t gen_ = 0;
    bool online_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
