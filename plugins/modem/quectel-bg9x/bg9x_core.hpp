// SPDX-License-Identifier: Apache-2.0
// Bg9xCore: what the BG9x driver shares with its sockets, its MQTT client and its URC handlers:
// the bring-up (start), the sockets (plain and TLS by the module, one id space 0-11), the PDP
// context and the SSL context as "ready" flags that a module restart clears, the certificate
// store (provision, in bg9x_provision.cpp) and the MQTT client state (bg9x_mqtt.cpp).
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bg9x_commands.hpp"
#include "bg9x_parsers.hpp"
#include "common/driver_core.hpp"
#include "common/message_ids.hpp"
#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using modem_common::StatusDone;

class Bg9xSocket;

struct Bg9xCore : modem_common::DriverCore<Bg9xCore, Bg9xTiming> {
    using DriverCore::DriverCore;

    modem_common::SocketTable<Bg9xSocket> sockets;
    int next_id = 0;
    bool pdp_ready = false;  ///< the PDP context is active (cleared by "pdpdeact" and restarts)
    bool ssl_ready = false;  ///< the SSL context is set (the module forgets it on a restart)
    /// Which of uplinkd's files the store holds; unknown until listed or provisioned.
    struct Certs {
        bool ca = false;
        bool cert = false;
        bool key = false;
    };
    std::optional<Certs> certs;

    /// The module's MQTT client (one session at a time).
    struct Mqtt {
        uint64_t session = 0;  ///< bumped by connect() and disconnect(): older callbacks stop
        bool connecting = false;
        bool connected = false;
        ModemMqttEvents events;
        modem_common::MessageIds ids;  ///< message ids awaiting +QMTPUB / +QMTSUB / +QMTUNS
        /// The waits for +QMT* results of the current session (all end when it is lost).
        std::shared_ptr<modem_common::ResultUrcs> urcs =
            std::make_shared<modem_common::ResultUrcs>();
    } mqtt;

    // URCs and resets (bg9x_driver.cpp)
    void registerUrcs() override;
    void onUrc(const std::string& line);
    void onBoot(const std::string& line);
    void breakAll(const Error& e) override;

    // start() (bg9x_driver.cpp): init steps, SIM, APN, registration, PDP context, MQTT check
    void start(StatusDone done) override;
    void startSim(uint64_t gen);
    void startApn(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startPdp(uint64_t gen);
    void startMqttCheck(uint64_t gen);
    /// Activates the PDP context unless it is active.
    void activatePdp(std::function<void(Status)> done);

    // sockets (bg9x_driver.cpp)
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done) override;
    void connectSocket(int id, const ModemSocketRequest& req, OpenDone done);
    std::optional<int> allocate();
    void closeInModule(int id, std::string command);

    // the store and the SSL context (bg9x_provision.cpp)
    void provision(const ModemCredentials& creds, StatusDone done) override;
    /// Lists the store (AT+QFLST) into `certs`.
    void listFiles(std::function<void(Status)> done);
    /// The SSL context with the store's files and SNI on; "tls_no_ca" when the store has no
    /// root CA, "tls_no_sni" (exactly: this firmware cannot send SNI: use tls = "local") when
    /// the firmware refuses the "sni" setting.
    void ensureSsl(std::function<void(Status)> done);
    /// AT+QFDEL, then AT+QFUPL with exactly `content`; the module's size (and checksum) must
    /// match.
    void uploadFile(std::string_view name, std::string content, std::string what,
                    std::function<void(Status)> done);

    // MQTT (bg9x_mqtt.cpp)
    ModemMqttLimits mqttLimits() const;
    void mqttConnect(const ModemMqttConnect& params, ModemMqttEvents events, StatusDone done);
    void mqttPublish(const std::string& topic, const std::string& payload, int qos, bool retain,
                     StatusDone done);
    void mqttSubscribe(const std::string& filter, int qos, StatusDone done);
    void mqttUnsubscribe(const std::string& filter, StatusDone done);
    void mqttDisconnect(StatusDone done);
    /// +QMTSTAT, or the module restarted: the session is gone; `lost` is told (once).
    void mqttLost(const Error& why);
    void mqttMessage(const std::string& line, std::string rest);
    /// Issues the MQTT command `cmd` that carries message id `id` (held meanwhile) and waits
    /// for its result URC `urc` ("+QMTPUB:"), past "still retransmitting" (result 1). OK when
    /// `acked` holds for it; else `code` with `what` and the explained line.
    void mqttAwaitAck(std::function<void(AtChannel::Done)> issue, const std::string& cmd,
                      const std::string& urc, int id, std::function<bool(const AckResult&)> acked,
                      std::string code, std::string what, StatusDone done);
};

}  // namespace uplinkd::plugins::quectel_bg9x
