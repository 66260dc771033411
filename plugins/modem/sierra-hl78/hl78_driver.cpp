// SPDX-License-Identifier: Apache-2.0
#include "hl78_driver.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "common/generic_at.hpp"
#include "hl78_core.hpp"
#include "hl78_parsers.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::AtCommandStep;
using modem_common::commandError;
using modem_common::Fetched;
using modem_common::hostPort;

namespace {

using modem_common::OpenFailure;

/// What the code of a "+KTCP_NOTIF: <id>,<code>" that ends a KTCPCNX means.
constexpr modem_common::OpenFailureRow kConnectFailures[] = {
    {15,
     {},
     "tls_untrusted",
     "the module does not trust the certificate of {host}: the module's root CA store does not "
     "hold the CA that signed {host}'s certificate: check tls.ca_file (it must hold the root CA "
     "of the broker's chain, not an intermediate) and that it was provisioned to the module, and "
     "that the certificate is issued for {host}"},
    {13,
     {},
     "tls_handshake",
     "the TLS handshake with {to} failed in the module: the broker may want a client certificate "
     "(tls.cert_file and tls.key_file, provisioned to the module), or TLS versions or ciphers the "
     "module lacks (tls = \"local\" lets uplinkd do TLS instead)"},
    {14,
     {},
     "tls_setup",
     "the module could not load its TLS client certificate or key: provision tls.cert_file and "
     "tls.key_file again"},
    {3, OpenFailure::Dns},
    {5, OpenFailure::Refused},
    {12, OpenFailure::Timeout},
    {0, {}, "network", "the module has no data connection (not registered, or the bearer is down)"},
};

/// What a KTCPCFG session is configured for: mode, host and port.
std::string sessionTarget(const ModemSocketRequest& req) {
    return std::to_string(req.tls ? kModeTlsClient : kModePlainClient) + "," + req.host + "," +
           std::to_string(req.port);
}

/// "+CME ERROR: 910" (bad session ID): the module does not have the session.
bool sessionUnknown(const Error& e) {
    return e.code == "at_error" &&
           modem_common::parseCmeErrorCode(modem_common::trimLine(e.message)) == 910;
}

}  // namespace

/// A socket inside the module: KTCPSND chunks out, KTCPRCV on +KTCP_DATA. Thread: loop.
class Hl78Socket final : public modem_common::CoreSocket<Hl78Core> {
  public:
    using CoreSocket::CoreSocket;
    ~Hl78Socket() override { close(); }

    /// +KTCP_DATA: <id>,<n>
    void onData(size_t available) {
        if (fetching_) {
            uncertain_ = true;
        } else {
            available_ = available;
        }
        if (available > 0) {
            dataWaiting();
        }
    }

    /// +KTCP_NOTIF: <id>,<code> outside a connect.
    void onNotif(int code, const std::string& line) {
        if (code == 4) {
            peerClosed();
            return;
        }
        if (code == 8) {
            breakWith(makeError("modem_protocol",
                                "the module counted a different KTCPSND length than announced: "
                                "bytes may have been lost (" +
                                    line + ")"));
            return;
        }
        breakWith(makeError("socket_error", explainLine(line)));
    }

  protected:
    size_t sendLength(std::span<const uint8_t> rest) const override {
        return safeSendLength(rest, maxChunk(), kEofPattern);
    }

    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        AtDataWrite w;
        w.prompt = "CONNECT";
        w.terminator = std::string(kEofPattern);
        sendData(ktcpsndCommand(id(), chunk.size()), chunk, std::move(w), std::move(done));
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        if (!uncertain_) {
            read(available_, std::move(done));
            return;
        }
        // A +KTCP_DATA crossed a read: its count may already be spent. Ask the module how many
        // bytes it holds, since a counted read must never ask for more than that.
        fetching_ = true;
        core->at.command(
            ktcpstatCommand(id()), core->timing.command,
            [alive = token(), this, done = std::move(done)](Result<AtResponse> r) mutable {
                if (alive.expired()) {
                    return;
                }
                fetching_ = false;
                if (!r) {
                    done(Failure{commandError("AT+KTCPSTAT", r.error(), explainLine)});
                    return;
                }
                std::optional<size_t> held;
                for (const auto& line : r->lines) {
                    if (auto st = parseKtcpStat(line)) {
                        held = st->received;
                    }
                }
                if (!held) {
                    done(fail("bad_reply", "AT+KTCPSTAT gave no byte count"));
                    return;
                }
                uncertain_ = false;
                available_ = *held;
                read(available_, std::move(done));
            });
    }

    void closeSocket() override {
        auto core = leave(&Hl78Core::sockets, this);
        if (!core) {
            return;
        }
        // Fire and forget: the session is closed (and kept for a reconnect, or freed)
        // whatever the close says.
        core->at.command(ktcpcloseCommand(id()), core->timing.command, [](Result<AtResponse>) {});
        core->keepOrDeleteSession(id());
    }

  private:
    /// AT+KTCPRCV for `available` bytes (at most one chunk): exactly that many come, then the
    /// pattern. Read by count, whatever the bytes are (a peer may send the pattern, "OK" or a
    /// URC line as data).
    void read(size_t available, std::function<void(Result<Fetched>)> done) {
        AtDataRead rd;
        rd.kind = AtDataRead::Kind::CountedAfterConnect;
        rd.terminator = std::string(kEofPattern);
        fetching_ = true;
        readHeld(
            available, kSocketLimits.max_read_chunk,
            [this](size_t want) { return ktcprcvCommand(id(), want); }, std::move(rd),
            [this](size_t got) {
                fetching_ = false;
                available_ = available_ > got ? available_ - got : 0;
                return available_ > 0 || uncertain_;
            },
            std::move(done));
    }

    size_t available_ = 0;    ///< bytes the module holds, as last counted
    bool uncertain_ = false;  ///< a count arrived during a read: ask before the next one
    bool fetching_ = false;
};

void Hl78Core::onUrc(const std::string& line) {
    if (urcs->offer(line)) {
        return;
    }
    if (line.starts_with("+KTCP_DATA:")) {
        const auto d = parseKtcpData(line);
        if (!d) {
            return;
        }
        if (auto* s = sockets.find(d->session)) {
            s->onData(d->available);
        } else {
            sockets.early_data[d->session] = d->available;
        }
        return;
    }
    if (line.starts_with("+KTCP_NOTIF:")) {
        const auto n = parseKtcpNotif(line);
        if (!n) {
            return;
        }
        if (auto* s = sockets.find(n->session)) {
            s->onNotif(n->code, line);
        }
        return;
    }
    // Late +KTCP_IND, +KCNX_IND and +KTCP_ACK need nothing.
}

void Hl78Core::onBoot(const std::string& line) {
    // The channel already failed every command in flight; result waits, sockets and a start
    // under way end now. The supervisor runs start() again (echo, CMEE, registration, bearer).
    breakAll(restartError(line));
    failResultWaits(line);
    failStartOnRestart(line);
}

void Hl78Core::breakAll(const Error& e) {
    // The module restarted (or is started again): its sessions are gone or get freed.
    idle_session.reset();
    session_targets.clear();
    sockets.breakAll(e);
}

// ---- start ------------------------------------------------------------------------------------

void Hl78Core::start(StatusDone done) {
    startWith(std::move(done), kInitSteps, &Hl78Core::startSessions);
}

void Hl78Core::startSessions(uint64_t gen) {
    reconcileSessions([w = weak_from_this(), gen] {
        auto c = w.lock();
        if (c && c->current(gen)) {
            c->startSim(gen);
        }
    });
}

void Hl78Core::reconcileSessions(std::function<void()> then) {
    // Every session no socket owns is freed, the idle one too.
    if (idle_session) {
        session_targets.erase(idle_session->id);
        idle_session.reset();
    }
    reconcile(
        kSessionList,
        [](Hl78Core& c, const std::vector<std::string>& lines) {
            std::vector<AtCommandStep> steps;
            for (const auto& listed : parseKtcpStatList(lines)) {
                if (c.sockets.owns(listed.id)) {
                    continue;
                }
                if (listed.status >= 2 && listed.status <= 4) {
                    // Opening, connected or closing: closed first.
                    steps.push_back({ktcpcloseCommand(listed.id), c.timing.command,
                                     modem_common::StepPolicy::Optional});
                }
                steps.push_back({ktcpdelCommand(listed.id), c.timing.command,
                                 modem_common::StepPolicy::Optional});
            }
            return steps;
        },
        std::move(then));
}

void Hl78Core::startSim(uint64_t gen) {
    simStage(gen, &Hl78Core::startRegistration);
}

void Hl78Core::startRegistration(uint64_t gen) {
    registrationStage(gen, {{std::string(kRegistrationQuery), std::string(kRegistrationPrefix)}},
                      &Hl78Core::startBearer);
}

void Hl78Core::startBearer(uint64_t gen) {
    stepsStage(gen, {{kcnxcfgCommand(settings), timing.command}},
               "APN (check apn, apn_user, apn_password_file)", &Hl78Core::bearerUp);
}

void Hl78Core::bearerUp(uint64_t gen) {
    const std::string prefix = "+KCNX_IND: " + std::to_string(kCnx) + ",";
    modem_common::commandThenUrc(
        loop, at, urcs, modem_common::toCommandStep(kBearerUp), {prefix}, timing.bearer_up, explain,
        [w = weak_from_this(), gen](Result<std::string> r) {
            auto core = w.lock();
            if (!core) {
                return;
            }
            if (!r) {
                if (r.error().code == "at_error") {
                    // Firmware without KCNXUP: the first KTCPCNX brings the bearer up.
                    core->finishStart(gen, okStatus());
                    return;
                }
                core->finishStart(gen, r.failure("data connection"));
                return;
            }
            const auto ind = parseKcnxInd(*r);
            if (ind && ind->status == 1) {
                core->finishStart(gen, okStatus());
                return;
            }
            core->finishStart(gen, fail("bearer", explainLine(*r)));
        },
        [](const std::string& line) {
            const auto ind = parseKcnxInd(line);
            return ind && kcnxFinal(ind->status);
        });
}

// ---- open -------------------------------------------------------------------------------------

void Hl78Core::open(const ModemSocketRequest& req, OpenDone done) {
    if (auto refusal =
            modem_common::socketRequestProblem(req, kSocketLimits.max_host_length, "the HL78")) {
        failLater(std::move(done), *refusal);
        return;
    }
    if (!req.tls) {
        configure(req, std::move(done));
        return;
    }
    // The crypto profile first (TLS 1.2, the provisioned root CA slot, server verification):
    // the session names it. Firmware before 4.6 has no root CA index field.
    auto then = whenOk("open " + hostPort(req) + ": TLS crypto profile", done,
                       [req, done](const CorePtr& c) { c->configure(req, done); });
    at.command(ksslcryptoCommand(kTlsProfile, client_cert, true), timing.command,
               [w = weak_from_this(), then](Result<AtResponse> r) mutable {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (r || r.error().code != "at_error") {
                       then(modem_common::commandStatus("AT+KSSLCRYPTO", r, c->explain));
                       return;
                   }
                   const std::string older = ksslcryptoCommand(kTlsProfile, c->client_cert, false);
                   c->at.command(
                       older, c->timing.command,
                       [then, explain = c->explain](Result<AtResponse> r2) mutable {
                           then(modem_common::commandStatus("AT+KSSLCRYPTO", r2, explain));
                       });
               });
}

void Hl78Core::configure(const ModemSocketRequest& req, OpenDone done) {
    if (idle_session && idle_session->target == sessionTarget(req)) {
        // The module still has a session for this target: connect it again (one AT+KTCPCFG
        // less on every reconnect).
        const int id = idle_session->id;
        idle_session.reset();
        sockets.early_data.erase(id);
        connect(id, req, std::move(done), true);
        return;
    }
    const int mode = req.tls ? kModeTlsClient : kModePlainClient;
    at.command(ktcpcfgCommand(mode, req.host, req.port), timing.command,
               [w = weak_from_this(), req, done = std::move(done)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       Error e = commandError("AT+KTCPCFG", r.error(), explainLine)
                                     .withContext("open " + hostPort(req));
                       if (r.error().code == "at_error" && noSessionsLeft(r.error().message)) {
                           // Sessions this driver does not own hold the module's slots: free
                           // them for the next attempt. Repeated, this is the supervisor's to
                           // escalate.
                           e.code = "modem_no_sessions";
                           c->reconcileSessions([] {});
                       }
                       done(Failure{e});
                       return;
                   }
                   std::optional<int> id;
                   for (const auto& line : r->lines) {
                       if (auto v = parseKtcpCfg(line)) {
                           id = *v;
                       }
                   }
                   if (!id) {
                       done(fail("bad_reply",
                                 "open " + hostPort(req) + ": AT+KTCPCFG gave no session id"));
                       return;
                   }
                   c->sockets.early_data.erase(*id);
                   c->session_targets[*id] = sessionTarget(req);
                   c->connect(*id, req, done);
               });
}

void Hl78Core::connect(int id, const ModemSocketRequest& req, OpenDone done, bool reused) {
    const std::string ids = std::to_string(id) + ",";
    modem_common::commandThenUrc(
        loop, at, urcs, AtCommandStep{ktcpcnxCommand(id), timing.command},
        {"+KTCP_IND: " + ids, "+KTCP_NOTIF: " + ids}, timing.connect, explainLine,
        [w = weak_from_this(), id, req, reused, done = std::move(done)](Result<std::string> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            if (reused && !r && r.error().code == "at_error") {
                // The module refused to connect the kept session (it lost it unnoticed, or it
                // is not idle): a new session, as on a first connection.
                c->session_targets.erase(id);
                if (!sessionUnknown(r.error())) {
                    c->deleteSession(id);
                }
                c->configure(req, done);
                return;
            }
            if (r && r->starts_with("+KTCP_IND:")) {
                const auto ind = parseKtcpInd(*r);
                if (ind && ind->status == 1) {
                    auto s = modem_common::makeSocket(
                        c, &Hl78Core::sockets, id,
                        modem_common::moduleSocketDescription("hl78 session", id, req),
                        kSocketLimits.max_send_chunk);
                    auto& early = c->sockets.early_data;
                    if (auto it = early.find(id); it != early.end()) {
                        s->onData(it->second);
                        early.erase(it);
                    }
                    done(ByteStreamPtr(std::move(s)));
                    return;
                }
            }
            c->session_targets.erase(id);
            c->deleteSession(id);
            if (!r) {
                done(Failure{r.error().withContext("open " + hostPort(req))});
                return;
            }
            const auto notif = parseKtcpNotif(*r);
            Error e = modem_common::openFailure(kConnectFailures, notif ? notif->code : -1, req, *r,
                                                explainLine);
            if (noSessionsLeft(*r)) {
                e.code = "modem_no_sessions";
            }
            done(Failure{e});
        });
}

void Hl78Core::deleteSession(int id) {
    at.command(ktcpdelCommand(id), timing.command, [](Result<AtResponse>) {});
}

void Hl78Core::keepOrDeleteSession(int id) {
    // A closed session keeps its configuration until AT+KTCPDEL, also after the peer closed
    // (+KTCP_NOTIF: <id>,4): AT+KTCPCNX connects it again.
    auto it = session_targets.find(id);
    if (it == session_targets.end() || idle_session) {
        session_targets.erase(id);
        deleteSession(id);
        return;
    }
    idle_session = IdleSession{id, it->second};
}

// ---- Hl78Driver -------------------------------------------------------------------------------

Hl78Driver::Hl78Driver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                       Hl78Timing timing)
    : DriverFront(std::make_shared<Hl78Core>(loop, at, std::move(settings), timing, explainLine),
                  kInfoQueries, kSocketLimits.max_send_chunk) {}

Hl78Driver::~Hl78Driver() = default;

// ---- plugin entry points ----------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{{"HL7800", "HL7802", "HL7812"}, true};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    return modem_common::createDriver<Hl78Driver>(loop, at, settings);
}

const PluginDescriptor* descriptor() {
    return modem_common::modemPluginDescriptor<&match, &create>(
        "sierra-hl78",
        "Sierra Wireless HL7800/HL7802/HL7812 (K commands; TCP and "
        "TLS sockets in the module)");
}

}  // namespace uplinkd::plugins::sierra_hl78
