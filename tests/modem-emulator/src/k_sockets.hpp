// SPDX-License-Identifier: Apache-2.0
// KSocketModem: the Sierra "K" TCP sessions that the HL78xx and the BX310x share (KTCPCNX,
// KTCPSND / KTCPRCV with CONNECT + data + EOF pattern, KTCPSTAT, KTCPCLOSE, KTCPDEL, the
// +KTCP_* URCs) on top of Modem, with the K command set's error texts and ATI; each model
// keeps its own AT+KTCPCFG and bearer rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "host_socket.hpp"
#include "modem.hpp"

namespace uplinkd::emulator {

/// +KTCP_NOTIF codes (reference table 2.4).
namespace knotif {
constexpr int kNetwork = 0;
constexpr int kDns = 3;
constexpr int kRemoteClose = 4;
constexpr int kConnect = 5;
constexpr int kLength = 8;
constexpr int kTimeout = 12;
constexpr int kSsl = 13;
constexpr int kSslInit = 14;
constexpr int kCert = 15;
}  // namespace knotif

/// A module with K sockets; loop-bound (single thread), like Modem.
class KSocketModem : public Modem {
  public:
    ~KSocketModem() override;

  protected:
    /// ATI: the model name alone.
    std::vector<std::string> identify() const override;
    /// The K command set's +CME ERROR texts (k_errors.hpp).
    std::string cmeText(int code) const override;

    /// KTCPSTAT status values used by the emulator.
    enum class SessionState { Defined = 1, Opening = 2, Connected = 3, Closing = 4, Closed = 5 };

    struct Session {
        int cnx = 1;   ///< HL78: the KCNXCFG bearer
        int mode = 0;  ///< HL78: 0 client, 3 TLS client
        std::string host;
        uint16_t port = 0;
        int profile = 0;  ///< HL78: KSSLCRYPTO profile of a TLS session (KTCPCFG field 9)
        SessionState state = SessionState::Defined;
        int last_notif = -1;
        bool data_reported = false;
        uint64_t attempt = 0;  ///< bumped by each KTCPCNX / close, to drop stale callbacks
        HostSocketPtr sock;
    };

    /// `model`: the default variant (the K command set is Sierra Wireless's). `strict`: only the
    /// Set form of the session commands is accepted (ERROR otherwise) and surplus arguments are
    /// refused (+CME ERROR 915), as on the BX310x.
    KSocketModem(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                 ModemOptions opts, std::string model, std::string pattern, bool strict);

    /// Registers AT+KTCPCNX, KTCPSND, KTCPRCV, KTCPSTAT, KTCPCLOSE and KTCPDEL.
    void addKSocketCommands();
    /// Whether session `s` may connect now; false (after a misuse note) gives +CME ERROR 921.
    virtual bool linkReady(const AtCommand& c, const Session& s) = 0;
    /// Starts connecting session `id` after AT+KTCPCNX (beginConnect, then openSocket).
    virtual void connectSession(int id) = 0;
    /// Model fields of one session's status entry.
    virtual void addSessionStatus(const Session&, nlohmann::json&) const {}

    /// The session named by argument 0; nullptr and `err` (917 missing, 910 unknown) if none.
    Session* findSession(const AtCommand& c, Final& err);
    /// The checks every session command starts with: the Set form (strict), the session
    /// (argument 0), with `most_args` 2 the count (argument 1), and at most `most_args`
    /// arguments (strict; 0: any number). nullptr and `err` when one fails.
    Session* sessionFor(const AtCommand& c, size_t most_args, Final& err);
    /// A session command's body, run once sessionFor passed: the command, the session id
    /// (argument 0) and its session.
    using SessionHandler = std::function<Final(const AtCommand&, int id, Session&)>;
    /// Registers `name` so that it runs sessionFor(c, most_args) first, then `handler`.
    void addSessionCommand(const std::string& name, size_t most_args, SessionHandler handler);
    /// The lowest free session id for a new AT+KTCPCFG; nullopt (after a misuse note) when all
    /// max_sessions are configured (the command then answers +CME ERROR 912).
    std::optional<int> freeSessionId();
    /// Marks session `id` as opening for a new attempt.
    void beginConnect(Session& s);
    /// Connects the session's host socket with `tls`: +KTCP_IND or +KTCP_NOTIF when done.
    void openSocket(int id, TlsOptions tls);
    void onSessionData(int id, HostSocket* sock);
    void onSessionClosed(int id, HostSocket* sock, int notif);
    void closeSocket(Session& s);
    /// Closes and forgets every session (power loss).
    void clearSessions();
    /// The peers of every session drop the connection.
    void dropSessionLinks();
    /// open_sockets, sockets, sessions_used, sessions_max and eof_pattern of the status.
    void addSocketStatus(nlohmann::json& j) const;

    std::map<int, Session> sessions_;
    std::string pattern_;

  private:
    bool strict_;
};

}  // namespace uplinkd::emulator
