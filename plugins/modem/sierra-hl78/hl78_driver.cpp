#include "hl78_driver.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "common/generic_at.hpp"
#include "common/pem.hpp"
#include "hl78_parsers.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::AtCommandStep;
using modem_common::commandError;
using modem_common::Explainer;
using modem_common::Fetched;
using modem_common::hostPort;
using modem_common::PemBlock;
using modem_common::PemWant;
using modem_common::SocketTable;

namespace {

constexpr std::string_view kCrLf = "\r\n";

class Hl78Socket;

Explainer explainer() {
    return [](const std::string& line) { return explainLine(line); };
}

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
struct Hl78Core : modem_common::DriverCore<Hl78Core, Hl78Timing> {
    Hl78Core(asio::io_context& l, AtChannel& a, ModemSettings s, Hl78Timing t)
        : DriverCore(l, a, std::move(s), t, explainer()) {}
    /// Routes the module's URCs here (once the core is owned by its shared_ptr).
    void registerUrcs() override {
        routeUrcs(
            {"+KTCP_DATA:", "+KTCP_NOTIF:", "+KTCP_IND:", "+KCNX_IND:", "+KSUP:", "+KTCP_ACK:"});
    }

    SocketTable<Hl78Socket> sockets;
    std::map<int, size_t> early_data;  // +KTCP_DATA before the socket object exists

    void onUrc(const std::string& line);
    void breakAll(const Error& e) override;

    // start(): init steps, SIM, registration, bearer
    void start(StatusDone done) override;
    void startSim(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startBearer(uint64_t gen);
    void bearerUp(uint64_t gen);

    // open()
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done) override;
    void connect(int id, const ModemSocketRequest& req, OpenDone done);
    void deleteSession(int id);

    // provision()
    void provision(const ModemCredentials& creds, StatusDone done) override;
};

namespace {

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
        const size_t n = chunk.size();
        core->at.commandWithData(
            ktcpsndCommand(id(), n), w, core->timing.send,
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
        auto core = attachedOr(done);
        if (!core) {
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
            ktcprcvCommand(id(), want), rd, core->timing.receive,
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
        auto core = leave(&Hl78Core::sockets, this);
        if (!core) {
            return;
        }
        // Fire and forget: the session is freed whatever the close says.
        core->at.command(ktcpcloseCommand(id()), core->timing.command, [](Result<AtResponse>) {});
        core->deleteSession(id());
    }

  private:
    size_t available_ = 0;
    std::optional<size_t> urc_during_fetch_;
    bool fetching_ = false;
};

}  // namespace

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
    if (line.starts_with("+KSUP:")) {
        breakAll(makeError("modem_reset", explainLine(line) + ": its sockets are gone"));
        return;
    }
    // Late +KTCP_IND, +KCNX_IND and +KTCP_ACK need nothing.
}

void Hl78Core::breakAll(const Error& e) {
    early_data.clear();
    sockets.breakAll(e);
}

// ---- start ------------------------------------------------------------------------------------

void Hl78Core::start(StatusDone done) {
    const uint64_t gen = beginStart(std::move(done));
    breakAll(makeError("modem_reset", "the module is being started again: its sockets are gone"));
    stepsStage(gen, modem_common::toCommandSteps(kInitSteps), "", &Hl78Core::startSim);
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
    const int mode = req.tls ? kModeTlsClient : kModePlainClient;
    at.command(ktcpcfgCommand(mode, req.host, req.port), timing.command,
               [w = weak_from_this(), req, done = std::move(done)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       done(Failure{commandError("AT+KTCPCFG", r.error(), explainer())
                                        .withContext("open " + hostPort(req))});
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
            done(Failure{connectError(notif ? notif->code : -1, *r, req)});
        });
}

void Hl78Core::deleteSession(int id) {
    at.command(ktcpdelCommand(id), timing.command, [](Result<AtResponse>) {});
}

// ---- provision --------------------------------------------------------------------------------

namespace {

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

void Hl78Core::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) { failLater(done, e.withContext("provision")); };
    auto roots = modem_common::pemBlocks(creds.ca_pem, "tls.ca_file", PemWant::Certificates);
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
        auto l = modem_common::pemBlocks(creds.cert_pem, "tls.cert_file", PemWant::Certificates);
        auto k = modem_common::pemBlocks(creds.key_pem, "tls.key_file", PemWant::PrivateKey);
        if (!l || !k) {
            refuse(!l ? l.error() : k.error());
            return;
        }
        local = std::move(*l);
        key = std::move(*k);
    }

    std::vector<modem_common::AtDataStep> writes;
    auto write = [&](std::string command, std::string payload, std::string what) {
        AtDataWrite w{"CONNECT", std::move(payload), std::string(kEofPattern)};
        writes.push_back({std::move(command), std::move(w), timing.cert_store, std::move(what)});
    };
    const bool indexed = roots->size() > 1;
    for (size_t i = 0; i < roots->size(); ++i) {
        std::string payload = modem_common::joinLines((*roots)[i].lines, kCrLf);
        std::string command =
            kcertstoreCommand(0, payload.size(), indexed ? static_cast<int>(i) : -1);
        write(std::move(command), std::move(payload),
              "the root CA" + (indexed ? " #" + std::to_string(i) : std::string()) +
                  " (tls.ca_file)");
    }
    if (local) {
        std::string cert = modem_common::joinBlocks(*local, kCrLf);
        std::string command = kcertstoreCommand(1, cert.size(), -1);
        write(std::move(command), std::move(cert), "the client certificate (tls.cert_file)");
        std::string k = modem_common::joinBlocks(*key, kCrLf);
        command = kprivkstoreCommand(k.size());
        write(std::move(command), std::move(k), "the private key (tls.key_file)");
    }

    auto expected_roots = std::make_shared<std::vector<PemBlock>>(std::move(*roots));
    auto expected_local = std::make_shared<std::optional<std::vector<PemBlock>>>(std::move(local));
    modem_common::runDataSteps(
        at, std::move(writes), explain, alive(),
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
    static const ModemPluginApi api{&match(), &create};
    static const PluginDescriptor d{kPluginAbiVersion, PluginKind::Modem, "sierra-hl78",
                                    "Sierra Wireless HL7800/HL7802/HL7812 (K commands; TCP and "
                                    "TLS sockets in the module)",
                                    &api};
    return &d;
}

}  // namespace uplinkd::plugins::sierra_hl78
