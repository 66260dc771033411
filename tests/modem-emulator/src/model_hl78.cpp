#include "model_hl78.hpp"

#include <algorithm>

#include "k_errors.hpp"

namespace uplinkd::emulator {
namespace {

const char* const kDefaultPattern = "--EOF--Pattern--";
constexpr size_t kMaxSend = 65535;

// +CME ERROR codes of the K commands (reference table 2.5).
constexpr int kBadSession = 910;
constexpr int kSessionRunning = 911;
constexpr int kAllSessionsUsed = 912;
constexpr int kOutOfRange = 916;
constexpr int kMissing = 917;
constexpr int kNotSupported = 918;
constexpr int kBearerState = 921;
constexpr int kSessionState = 922;
constexpr int kLengthInvalid = 931;

// +KTCP_NOTIF codes (reference table 2.4).
constexpr int kNotifNetwork = 0;
constexpr int kNotifDns = 3;
constexpr int kNotifRemoteClose = 4;
constexpr int kNotifConnect = 5;
constexpr int kNotifLength = 8;
constexpr int kNotifTimeout = 12;
constexpr int kNotifSsl = 13;
constexpr int kNotifSslInit = 14;
constexpr int kNotifCert = 15;

}  // namespace

Hl78Model::Hl78Model(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                     ModemOptions opts)
    : Modem(io, port, certs, log, std::move(opts)), pattern_(kDefaultPattern) {
    manufacturer_ = "Sierra Wireless";
    model_id_ = opts_.variant.empty() ? "HL7802" : opts_.variant;
    revision_ = model_id_ + ".4.6.9.4";
    imei_ = "352653090000001";
    addCommands();
    addCertCommands();
    addCryptoCommand();
}

Hl78Model::~Hl78Model() {
    for (auto& [id, s] : sessions_) {
        closeSocket(s);
    }
}

std::vector<std::string> Hl78Model::identify() const {
    return {model_id_};
}

std::string Hl78Model::cmeText(int code) const {
    std::string text = kerr::text(code);
    return text.empty() ? Modem::cmeText(code) : text;
}

void Hl78Model::closeSocket(Session& s) {
    if (s.sock) {
        s.sock->close();
        s.sock.reset();
    }
}

void Hl78Model::onPowerLoss() {
    for (auto& [id, s] : sessions_) {
        closeSocket(s);
    }
    sessions_.clear();
    bearers_.clear();
    pattern_ = kDefaultPattern;
    access_tech_ = rat_ == 1 ? 9 : 7;
}

void Hl78Model::dropLinks() {
    for (auto& [id, s] : sessions_) {
        if (s.sock) {
            auto sock = s.sock;  // keep it alive through the callbacks
            sock->dropAsRemote();
        }
    }
}

bool Hl78Model::setMaxSessions(int n) {
    if (n < 1 || n > 32) {
        return false;
    }
    opts_.max_sessions = n;
    return true;
}

void Hl78Model::addStatus(nlohmann::json& j) const {
    int open = 0;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [id, s] : sessions_) {
        bool connected = s.sock && s.sock->connected();
        open += connected ? 1 : 0;
        list.push_back({{"id", id},
                        {"mode", s.mode},
                        {"tls", s.mode == 3},
                        {"crypto_profile", s.mode == 3 ? nlohmann::json(s.profile) : nullptr},
                        {"host", s.host},
                        {"port", s.port},
                        {"state", static_cast<int>(s.state)},
                        {"connected", connected},
                        {"rx_buffered", s.sock ? s.sock->available() : 0},
                        {"bytes_sent", s.sock ? s.sock->bytesSent() : 0},
                        {"bytes_received", s.sock ? s.sock->bytesReceived() : 0}});
    }
    j["open_sockets"] = open;
    j["sockets"] = list;
    j["sessions_used"] = sessions_.size();
    j["sessions_max"] = opts_.max_sessions;
    nlohmann::json up = nlohmann::json::array();
    for (const auto& [cnx, b] : bearers_) {
        if (b.up) {
            up.push_back(cnx);
        }
    }
    j["bearers"] = up;
    j["eof_pattern"] = pattern_;
    nlohmann::json profiles = nlohmann::json::array();
    for (const auto& [index, p] : profiles_) {
        profiles.push_back({{"index", index},
                            {"key_exchange", p.key_exchange},
                            {"cipher", p.cipher},
                            {"hash", p.hash},
                            {"tls_versions", p.tls_versions},
                            {"field6", p.field6},
                            {"auth", p.auth},
                            {"verify_server", p.verifyServer()},
                            {"client_cert", p.clientCert()},
                            {"root_ca", p.root_ca}});
    }
    j["crypto_profiles"] = profiles;
}

Hl78Model::Session* Hl78Model::findSession(const AtCommand& c, Final& err) {
    if (!c.has(0)) {
        err = Final::cme(kMissing);
        return nullptr;
    }
    auto id = c.intArg(0);
    auto it = id ? sessions_.find(static_cast<int>(*id)) : sessions_.end();
    if (it == sessions_.end()) {
        misuse("AT" + c.name + " on session " + c.str(0) + ", which does not exist");
        err = Final::cme(kBadSession);
        return nullptr;
    }
    return &it->second;
}

void Hl78Model::connectSession(int id) {
    Session& s = sessions_.at(id);
    s.state = SessionState::Opening;
    s.data_reported = false;
    uint64_t attempt = ++s.attempt;
    auto still = [this, id, attempt]() -> Session* {
        auto it = sessions_.find(id);
        bool same = it != sessions_.end() && it->second.attempt == attempt &&
                    it->second.state == SessionState::Opening;
        return same ? &it->second : nullptr;
    };
    auto fail = [this, id](Session& ss) {
        ss.state = SessionState::Defined;
        ss.last_notif = kNotifNetwork;
        urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(kNotifNetwork));
    };
    if (!radioOn() || !registered()) {
        log_.note("session " + std::to_string(id) + ": not registered");
        after(std::chrono::milliseconds(10), [still, fail] {
            if (Session* ss = still()) {
                fail(*ss);
            }
        });
        return;
    }
    Bearer& b = bearers_[s.cnx];
    if (b.up) {
        openSocket(id);
        return;
    }
    // The configured bearer is brought up first (the emulator's reading of KTCPCNX).
    int cnx = s.cnx;
    after(opts_.bearer_time, [this, id, cnx, still, fail] {
        Session* ss = still();
        if (ss == nullptr) {
            return;
        }
        if (!radioOn() || !registered()) {
            fail(*ss);
            return;
        }
        bearers_[cnx].up = true;
        log_.note("bearer " + std::to_string(cnx) + " up (started by KTCPCNX)");
        openSocket(id);
    });
}

void Hl78Model::openSocket(int id) {
    Session& s = sessions_.at(id);
    TlsOptions tls;
    if (s.mode == 3) {
        std::string why;
        auto t = tlsFor(s, why);
        if (!t) {
            log_.note("session " + std::to_string(id) + " failed: TLS setup: " + why);
            s.state = SessionState::Defined;
            s.last_notif = kNotifSslInit;
            urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(kNotifSslInit));
            return;
        }
        tls = std::move(*t);
    }
    auto sock = std::make_shared<HostSocket>(io_);
    s.sock = sock;
    HostSocket* raw = sock.get();
    sock->onData([this, id, raw] { onSessionData(id, raw); });
    sock->onClosed([this, id, raw] { onSessionClosed(id, raw); });
    sock->connect(
        s.host, s.port, tls, opts_.connect_timeout,
        [this, id, raw](ConnectError e, const std::string& detail) {
            auto it = sessions_.find(id);
            if (it == sessions_.end() || it->second.sock.get() != raw) {
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
            int code = kNotifConnect;
            switch (e) {
                case ConnectError::Dns:
                    code = kNotifDns;
                    break;
                case ConnectError::Timeout:
                    code = kNotifTimeout;
                    break;
                case ConnectError::TlsInit:
                    code = kNotifSslInit;
                    break;
                case ConnectError::TlsVerify:
                    code = kNotifCert;
                    break;
                case ConnectError::TlsHandshake:
                    code = kNotifSsl;
                    break;
                default:
                    break;
            }
            log_.note("session " + std::to_string(id) + " failed: " + toString(e) + ": " + detail);
            ss.sock.reset();
            ss.state = SessionState::Defined;
            ss.last_notif = code;
            urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(code));
        });
}

void Hl78Model::onSessionData(int id, HostSocket* sock) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.sock.get() != sock || it->second.data_reported) {
        return;
    }
    it->second.data_reported = true;
    urc("+KTCP_DATA: " + std::to_string(id) + "," + std::to_string(sock->available()));
}

void Hl78Model::onSessionClosed(int id, HostSocket* sock) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.sock.get() != sock) {
        return;
    }
    it->second.state = SessionState::Closed;
    it->second.last_notif = kNotifRemoteClose;
    urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(kNotifRemoteClose));
}

void Hl78Model::addCommands() {
    auto ok = [](const AtCommand&) { return Final::ok(); };
    for (const char* name : {"+KSLEEP", "+KHWIOCFG", "+KCNXTIMER", "+KCNXPROFILE", "+KSSLCFG",
                             "+KBNDCFG", "+KSELACQ", "+KGNSSCFG", "+KURCCFG"}) {
        addCommand(name, ok);
    }
    addCommand("+CPWROFF", [this](const AtCommand&) {
        powerOffSoon();
        return Final::ok();
    });
    addCommand("+KPATTERN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+KPATTERN: \"" + pattern_ + "\"");
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::ok();
        }
        if (!c.has(0)) {
            return Final::cme(kMissing);
        }
        std::string p = c.str(0);
        if (p.empty() || p.size() > 128) {
            return Final::cme(kLengthInvalid);
        }
        pattern_ = p;
        return Final::ok();
    });
    addCommand("+KSRAT", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+KSRAT: " + std::to_string(rat_));
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+KSRAT: (0-1),(0-1)");
            return Final::ok();
        }
        auto v = c.intArg(0);
        if (!v || *v < 0 || *v > 1) {
            return Final::cme(kOutOfRange);
        }
        if (*v != rat_) {
            rat_ = static_cast<int>(*v);
            rebootSoon();  // the module reboots after a RAT change
        }
        return Final::ok();
    });
    addCommand("+KCNXCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [cnx, b] : bearers_) {
                respond("+KCNXCFG: " + std::to_string(cnx) + ",\"GPRS\",\"" + b.apn + "\"");
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::ok();
        }
        auto cnx = c.intArg(0);
        if (!cnx || *cnx < 1 || *cnx > 5) {
            return Final::cme(kOutOfRange);
        }
        Bearer& b = bearers_[static_cast<int>(*cnx)];
        b.apn = c.str(2);
        b.configured = true;
        return Final::ok();
    });
    addCommand("+KCNXUP", [this](const AtCommand& c) {
        auto cnx = c.has(0) ? c.intArg(0) : std::optional<long>(1);
        if (!cnx || *cnx < 1 || *cnx > 5) {
            return Final::cme(kOutOfRange);
        }
        int n = static_cast<int>(*cnx);
        if (bearers_[n].up) {
            urc("+KCNX_IND: " + std::to_string(n) + ",1");
            return Final::ok();
        }
        after(opts_.bearer_time, [this, n] {
            bool up = radioOn() && registered();
            bearers_[n].up = up;
            log_.note("bearer " + std::to_string(n) + (up ? " up" : " failed: not registered"));
            urc("+KCNX_IND: " + std::to_string(n) + (up ? ",1" : ",2"));
        });
        return Final::ok();
    });
    addCommand("+KCNXDOWN", [this](const AtCommand& c) {
        auto cnx = c.has(0) ? c.intArg(0) : std::optional<long>(1);
        if (!cnx) {
            return Final::cme(kOutOfRange);
        }
        int n = static_cast<int>(*cnx);
        bearers_[n].up = false;
        urc("+KCNX_IND: " + std::to_string(n) + ",3");
        return Final::ok();
    });
    addCommand("+KTCPCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [id, s] : sessions_) {
                respond("+KTCPCFG: " + std::to_string(id) + "," +
                        std::to_string(static_cast<int>(s.state)) + "," + std::to_string(s.cnx) +
                        "," + std::to_string(s.mode) + ",,\"" + s.host + "\"," +
                        std::to_string(s.port));
            }
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+KTCPCFG: (1-5),(0-3),(64),(1-65535)");
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::cme(kMissing);
        }
        auto cnx = c.has(0) ? c.intArg(0) : std::optional<long>(1);
        auto mode = c.intArg(1);
        if (!c.has(1) || !c.has(2) || !c.has(3)) {
            return Final::cme(kMissing);
        }
        if (!cnx || !mode || *mode < 0 || *mode > 3) {
            return Final::cme(kOutOfRange);
        }
        if (*mode == 1 || *mode == 2) {
            return Final::cme(kNotSupported);  // servers are not emulated
        }
        auto port = c.intArg(3);
        if (!port || *port < 1 || *port > 65535) {
            return Final::cme(kOutOfRange);
        }
        if (c.str(2).empty()) {
            return Final::cme(kMissing);
        }
        if (static_cast<int>(sessions_.size()) >= opts_.max_sessions) {
            misuse("AT+KTCPCFG: all " + std::to_string(opts_.max_sessions) +
                   " sessions are configured (leaked sessions? AT+KTCPDEL frees them)");
            return Final::cme(kAllSessionsUsed);
        }
        int id = 1;
        while (sessions_.count(id) != 0) {
            ++id;
        }
        constexpr size_t kProfileField = 8;  // the 9th parameter: cipher_suite_index
        auto profile = parseProfileIndex(c, kProfileField);
        if (*mode == 3 && profile && *profile < 0) {
            return Final::cme(kOutOfRange);
        }
        Session s;
        s.profile = *mode == 3 && profile ? *profile : 0;
        s.cnx = static_cast<int>(*cnx);
        s.mode = static_cast<int>(*mode);
        s.host = c.str(2);
        s.port = static_cast<uint16_t>(*port);
        sessions_[id] = std::move(s);
        if (*mode == 3 && !profile) {
            misuse("AT+KTCPCFG: secure session " + std::to_string(id) +
                   " without a cipher_suite_index (9th parameter); crypto profile 0 is used");
        }
        respond("+KTCPCFG: " + std::to_string(id));
        return Final::ok();
    });
    addCommand("+KTCPCNX", [this](const AtCommand& c) {
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        if (s->state == SessionState::Opening || s->state == SessionState::Connected) {
            return Final::cme(kSessionRunning);
        }
        auto b = bearers_.find(s->cnx);
        if (b == bearers_.end() || !b->second.configured) {
            misuse("AT+KTCPCNX: session " + c.str(0) + " uses bearer " + std::to_string(s->cnx) +
                   ", which has no AT+KCNXCFG since boot");
            return Final::cme(kBearerState);
        }
        closeSocket(*s);
        connectSession(static_cast<int>(*c.intArg(0)));
        return Final::ok();
    });
    addCommand("+KTCPSND", [this](const AtCommand& c) {
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        if (!c.has(1)) {
            return Final::cme(kMissing);
        }
        auto n = c.intArg(1);
        if (!n || *n < 1 || *n > static_cast<long>(kMaxSend)) {
            misuse("AT+KTCPSND length '" + c.str(1) + "' outside 1-65535");
            return Final::cme(kOutOfRange);
        }
        if (s->state != SessionState::Connected || !s->sock) {
            misuse("AT+KTCPSND on session " + c.str(0) + ", which is not connected");
            return Final::cme(kSessionState);
        }
        int id = static_cast<int>(*c.intArg(0));
        size_t want = static_cast<size_t>(*n);
        startDataPhase(
            DataPhase::pattern(pattern_, want + 65536), "\r\nCONNECT\r\n",
            [this, id, want](const DataPhase& p) {
                if (p.outcome() != DataPhase::Outcome::Complete) {
                    return Final::cme(909);
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
        Final err;
        Session* s = findSession(c, err);
        if (s == nullptr) {
            return err;
        }
        if (!c.has(1)) {
            return Final::cme(kMissing);
        }
        auto n = c.intArg(1);
        if (!n || *n < 1 || *n > static_cast<long>(kMaxSend)) {
            return Final::cme(kOutOfRange);
        }
        if (!s->sock) {
            return Final::cme(kSessionState);
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
    addCommand("+KTCPCLOSE", [this](const AtCommand& c) {
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
