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
using modem_common::Explainer;
using modem_common::Fetched;
using modem_common::hostPort;

Explainer explainer() {
    return [](const std::string& line) { return explainLine(line); };
}

namespace {

/// The error for a KTCPCNX that ended in "+KTCP_NOTIF: <id>,<code>".
Error connectError(int code, const std::string& line, const ModemSocketRequest& req) {
    const std::string to = hostPort(req);
    const std::string seen = " (" + line + ")";
    switch (code) {
        case 15:
            return makeError(
                "tls_untrusted",
                "the module does not trust the certificate of " + req.host +
                    ": the module's root CA store does not hold the CA that signed " + req.host +
                    "'s certificate: check tls.ca_file (it must hold the root CA of the broker's "
                    "chain, not an intermediate) and that it was provisioned to the module, and "
                    "that the certificate is issued for " +
                    req.host + seen);
        case 13:
            return makeError("tls_handshake",
                             "the TLS handshake with " + to +
                                 " failed in the module: the broker may want a client "
                                 "certificate (tls.cert_file and tls.key_file, provisioned to "
                                 "the module), or TLS versions or ciphers the module lacks "
                                 "(tls = \"local\" lets uplinkd do TLS instead)" +
                                 seen);
        case 14:
            return makeError("tls_setup",
                             "the module could not load its TLS client certificate or key: "
                             "provision tls.cert_file and tls.key_file again" +
                                 seen);
        case 3:
            return modem_common::openFailure(modem_common::OpenFailure::Dns, req, line);
        case 5:
            return modem_common::openFailure(modem_common::OpenFailure::Refused, req, line);
        case 12:
            return modem_common::openFailure(modem_common::OpenFailure::Timeout, req, line);
        case 0:
            return makeError("network",
                             "the module has no data connection (not registered, or the bearer "
                             "is down)" +
                                 seen);
        default:
            return modem_common::openFailure(req, explainLine(line));
    }
}

}  // namespace

/// A socket inside the module: KTCPSND chunks out, KTCPRCV on +KTCP_DATA. Thread: loop.
class Hl78Socket final : public modem_common::CoreSocket<Hl78Core> {
  public:
    Hl78Socket(const std::shared_ptr<Hl78Core>& core, int id, std::string description)
        : CoreSocket(core, id, std::move(description), kMaxSendChunk) {
        core->sockets.add(id, this);
    }
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
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        AtDataWrite w;
        w.prompt = "CONNECT";
        w.payload.assign(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        w.terminator = std::string(kEofPattern);
        sendData(*core, ktcpsndCommand(id(), chunk.size()), std::move(w), std::move(done));
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
                    done(Failure{commandError("AT+KTCPSTAT", r.error(), explainer())});
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
        // Fire and forget: the session is freed whatever the close says.
        core->at.command(ktcpcloseCommand(id()), core->timing.command, [](Result<AtResponse>) {});
        core->deleteSession(id());
    }

  private:
    /// AT+KTCPRCV for `available` bytes (at most one chunk): exactly that many come, then the
    /// pattern. Read by count, whatever the bytes are (a peer may send the pattern, "OK" or a
    /// URC line as data).
    void read(size_t available, std::function<void(Result<Fetched>)> done) {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        if (available == 0) {
            done(Fetched{});
            return;
        }
        const size_t want = std::min(available, kMaxReadChunk);
        AtDataRead rd;
        rd.kind = AtDataRead::Kind::CountedAfterConnect;
        rd.length = want;
        rd.terminator = std::string(kEofPattern);
        fetching_ = true;
        readData(*core, ktcprcvCommand(id(), want), std::move(rd),
                 [this, done = std::move(done)](Result<std::string> bytes) {
                     fetching_ = false;
                     if (!bytes) {
                         done(bytes.failure());
                         return;
                     }
                     const size_t got = bytes->size();
                     available_ = available_ > got ? available_ - got : 0;
                     done(Fetched{std::move(*bytes), available_ > 0 || uncertain_});
                 });
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
            early_data[d->session] = d->available;
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
    const Error e = makeError("modem_reset", explainLine(line) + ": its sockets are gone");
    breakAll(e);
    failResultWaits(line);
    failStartOnRestart(line);
}

void Hl78Core::breakAll(const Error& e) {
    early_data.clear();
    sockets.breakAll(e);
}

// ---- start ------------------------------------------------------------------------------------

void Hl78Core::start(StatusDone done) {
    const uint64_t gen = beginStart(std::move(done));
    breakAll(makeError("modem_reset", "the module is being started again: its sockets are gone"));
    stepsStage(gen, modem_common::toCommandSteps(kInitSteps), "", &Hl78Core::startSessions);
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
    at.command(std::string(kSessionList.command), kSessionList.timeout,
               [w = weak_from_this(), then = std::move(then)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   std::vector<AtCommandStep> steps;
                   if (r) {
                       for (const auto& listed : parseKtcpStatList(r->lines)) {
                           const int id = listed.id;
                           if (c->sockets.contains(id) || c->sockets.busy.contains(id)) {
                               continue;
                           }
                           if (listed.status >= 2 && listed.status <= 4) {
                               // Opening, connected or closing: closed first.
                               steps.push_back({ktcpcloseCommand(id), c->timing.command,
                                                modem_common::StepPolicy::Optional});
                           }
                           steps.push_back({ktcpdelCommand(id), c->timing.command,
                                            modem_common::StepPolicy::Optional});
                       }
                   }
                   // A listing the firmware does not know is no reason to stop.
                   modem_common::runSteps(c->at, std::move(steps), c->explain,
                                          [then](Status) { then(); });
               });
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
    if (auto refusal = modem_common::socketRequestProblem(req, kMaxHostLength, "the HL78")) {
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
    const int mode = req.tls ? kModeTlsClient : kModePlainClient;
    at.command(ktcpcfgCommand(mode, req.host, req.port), timing.command,
               [w = weak_from_this(), req, done = std::move(done)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       Error e = commandError("AT+KTCPCFG", r.error(), explainer())
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
                   c->early_data.erase(*id);
                   c->connect(*id, req, done);
               });
}

void Hl78Core::connect(int id, const ModemSocketRequest& req, OpenDone done) {
    const std::string ids = std::to_string(id) + ",";
    modem_common::commandThenUrc(
        loop, at, urcs, AtCommandStep{ktcpcnxCommand(id), timing.command},
        {"+KTCP_IND: " + ids, "+KTCP_NOTIF: " + ids}, timing.connect, explainer(),
        [w = weak_from_this(), id, req, done = std::move(done)](Result<std::string> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            if (r && r->starts_with("+KTCP_IND:")) {
                const auto ind = parseKtcpInd(*r);
                if (ind && ind->status == 1) {
                    const std::string what = "hl78 session " + std::to_string(id) + ": " +
                                             (req.tls ? "tls " : "tcp ") + hostPort(req) +
                                             (req.tls ? " (TLS in the module)" : "");
                    auto s = std::make_unique<Hl78Socket>(c, id, what);
                    auto early = c->early_data.find(id);
                    if (early != c->early_data.end()) {
                        s->onData(early->second);
                        c->early_data.erase(early);
                    }
                    done(ByteStreamPtr(std::move(s)));
                    return;
                }
            }
            c->deleteSession(id);
            if (!r) {
                done(Failure{r.error().withContext("open " + hostPort(req))});
                return;
            }
            const auto notif = parseKtcpNotif(*r);
            Error e = connectError(notif ? notif->code : -1, *r, req);
            if (noSessionsLeft(*r)) {
                e.code = "modem_no_sessions";
            }
            done(Failure{e});
        });
}

void Hl78Core::deleteSession(int id) {
    at.command(ktcpdelCommand(id), timing.command, [](Result<AtResponse>) {});
}

// ---- Hl78Driver -------------------------------------------------------------------------------

Hl78Driver::Hl78Driver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                       Hl78Timing timing)
    : DriverFront(std::make_shared<Hl78Core>(loop, at, std::move(settings), timing), kInfoQueries,
                  kMaxSendChunk) {}

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
