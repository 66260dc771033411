// SPDX-License-Identifier: Apache-2.0
#include "model_hl78.hpp"

#include <algorithm>

#include "k_errors.hpp"

namespace uplinkd::emulator {
namespace {

const char* const kDefaultPattern = "--EOF--Pattern--";

}  // namespace

Hl78Model::Hl78Model(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                     ModemOptions opts)
    : KSocketModem(io, port, certs, log, std::move(opts), "HL7802", kDefaultPattern, false) {
    revision_ = model_id_ + ".4.6.9.4";
    imei_ = "352653090000001";
    addCommands();
    addCertCommands();
    addCryptoCommand();
}

Hl78Model::~Hl78Model() = default;

void Hl78Model::onPowerLoss() {
    clearSessions();
    bearers_.clear();
    pattern_ = kDefaultPattern;
    access_tech_ = rat_ == 1 ? 9 : 7;
}

void Hl78Model::dropLinks() {
    dropSessionLinks();
}

bool Hl78Model::setMaxSessions(int n) {
    if (n < 1 || n > 32) {
        return false;
    }
    opts_.max_sessions = n;
    return true;
}

void Hl78Model::addSessionStatus(const Session& s, nlohmann::json& entry) const {
    entry["mode"] = s.mode;
    entry["tls"] = s.mode == 3;
    entry["crypto_profile"] = s.mode == 3 ? nlohmann::json(s.profile) : nullptr;
}

void Hl78Model::addStatus(nlohmann::json& j) const {
    addSocketStatus(j);
    nlohmann::json up = nlohmann::json::array();
    for (const auto& [cnx, b] : bearers_) {
        if (b.up) {
            up.push_back(cnx);
        }
    }
    j["bearers"] = up;
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

bool Hl78Model::linkReady(const AtCommand& c, const Session& s) {
    auto b = bearers_.find(s.cnx);
    if (b == bearers_.end() || !b->second.configured) {
        misuse("AT+KTCPCNX: session " + c.str(0) + " uses bearer " + std::to_string(s.cnx) +
               ", which has no AT+KCNXCFG since boot");
        return false;
    }
    return true;
}

void Hl78Model::connectSession(int id) {
    Session& s = sessions_.at(id);
    beginConnect(s);
    uint64_t attempt = s.attempt;
    auto still = [this, id, attempt]() -> Session* {
        auto it = sessions_.find(id);
        bool same = it != sessions_.end() && it->second.attempt == attempt &&
                    it->second.state == SessionState::Opening;
        return same ? &it->second : nullptr;
    };
    auto fail = [this, id](Session& ss) {
        ss.state = SessionState::Defined;
        ss.last_notif = knotif::kNetwork;
        urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(knotif::kNetwork));
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
        openSessionSocket(id);
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
        openSessionSocket(id);
    });
}

void Hl78Model::openSessionSocket(int id) {
    Session& s = sessions_.at(id);
    TlsOptions tls;
    if (s.mode == 3) {
        std::string why;
        auto t = tlsFor(s, why);
        if (!t) {
            log_.note("session " + std::to_string(id) + " failed: TLS setup: " + why);
            s.state = SessionState::Defined;
            s.last_notif = knotif::kSslInit;
            urc("+KTCP_NOTIF: " + std::to_string(id) + "," + std::to_string(knotif::kSslInit));
            return;
        }
        tls = std::move(*t);
    }
    openSocket(id, std::move(tls));
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
            return Final::cme(kerr::kMissing);
        }
        std::string p = c.str(0);
        if (p.empty() || p.size() > 128) {
            return Final::cme(kerr::kLengthInvalid);
        }
        pattern_ = p;
        return Final::ok();
    });
    addCommand("+KSRAT", {"+KSRAT: (0-1),(0-1)"}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+KSRAT: " + std::to_string(rat_));
            return Final::ok();
        }
        auto v = c.intArg(0);
        if (!v || *v < 0 || *v > 1) {
            return Final::cme(kerr::kOutOfRange);
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
            return Final::cme(kerr::kOutOfRange);
        }
        Bearer& b = bearers_[static_cast<int>(*cnx)];
        b.apn = c.str(2);
        b.configured = true;
        return Final::ok();
    });
    addCommand("+KCNXUP", [this](const AtCommand& c) {
        auto cnx = c.has(0) ? c.intArg(0) : std::optional<long>(1);
        if (!cnx || *cnx < 1 || *cnx > 5) {
            return Final::cme(kerr::kOutOfRange);
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
            return Final::cme(kerr::kOutOfRange);
        }
        int n = static_cast<int>(*cnx);
        bearers_[n].up = false;
        urc("+KCNX_IND: " + std::to_string(n) + ",3");
        return Final::ok();
    });
    addCommand("+KTCPCFG", {"+KTCPCFG: (1-5),(0-3),(64),(1-65535)"}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [id, s] : sessions_) {
                respond("+KTCPCFG: " + std::to_string(id) + "," +
                        std::to_string(static_cast<int>(s.state)) + "," + std::to_string(s.cnx) +
                        "," + std::to_string(s.mode) + ",,\"" + s.host + "\"," +
                        std::to_string(s.port));
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::cme(kerr::kMissing);
        }
        auto cnx = c.has(0) ? c.intArg(0) : std::optional<long>(1);
        auto mode = c.intArg(1);
        if (!c.has(1) || !c.has(2) || !c.has(3)) {
            return Final::cme(kerr::kMissing);
        }
        if (!cnx || !mode || *mode < 0 || *mode > 3) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (*mode == 1 || *mode == 2) {
            return Final::cme(kerr::kNotSupported);  // servers are not emulated
        }
        auto port = c.intArg(3);
        if (!port || *port < 1 || *port > 65535) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (c.str(2).empty()) {
            return Final::cme(kerr::kMissing);
        }
        auto id = freeSessionId();
        if (!id) {
            return Final::cme(kerr::kAllSessionsUsed);
        }
        constexpr size_t kProfileField = 8;  // the 9th parameter: cipher_suite_index
        auto profile = parseProfileIndex(c, kProfileField);
        if (*mode == 3 && profile && *profile < 0) {
            return Final::cme(kerr::kOutOfRange);
        }
        Session s;
        s.profile = *mode == 3 && profile ? *profile : 0;
        s.cnx = static_cast<int>(*cnx);
        s.mode = static_cast<int>(*mode);
        s.host = c.str(2);
        s.port = static_cast<uint16_t>(*port);
        sessions_[*id] = std::move(s);
        if (*mode == 3 && !profile) {
            misuse("AT+KTCPCFG: secure session " + std::to_string(*id) +
                   " without a cipher_suite_index (9th parameter); crypto profile 0 is used");
        }
        respond("+KTCPCFG: " + std::to_string(*id));
        return Final::ok();
    });
    addKSocketCommands();
}

}  // namespace uplinkd::emulator
