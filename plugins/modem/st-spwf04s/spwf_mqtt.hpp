// SPDX-License-Identifier: Apache-2.0
// SpwfMqtt: the SPWF04S's own MQTT client as a ModemMqtt (MQTT offload): AT+S.MQTTCONN,
// AT+S.MQTTPUB with the length form and the exact payload bytes, AT+S.MQTTSUB / MQTTUNSUB,
// AT+S.MQTTDISC; incoming messages from the counted "+WIND:86" event, loss from "+WIND:87", a
// lost Wi-Fi network or a module restart. Owned by SpwfDriver. Thread: loop.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::st_spwf04s {

struct SpwfCore;

/// What the module's MQTT client carries: no per-message PUBACK indication, so QoS 1 is
/// reported done when the module took the message (limits().qos1_acknowledged = false).
ModemMqttLimits spwfMqttLimits();

class SpwfMqtt final : public ModemMqtt {
  public:
    explicit SpwfMqtt(const std::shared_ptr<SpwfCore>& core);
    ~SpwfMqtt() override;
    SpwfMqtt(const SpwfMqtt&) = delete;
    SpwfMqtt& operator=(const SpwfMqtt&) = delete;

    ModemMqttLimits limits() const override { return spwfMqttLimits(); }
    void connect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done) override;
    void publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                 StatusDone done) override;
    void subscribe(const std::string& filter, int qos, StatusDone done) override;
    void unsubscribe(const std::string& filter, StatusDone done) override;
    void disconnect(StatusDone done) override;

  private:
    enum class State { Idle, Connecting, Connected };

    void onMessage(const std::string& line, std::string data);
    void onClosed(const std::string& line);
    void onLost(const Error& e);
    /// Ends the session (no event of it comes any more); `e` goes to events.lost when it was
    /// connected.
    void endSession(const std::optional<Error>& e);
    /// Runs `done` with `s` from the loop (never inline).
    void later(StatusDone done, Status s);
    /// A plain command of the connected session; `what` names it in errors.
    void sessionCommand(std::string command, const char* what, StatusDone done);

    std::weak_ptr<SpwfCore> core_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    ModemMqttEvents events_;
    State state_ = State::Idle;
    int client_ = 0;
    uint64_t session_ = 0;  ///< bumped whenever a session begins or ends
};

}  // namespace uplinkd::plugins::st_spwf04s
