#include "hl78_driver.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "common/at_socket_stream.hpp"
#include "common/at_steps.hpp"
#include "common/generic_at.hpp"
#include "common/generic_info.hpp"
#include "common/pem.hpp"
#include "hl78_parsers.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::AtCommandStep;
using modem_common::commandError;
using modem_common::Explainer;
using modem_common::Fetched;
using modem_common::PemBlock;
using modem_common::ResultUrcs;
using modem_common::safeForQuotedArgument;
using modem_common::SimMemory;

namespace {

constexpr std::string_view kCrLf = "\r\n";

class Hl78Socket;

Explainer explainer() {
    return [](const std::string& line) { return explainLine(line); };
}

std::string target(const ModemSocketRequest& r) {
    return r.host + ":" + std::to_string(r.port);
}

/// The error for a KTCPCNX that ended in "+KTCP_NOTIF: <id>,<code>".
Error connectError(int code, const std::string& line, const ModemSocketRequest& req) {
    const std::string to = target(req);
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
            return makeError("dns", "the module could not resolve \"" + req.host + "\"" + seen);
        case 5:
            return makeError("connect", "the module could not connect to " + to +
                                            " (refused or unreachable)" + seen);
        case 12:
            return makeError("timeout", "connecting to " + to + " timed out in the module" + seen);
        case 0:
            return makeError("network",
                             "the module has no data connection (not registered, or the bearer "
                             "is down)" +
                                 seen);
        default:
            return makeError("connect", "connecting to " + to + ": " + explainLine(line));
    }
}

}  // namespace

// ---- Core -------------------------------------------------------------------------------------

/// What the driver shares with its sockets and URC handlers. Thread: loop.
struct Hl78Driver::Core : std::enable_shared_from_this<Hl78Driver::Core> {
    Core(asio::io_context& l, AtChannel& a, ModemSettings s, Hl78Timing t)
        : loop(l), at(a), settings(std::move(s)), timing(t) {}

    asio::io_context& loop;
    AtChannel& at;
    ModemSettings settings;
    Hl78Timing timing;
    std::shared_ptr<ResultUrcs> urcs = std::make_shared<ResultUrcs>();
    std::shared_ptr<SimMemory> sim = std::make_shared<SimMemory>();
    std::map<int, Hl78Socket*> sockets;
    std::map<int, size_t> early_data;  // +KTCP_DATA before the socket object exists
    uint64_t start_gen = 0;
    StatusDone start_done;

    void registerUrcs();
    void onUrc(const std::string& line);
    void breakAll(const Error& e);
    void post(std::function<void()> fn);

    // start()
    std::function<bool()> keepGoing(uint64_t gen);
    void finishStart(uint64_t gen, Status s);
    void startSim(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startBearer(uint64_t gen);

    // open()
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done);
    void connect(int id, const ModemSocketRequest& req, OpenDone done);
    void deleteSession(int id);

    // provision()
    struct CertWrite {
        std::string command;
        std::string payload;
        std::string what;
    };
    void provision(const ModemCredentials& creds, StatusDone done);
    void writeCerts(std::shared_ptr<std::vector<CertWrite>> writes, size_t next,
                    std::function<void(Status)> done);
};

namespace {

/// A socket inside the module: KTCPSND chunks out, KTCPRCV on +KTCP_DATA. Thread: loop.
class Hl78Socket final : public modem_common::AtSocketStream {
  public:
    Hl78Socket(const std::shared_ptr<Hl78Driver::Core>& core, int id, std::string description)
        : AtSocketStream(core->loop, std::move(description), kMaxSendChunk), core_(core), id_(id) {
        core->sockets[id] = this;
    }
    ~Hl78Socket() override { close(); }

    /// +KTCP_DATA: <id>,<n>
    void onData(size_t available) {
        if (fetching_) {
            urc_during_fetch_ = available;
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

    /// The module's sessions are gone (reset): nothing is sent for this one any more.
    void detach() { detached_ = true; }

  protected:
    size_t sendLength(std::span<const uint8_t> rest) const override {
        return safeSendLength(rest, maxChunk(), kEofPattern);
    }

    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        auto core = core_.lock();
        if (!core || detached_) {
            done(fail("closed", "the modem driver is gone"));
            return;
        }
        AtDataWrite w;
        w.prompt = "CONNECT";
        w.payload.assign(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        w.terminator = std::string(kEofPattern);
        const size_t n = chunk.size();
        core->at.commandWithData(
            ktcpsndCommand(id_, n), w, core->timing.send,
            [alive = token(), done = std::move(done), n](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(Failure{commandError("AT+KTCPSND", r.error(), explainer())});
                    return;
                }
                done(n);
            });
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = core_.lock();
        if (!core || detached_) {
            done(fail("closed", "the modem driver is gone"));
            return;
        }
        if (available_ == 0) {
            // Every +KTCP_DATA carries a count: none left means nothing to ask for (asking the
            // module for more than it holds is avoided).
            done(Fetched{});
            return;
        }
        const size_t want = std::min(available_, kMaxReadChunk);
        AtDataRead rd;
        rd.kind = AtDataRead::Kind::UntilPattern;
        rd.terminator = std::string(kEofPattern);
        fetching_ = true;
        core->at.commandReadingData(
            ktcprcvCommand(id_, want), rd, core->timing.receive,
            [alive = token(), this, done = std::move(done), want](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                fetching_ = false;
                if (!r) {
                    urc_during_fetch_.reset();
                    done(Failure{commandError("AT+KTCPRCV", r.error(), explainer())});
                    return;
                }
                const size_t got = r->data.size();
                // Fewer bytes than asked: the module's buffer is empty now.
                size_t left = got < want ? 0 : (available_ > got ? available_ - got : 0);
                if (urc_during_fetch_) {
                    // A newer count; too high at worst, which a short read corrects.
                    left = std::max(left, *urc_during_fetch_);
                    urc_during_fetch_.reset();
                }
                available_ = left;
                done(Fetched{std::move(r->data), left > 0});
            });
    }

    void closeSocket() override {
        auto core = core_.lock();
        if (!core) {
            return;
        }
        auto it = core->sockets.find(id_);
        if (it != core->sockets.end() && it->second == this) {
            core->sockets.erase(it);
        }
        if (detached_) {
            return;
        }
        // Fire and forget: the session is freed whatever the close says.
        core->at.command(ktcpcloseCommand(id_), core->timing.command, [](Result<AtResponse>) {});
        core->deleteSession(id_);
    }

  private:
    std::weak_ptr<Hl78Driver::Core> core_;
    int id_;
    size_t available_ = 0;
    std::optional<size_t> urc_during_fetch_;
    bool fetching_ = false;
    bool detached_ = false;
};

}  // namespace

void Hl78Driver::Core::post(std::function<void()> fn) {
    asio::post(loop, [w = weak_from_this(), fn = std::move(fn)] {
        if (!w.expired()) {
            fn();
        }
    });
}

void Hl78Driver::Core::registerUrcs() {
    for (const char* prefix :
         {"+KTCP_DATA:", "+KTCP_NOTIF:", "+KTCP_IND:", "+KCNX_IND:", "+KSUP:", "+KTCP_ACK:"}) {
        at.onUrc(prefix, [w = weak_from_this()](const std::string& line) {
            if (auto c = w.lock()) {
                c->onUrc(line);
            }
        });
    }
}

void Hl78Driver::Core::onUrc(const std::string& line) {
    if (urcs->offer(line)) {
        return;
    }
    if (line.starts_with("+KTCP_DATA:")) {
        const auto d = parseKtcpData(line);
        if (!d) {
            return;
        }
        auto it = sockets.find(d->session);
        if (it == sockets.end()) {
            early_data[d->session] = d->available;
            return;
        }
        it->second->onData(d->available);
        return;
    }
    if (line.starts_with("+KTCP_NOTIF:")) {
        const auto n = parseKtcpNotif(line);
        if (!n) {
            return;
        }
        auto it = sockets.find(n->session);
        if (it != sockets.end()) {
            it->second->onNotif(n->code, line);
        }
        return;
    }
    if (line.starts_with("+KSUP:")) {
        breakAll(makeError("modem_reset", explainLine(line) + ": its sockets are gone"));
        return;
    }
    // Late +KTCP_IND, +KCNX_IND and +KTCP_ACK need nothing.
}

void Hl78Driver::Core::breakAll(const Error& e) {
    auto current = sockets;
    sockets.clear();
    early_data.clear();
    for (auto& [id, s] : current) {
        s->detach();
        s->breakWith(e);
    }
}

// ---- start ------------------------------------------------------------------------------------

std::function<bool()> Hl78Driver::Core::keepGoing(uint64_t gen) {
    return [w = weak_from_this(), gen] {
        auto c = w.lock();
        return c && c->start_gen == gen && c->start_done;
    };
}

void Hl78Driver::Core::finishStart(uint64_t gen, Status s) {
    if (start_gen != gen || !start_done) {
        return;
    }
    auto d = std::move(start_done);
    start_done = nullptr;
    d(std::move(s));
}

void Hl78Driver::Core::startSim(uint64_t gen) {
    modem_common::SimPlan plan;
    plan.command_timeout = timing.command;
    plan.busy_retry_interval = timing.sim_retry;
    plan.busy_retries = timing.sim_busy_retries;
    plan.pin = settings.pin;
    modem_common::unlockSim(loop, at, std::move(plan), sim, keepGoing(gen),
                            [w = weak_from_this(), gen](Status s) {
                                auto c = w.lock();
                                if (!c) {
                                    return;
                                }
                                if (!s) {
                                    c->finishStart(gen, s.failure("SIM"));
                                    return;
                                }
                                c->startRegistration(gen);
                            });
}

void Hl78Driver::Core::startRegistration(uint64_t gen) {
    modem_common::RegistrationPlan plan;
    plan.queries = {{std::string(kRegistrationQuery), std::string(kRegistrationPrefix)}};
    plan.command_timeout = timing.command;
    plan.poll_interval = timing.registration_poll;
    plan.timeout = timing.registration_timeout;
    plan.denied_polls = timing.denied_polls;
    modem_common::waitForRegistration(loop, at, std::move(plan), keepGoing(gen),
                                      [w = weak_from_this(), gen](Result<RegState> r) {
                                          auto c = w.lock();
                                          if (!c) {
                                              return;
                                          }
                                          if (!r) {
                                              c->finishStart(gen, r.failure("registration"));
                                              return;
                                          }
                                          c->startBearer(gen);
                                      });
}

void Hl78Driver::Core::startBearer(uint64_t gen) {
    std::vector<AtCommandStep> steps = {{kcnxcfgCommand(settings), timing.command}};
    modem_common::runSteps(
        at, std::move(steps), explainer(), [w = weak_from_this(), gen](Status s) {
            auto c = w.lock();
            if (!c || !c->keepGoing(gen)()) {
                return;
            }
            if (!s) {
                c->finishStart(gen, s.failure("APN (check apn, apn_user, apn_password_file)"));
                return;
            }
            const std::string prefix = "+KCNX_IND: " + std::to_string(kCnx) + ",";
            modem_common::commandThenUrc(
                c->loop, c->at, c->urcs, modem_common::toCommandStep(kBearerUp), {prefix},
                c->timing.bearer_up, explainer(),
                [w, gen](Result<std::string> r) {
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
        });
}

// ---- open -------------------------------------------------------------------------------------

void Hl78Driver::Core::open(const ModemSocketRequest& req, OpenDone done) {
    std::optional<Error> refusal;
    if (req.host.empty() || req.host.size() > kMaxHostLength || !safeForQuotedArgument(req.host)) {
        refusal = makeError("bad_host", "the host name \"" + req.host.substr(0, 64) +
                                            "\" cannot be given to the module");
    } else if (req.port == 0) {
        refusal = makeError("bad_port", "port 0 cannot be connected to");
    } else if (req.tls && !req.server_name.empty() && req.server_name != req.host) {
        refusal = makeError(
            "unsupported",
            "the HL78 sends the host it connects to as the TLS server name (SNI) and checks the "
            "certificate against it; it cannot connect to " +
                req.host + " and use the name " + req.server_name + ": set the broker host to " +
                req.server_name + ", leave tls.server_name unset, or use tls = \"local\"");
    }
    if (refusal) {
        post([done = std::move(done), e = *refusal] { done(Failure{e}); });
        return;
    }
    const int mode = req.tls ? kModeTlsClient : kModePlainClient;
    at.command(
        ktcpcfgCommand(mode, req.host, req.port), timing.command,
        [w = weak_from_this(), req, done = std::move(done)](Result<AtResponse> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            if (!r) {
                done(Failure{commandError("AT+KTCPCFG", r.error(), explainer())
                                 .withContext("open " + target(req))});
                return;
            }
            std::optional<int> id;
            for (const auto& line : r->lines) {
                if (auto v = parseKtcpCfg(line)) {
                    id = *v;
                }
            }
            if (!id) {
                done(fail("bad_reply", "open " + target(req) + ": AT+KTCPCFG gave no session id"));
                return;
            }
            c->early_data.erase(*id);
            c->connect(*id, req, done);
        });
}

void Hl78Driver::Core::connect(int id, const ModemSocketRequest& req, OpenDone done) {
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
                                             (req.tls ? "tls " : "tcp ") + target(req) +
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
                done(Failure{r.error().withContext("open " + target(req))});
                return;
            }
            const auto notif = parseKtcpNotif(*r);
            done(Failure{connectError(notif ? notif->code : -1, *r, req)});
        });
}

void Hl78Driver::Core::deleteSession(int id) {
    at.command(ktcpdelCommand(id), timing.command, [](Result<AtResponse>) {});
}

// ---- provision --------------------------------------------------------------------------------

namespace {

Result<std::vector<PemBlock>> blocksWith(std::string_view pem, std::string_view what,
                                         bool (*wanted)(const std::string& label)) {
    auto blocks = modem_common::splitPem(pem);
    if (!blocks) {
        return blocks.failure(what);
    }
    std::vector<PemBlock> out;
    for (auto& b : *blocks) {
        if (wanted(b.label)) {
            out.push_back(std::move(b));
        }
    }
    if (out.empty()) {
        return fail("bad_pem", std::string(what) + ": no suitable PEM block");
    }
    return out;
}

bool isCertificate(const std::string& label) {
    return label == "CERTIFICATE";
}

bool isPrivateKey(const std::string& label) {
    return label.ends_with("PRIVATE KEY");
}

const StoredCert* findStored(const std::vector<StoredCert>& stored, StoredCert::Kind kind,
                             int index) {
    for (const auto& s : stored) {
        if (s.kind == kind && s.index == index) {
            return &s;
        }
    }
    return nullptr;
}

}  // namespace

void Hl78Driver::Core::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) {
        post([done, e] { done(Failure{e.withContext("provision")}); });
    };
    auto roots = blocksWith(creds.ca_pem, "tls.ca_file", &isCertificate);
    if (!roots) {
        refuse(roots.error());
        return;
    }
    if (roots->size() > kMaxRootCas) {
        refuse(makeError("bad_pem", "tls.ca_file holds " + std::to_string(roots->size()) +
                                        " certificates; the module stores at most " +
                                        std::to_string(kMaxRootCas) +
                                        " root CAs: keep only the root CA of the broker's chain"));
        return;
    }
    std::optional<std::vector<PemBlock>> local;
    std::optional<std::vector<PemBlock>> key;
    if (creds.cert_pem.empty() != creds.key_pem.empty()) {
        refuse(makeError("bad_pem",
                         "a client certificate needs both tls.cert_file and "
                         "tls.key_file"));
        return;
    }
    if (!creds.cert_pem.empty()) {
        auto l = blocksWith(creds.cert_pem, "tls.cert_file", &isCertificate);
        auto k = blocksWith(creds.key_pem, "tls.key_file", &isPrivateKey);
        if (!l || !k) {
            refuse(!l ? l.error() : k.error());
            return;
        }
        local = std::move(*l);
        key = std::move(*k);
        key->resize(1);
    }

    auto writes = std::make_shared<std::vector<CertWrite>>();
    const bool indexed = roots->size() > 1;
    for (size_t i = 0; i < roots->size(); ++i) {
        std::string payload = modem_common::joinLines((*roots)[i].lines, kCrLf);
        writes->push_back({kcertstoreCommand(0, payload.size(), indexed ? static_cast<int>(i) : -1),
                           std::move(payload),
                           "the root CA" + (indexed ? " #" + std::to_string(i) : std::string()) +
                               " (tls.ca_file)"});
    }
    if (local) {
        std::string cert = modem_common::joinBlocks(*local, kCrLf);
        writes->push_back({kcertstoreCommand(1, cert.size(), -1), std::move(cert),
                           "the client certificate (tls.cert_file)"});
        std::string k = modem_common::joinBlocks(*key, kCrLf);
        writes->push_back(
            {kprivkstoreCommand(k.size()), std::move(k), "the private key (tls.key_file)"});
    }

    auto expected_roots = std::make_shared<std::vector<PemBlock>>(std::move(*roots));
    auto expected_local = std::make_shared<std::optional<std::vector<PemBlock>>>(std::move(local));
    writeCerts(
        writes, 0,
        [w = weak_from_this(), expected_roots, expected_local, done = std::move(done)](Status s) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            if (!s) {
                done(s.failure("provision"));
                return;
            }
            auto verify = [w, expected_roots, expected_local, done]() {
                auto core = w.lock();
                if (!core) {
                    return;
                }
                core->at.command(
                    std::string(kCertStoreRead.command), kCertStoreRead.timeout,
                    [expected_roots, expected_local, done](Result<AtResponse> r) {
                        if (!r) {
                            done(
                                Failure{commandError(kCertStoreRead.command, r.error(), explainer())
                                            .withContext("provision: reading the store back")});
                            return;
                        }
                        const auto stored = parseCertStoreList(r->lines);
                        if (!stored) {
                            done(stored.failure("provision: reading the store back"));
                            return;
                        }
                        const bool multiple = expected_roots->size() > 1;
                        for (size_t i = 0; i < expected_roots->size(); ++i) {
                            const int index = multiple ? static_cast<int>(i) : 0;
                            const auto* found = findStored(*stored, StoredCert::Kind::Root, index);
                            const std::string which =
                                "the root CA at index " + std::to_string(index);
                            if (found == nullptr) {
                                done(fail("provision_mismatch", "provision: the module lists no " +
                                                                    which +
                                                                    " after it was written"));
                                return;
                            }
                            if (found->lines != (*expected_roots)[i].lines) {
                                done(fail("provision_mismatch",
                                          "provision: " + which +
                                              " that the module holds differs from tls.ca_file "
                                              "after writing it"));
                                return;
                            }
                        }
                        if (*expected_local) {
                            std::vector<std::string> want;
                            for (const auto& b : **expected_local) {
                                want.insert(want.end(), b.lines.begin(), b.lines.end());
                            }
                            const auto* found = findStored(*stored, StoredCert::Kind::Local, 0);
                            if (found == nullptr || found->lines != want) {
                                done(fail("provision_mismatch",
                                          "provision: the client certificate that the module holds "
                                          "differs from tls.cert_file after writing it"));
                                return;
                            }
                        }
                        done(okStatus());
                    });
            };
            if (*expected_local) {
                verify();
                return;
            }
            // No client certificate configured: remove an old one so that it is not presented.
            c->at.command(std::string(kDeleteLocalCert.command), kDeleteLocalCert.timeout,
                          [verify](Result<AtResponse>) { verify(); });
        });
}

void Hl78Driver::Core::writeCerts(std::shared_ptr<std::vector<CertWrite>> writes, size_t next,
                                  std::function<void(Status)> done) {
    if (next == writes->size()) {
        done(okStatus());
        return;
    }
    const CertWrite& cw = (*writes)[next];
    AtDataWrite w;
    w.prompt = "CONNECT";
    w.payload = cw.payload;
    w.terminator = std::string(kEofPattern);
    at.commandWithData(
        cw.command, w, timing.cert_store,
        [wk = weak_from_this(), writes, next, done = std::move(done)](Result<AtResponse> r) {
            auto c = wk.lock();
            if (!c) {
                return;
            }
            const CertWrite& current = (*writes)[next];
            if (!r) {
                done(Failure{commandError(current.command, r.error(), explainer())
                                 .withContext("writing " + current.what)});
                return;
            }
            c->writeCerts(writes, next + 1, done);
        });
}

// ---- Hl78Driver -------------------------------------------------------------------------------

Hl78Driver::Hl78Driver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                       Hl78Timing timing)
    : core_(std::make_shared<Core>(loop, at, std::move(settings), timing)) {
    core_->registerUrcs();
}

Hl78Driver::~Hl78Driver() {
    core_->breakAll(makeError("closed", "the modem driver was stopped"));
}

void Hl78Driver::start(StatusDone done) {
    Core& c = *core_;
    const uint64_t gen = ++c.start_gen;
    if (c.start_done) {
        c.post([old = std::move(c.start_done)] {
            old(fail("cancelled", "the module is being started again"));
        });
    }
    c.start_done = std::move(done);
    c.breakAll(makeError("modem_reset", "the module is being started again: its sockets are gone"));
    std::vector<AtCommandStep> steps;
    for (const auto& s : kInitSteps) {
        steps.push_back(modem_common::toCommandStep(s));
    }
    modem_common::runSteps(c.at, std::move(steps), explainer(),
                           [w = std::weak_ptr<Core>(core_), gen](Status s) {
                               auto core = w.lock();
                               if (!core || !core->keepGoing(gen)()) {
                                   return;
                               }
                               if (!s) {
                                   core->finishStart(gen, s);
                                   return;
                               }
                               core->startSim(gen);
                           });
}

void Hl78Driver::info(std::function<void(Result<ModemInfo>)> done) {
    modem_common::runInfo(
        core_->at, kInfoQueries,
        [w = std::weak_ptr<Core>(core_), done = std::move(done)](Result<ModemInfo> r) {
            if (!w.expired()) {
                done(std::move(r));
            }
        });
}

void Hl78Driver::provision(const ModemCredentials& creds, StatusDone done) {
    core_->provision(creds, std::move(done));
}

void Hl78Driver::open(const ModemSocketRequest& request,
                      std::function<void(Result<ByteStreamPtr>)> done) {
    core_->open(request, std::move(done));
}

std::string Hl78Driver::explain(const std::string& error_line) const {
    return explainLine(error_line);
}

// ---- plugin entry points ----------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{{"HL7800", "HL7802", "HL7812"}, true};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    for (const auto* field : {&settings.apn, &settings.apn_user, &settings.apn_password}) {
        if (!safeForQuotedArgument(*field) || field->size() > 100) {
            const char* name = field == &settings.apn        ? "apn"
                               : field == &settings.apn_user ? "apn_user"
                                                             : "apn_password_file";
            return fail("config", std::string(name) +
                                      ": the module cannot take this value (at most 100 "
                                      "characters, no '\"' and no control characters)");
        }
    }
    return ModemDriverPtr(std::make_unique<Hl78Driver>(loop, at, settings));
}

const PluginDescriptor* descriptor() {
    static const ModemPluginApi api{&match(), &create};
    static const PluginDescriptor d{kPluginAbiVersion, PluginKind::Modem, "sierra-hl78",
                                    "Sierra Wireless HL7800/HL7802/HL7812 (K commands; TCP and "
                                    "TLS sockets in the module)",
                                    &api};
    return &d;
}

}  // namespace uplinkd::plugins::sierra_hl78
