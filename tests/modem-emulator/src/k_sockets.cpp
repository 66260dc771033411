// SPDX-License-Identifier: Apache-2.0
#include "k_sockets.hpp"

#include "connect_error_codes.hpp"
#include "k_errors.hpp"
#include "peer_drop.hpp"

namespace uplinkd::emulator {
namespace {

constexpr size_t kMaxSend = 65535;

/// The +KTCP_NOTIF code of a failed connect.
constexpr ConnectErrorCodes kConnectNotif{knotif::kDns,  knotif::kTimeout, knotif::kSslInit,
                                          knotif::kCert, knotif::kSsl,     knotif::kConnect};

}  // namespace

KSocketModem::KSocketModem(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                           ModemOptions opts, std::string model, std::string pattern, bool strict)
    : Modem(io, port, certs, log, std::move(opts), {"Sierra Wireless", std::move(model)}),
      pattern_(std::move(pattern)),
      strict_(strict) {}

KSocketModem::~KSocketModem() {
    for (auto& [id, s] : sessions_) {
        closeSocket(s);
    }
}

std::vector<std::string> KSocketModem::identify() const {
    return {model_id_};
}

std::string KSocketModem::cmeText(int code) const {
    std::string text = kerr::text(code);
    return text.empty() ? Modem::cmeText(code) : text;
}

KSocketModem::Session* KSocketModem::findSession(const AtCommand& c, Final& err) {
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

std::optional<int> KSocketModem::freeSessionId() {
    if (static_cast<int>(sessions_.size()) >= opts_.max_sessions) {
        misuse("AT+KTCPCFG: all " + std::to_string(opts_.max_sessions) +
               " sessions are configured (leaked sessions? AT+KTCPDEL frees them)");
        return std::nullopt;
    }
    int id = 1;
    while (sessions_.count(id) != 0) {
        ++id;
    }
    return id;
}

void KSocketModem::beginConnect(Session& s) {
    s.state = SessionState::Opening;
    s.data_reported = false;
    ++s.attempt;
}

void KSocketModem::openSocket(int id, TlsOptions tls) {
    Session& s = sessions_.at(id);
    uint64_t attempt = s.attempt;
    auto sock = std::make_shared<HostSocket>(io_);
    s.sock = sock;
    HostSocket* raw = sock.get();
    sock->onData([this, id, raw] { onSessionData(id, raw); });
    sock->onClosed([this, id, raw] { onSessionClosed(id, raw, knotif::kRemoteClose); });
    sock->connect(
        s.host, s.port, tls, opts_.connect_timeout,
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
            int code = codeFor(e, kConnectNotif);
            log_.note("session " + std::to_string(id) + " failed: " + toString(e) + ": " + detail);
            ss.sock.reset();
            ss.state = SessionState::Defined;
            ss.last_notif = code;
            urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(code));
        });
}

void KSocketModem::onSessionData(int id, HostSocket* sock) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.sock.get() != sock || it->second.data_reported) {
        return;
    }
    it->second.data_reported = true;
    urc("+KTCP_DATA: " + std::to_string(id) + "," + std::to_string(sock->available()));
}

void KSocketModem::onSessionClosed(int id, HostSocket* sock, int notif) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.sock.get() != sock) {
        return;
    }
    it->second.state = SessionState::Closed;
    it->second.last_notif = notif;
    urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(notif));
}

void KSocketModem::closeSocket(Session& s) {
    closeAndReset(s.sock);
}

void KSocketModem::clearSessions() {
    for (auto& [id, s] : sessions_) {
        closeSocket(s);
    }
    sessions_.clear();
}

void KSocketModem::dropSessionLinks() {
    for (auto& [id, s] : sessions_) {
        dropPeer(s.sock);
    }
}

void KSocketModem::addSocketStatus(nlohmann::json& j) const {
    int open = 0;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [id, s] : sessions_) {
        bool connected = s.sock && s.sock->connected();
        open += connected ? 1 : 0;
        nlohmann::json entry = {{"id", id},
                                {"host", s.host},
                                {"port", s.port},
                                {"state", static_cast<int>(s.state)},
                                {"connected", connected},
                                {"rx_buffered", s.sock ? s.sock->available() : 0},
                                {"bytes_sent", s.sock ? s.sock->bytesSent() : 0},
                                {"bytes_received", s.sock ? s.sock->bytesReceived() : 0}};
        addSessionStatus(s, entry);
        list.push_back(std::move(entry));
    }
    j["open_sockets"] = open;
    j["sockets"] = list;
    j["sessions_used"] = sessions_.size();
    j["sessions_max"] = opts_.max_sessions;
    j["eof_pattern"] = pattern_;
}

KSocketModem::Session* KSocketModem::sessionFor(const AtCommand& c, size_t most_args, Final& err) {
    if (strict_ && c.kind != AtKind::Set) {
        err = Final::error();
        return nullptr;
    }
    Session* s = findSession(c, err);
    if (s == nullptr) {
        return nullptr;
    }
    if (most_args > 1 && !c.has(1)) {
        err = Final::cme(kerr::kMissing);
        return nullptr;
    }
    if (strict_ && most_args > 0 && c.argc() > most_args) {
        err = Final::cme(kerr::kUnexpected);
        return nullptr;
    }
    return s;
}

void KSocketModem::addSessionCommand(const std::string& name, size_t most_args,
                                     SessionHandler handler) {
    addCommand(name, [this, most_args, handler = std::move(handler)](const AtCommand& c) {
        Final err;
        Session* s = sessionFor(c, most_args, err);
        if (s == nullptr) {
            return err;
        }
        return handler(c, static_cast<int>(*c.intArg(0)), *s);
    });
}

void KSocketModem::addKSocketCommands() {
    addSessionCommand("+KTCPCNX", 1, [this](const AtCommand& c, int id, Session& s) {
        if (s.state == SessionState::Opening || s.state == SessionState::Connected) {
            return Final::cme(kerr::kSessionRunning);
        }
        if (!linkReady(c, s)) {
            return Final::cme(kerr::kBearerState);
        }
        closeSocket(s);
        connectSession(id);
        return Final::ok();
    });
    addSessionCommand("+KTCPSND", 2, [this](const AtCommand& c, int id, Session& s) {
        auto n = c.intArg(1);
        if (!n || *n < 1 || *n > static_cast<long>(kMaxSend)) {
            misuse("AT+KTCPSND length '" + c.str(1) + "' outside 1-65535");
            return Final::cme(kerr::kOutOfRange);
        }
        if (s.state != SessionState::Connected || !s.sock) {
            misuse("AT+KTCPSND on session " + c.str(0) + ", which is not connected");
            return Final::cme(kerr::kSessionState);
        }
        size_t want = static_cast<size_t>(*n);
        startDataPhase(DataPhase::pattern(pattern_, want + 65536), "\r\nCONNECT\r\n",
                       [this, id, want](const DataPhase& p) {
                           if (p.outcome() != DataPhase::Outcome::Complete) {
                               return Final::cme(kerr::kIncoherentData);
                           }
                           auto it = sessions_.find(id);
                           if (it != sessions_.end() && it->second.sock) {
                               it->second.sock->send(p.data());
                           }
                           if (p.data().size() != want) {
                               misuse("AT+KTCPSND length mismatch: announced " +
                                      std::to_string(want) + ", got " +
                                      std::to_string(p.data().size()) +
                                      " bytes before the EOF pattern");
                               if (it != sessions_.end()) {
                                   it->second.last_notif = knotif::kLength;
                               }
                               urc("+KTCP_NOTIF: " + std::to_string(id) + "," +
                                   std::to_string(knotif::kLength));
                           }
                           return Final::ok();
                       });
        return Final::pending();
    });
    addSessionCommand("+KTCPRCV", 2, [this](const AtCommand& c, int id, Session& s) {
        auto n = c.intArg(1);
        if (!n || *n < 1 || *n > static_cast<long>(kMaxSend)) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (!s.sock) {
            return Final::cme(kerr::kSessionState);
        }
        std::string data = s.sock->take(static_cast<size_t>(*n));
        respond("CONNECT");
        respondData(data);
        respondRaw(pattern_, "[EOF pattern]");
        size_t rest = s.sock->available();
        s.data_reported = rest > 0;
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
        if (strict_ && (c.kind == AtKind::Test || c.kind == AtKind::Read)) {
            return Final::error();
        }
        if (c.kind != AtKind::Set) {
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
    addSessionCommand("+KTCPCLOSE", 0, [this](const AtCommand&, int, Session& s) {
        closeSocket(s);
        s.state = SessionState::Defined;
        s.data_reported = false;
        ++s.attempt;
        return Final::ok();
    });
    addSessionCommand("+KTCPDEL", 0, [this](const AtCommand&, int id, Session& s) {
        closeSocket(s);
        sessions_.erase(id);
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
