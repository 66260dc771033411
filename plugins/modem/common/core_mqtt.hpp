// SPDX-License-Identifier: Apache-2.0
// CoreMqtt: the module's MQTT client as ModemMqtt (what ModemDriver::mqtt() returns) for a driver
// whose core runs the client; every call goes to the core.
// Thread: loop.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::modem_common {

/// ModemMqtt over a driver core that has mqttLimits(), mqttConnect(), mqttPublish(),
/// mqttSubscribe(), mqttUnsubscribe() and mqttDisconnect() with the same arguments.
/// Thread: loop.
template <class Core>
class CoreMqtt final : public ModemMqtt {
  public:
    explicit CoreMqtt(std::shared_ptr<Core> core) : core_(std::move(core)) {}

    ModemMqttLimits limits() const override { return core_->mqttLimits(); }
    void connect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done) override {
        core_->mqttConnect(params, std::move(events), std::move(done));
    }
    void publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                 StatusDone done) override {
        core_->mqttPublish(topic, payload, qos, retain, std::move(done));
    }
    void subscribe(const std::string& filter, int qos, StatusDone done) override {
        core_->mqttSubscribe(filter, qos, std::move(done));
    }
    void unsubscribe(const std::string& filter, StatusDone done) override {
        core_->mqttUnsubscribe(filter, std::move(done));
    }
    void disconnect(StatusDone done) override { core_->mqttDisconnect(std::move(done)); }

  private:
    std::shared_ptr<Core> core_;
};

}  // namespace uplinkd::plugins::modem_common
