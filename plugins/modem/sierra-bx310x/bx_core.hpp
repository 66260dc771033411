// SPDX-License-Identifier: Apache-2.0
// BxCore: what the BX310x driver shares between its parts (bring-up and the station, the
// certificate store, `modem info`, the MQTT client) and with its URC handlers. Internal to the
// sierra-bx310x plugin. Thread: loop.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "bx_certs.hpp"
#include "bx_commands.hpp"
#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::sierra_bx310x {

/// The note `modem info` gives the key slot.
inline constexpr std::string_view kKeyNote = "key cannot be read back; checked by the TLS connect";

/// What the driver shares with its URC handlers and its MQTT front. Thread: loop.
struct BxCore : modem_common::DriverCore<BxCore, BxTiming> {
    using DriverCore::DriverCore;

    void registerUrcs() override;
    void onUrc(const std::string& line);
    /// "READY": the module restarted; its association and MQTT session are gone.
    void onBoot(const std::string& line);
    void breakAll(const Error& e) override;
    std::string explainError(const std::string& line) const override { return explain(line); }

    // ---- start(): init steps, MQTT client check, station --------------------------------------
    void start(StatusDone done) override;
    void startMqttCheck(uint64_t gen);
    void startStation(uint64_t gen);
    void associate(uint64_t gen);
    void awaitAddress(uint64_t gen);

    // ---- the station, as the URCs tell it ------------------------------------------------------
    struct Station {
        bool associated = false;
        bool has_ip = false;
        std::string ssid;
        std::string ip;
        int last_reason = -1;  ///< the last disconnection reason, -1: none
    } station;
    /// Waits of the current start() for the association and the address.
    std::function<void(const std::string&)> association_wait;
    std::function<void()> address_wait;
    /// Why the station is not associated, in plain words (for connect errors).
    std::string stationProblem() const;

    // ---- provision() (bx_provision.cpp) --------------------------------------------------------
    void provision(const ModemCredentials& creds, StatusDone done) override;
    /// What was provisioned, for the words of a refused connection and for `modem info`.
    struct Provisioned {
        bool done = false;
        std::string root_subject;
        std::optional<CertFacts> root;    ///< the (first) root CA written
        std::optional<CertFacts> client;  ///< the client certificate, when one was written
    } provisioned;

    // ---- info() --------------------------------------------------------------------------------
    void info(std::span<const modem_common::InfoQuery> queries,
              std::function<void(Result<ModemInfo>)> done) override;

    // ---- sockets: not offered ------------------------------------------------------------------
    void open(const ModemSocketRequest& req,
              std::function<void(Result<ByteStreamPtr>)> done) override;

    // ---- the MQTT client (bx_mqtt.cpp) ---------------------------------------------------------
    struct PendingPublish {
        uint64_t id = 0;
        StatusDone done;
    };
    struct Mqtt {
        enum class State { Idle, Connecting, Online } state = State::Idle;
        uint64_t session = 0;  ///< bumped by every connect/disconnect/loss: stale callbacks stop
        ModemMqttConnect params;
        ModemMqttEvents events;
        StatusDone connect_done;
        /// QoS 1 publishes sent or queued, oldest first: +KMQTT_IND: 1,4 carries no message id,
        /// so acknowledgements are matched to them in order.
        std::deque<PendingPublish> awaiting_ack;
        uint64_t next_publish = 1;
        std::set<std::string> subscriptions;
        std::unique_ptr<asio::steady_timer> ack_timer;
        std::unique_ptr<asio::steady_timer> connect_timer;
    } mqtt;

    ModemMqttLimits mqttLimits() const;
    void mqttConnect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done);
    void mqttConfigure(uint64_t session);
    void mqttOpen(uint64_t session);
    void mqttRefused(uint64_t session, const std::string& line);
    void mqttPublish(const std::string& topic, const std::string& payload, int qos, bool retain,
                     StatusDone done);
    void mqttSubscribe(const std::string& filter, int qos, StatusDone done);
    void mqttUnsubscribe(const std::string& filter, StatusDone done);
    void mqttDisconnect(StatusDone done);
    /// +KMQTT_IND / +KMQTT_DATA / +KMQTTSUB lines.
    void mqttUrc(const std::string& line);
    void mqttIncoming(const std::string& line);
    /// The connection is gone without disconnect(): pending work fails, `lost` is told.
    void mqttLost(Error why);
    /// Ends a connect under way with `s`.
    void mqttConnectFinished(Status s);
    void mqttArmAckTimer();
    /// Releases the module's client (KMQTTCLOSE, KMQTTDEL), then `then`.
    void mqttRelease(std::function<void()> then);
};

}  // namespace uplinkd::plugins::sierra_bx310x
