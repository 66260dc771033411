// SPDX-License-Identifier: Apache-2.0
// Hl78Core: what the HL78xx driver shares between its parts (bring-up, sockets, certificate
// store) and with its sockets and URC handlers. Internal to the sierra-hl78 plugin.
// Thread: loop.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "hl78_commands.hpp"

namespace uplinkd::plugins::sierra_hl78 {

class Hl78Socket;

/// What the driver shares with its sockets and URC handlers. Thread: loop.
struct Hl78Core : modem_common::DriverCore<Hl78Core, Hl78Timing> {
    using DriverCore::DriverCore;
    /// Routes the module's URCs here (once the core is owned by its shared_ptr).
    void registerUrcs() override {
        routeUrcs({"+KTCP_DATA:", "+KTCP_NOTIF:", "+KTCP_IND:", "+KCNX_IND:", "+KTCP_ACK:"});
        routeBoots(kBootIndications);
    }

    modem_common::SocketTable<Hl78Socket> sockets;
    bool client_cert = false;  // a client certificate was provisioned

    void onUrc(const std::string& line);
    /// "+KSUP: <n>": the module restarted; everything the driver knew of it is gone.
    void onBoot(const std::string& line);
    void breakAll(const Error& e) override;

    // start(): init steps, session clean-up, SIM, registration, bearer
    void start(StatusDone done) override;
    void startSessions(uint64_t gen);
    /// Closes and deletes every session of the module that no socket of this driver owns.
    void reconcileSessions(std::function<void()> then);
    void startSim(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startBearer(uint64_t gen);
    void bearerUp(uint64_t gen);

    // open()
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done) override;
    void configure(const ModemSocketRequest& req, OpenDone done);
    /// `reused`: the session was configured for an earlier connection (see idle_session).
    void connect(int id, const ModemSocketRequest& req, OpenDone done, bool reused = false);
    void deleteSession(int id);

    /// A session the module still has configured (KTCPCFG) for a target after its connection
    /// closed: the next open to the same target connects it again (AT+KTCPCNX) instead of
    /// configuring a new one. At most one; forgotten when the module restarts or the driver
    /// frees the module's sessions.
    struct IdleSession {
        int id = 0;
        std::string target;  ///< sessionTarget() of the request it was configured for
    };
    std::optional<IdleSession> idle_session;
    std::map<int, std::string> session_targets;  ///< the target of each session in use
    /// Keeps session `id` for the next open to its target (or deletes it when one is kept).
    void keepOrDeleteSession(int id);

    // provision()
    void provision(const ModemCredentials& creds, StatusDone done) override;
};

}  // namespace uplinkd::plugins::sierra_hl78
