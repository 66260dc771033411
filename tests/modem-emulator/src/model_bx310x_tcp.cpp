// SPDX-License-Identifier: Apache-2.0
// Bx310xModel's K sockets: AT+KTCPCFG without a cnx index; KTCPCNX, KTCPSND / KTCPRCV with the
// HL78 framing (CONNECT + data + EOF pattern), KTCPSTAT, KTCPCLOSE, KTCPDEL come from
// KSocketModem (strict forms).
#include "k_errors.hpp"
#include "model_bx310x.hpp"

namespace uplinkd::emulator {
namespace {

constexpr size_t kMaxCfgArgs = 9;  ///< cnx, mode, host, port, source port, data mode, ...

}  // namespace

void Bx310xModel::dropSessions(int notif) {
    for (auto& [id, s] : sessions_) {
        if (s.state == SessionState::Opening || s.state == SessionState::Connected) {
            closeSocket(s);
            ++s.attempt;
            s.state = SessionState::Closed;
            s.last_notif = notif;
            urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(notif));
        }
    }
}

bool Bx310xModel::linkReady(const AtCommand&, const Session&) {
    if (!networkUp()) {
        misuse("AT+KTCPCNX while the Wi-Fi station has no address (+SRWSTAIP not reported)");
        return false;
    }
    return true;
}

void Bx310xModel::connectSession(int id) {
    beginConnect(sessions_.at(id));
    openSocket(id, TlsOptions{});
}

void Bx310xModel::addTcpCommands() {
    addCommand("+KTCPCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [id, s] : sessions_) {
                respond("+KTCPCFG: " + std::to_string(id) + "," +
                        std::to_string(static_cast<int>(s.state)) + ",,0,,\"" + s.host + "\"," +
                        std::to_string(s.port));
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        if (c.has(0)) {
            misuse("AT+KTCPCFG with a cnx index '" + c.str(0) +
                   "': the BX310x has none (AT+KTCPCFG=,0,\"host\",port)");
            return Final::cme(kerr::kUnexpected);
        }
        if (!c.has(1) || !c.has(2) || !c.has(3)) {
            return Final::cme(kerr::kMissing);
        }
        if (c.argc() > kMaxCfgArgs) {
            return Final::cme(kerr::kUnexpected);
        }
        auto mode = c.intArg(1);
        if (!mode || *mode < 0 || *mode > 3) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (*mode != 0) {
            return Final::cme(kerr::kNotSupported);  // servers and module TLS sockets
        }
        auto port = c.intArg(3);
        if (!port || *port < 1 || *port > 65535 || !c.quoted(2)) {
            return Final::cme(kerr::kOutOfRange);
        }
        auto id = freeSessionId();
        if (!id) {
            return Final::cme(kerr::kAllSessionsUsed);
        }
        Session s;
        s.host = c.str(2);
        s.port = static_cast<uint16_t>(*port);
        sessions_[*id] = std::move(s);
        respond("+KTCPCFG: " + std::to_string(*id));
        return Final::ok();
    });
    addKSocketCommands();
}

}  // namespace uplinkd::emulator
