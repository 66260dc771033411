// SPDX-License-Identifier: Apache-2.0
// A76xxCore: what the A76xx driver shares with its sockets, its MQTT client and its URC
// handlers (inside the plugin only). Its members are defined by seam: a76xx_driver.cpp
// (bring-up, the network gate, URC routing, opening, provisioning), a76xx_tcp.cpp (CIP plain
// links), a76xx_tls.cpp (the SSL service, context and CCH sessions); the MQTT client is
// A76xxMqtt (a76xx_mqtt.cpp). Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "a76xx_commands.hpp"
#include "a76xx_mqtt.hpp"
#include "a76xx_parsers.hpp"
#include "common/at_socket_stream.hpp"
#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd::plugins::simcom_a76xx {

class TcpSocket;
class TlsSocket;

/// "+NETOPEN: 0", "+CCHSTART: 0": success; another code fails as `code`, in plain words.
Status resultCodeStatus(const Result<int>& result, std::string code, const std::string& line);

/// A fetch command that failed: an error answer means nothing is buffered after all ("+IP
/// ERROR: No data"); anything else breaks the socket.
Result<modem_common::Fetched> failedFetch(std::string_view command, const Error& e);

/// A step that runs once for everyone waiting on it (NETOPEN, CCHSTART). Thread: loop.
struct Gate {
    bool ready = false;
    bool running = false;
    std::vector<std::function<void(Status)>> waiters;
};

struct A76xxCore;

/// How a link (CIPOPEN) or a TLS session (CCHOPEN) is opened; the rest is the same.
struct Opening {
    bool tls = false;
    AtCommandStep open;                   ///< its result is "<result> <id>,<err>"
    std::string_view result;              ///< "+CIPOPEN:" / "+CCHOPEN:"
    std::chrono::milliseconds timeout{};  ///< for the result
    std::string close;                    ///< sent when no result came (it may still connect)
    Error (*error)(int err, const std::string& line, const ModemSocketRequest& req) = nullptr;
    /// Makes the socket once the module connected.
    std::function<ByteStreamPtr(const std::shared_ptr<A76xxCore>&)> make;
};

/// What the driver shares with its sockets, its MQTT client and its URC handlers. Thread: loop.
struct A76xxCore : modem_common::DriverCore<A76xxCore, A76xxTiming> {
    using DriverCore::DriverCore;
    ~A76xxCore() override;

    modem_common::SocketTable<TcpSocket> links;
    modem_common::SocketTable<TlsSocket> sessions;
    int next_link = 0;
    int next_session = 0;
    Gate net;
    Gate cch;
    struct Certs {
        bool ca = false;
        bool cert = false;
        bool key = false;
    };
    std::optional<Certs> certs;  // unknown until listed or provisioned
    /// The module's MQTT client; made by registerUrcs().
    std::unique_ptr<A76xxMqtt> mqtt;

    // ---- a76xx_driver.cpp: URCs, sockets in general, start(), open(), provision() ------------
    void registerUrcs() override;
    void onUrc(const std::string& line);
    /// A boot indication: the module restarted; everything the driver knew of it is gone.
    void onBoot(const std::string& line);
    void breakAll(const Error& e) override;
    std::set<int>& busyIds(bool tls) { return tls ? sessions.busy : links.busy; }
    std::optional<int> allocate(bool tls);
    /// Issues `command`, then `payload` after the ">" prompt (AT+CIPSEND, AT+CCHSEND, ...).
    std::function<void(AtChannel::Done)> promptedWrite(std::string command, std::string payload);
    /// Sends a link's or session's close command; the id stays busy until the module answered.
    void closeInModule(bool tls, int id, std::string command);

    void start(StatusDone done) override;
    void startSim(uint64_t gen);
    void startApn(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startManualReceive(uint64_t gen);
    void startNetwork(uint64_t gen);
    void startLinks(uint64_t gen);
    /// With settings.mqtt_offload: the firmware's MQTT client is there and its service runs.
    void startMqtt(uint64_t gen);

    void through(Gate A76xxCore::*gate, void (A76xxCore::*run)(std::function<void(Status)>),
                 std::function<void(Status)> then);
    void netOpen(std::function<void(Status)> done);

    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done) override;
    void connect(int id, Opening o, const ModemSocketRequest& req, OpenDone done);

    void provision(const ModemCredentials& creds, StatusDone done) override;
    void removeStaleCerts(StatusDone done);
    void verifyCerts(bool client, StatusDone done);

    // ---- a76xx_tcp.cpp: plain links (CIPOPEN / CIPSEND / CIPRXGET) ----------------------------
    void openTcp(int link, const ModemSocketRequest& req, OpenDone done);
    /// A URC about links ("+CIPRXGET: 1,", "+IPCLOSE:", "+CIPEVENT:"); false when not one.
    bool onLinkUrc(const std::string& line);
    /// Closes every link of the module that no socket of this driver owns.
    void reconcileLinks(std::function<void()> then);
    void breakLinks(const Error& e);

    // ---- a76xx_tls.cpp: the SSL service, context and sessions (CCH*) --------------------------
    void openTls(int session, const ModemSocketRequest& req, OpenDone done);
    void cchStart(std::function<void(Status)> done);
    void cchStartOnce(bool retry, std::function<void(Status)> done);
    void listCerts(std::function<void(Status)> done);
    /// SSL context kSslContext as every TLS connection of the module uses it (CCH sessions and
    /// the MQTT client): the store listed once, the CA required, a client certificate when the
    /// store holds one, SNI on. Failures read "<what>: ..." ("certificate list", "SSL context").
    void sslContext(std::function<void(Status)> done);
    /// A URC about SSL sessions ("+CCHEVENT:", "+CCH_PEER_CLOSED:", ...); false when not one.
    bool onSessionUrc(const std::string& line);
    void onCchData(const std::string& line, std::string data);
    void breakSessions(const Error& e);
};

}  // namespace uplinkd::plugins::simcom_a76xx
