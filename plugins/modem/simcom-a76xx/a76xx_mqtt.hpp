// SPDX-License-Identifier: Apache-2.0
// A76xxMqtt: ModemMqtt through the A76xx's own MQTT client (AT+CMQTT*, client 0): service
// start (with the check that the firmware has the client at all), connect with TLS by the module
// through the SSL context the driver configures (SNI on), MQTT 3.1.1 always, publish as
// AT+CMQTTTOPIC + AT+CMQTTPAYLOAD (exact bytes after ">") + AT+CMQTTPUB, one operation at a time
// (the result URCs carry no message id), subscribe / unsubscribe (one-topic form), incoming
// messages put together from counted URC blocks, and loss (+CMQTTCONNLOST, +CMQTTNONET, a
// failed keep-alive, a module reset). Owned by the driver's core. Thread: loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "a76xx_commands.hpp"
#include "a76xx_mqtt_commands.hpp"
#include "a76xx_mqtt_parsers.hpp"
#include "common/at_steps.hpp"
#include "uplinkd/at_channel.hpp"
#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::simcom_a76xx {

class A76xxMqtt final : public ModemMqtt {
  public:
    /// What the client uses of the driver that owns it (which outlives every call to it).
    struct Host {
        asio::io_context& loop;
        AtChannel& at;
        A76xxTiming timing;
        modem_common::Explainer explain;
        /// Sets up the SSL context the module's TLS connections use (the store listed, the CA
        /// required, the client certificate when provisioned, SNI on).
        std::function<void(StatusDone)> ssl_context;
    };

    explicit A76xxMqtt(Host host);
    ~A76xxMqtt() override;
    A76xxMqtt(const A76xxMqtt&) = delete;
    A76xxMqtt& operator=(const A76xxMqtt&) = delete;

    // ModemMqtt
    ModemMqttLimits limits() const override;
    void connect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done) override;
    void publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                 StatusDone done) override;
    void subscribe(const std::string& filter, int qos, StatusDone done) override;
    void unsubscribe(const std::string& filter, StatusDone done) override;
    void disconnect(StatusDone done) override;

    // ---- from the driver ---------------------------------------------------------------------
    /// A "+CMQTT..." URC (results and events); false when `line` is not one.
    bool onUrc(const std::string& line);
    /// "+CMQTTRXTOPIC:" / "+CMQTTRXPAYLOAD:" and their counted bytes.
    void onRxData(const std::string& line, std::string bytes);
    /// The module restarted (`restarted`: its client and service are gone) or is being started
    /// again (their state is unknown): a connection ends as lost with `e`.
    void moduleGone(const Error& e, bool restarted);
    /// For start() with mqtt_offload: starts the MQTT service, and fails in plain words
    /// ("mqtt_unsupported", naming mqtt = "uplinkd") when the firmware has no MQTT client.
    void checkFirmware(StatusDone done);

  private:
    enum class State { Idle, Connecting, Connected };
    enum class Service {
        Unknown,  ///< not started by this driver (since a restart, "+CMQTTNONET", disconnect())
        Running,
    };
    /// What the module holds of client 0 (what has to go before the next AT+CMQTTACCQ).
    enum class Held {
        None,
        Acquired,   ///< acquired, not connected: AT+CMQTTREL
        Connected,  ///< AT+CMQTTDISC, then AT+CMQTTREL
        Unknown,    ///< AT+CMQTTDISC? tells
    };
    struct Op {
        enum class Kind { Publish, Subscribe, Unsubscribe } kind = Kind::Publish;
        std::string topic;
        std::string payload;
        int qos = 0;
        bool retain = false;
        StatusDone done;
    };

    /// Whether a callback of session `session` (or of no session: 0) may still act.
    std::function<bool()> guard(uint64_t session) const;
    void post(std::function<void()> fn);
    void failLater(StatusDone done, Error e);

    void startService(StatusDone done);
    void probeService(StatusDone done);
    /// Frees client 0 as far as the module holds it (AT+CMQTTDISC, AT+CMQTTREL; their errors
    /// are ignored), then `then`.
    void releaseClient(std::function<void()> then);
    void disconnectClient(std::function<void()> then);
    void setUp(uint64_t session, ModemMqttConnect params);
    void connectBroker(uint64_t session, const ModemMqttConnect& params);
    void finishConnect(uint64_t session, Status s);

    /// Ends the session: the pending connect and every operation fail with `e`, result waits
    /// end, no event comes any more.
    void endSession(const Error& e);
    /// The connection went away without disconnect(): lost(e) when it was up, then endSession.
    void lose(const Error& e);

    void enqueue(Op op);
    void pump();
    void runPublish(uint64_t id, const Op& op);
    void runTopicCommand(uint64_t id, const Op& op);
    /// Issues an operation's command and waits for its result line ("<result> 0,<err>").
    void awaitResult(uint64_t id, std::function<void(AtChannel::Done)> issue, std::string command,
                     std::string_view result, std::string what);
    void finishOp(uint64_t id, Status s);
    void deliver(MqttRxAssembler::Outcome outcome);

    Host host_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    std::shared_ptr<modem_common::ResultUrcs> urcs_ = std::make_shared<modem_common::ResultUrcs>();
    State state_ = State::Idle;
    Service service_ = Service::Unknown;
    Held held_ = Held::Unknown;
    uint64_t session_ = 0;
    ModemMqttEvents events_;
    StatusDone connect_done_;
    std::string server_;  ///< "host:port" for messages
    std::deque<Op> ops_;
    StatusDone op_done_;  ///< the operation in flight
    uint64_t op_id_ = 0;
    MqttRxAssembler rx_{kMqttClient};
};

}  // namespace uplinkd::plugins::simcom_a76xx
