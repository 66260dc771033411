#include "a76xx_driver.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "a76xx_parsers.hpp"
#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "common/generic_at.hpp"
#include "common/pem.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::commandError;
using modem_common::commandThenUrc;
using modem_common::driverGone;
using modem_common::Explainer;
using modem_common::Fetched;
using modem_common::hostPort;
using modem_common::PemWant;
using modem_common::SocketTable;
using modem_common::toCommandStep;

struct A76xxCore;

namespace {

Explainer explainer() {
    return [](const std::string& line) { return explainLine(line); };
}

/// The error for a CCHOPEN that ended in "+CCHOPEN: <s>,<err>".
Error tlsOpenError(int err, const std::string& line, const ModemSocketRequest& req) {
    const std::string to = hostPort(req);
    const std::string seen = " (" + line + ")";
    switch (err) {
        case 15:
            return makeError(
                "tls_handshake",
                "the TLS handshake with " + to +
                    " failed in the module: the usual causes are a broker that needs SNI (the "
                    "module sends " +
                    req.host +
                    " as SNI only when \"enableSNI\" is set, which uplinkd does) and a CA in "
                    "the module (from tls.ca_file) that is not the root CA that signed " +
                    req.host +
                    "'s certificate; a broker that wants a client certificate (tls.cert_file "
                    "and tls.key_file, provisioned) is another" +
                    seen);
        case 19:
            return makeError("tls_certificates",
                             "the module's SSL context names certificate files that are not in "
                             "its store: provision tls.ca_file (and tls.cert_file/key_file)" +
                                 seen);
        case 13:
            return makeError("dns", "the module could not resolve \"" + req.host + "\"" + seen);
        case 14:
            return makeError("connect", "the module could not connect to " + to +
                                            " (refused or unreachable)" + seen);
        case 5:
            return makeError("timeout", "the TLS connection to " + to + " timed out" + seen);
        case 9:
        case 17:
            return makeError("network",
                             "the module has no data connection (not registered, or the "
                             "network is not open)" +
                                 seen);
        default:
            return makeError("connect", "connecting to " + to + ": " + explainLine(line));
    }
}

/// The error for a CIPOPEN that ended in "+CIPOPEN: <link>,<err>".
Error tcpOpenError(int err, const std::string& line, const ModemSocketRequest& req) {
    const std::string to = hostPort(req);
    const std::string seen = " (" + line + ")";
    switch (err) {
        case 11:
            return makeError("dns", "the module could not resolve \"" + req.host + "\"" + seen);
        case 10:
            return makeError("timeout", "connecting to " + to + " timed out in the module" + seen);
        case 1:
            return makeError("connect", "the module could not connect to " + to +
                                            " (network failure, refused or unreachable)" + seen);
        case 2:
            return makeError("network", "the module's network is not open" + seen);
        default:
            return makeError("connect", "connecting to " + to + ": " + explainLine(line));
    }
}

/// "+NETOPEN: 0", "+CCHSTART: 0": success; another code fails as `code`, in plain words.
Status resultCodeStatus(const Result<int>& result, std::string code, const std::string& line) {
    if (result && *result == 0) {
        return okStatus();
    }
    return fail(std::move(code), explainLine(line));
}

/// A TLS session's failed send or read ("+CCHSEND: <s>,<err>", "+CCHRECV: <s>,<err>"): 4 is the
/// peer's close.
Error sessionError(int err, const std::string& line) {
    return makeError(err == 4 ? "eof" : "socket_error", explainLine(line));
}

/// A fetch command that failed: an error answer means nothing is buffered after all ("+IP
/// ERROR: No data"); anything else breaks the socket.
Result<Fetched> failedFetch(std::string_view command, const Error& e) {
    if (e.code == "at_error") {
        return Fetched{};
    }
    return Failure{commandError(command, e, explainer())};
}

/// A step that runs once for everyone waiting on it (NETOPEN, CCHSTART). Thread: loop.
struct Gate {
    bool ready = false;
    bool running = false;
    std::vector<std::function<void(Status)>> waiters;
};

/// How a link (CIPOPEN) or a TLS session (CCHOPEN) is opened; the rest is the same.
struct Opening {
    bool tls = false;
    AtCommandStep open;                   ///< its result is "<result> <id>,<err>"
    std::string_view result;              ///< "+CIPOPEN:" / "+CCHOPEN:"
    std::chrono::milliseconds timeout{};  ///< for the result
    std::string close;                    ///< sent when no result came (it may still connect)
    Error (*error)(int err, const std::string& line, const ModemSocketRequest& req) = nullptr;
    /// Makes the socket once the module connected.
    std::function<ByteStreamPtr(const std::shared_ptr<A76xxCore>&)> make;
};

class TcpSocket;
class TlsSocket;

}  // namespace

// ---- Core -------------------------------------------------------------------------------------

/// What the driver shares with its sockets and URC handlers. Thread: loop.
struct A76xxCore : modem_common::DriverCore<A76xxCore, A76xxTiming> {
    A76xxCore(asio::io_context& l, AtChannel& a, ModemSettings s, A76xxTiming t)
        : DriverCore(l, a, std::move(s), t, explainer()) {}

    SocketTable<TcpSocket> links;
    SocketTable<TlsSocket> sessions;
    int next_link = 0;
    int next_session = 0;
    Gate net;
    Gate cch;
    struct Certs {
        bool ca = false;
        bool cert = false;
        bool key = false;
    };
    std::optional<Certs> certs;  // unknown until listed or provisioned

    void registerUrcs() override;
    void onUrc(const std::string& line);
    /// A boot indication: the module restarted; everything the driver knew of it is gone.
    void onBoot(const std::string& line);
    /// Closes every link of the module that no socket of this driver owns.
    void reconcileLinks(std::function<void()> then);
    void onCchData(const std::string& line, std::string data);
    void breakAll(const Error& e) override;
    std::set<int>& busyIds(bool tls) { return tls ? sessions.busy : links.busy; }
    std::optional<int> allocate(bool tls);
    /// Issues `command`, then `payload` after the ">" prompt (AT+CIPSEND, AT+CCHSEND).
    std::function<void(AtChannel::Done)> promptedWrite(std::string command, std::string payload);
    /// Sends a link's or session's close command; the id stays busy until the module answered.
    void closeInModule(bool tls, int id, std::string command);

    // start(): init steps, SIM, APN, registration, manual receive, network
    void start(StatusDone done) override;
    void startSim(uint64_t gen);
    void startApn(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startManualReceive(uint64_t gen);
    void startNetwork(uint64_t gen);
    void startLinks(uint64_t gen);

    // gates
    void through(Gate A76xxCore::*gate, void (A76xxCore::*run)(std::function<void(Status)>),
                 std::function<void(Status)> then);
    void netOpen(std::function<void(Status)> done);
    void cchStart(std::function<void(Status)> done);
    void cchStartOnce(bool retry, std::function<void(Status)> done);
    void listCerts(std::function<void(Status)> done);

    // open()
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done) override;
    void openTcp(int link, const ModemSocketRequest& req, OpenDone done);
    void openTls(int session, const ModemSocketRequest& req, OpenDone done);
    void connect(int id, Opening o, const ModemSocketRequest& req, OpenDone done);

    // provision()
    void provision(const ModemCredentials& creds, StatusDone done) override;
    void removeStaleCerts(StatusDone done);
    void verifyCerts(bool client, StatusDone done);
};

namespace {

/// A plain TCP link: AT+CIPSEND out, AT+CIPRXGET=2 on "+CIPRXGET: 1,<link>". Thread: loop.
class TcpSocket final : public modem_common::CoreSocket<A76xxCore> {
  public:
    TcpSocket(const std::shared_ptr<A76xxCore>& core, int link, std::string description)
        : CoreSocket(core, link, std::move(description), kMaxSendChunk), retry_(core->loop) {
        core->links.add(link, this);
    }
    ~TcpSocket() override { close(); }

  protected:
    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        auto core = lockCore();
        attempt(std::string(reinterpret_cast<const char*>(chunk.data()), chunk.size()),
                core ? core->timing.send_retries : 0, std::move(done));
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        auto header = std::make_shared<std::optional<CipRxGetRead>>();
        AtDataRead rd;
        rd.kind = AtDataRead::Kind::CountedAfterHeader;
        rd.header = "+CIPRXGET: 2,";
        rd.count = [header](const std::string& line) -> size_t {
            auto h = parseCipRxGetRead(line);
            if (!h) {
                return 0;
            }
            *header = *h;
            return h->read;
        };
        core->at.commandReadingData(
            ciprxgetCommand(id(), kMaxReadChunk), rd, core->timing.receive,
            [alive = token(), header, done = std::move(done)](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(failedFetch("AT+CIPRXGET", r.error()));
                    return;
                }
                if (!*header) {
                    for (const auto& line : r->lines) {
                        if (auto h = parseCipRxGetRead(line)) {
                            *header = *h;
                        }
                    }
                }
                const bool more = *header && (*header)->rest > 0;
                done(Fetched{std::move(r->data), more});
            });
    }

    void closeSocket() override {
        if (auto core = leave(&A76xxCore::links, this)) {
            core->closeInModule(false, id(), cipcloseCommand(id()));
        }
    }

  private:
    void attempt(std::string payload, int retries, std::function<void(Result<size_t>)> done) {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        const std::string cmd = cipsendCommand(id(), payload.size());
        const size_t n = payload.size();
        commandThenUrc(
            core->loop, core->urcs, core->promptedWrite(cmd, payload), cmd,
            {"+CIPSEND: " + std::to_string(id()) + ","}, core->timing.send_result, explainer(),
            [alive = token(), this, payload, retries, n,
             done = std::move(done)](Result<std::string> r) mutable {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(r.failure());
                    return;
                }
                const auto s = parseCipSend(*r);
                if (!s) {
                    done(s.failure());
                    return;
                }
                if (s->confirmed < 0) {
                    done(fail("eof", "the link is disconnected (" + *r + ")"));
                    return;
                }
                if (s->confirmed == 0) {
                    if (retries <= 0) {
                        done(fail("timeout", "the module's send buffer stayed full (" + *r + ")"));
                        return;
                    }
                    auto owner = lockCore();
                    if (!owner) {
                        done(Failure{driverGone()});
                        return;
                    }
                    retry_.expires_after(owner->timing.send_retry);
                    retry_.async_wait([alive, this, payload = std::move(payload), retries,
                                       done = std::move(done)](const asio::error_code& ec) mutable {
                        if (ec || alive.expired()) {
                            return;
                        }
                        attempt(std::move(payload), retries - 1, std::move(done));
                    });
                    return;
                }
                done(std::min(static_cast<size_t>(s->confirmed), n));
            });
    }

    asio::steady_timer retry_;
};

/// A TLS session in the module: AT+CCHSEND out; on "+CCHEVENT: <s>,RECV EVENT" AT+CCHRECV? then
/// AT+CCHRECV=<s>,<n>, whose bytes arrive as "+CCHRECV: DATA,<s>,<len>" URCs. Thread: loop.
class TlsSocket final : public modem_common::CoreSocket<A76xxCore> {
  public:
    TlsSocket(const std::shared_ptr<A76xxCore>& core, int session, std::string description)
        : CoreSocket(core, session, std::move(description), kMaxSendChunk) {
        core->sessions.add(session, this);
    }
    ~TlsSocket() override { close(); }

    /// "+CCHRECV: DATA,<s>,<len>" and its bytes.
    void onData(std::string bytes) {
        received_ += bytes.size();
        pushData(bytes);
    }

  protected:
    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        const size_t n = chunk.size();
        const std::string cmd = cchsendCommand(id(), n);
        commandThenUrc(
            core->loop, core->urcs,
            core->promptedWrite(cmd, std::string(reinterpret_cast<const char*>(chunk.data()), n)),
            cmd, {"+CCHSEND: " + std::to_string(id()) + ","}, core->timing.send_result, explainer(),
            [alive = token(), n, done = std::move(done)](Result<std::string> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(r.failure());
                    return;
                }
                const auto s = parseIdResult(*r, "+CCHSEND:");
                if (!s) {
                    done(s.failure());
                    return;
                }
                if (s->err != 0) {
                    done(Failure{sessionError(s->err, *r)});
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
        // Ask how much is cached first: asking for more than that can hang the module.
        core->at.command(
            std::string(kCchRecvQuery.command), kCchRecvQuery.timeout,
            [alive = token(), this, done = std::move(done)](Result<AtResponse> r) mutable {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(failedFetch(kCchRecvQuery.command, r.error()));
                    return;
                }
                std::optional<std::pair<size_t, size_t>> len;
                for (const auto& line : r->lines) {
                    if (auto l = parseCchRecvLen(line)) {
                        len = *l;
                    }
                }
                if (!len) {
                    done(fail("bad_reply", "AT+CCHRECV?: no +CCHRECV: LEN line"));
                    return;
                }
                const size_t cached = id() == 0 ? len->first : len->second;
                if (cached == 0) {
                    done(Fetched{});
                    return;
                }
                receiveCached(std::min(cached, kMaxReadChunk), std::move(done));
            });
    }

    void closeSocket() override {
        if (auto core = leave(&A76xxCore::sessions, this)) {
            core->closeInModule(true, id(), cchcloseCommand(id()));
        }
    }

  private:
    void receiveCached(size_t n, std::function<void(Result<Fetched>)> done) {
        auto core = lockCore();
        if (!core) {
            done(Failure{driverGone()});
            return;
        }
        received_ = 0;
        commandThenUrc(
            core->loop, core->at, core->urcs, {cchrecvCommand(id(), n), core->timing.command},
            {"+CCHRECV: " + std::to_string(id()) + ","}, core->timing.receive, explainer(),
            [alive = token(), this, done = std::move(done)](Result<std::string> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(r.failure());
                    return;
                }
                const auto end = parseIdResult(*r, "+CCHRECV:");
                if (end && end->err != 0 && received_ == 0) {
                    done(Failure{sessionError(end->err, *r)});
                    return;
                }
                // The bytes came as URCs already. More may have arrived meanwhile without a
                // new event (the cache never went empty): look again while bytes come.
                done(Fetched{{}, received_ > 0});
            });
    }

    size_t received_ = 0;
};

}  // namespace

void A76xxCore::registerUrcs() {
    routeUrcs({"+CIPRXGET: 1,", "+IPCLOSE:", "+CIPEVENT:", "+CIPOPEN:", "+CIPSEND:", "+CIPCLOSE:",
               "+NETOPEN:", "+NETCLOSE:", "+CCHEVENT:", "+CCH_PEER_CLOSED:", "+CCH_RECV_CLOSED:",
               "+CCHSEND:", "+CCHOPEN:", "+CCHCLOSE:", "+CCHSTART:", "+CCHSTOP:", "+CCH: ",
               "+CCHRECV: 0,", "+CCHRECV: 1,"});
    for (const auto prefix : kBootIndications) {
        at.onBoot(std::string(prefix), [w = weak_from_this()](const std::string& line) {
            if (auto c = w.lock()) {
                c->onBoot(line);
            }
        });
    }
    at.onUrcWithData(
        "+CCHRECV: DATA,",
        [](const std::string& line) -> size_t {
            const auto d = parseCchRecvData(line);
            return d ? d->length : 0;
        },
        [w = weak_from_this()](const std::string& line, std::string data) {
            if (auto c = w.lock()) {
                c->onCchData(line, std::move(data));
            }
        });
}

void A76xxCore::onCchData(const std::string& line, std::string data) {
    const auto d = parseCchRecvData(line);
    if (!d) {
        return;
    }
    if (auto* s = sessions.find(d->session)) {
        s->onData(std::move(data));
    }
}

void A76xxCore::onUrc(const std::string& line) {
    if (urcs->offer(line)) {
        return;
    }
    if (line.starts_with("+CIPRXGET:")) {
        if (const auto link = parseCipRxGetUrc(line)) {
            if (auto* sock = links.find(*link)) {
                sock->dataWaiting();
            }
        }
        return;
    }
    if (line.starts_with("+IPCLOSE:")) {
        if (const auto r = parseIdResult(line, "+IPCLOSE:")) {
            if (auto* sock = links.find(r->id)) {
                if (r->err == 2) {
                    sock->breakWith(makeError("io", explainLine(line)));
                } else {
                    sock->peerClosed();
                }
            }
        }
        return;
    }
    if (line.starts_with("+CIPEVENT:")) {
        net.ready = false;
        links.breakAll(makeError("network", explainLine(line)));
        return;
    }
    if (line.starts_with("+CCHEVENT:")) {
        if (const auto s = parseCchRecvEvent(line)) {
            if (auto* sock = sessions.find(*s)) {
                sock->dataWaiting();
            }
        }
        return;
    }
    if (line.starts_with("+CCH_PEER_CLOSED:")) {
        if (const auto s = parseCchPeerClosed(line)) {
            if (auto* sock = sessions.find(*s)) {
                sock->peerClosed();
            }
        }
        return;
    }
    for (const std::string_view prefix : {"+CCH_RECV_CLOSED:", "+CCHSEND:"}) {
        if (line.starts_with(prefix)) {
            const auto r = parseIdResult(line, prefix);
            if (r && r->err != 0) {
                if (auto* sock = sessions.find(r->id)) {
                    sock->breakWith(makeError("socket_error", explainLine(line)));
                }
            }
            return;
        }
    }
    if (line.starts_with("+CCH: CCHSTOP")) {
        cch.ready = false;
        sessions.breakAll(makeError("network", explainLine(line)));
        return;
    }
    // Late results (+CIPOPEN, +NETOPEN, +CCHOPEN, +CIPCLOSE, ...) need nothing.
}

void A76xxCore::onBoot(const std::string& line) {
    // The channel already failed every command in flight; result waits, gates, sockets and a
    // start under way end now. The supervisor runs start() again.
    const Error e =
        makeError("modem_reset", "the module restarted (" + line + "): its sockets are gone");
    breakAll(e);
    const Error reset = makeError("at_reset", "the module restarted (" + line + ")");
    urcs->failAll(reset);
    for (Gate* g : {&net, &cch}) {
        auto waiters = std::move(g->waiters);
        *g = Gate{};
        for (auto& wt : waiters) {
            failLater(std::move(wt), reset);
        }
    }
    if (start_done) {
        finishStart(start_gen,
                    fail("at_reset", "the module restarted (" + line + ") during start"));
    }
}

void A76xxCore::reconcileLinks(std::function<void()> then) {
    at.command(std::string(kLinkList.command), kLinkList.timeout,
               [w = weak_from_this(), then = std::move(then)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   std::vector<AtCommandStep> steps;
                   if (r) {
                       for (const int link : parseOpenLinks(r->lines)) {
                           if (!c->links.contains(link) && !c->links.busy.contains(link)) {
                               steps.push_back({cipcloseCommand(link), c->timing.command,
                                                modem_common::StepPolicy::Optional});
                           }
                       }
                   }
                   modem_common::runSteps(c->at, std::move(steps), c->explain,
                                          [then](Status) { then(); });
               });
}

void A76xxCore::breakAll(const Error& e) {
    links.breakAll(e);
    sessions.breakAll(e);
}

std::optional<int> A76xxCore::allocate(bool tls) {
    const int count = tls ? kSessions : kLinks;
    int& next = tls ? next_session : next_link;
    const std::set<int>& busy = busyIds(tls);
    for (int i = 0; i < count; ++i) {
        const int id = (next + i) % count;
        const bool used = tls ? sessions.contains(id) : links.contains(id);
        if (!used && !busy.contains(id)) {
            // Round robin: a link that was just closed is not reused at once.
            next = (id + 1) % count;
            return id;
        }
    }
    return std::nullopt;
}

std::function<void(AtChannel::Done)> A76xxCore::promptedWrite(std::string command,
                                                              std::string payload) {
    return [&at = at, command = std::move(command), payload = std::move(payload),
            timeout = timing.send](AtChannel::Done d) {
        AtDataWrite w;
        w.prompt = ">";
        w.payload = payload;
        at.commandWithData(command, w, timeout, std::move(d));
    };
}

void A76xxCore::closeInModule(bool tls, int id, std::string command) {
    busyIds(tls).insert(id);
    at.command(command, timing.command, [w = weak_from_this(), tls, id](Result<AtResponse>) {
        if (auto c = w.lock()) {
            c->busyIds(tls).erase(id);
        }
    });
}

// ---- start ------------------------------------------------------------------------------------

void A76xxCore::start(StatusDone done) {
    const uint64_t gen = beginStart(std::move(done));
    const Error e =
        makeError("modem_reset", "the module is being started again: its sockets are gone");
    breakAll(e);
    for (Gate* g : {&net, &cch}) {
        auto waiters = std::move(g->waiters);
        *g = Gate{};
        for (auto& wt : waiters) {
            failLater(std::move(wt), e);
        }
    }
    stepsStage(gen, modem_common::toCommandSteps(kInitSteps), "", &A76xxCore::startSim);
}

void A76xxCore::startSim(uint64_t gen) {
    simStage(gen, &A76xxCore::startApn);
}

void A76xxCore::startApn(uint64_t gen) {
    // The APN goes in before the registration wait so that the attach can use it.
    std::vector<AtCommandStep> steps = {{cgdcontCommand(settings), timing.command}};
    if (!settings.apn_user.empty() || !settings.apn_password.empty()) {
        steps.push_back({cgauthCommand(settings), timing.command});
    }
    stepsStage(gen, std::move(steps), "APN (check apn, apn_user, apn_password_file)",
               &A76xxCore::startRegistration);
}

void A76xxCore::startRegistration(uint64_t gen) {
    std::vector<modem_common::RegistrationPlan::Query> queries;
    for (const auto& q : kRegistrationQueries) {
        queries.push_back({std::string(q[0]), std::string(q[1])});
    }
    registrationStage(gen, std::move(queries), &A76xxCore::startManualReceive);
}

void A76xxCore::startManualReceive(uint64_t gen) {
    auto then = stageDone(gen, "", &A76xxCore::startNetwork);
    at.command(
        std::string(kManualReceive.command), kManualReceive.timeout,
        [w = weak_from_this(), gen, then](Result<AtResponse> r) {
            auto c = w.lock();
            if (!c || !c->current(gen)) {
                return;
            }
            if (r || r.error().code != "at_error") {
                then(modem_common::commandStatus(kManualReceive.command, r, c->explain));
                return;
            }
            // Refused while the network is open (a restart of uplinkd, not of the module):
            // close the network, then set manual receive again.
            commandThenUrc(
                c->loop, c->at, c->urcs, toCommandStep(kNetClose), {"+NETCLOSE: "},
                c->timing.net_open, c->explain, [w, then](Result<std::string>) {
                    auto c2 = w.lock();
                    if (!c2) {
                        return;
                    }
                    c2->at.command(
                        std::string(kManualReceive.command), kManualReceive.timeout,
                        [then, explain = c2->explain](Result<AtResponse> a) {
                            then(modem_common::commandStatus(kManualReceive.command, a, explain));
                        });
                });
        });
}

void A76xxCore::startNetwork(uint64_t gen) {
    through(&A76xxCore::net, &A76xxCore::netOpen,
            stageDone(gen, "network", &A76xxCore::startLinks));
}

void A76xxCore::startLinks(uint64_t gen) {
    // Links left open by a hung module (or an earlier run) would hold ids forever.
    reconcileLinks([w = weak_from_this(), gen] {
        if (auto c = w.lock()) {
            c->finishStart(gen, okStatus());
        }
    });
}

// ---- gates ------------------------------------------------------------------------------------

void A76xxCore::through(Gate A76xxCore::*gate, void (A76xxCore::*run)(std::function<void(Status)>),
                        std::function<void(Status)> then) {
    Gate& g = this->*gate;
    if (g.ready) {
        then(okStatus());
        return;
    }
    g.waiters.push_back(std::move(then));
    if (g.running) {
        return;
    }
    g.running = true;
    (this->*run)([w = weak_from_this(), gate](Status s) {
        auto c = w.lock();
        if (!c) {
            return;
        }
        Gate& gg = (*c).*gate;
        gg.running = false;
        gg.ready = s.ok();
        auto waiters = std::move(gg.waiters);
        gg.waiters.clear();
        for (auto& wt : waiters) {
            wt(s);
        }
    });
}

void A76xxCore::netOpen(std::function<void(Status)> done) {
    commandThenUrc(loop, at, urcs, toCommandStep(kNetOpen), {"+NETOPEN: "}, timing.net_open,
                   explain, [w = weak_from_this(), done](Result<std::string> r) {
                       auto c = w.lock();
                       if (!c) {
                           return;
                       }
                       if (r) {
                           done(resultCodeStatus(parseNetOpen(*r), "network", *r));
                           return;
                       }
                       if (r.error().message.find("already opened") != std::string::npos) {
                           done(okStatus());
                           return;
                       }
                       if (r.error().code != "at_error") {
                           done(r.failure());
                           return;
                       }
                       // A bare ERROR is also what an open network answers: ask.
                       commandThenUrc(
                           c->loop, c->at, c->urcs, toCommandStep(kNetOpenQuery), {"+NETOPEN: "},
                           c->timing.command, c->explain,
                           [done, original = r.error()](Result<std::string> q) {
                               if (q && parseNetOpen(*q).ok() && *parseNetOpen(*q) == 1) {
                                   done(okStatus());
                                   return;
                               }
                               done(Failure{original});
                           });
                   });
}

void A76xxCore::cchStart(std::function<void(Status)> done) {
    cchStartOnce(true, std::move(done));
}

void A76xxCore::cchStartOnce(bool retry, std::function<void(Status)> done) {
    at.command(
        std::string(kCchSet.command), kCchSet.timeout,
        [w = weak_from_this(), retry, done](Result<AtResponse>) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            commandThenUrc(
                c->loop, c->at, c->urcs, toCommandStep(kCchStart), {"+CCHSTART: "},
                c->timing.cch_start, c->explain, [w, retry, done](Result<std::string> r) {
                    auto c2 = w.lock();
                    if (!c2) {
                        return;
                    }
                    if (r) {
                        done(resultCodeStatus(parseCchStatus(*r, "+CCHSTART:"), "tls_service", *r));
                        return;
                    }
                    if (!retry || r.error().code != "at_error") {
                        done(r.failure("starting the module's SSL service"));
                        return;
                    }
                    // Already started (by an earlier run of uplinkd, with settings we do not
                    // know): stop it and start again.
                    commandThenUrc(c2->loop, c2->at, c2->urcs, toCommandStep(kCchStop),
                                   {"+CCHSTOP: "}, c2->timing.cch_start, c2->explain,
                                   [w, done](Result<std::string>) {
                                       if (auto c3 = w.lock()) {
                                           c3->cchStartOnce(false, done);
                                       }
                                   });
                });
        });
}

void A76xxCore::listCerts(std::function<void(Status)> done) {
    at.command(std::string(kCertList.command), kCertList.timeout,
               [w = weak_from_this(), done](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       done(modem_common::commandStatus(kCertList.command, r, c->explain));
                       return;
                   }
                   const auto names = parseCertList(r->lines);
                   auto has = [&](std::string_view n) {
                       return std::find(names.begin(), names.end(), n) != names.end();
                   };
                   c->certs = Certs{has(kCaFile), has(kCertFile), has(kKeyFile)};
                   done(okStatus());
               });
}

// ---- open -------------------------------------------------------------------------------------

void A76xxCore::open(const ModemSocketRequest& req, OpenDone done) {
    std::optional<Error> refusal =
        modem_common::socketRequestProblem(req, kMaxHostLength, "the module");
    const auto id = refusal ? std::nullopt : allocate(req.tls);
    if (!refusal && !id) {
        refusal = makeError("no_socket", req.tls ? "both SSL sessions of the module are in use"
                                                 : "all 10 links of the module are in use");
    }
    if (refusal) {
        failLater(std::move(done), *refusal);
        return;
    }
    busyIds(req.tls).insert(*id);
    auto finish = [w = weak_from_this(), tls = req.tls, id = *id,
                   done = std::move(done)](Result<ByteStreamPtr> r) {
        if (auto c = w.lock()) {
            c->busyIds(tls).erase(id);
            done(std::move(r));
        }
    };
    through(&A76xxCore::net, &A76xxCore::netOpen,
            [w = weak_from_this(), id = *id, req, finish](Status s) {
                auto c = w.lock();
                if (!c) {
                    return;
                }
                if (!s) {
                    finish(s.failure("open " + hostPort(req)));
                    return;
                }
                if (req.tls) {
                    c->openTls(id, req, finish);
                } else {
                    c->openTcp(id, req, finish);
                }
            });
}

void A76xxCore::connect(int id, Opening o, const ModemSocketRequest& req, OpenDone done) {
    const std::string prefix = std::string(o.result) + " " + std::to_string(id) + ",";
    const AtCommandStep open = o.open;
    const auto timeout = o.timeout;
    commandThenUrc(loop, at, urcs, open, {prefix}, timeout, explain,
                   [w = weak_from_this(), id, o = std::move(o), req, done](Result<std::string> r) {
                       auto c = w.lock();
                       if (!c) {
                           return;
                       }
                       if (!r) {
                           if (r.error().code == "timeout") {
                               // No result: the link may still be connecting; free it.
                               c->at.command(o.close, c->timing.command, [](Result<AtResponse>) {});
                           }
                           done(r.failure("open " + hostPort(req)));
                           return;
                       }
                       const auto res = parseIdResult(*r, o.result);
                       if (!res || res->err != 0) {
                           done(Failure{o.error(res ? res->err : -1, *r, req)});
                           return;
                       }
                       c->busyIds(o.tls).erase(id);
                       done(o.make(c));
                   });
}

void A76xxCore::openTcp(int link, const ModemSocketRequest& req, OpenDone done) {
    const std::string what = "a76xx link " + std::to_string(link) + ": tcp " + hostPort(req);
    connect(link,
            Opening{.tls = false,
                    .open = {cipopenCommand(link, req.host, req.port), timing.command},
                    .result = "+CIPOPEN:",
                    .timeout = timing.connect,
                    .close = cipcloseCommand(link),
                    .error = &tcpOpenError,
                    .make =
                        [link, what](const std::shared_ptr<A76xxCore>& c) {
                            return ByteStreamPtr(std::make_unique<TcpSocket>(c, link, what));
                        }},
            req, std::move(done));
}

void A76xxCore::openTls(int session, const ModemSocketRequest& req, OpenDone done) {
    auto fail_with = [done, req](const Status& s, std::string_view what) {
        done(s.failure("open " + hostPort(req) + ": " + std::string(what)));
    };
    auto connect = [w = weak_from_this(), session, req, done]() {
        auto c = w.lock();
        if (!c) {
            return;
        }
        const std::string what = "a76xx ssl session " + std::to_string(session) + ": tls " +
                                 hostPort(req) + " (TLS in the module, SNI " + req.host + ")";
        c->connect(
            session,
            Opening{.tls = true,
                    .open = {cchopenCommand(session, req.host, req.port), c->timing.command},
                    .result = "+CCHOPEN:",
                    .timeout = c->timing.tls_connect,
                    .close = cchcloseCommand(session),
                    .error = &tlsOpenError,
                    .make =
                        [session, what](const std::shared_ptr<A76xxCore>& c2) {
                            return ByteStreamPtr(std::make_unique<TlsSocket>(c2, session, what));
                        }},
            req, done);
    };
    auto configure = [w = weak_from_this(), session, connect, fail_with]() {
        auto c = w.lock();
        if (!c) {
            return;
        }
        if (!c->certs->ca) {
            fail_with(fail("tls_no_ca",
                           "the module's certificate store holds no " + std::string(kCaFile) +
                               ": provision tls.ca_file (the root CA of the broker) first"),
                      "TLS");
            return;
        }
        auto steps = sslContextSteps(c->certs->cert && c->certs->key, c->timing.command);
        steps.push_back({cchsslcfgCommand(session), c->timing.command});
        modem_common::runSteps(c->at, std::move(steps), c->explain, [connect, fail_with](Status s) {
            if (!s) {
                fail_with(s, "SSL context");
                return;
            }
            connect();
        });
    };
    through(&A76xxCore::cch, &A76xxCore::cchStart,
            [w = weak_from_this(), configure, fail_with](Status s) {
                auto c = w.lock();
                if (!c) {
                    return;
                }
                if (!s) {
                    fail_with(s, "SSL service");
                    return;
                }
                if (c->certs) {
                    configure();
                    return;
                }
                c->listCerts([configure, fail_with](Status l) {
                    if (!l) {
                        fail_with(l, "certificate list");
                        return;
                    }
                    configure();
                });
            });
}

// ---- provision --------------------------------------------------------------------------------

namespace {

/// The PEM text of one certificate file: the wanted blocks, LF line ends, within the size the
/// module takes.
Result<std::string> pemFile(std::string_view pem, std::string_view what, PemWant want) {
    auto blocks = modem_common::pemBlocks(pem, what, want);
    if (!blocks) {
        return blocks.failure();
    }
    std::string text = modem_common::joinBlocks(*blocks, "\n");
    if (text.size() > kMaxCertFile) {
        return fail("bad_pem", std::string(what) + " is " + std::to_string(text.size()) +
                                   " bytes; the module takes at most " +
                                   std::to_string(kMaxCertFile));
    }
    return text;
}

}  // namespace

/// Writes the files one after the other, removes stale client files when none is configured
/// (so that authmode 1 is used), then checks that AT+CCERTLIST shows what was written.
void A76xxCore::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) { failLater(done, e.withContext("provision")); };
    if (creds.cert_pem.empty() != creds.key_pem.empty()) {
        refuse(
            makeError("bad_pem", "a client certificate needs both tls.cert_file and tls.key_file"));
        return;
    }
    std::vector<modem_common::AtDataStep> files;
    auto file = [&](std::string_view name, std::string content, std::string what) {
        std::string command = ccertdownCommand(name, content.size());
        AtDataWrite w{">", std::move(content), ""};
        files.push_back({std::move(command), std::move(w), timing.cert_store, std::move(what)});
    };
    auto ca = pemFile(creds.ca_pem, "tls.ca_file", PemWant::Certificates);
    if (!ca) {
        refuse(ca.error());
        return;
    }
    file(kCaFile, std::move(*ca), "the root CA (tls.ca_file)");
    const bool client = !creds.cert_pem.empty();
    if (client) {
        auto cert = pemFile(creds.cert_pem, "tls.cert_file", PemWant::Certificates);
        auto key = pemFile(creds.key_pem, "tls.key_file", PemWant::PrivateKey);
        if (!cert || !key) {
            refuse(!cert ? cert.error() : key.error());
            return;
        }
        file(kCertFile, std::move(*cert), "the client certificate (tls.cert_file)");
        file(kKeyFile, std::move(*key), "the private key (tls.key_file)");
    }
    modem_common::runDataSteps(at, std::move(files), explain, alive(),
                               [w = weak_from_this(), client, done = std::move(done)](Status s) {
                                   auto c = w.lock();
                                   if (!c) {
                                       return;
                                   }
                                   if (!s) {
                                       done(s.failure("provision"));
                                       return;
                                   }
                                   if (client) {
                                       c->verifyCerts(true, done);
                                   } else {
                                       c->removeStaleCerts(done);
                                   }
                               });
}

void A76xxCore::removeStaleCerts(StatusDone done) {
    // Deleting a file that is not there gives ERROR: fine.
    at.command(ccertdeleCommand(kCertFile), timing.command,
               [w = weak_from_this(), done](Result<AtResponse>) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   c->at.command(ccertdeleCommand(kKeyFile), c->timing.command,
                                 [w, done](Result<AtResponse>) {
                                     if (auto c2 = w.lock()) {
                                         c2->verifyCerts(false, done);
                                     }
                                 });
               });
}

void A76xxCore::verifyCerts(bool client, StatusDone done) {
    listCerts([w = weak_from_this(), client, done](Status s) {
        auto c = w.lock();
        if (!c) {
            return;
        }
        if (!s) {
            done(s.failure("provision: listing the store"));
            return;
        }
        const auto& have = *c->certs;
        if (!have.ca || (client && (!have.cert || !have.key))) {
            done(fail("provision_mismatch",
                      "provision: AT+CCERTLIST does not list the files just written"));
            return;
        }
        done(okStatus());
    });
}

// ---- A76xxDriver ------------------------------------------------------------------------------

A76xxDriver::A76xxDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                         A76xxTiming timing)
    : DriverFront(std::make_shared<A76xxCore>(loop, at, std::move(settings), timing), kInfoQueries,
                  kMaxSendChunk) {}

A76xxDriver::~A76xxDriver() = default;

// ---- plugin entry points ----------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{{"A7670", "A7672", "SIM7600"}, true};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    return modem_common::createDriver<A76xxDriver>(loop, at, settings);
}

const PluginDescriptor* descriptor() {
    static const ModemPluginApi api{&match(), &create};
    static const PluginDescriptor d{kPluginAbiVersion, PluginKind::Modem, "simcom-a76xx",
                                    "SIMCom A7670/A7672 (A76xx) and SIM7600 (TCP sockets; TLS "
                                    "in the module with SNI)",
                                    &api};
    return &d;
}

}  // namespace uplinkd::plugins::simcom_a76xx
