// Bx310xModel's K sockets: AT+KTCPCFG without a cnx index, KTCPCNX, KTCPSND / KTCPRCV with the
// HL78 framing (CONNECT + data + EOF pattern), KTCPSTAT, KTCPCLOSE, KTCPDEL.
#include "k_errors.hpp"
#include "model_bx310x.hpp"

namespace uplinkd::emulator {
namespace {

constexpr size_t kMaxSend = 65535;
constexpr size_t kMaxCfgArgs = 9;  ///< cnx, mode, host, port, source port, data mode, ...

// +KTCP_NOTIF codes (reference table 2.4).
constexpr int kNotifDns = 3;
constexpr int kNotifRemoteClose = 4;
constexpr int kNotifConnect = 5;
constexpr int kNotifLength = 8;
constexpr int kNotifTimeout = 12;

}  // namespace

void Bx310xModel::closeSocket(Session& s) {
    if (s.sock) {
        s.sock->close();
        s.sock.reset();
    }
}

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

Bx310xModel::Session* Bx310xModel::findSession(const AtCommand& c, Final& err) {
    if (!c.has(0)) {
        err = Final::cme(kerr::kMissing);
        return nullptr;
    }
    auto id = c.intArg(0);
    auto it = id ? sessions_.find(static_cast<int>(*id)) : sessions_.end();
    if (it == sessions_.end()) {
        misuse("AT" + c.name + " on session " + c.str(0) + ", which does not exist");
        err = Final::cme(kerr::kBadSession);
        return nullptr;
    }
    return &it->second;
}

void Bx310xModel::connectSession(int id) {
    Session& s = sessions_.at(id);
    s.state = SessionState::Opening;
    s.data_reported = false;
    uint64_t attempt = ++s.attempt;
    auto sock = std::make_shared<HostSocket>(io_);
    s.sock = sock;
    HostSocket* raw = sock.get();
    sock->onData([this, id, raw] { onSessionData(id, raw); });
    sock->onClosed([this, id, raw] { onSessionClosed(id, raw, kNotifRemoteClose); });
    sock->connect(
        s.host, s.port, TlsOptions{}, opts_.connect_timeout,
        [this, id, raw, attempt](ConnectError e, const std::string& detail) {
            auto it = sessions_.find(id);
            if (it == sessions_.end() || it->second.sock.get() != raw ||
                it->second.attempt != attempt) {
                return;
            }
            Session& ss = it->second;
            if (e == ConnectError::None) {
                ss.state = SessionState::Connected;
                log_.note("session " + std::to_string(id) + " connected to " + ss.host + ":" +
                          std::to_string(ss.port));
                urc("+KTCP_IND: " + std::to_string(id) + ",1");
                return;
            }
            int code = e == ConnectError::Dns       ? kNotifDns
                       : e == ConnectError::Timeout ? kNotifTimeout
                                                    : kNotifConnect;
            log_.note("session " + std::to_string(id) + " failed: " + toString(e) + ": " + detail);
            ss.sock.reset();
            ss.state = SessionState::Defined;
            ss.last_notif = code;
            urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(code));
        });
}

void Bx310xModel::onSessionData(int id, HostSocket* sock) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.sock.get() != sock || it->second.data_reported) {
        return;
    }
    it->second.data_reported = true;
    urc("+KTCP_DATA: " + std::to_string(id) + "," + std::to_string(sock->available()));
}

void Bx310xModel::onSessionClosed(int id, HostSocket* sock, int notif) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.sock.get() != sock) {
        return;
    }
    it->second.state = SessionState::Closed;
    it->second.last_notif = notif;
    urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(notif));
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
        if (static_cast<int>(sessions_.size()) >= opts_.max_sessions) {
            misuse("AT+KTCPCFG: all " + std::to_string(opts_.max_sessions) +
                   " sessions are configured (leaked sessions? AT+KTCPDEL frees them)");
            return Final::cme(kerr::kAllSessionsUsed);
        }
        int id = 1;
        while (sessions_.count(id) != 0) {
            ++id;
        }
        Session s;
        s.host = c.str(2);
        s.port = static_cast<uint16_t>(*port);
        sessions_[id] = std::move(s);
        respond("+KTCPCFG: " + std::to_string(id));
        return Final::ok();
    });
    addCommand("+KTCPCNX", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        if (c.argc() > 1) {
            return Final::cme(kerr::kUnexpected);
        }
        if (s->state == SessionState::Opening || s->state == SessionState::Connected) {
            return Final::cme(kerr::kSessionRunning);
        }
        if (!networkUp()) {
            misuse("AT+KTCPCNX while the Wi-Fi station has no address (+SRWSTAIP not reported)");
            return Final::cme(kerr::kBearerState);
        }
        closeSocket(*s);
        connectSession(static_cast<int>(*c.intArg(0)));
        return Final::ok();
    });
    addCommand("+KTCPSND", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        if (!c.has(1)) {
            return Final::cme(kerr::kMissing);
        }
        if (c.argc() > 2) {
            return Final::cme(kerr::kUnexpected);
        }
        auto n = c.intArg(1);
        if (!n || *n < 1 || *n > static_cast<long>(kMaxSend)) {
            misuse("AT+KTCPSND length '" + c.str(1) + "' outside 1-65535");
            return Final::cme(kerr::kOutOfRange);
        }
        if (s->state != SessionState::Connected || !s->sock) {
            misuse("AT+KTCPSND on session " + c.str(0) + ", which is not connected");
            return Final::cme(kerr::kSessionState);
        }
        int id = static_cast<int>(*c.intArg(0));
        size_t want = static_cast<size_t>(*n);
        startDataPhase(
            DataPhase::pattern(pattern_, want + 65536), "\r\nCONNECT\r\n",
            [this, id, want](const DataPhase& p) {
                if (p.outcome() != DataPhase::Outcome::Complete) {
                    return Final::cme(kerr::kIncoherentData);
                }
                auto it = sessions_.find(id);
                if (it != sessions_.end() && it->second.sock) {
                    it->second.sock->send(p.data());
                }
                if (p.data().size() != want) {
                    misuse("AT+KTCPSND length mismatch: announced " + std::to_string(want) +
                           ", got " + std::to_string(p.data().size()) +
                           " bytes before the EOF pattern");
                    if (it != sessions_.end()) {
                        it->second.last_notif = kNotifLength;
                    }
                    urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(kNotifLength));
                }
                return Final::ok();
            });
        return Final::pending();
    });
    addCommand("+KTCPRCV", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        if (!c.has(1)) {
            return Final::cme(kerr::kMissing);
        }
        if (c.argc() > 2) {
            return Final::cme(kerr::kUnexpected);
        }
        auto n = c.intArg(1);
        if (!n || *n < 1 || *n > static_cast<long>(kMaxSend)) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (!s->sock) {
            return Final::cme(kerr::kSessionState);
        }
        int id = static_cast<int>(*c.intArg(0));
        std::string data = s->sock->take(static_cast<size_t>(*n));
        respond("CONNECT");
        respondData(data);
        respondRaw(pattern_, "[EOF pattern]");
        size_t rest = s->sock->available();
        s->data_reported = rest > 0;
        if (rest > 0) {
            urc("+KTCP_DATA: " + std::to_string(id) + "," + std::to_string(rest));
        }
        return Final::ok();
    });
    addCommand("+KTCPSTAT", [this](const AtCommand& c) {
        auto line = [](const Session& s) {
            return std::to_string(static_cast<int>(s.state)) + "," + std::to_string(s.last_notif) +
                   ",0," + std::to_string(s.sock ? s.sock->available() : 0);
        };
        if (c.kind == AtKind::Test || c.kind == AtKind::Read) {
            return Final::error();
        }
        if (c.kind == AtKind::Exec) {
            for (const auto& [id, s] : sessions_) {
                respond("+KTCPSTAT: " + std::to_string(id) + "," + line(s));
            }
            return Final::ok();
        }
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        respond("+KTCPSTAT: " + line(*s));
        return Final::ok();
    });
    addCommand("+KTCPCLOSE", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        closeSocket(*s);
        s->state = SessionState::Defined;
        s->data_reported = false;
        ++s->attempt;
        return Final::ok();
    });
    addCommand("+KTCPDEL", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        closeSocket(*s);
        sessions_.erase(static_cast<int>(*c.intArg(0)));
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
