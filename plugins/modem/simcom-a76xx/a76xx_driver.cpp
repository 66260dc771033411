#include "a76xx_driver.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "a76xx_parsers.hpp"
#include "common/at_socket_stream.hpp"
#include "common/at_steps.hpp"
#include "common/generic_at.hpp"
#include "common/generic_info.hpp"
#include "common/pem.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::commandError;
using modem_common::commandThenUrc;
using modem_common::Explainer;
using modem_common::Fetched;
using modem_common::PemBlock;
using modem_common::ResultUrcs;
using modem_common::safeForQuotedArgument;
using modem_common::SimMemory;
using modem_common::toCommandStep;

namespace {

Explainer explainer() {
    return [](const std::string& line) { return explainLine(line); };
}

std::string target(const ModemSocketRequest& r) {
    return r.host + ":" + std::to_string(r.port);
}

/// The error for a CCHOPEN that ended in "+CCHOPEN: <s>,<err>".
Error tlsOpenError(int err, const std::string& line, const ModemSocketRequest& req) {
    const std::string to = target(req);
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
    const std::string to = target(req);
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

/// A step that runs once for everyone waiting on it (NETOPEN, CCHSTART). Thread: loop.
struct Gate {
    bool ready = false;
    bool running = false;
    std::vector<std::function<void(Status)>> waiters;
};

class TcpSocket;
class TlsSocket;

}  // namespace

// ---- Core -------------------------------------------------------------------------------------

/// What the driver shares with its sockets and URC handlers. Thread: loop.
struct A76xxDriver::Core : std::enable_shared_from_this<A76xxDriver::Core> {
    Core(asio::io_context& l, AtChannel& a, ModemSettings s, A76xxTiming t)
        : loop(l), at(a), settings(std::move(s)), timing(t) {}

    asio::io_context& loop;
    AtChannel& at;
    ModemSettings settings;
    A76xxTiming timing;
    std::shared_ptr<ResultUrcs> urcs = std::make_shared<ResultUrcs>();
    std::shared_ptr<SimMemory> sim = std::make_shared<SimMemory>();
    std::map<int, TcpSocket*> links;
    std::map<int, TlsSocket*> sessions;
    std::set<int> busy_links;     // opening or closing
    std::set<int> busy_sessions;  // opening or closing
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
    uint64_t start_gen = 0;
    StatusDone start_done;

    void registerUrcs();
    void onUrc(const std::string& line);
    void onCchData(const std::string& line, std::string data);
    void breakLinks(const Error& e);
    void breakSessions(const Error& e);
    void post(std::function<void()> fn);
    std::optional<int> allocate(bool tls);

    // start()
    std::function<bool()> keepGoing(uint64_t gen);
    void finishStart(uint64_t gen, Status s);
    void startSim(uint64_t gen);
    void startApn(uint64_t gen);
    void startRegistration(uint64_t gen);
    void startManualReceive(uint64_t gen);

    // gates
    void through(Gate Core::*gate, void (Core::*run)(std::function<void(Status)>),
                 std::function<void(Status)> then);
    void netOpen(std::function<void(Status)> done);
    void cchStart(std::function<void(Status)> done);
    void cchStartOnce(bool retry, std::function<void(Status)> done);
    void listCerts(std::function<void(Status)> done);

    // open()
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done);
    void openTcp(int link, const ModemSocketRequest& req, OpenDone done);
    void openTls(int session, const ModemSocketRequest& req, OpenDone done);

    // provision()
    void provision(const ModemCredentials& creds, StatusDone done);
};

namespace {

Error driverGone() {
    return makeError("closed", "the modem driver is gone");
}

/// A plain TCP link: AT+CIPSEND out, AT+CIPRXGET=2 on "+CIPRXGET: 1,<link>". Thread: loop.
class TcpSocket final : public modem_common::AtSocketStream {
  public:
    TcpSocket(const std::shared_ptr<A76xxDriver::Core>& core, int link, std::string description)
        : AtSocketStream(core->loop, std::move(description), kMaxSendChunk),
          core_(core),
          link_(link),
          retry_(core->loop) {
        core->links[link] = this;
    }
    ~TcpSocket() override { close(); }

    void detach() { detached_ = true; }

  protected:
    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        attempt(std::string(reinterpret_cast<const char*>(chunk.data()), chunk.size()),
                core_.expired() ? 0 : core_.lock()->timing.send_retries, std::move(done));
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = core_.lock();
        if (!core || detached_) {
            done(Failure{driverGone()});
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
            ciprxgetCommand(link_, kMaxReadChunk), rd, core->timing.receive,
            [alive = token(), header, done = std::move(done)](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    if (r.error().code == "at_error") {
                        // "+IP ERROR: No data": nothing buffered after all.
                        done(Fetched{});
                        return;
                    }
                    done(Failure{commandError("AT+CIPRXGET", r.error(), explainer())});
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
        auto core = core_.lock();
        if (!core) {
            return;
        }
        auto it = core->links.find(link_);
        if (it != core->links.end() && it->second == this) {
            core->links.erase(it);
        }
        if (detached_) {
            return;
        }
        core->busy_links.insert(link_);
        core->at.command(
            cipcloseCommand(link_), core->timing.command,
            [w = std::weak_ptr<A76xxDriver::Core>(core), link = link_](Result<AtResponse>) {
                if (auto c = w.lock()) {
                    c->busy_links.erase(link);
                }
            });
    }

  private:
    void attempt(std::string payload, int retries, std::function<void(Result<size_t>)> done) {
        auto core = core_.lock();
        if (!core || detached_) {
            done(Failure{driverGone()});
            return;
        }
        const std::string cmd = cipsendCommand(link_, payload.size());
        const size_t n = payload.size();
        auto issue = [&at = core->at, cmd, payload,
                      timeout = core->timing.send](AtChannel::Done d) {
            AtDataWrite w;
            w.prompt = ">";
            w.payload = payload;
            at.commandWithData(cmd, w, timeout, std::move(d));
        };
        commandThenUrc(
            core->loop, core->urcs, std::move(issue), cmd,
            {"+CIPSEND: " + std::to_string(link_) + ","}, core->timing.send_result, explainer(),
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
                    auto owner = core_.lock();
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

    std::weak_ptr<A76xxDriver::Core> core_;
    int link_;
    asio::steady_timer retry_;
    bool detached_ = false;
};

/// A TLS session in the module: AT+CCHSEND out; on "+CCHEVENT: <s>,RECV EVENT" AT+CCHRECV? then
/// AT+CCHRECV=<s>,<n>, whose bytes arrive as "+CCHRECV: DATA,<s>,<len>" URCs. Thread: loop.
class TlsSocket final : public modem_common::AtSocketStream {
  public:
    TlsSocket(const std::shared_ptr<A76xxDriver::Core>& core, int session, std::string description)
        : AtSocketStream(core->loop, std::move(description), kMaxSendChunk),
          core_(core),
          session_(session) {
        core->sessions[session] = this;
    }
    ~TlsSocket() override { close(); }

    void detach() { detached_ = true; }

    /// "+CCHRECV: DATA,<s>,<len>" and its bytes.
    void onData(std::string bytes) {
        received_ += bytes.size();
        pushData(bytes);
    }

  protected:
    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        auto core = core_.lock();
        if (!core || detached_) {
            done(Failure{driverGone()});
            return;
        }
        const size_t n = chunk.size();
        const std::string cmd = cchsendCommand(session_, n);
        auto issue = [&at = core->at, cmd,
                      payload = std::string(reinterpret_cast<const char*>(chunk.data()), n),
                      timeout = core->timing.send](AtChannel::Done d) {
            AtDataWrite w;
            w.prompt = ">";
            w.payload = payload;
            at.commandWithData(cmd, w, timeout, std::move(d));
        };
        commandThenUrc(core->loop, core->urcs, std::move(issue), cmd,
                       {"+CCHSEND: " + std::to_string(session_) + ","}, core->timing.send_result,
                       explainer(),
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
                               done(fail(s->err == 4 ? "eof" : "socket_error", explainLine(*r)));
                               return;
                           }
                           done(n);
                       });
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = core_.lock();
        if (!core || detached_) {
            done(Failure{driverGone()});
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
                    if (r.error().code == "at_error") {
                        done(Fetched{});
                        return;
                    }
                    done(Failure{commandError(kCchRecvQuery.command, r.error(), explainer())});
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
                const size_t cached = session_ == 0 ? len->first : len->second;
                if (cached == 0) {
                    done(Fetched{});
                    return;
                }
                receiveCached(std::min(cached, kMaxReadChunk), std::move(done));
            });
    }

    void closeSocket() override {
        auto core = core_.lock();
        if (!core) {
            return;
        }
        auto it = core->sessions.find(session_);
        if (it != core->sessions.end() && it->second == this) {
            core->sessions.erase(it);
        }
        if (detached_) {
            return;
        }
        core->busy_sessions.insert(session_);
        core->at.command(
            cchcloseCommand(session_), core->timing.command,
            [w = std::weak_ptr<A76xxDriver::Core>(core), s = session_](Result<AtResponse>) {
                if (auto c = w.lock()) {
                    c->busy_sessions.erase(s);
                }
            });
    }

  private:
    void receiveCached(size_t n, std::function<void(Result<Fetched>)> done) {
        auto core = core_.lock();
        if (!core) {
            done(Failure{driverGone()});
            return;
        }
        received_ = 0;
        commandThenUrc(
            core->loop, core->at, core->urcs, {cchrecvCommand(session_, n), core->timing.command},
            {"+CCHRECV: " + std::to_string(session_) + ","}, core->timing.receive, explainer(),
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
                    done(fail(end->err == 4 ? "eof" : "socket_error", explainLine(*r)));
                    return;
                }
                // The bytes came as URCs already. More may have arrived meanwhile without a
                // new event (the cache never went empty): look again while bytes come.
                done(Fetched{{}, received_ > 0});
            });
    }

    std::weak_ptr<A76xxDriver::Core> core_;
    int session_;
    size_t received_ = 0;
    bool detached_ = false;
};

}  // namespace

void A76xxDriver::Core::post(std::function<void()> fn) {
    asio::post(loop, [w = weak_from_this(), fn = std::move(fn)] {
        if (!w.expired()) {
            fn();
        }
    });
}

void A76xxDriver::Core::registerUrcs() {
    for (const char* prefix :
         {"+CIPRXGET: 1,",     "+IPCLOSE:", "+CIPEVENT:",   "+CIPOPEN:",    "+CIPSEND:",
          "+CIPCLOSE:",        "+NETOPEN:", "+NETCLOSE:",   "+CCHEVENT:",   "+CCH_PEER_CLOSED:",
          "+CCH_RECV_CLOSED:", "+CCHSEND:", "+CCHOPEN:",    "+CCHCLOSE:",   "+CCHSTART:",
          "+CCHSTOP:",         "+CCH: ",    "+CCHRECV: 0,", "+CCHRECV: 1,", "*ATREADY:"}) {
        at.onUrc(prefix, [w = weak_from_this()](const std::string& line) {
            if (auto c = w.lock()) {
                c->onUrc(line);
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

void A76xxDriver::Core::onCchData(const std::string& line, std::string data) {
    const auto d = parseCchRecvData(line);
    if (!d) {
        return;
    }
    auto it = sessions.find(d->session);
    if (it != sessions.end()) {
        it->second->onData(std::move(data));
    }
}

void A76xxDriver::Core::onUrc(const std::string& line) {
    if (urcs->offer(line)) {
        return;
    }
    if (line.starts_with("+CIPRXGET:")) {
        if (const auto link = parseCipRxGetUrc(line)) {
            if (auto it = links.find(*link); it != links.end()) {
                it->second->dataWaiting();
            }
        }
        return;
    }
    if (line.starts_with("+IPCLOSE:")) {
        if (const auto r = parseIdResult(line, "+IPCLOSE:")) {
            if (auto it = links.find(r->id); it != links.end()) {
                if (r->err == 2) {
                    it->second->breakWith(makeError("io", explainLine(line)));
                } else {
                    it->second->peerClosed();
                }
            }
        }
        return;
    }
    if (line.starts_with("+CIPEVENT:")) {
        net.ready = false;
        breakLinks(makeError("network", explainLine(line)));
        return;
    }
    if (line.starts_with("+CCHEVENT:")) {
        if (const auto s = parseCchRecvEvent(line)) {
            if (auto it = sessions.find(*s); it != sessions.end()) {
                it->second->dataWaiting();
            }
        }
        return;
    }
    if (line.starts_with("+CCH_PEER_CLOSED:")) {
        if (const auto s = parseCchPeerClosed(line)) {
            if (auto it = sessions.find(*s); it != sessions.end()) {
                it->second->peerClosed();
            }
        }
        return;
    }
    for (const std::string_view prefix : {"+CCH_RECV_CLOSED:", "+CCHSEND:"}) {
        if (line.starts_with(prefix)) {
            const auto r = parseIdResult(line, prefix);
            if (r && r->err != 0) {
                if (auto it = sessions.find(r->id); it != sessions.end()) {
                    it->second->breakWith(makeError("socket_error", explainLine(line)));
                }
            }
            return;
        }
    }
    if (line.starts_with("+CCH: CCHSTOP")) {
        cch.ready = false;
        breakSessions(makeError("network", explainLine(line)));
        return;
    }
    if (line.starts_with("*ATREADY:")) {
        net.ready = false;
        cch.ready = false;
        const Error e = makeError("modem_reset", "the module restarted: its sockets are gone");
        breakLinks(e);
        breakSessions(e);
        return;
    }
    // Late results (+CIPOPEN, +NETOPEN, +CCHOPEN, +CIPCLOSE, ...) need nothing.
}

void A76xxDriver::Core::breakLinks(const Error& e) {
    auto current = links;
    links.clear();
    busy_links.clear();
    for (auto& [id, s] : current) {
        s->detach();
        s->breakWith(e);
    }
}

void A76xxDriver::Core::breakSessions(const Error& e) {
    auto current = sessions;
    sessions.clear();
    busy_sessions.clear();
    for (auto& [id, s] : current) {
        s->detach();
        s->breakWith(e);
    }
}

std::optional<int> A76xxDriver::Core::allocate(bool tls) {
    const int count = tls ? kSessions : kLinks;
    int& next = tls ? next_session : next_link;
    const std::set<int>& busy = tls ? busy_sessions : busy_links;
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

// ---- start ------------------------------------------------------------------------------------

std::function<bool()> A76xxDriver::Core::keepGoing(uint64_t gen) {
    return [w = weak_from_this(), gen] {
        auto c = w.lock();
        return c && c->start_gen == gen && c->start_done;
    };
}

void A76xxDriver::Core::finishStart(uint64_t gen, Status s) {
    if (start_gen != gen || !start_done) {
        return;
    }
    auto d = std::move(start_done);
    start_done = nullptr;
    d(std::move(s));
}

void A76xxDriver::Core::startSim(uint64_t gen) {
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
                                c->startApn(gen);
                            });
}

void A76xxDriver::Core::startApn(uint64_t gen) {
    // The APN goes in before the registration wait so that the attach can use it.
    std::vector<modem_common::AtCommandStep> steps = {{cgdcontCommand(settings), timing.command}};
    if (!settings.apn_user.empty() || !settings.apn_password.empty()) {
        steps.push_back({cgauthCommand(settings), timing.command});
    }
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
            c->startRegistration(gen);
        });
}

void A76xxDriver::Core::startRegistration(uint64_t gen) {
    modem_common::RegistrationPlan plan;
    for (const auto& q : kRegistrationQueries) {
        plan.queries.push_back({std::string(q[0]), std::string(q[1])});
    }
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
                                          c->startManualReceive(gen);
                                      });
}

void A76xxDriver::Core::startManualReceive(uint64_t gen) {
    auto then = [w = weak_from_this(), gen](Status s) {
        auto c = w.lock();
        if (!c || !c->keepGoing(gen)()) {
            return;
        }
        if (!s) {
            c->finishStart(gen, s);
            return;
        }
        c->through(&Core::net, &Core::netOpen, [w, gen](Status n) {
            if (auto c2 = w.lock()) {
                c2->finishStart(gen, n.ok() ? n : n.failure("network"));
            }
        });
    };
    at.command(
        std::string(kManualReceive.command), kManualReceive.timeout,
        [w = weak_from_this(), gen, then](Result<AtResponse> r) {
            auto c = w.lock();
            if (!c || !c->keepGoing(gen)()) {
                return;
            }
            if (r || r.error().code != "at_error") {
                then(r ? okStatus()
                       : Status(Failure{
                             commandError(kManualReceive.command, r.error(), explainer())}));
                return;
            }
            // Refused while the network is open (a restart of uplinkd, not of the module):
            // close the network, then set manual receive again.
            commandThenUrc(
                c->loop, c->at, c->urcs, toCommandStep(kNetClose), {"+NETCLOSE: "},
                c->timing.net_open, explainer(), [w, then](Result<std::string>) {
                    auto c2 = w.lock();
                    if (!c2) {
                        return;
                    }
                    c2->at.command(
                        std::string(kManualReceive.command), kManualReceive.timeout,
                        [then](Result<AtResponse> again) {
                            then(again ? okStatus()
                                       : Status(Failure{commandError(kManualReceive.command,
                                                                     again.error(), explainer())}));
                        });
                });
        });
}

// ---- gates ------------------------------------------------------------------------------------

void A76xxDriver::Core::through(Gate Core::*gate, void (Core::*run)(std::function<void(Status)>),
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

void A76xxDriver::Core::netOpen(std::function<void(Status)> done) {
    commandThenUrc(loop, at, urcs, toCommandStep(kNetOpen), {"+NETOPEN: "}, timing.net_open,
                   explainer(), [w = weak_from_this(), done](Result<std::string> r) {
                       auto c = w.lock();
                       if (!c) {
                           return;
                       }
                       if (r) {
                           const auto e = parseNetOpen(*r);
                           if (e && *e == 0) {
                               done(okStatus());
                           } else {
                               done(fail("network", explainLine(*r)));
                           }
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
                           c->timing.command, explainer(),
                           [done, original = r.error()](Result<std::string> q) {
                               if (q && parseNetOpen(*q).ok() && *parseNetOpen(*q) == 1) {
                                   done(okStatus());
                                   return;
                               }
                               done(Failure{original});
                           });
                   });
}

void A76xxDriver::Core::cchStart(std::function<void(Status)> done) {
    cchStartOnce(true, std::move(done));
}

void A76xxDriver::Core::cchStartOnce(bool retry, std::function<void(Status)> done) {
    at.command(std::string(kCchSet.command), kCchSet.timeout,
               [w = weak_from_this(), retry, done](Result<AtResponse>) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   commandThenUrc(
                       c->loop, c->at, c->urcs, toCommandStep(kCchStart), {"+CCHSTART: "},
                       c->timing.cch_start, explainer(), [w, retry, done](Result<std::string> r) {
                           auto c2 = w.lock();
                           if (!c2) {
                               return;
                           }
                           if (r) {
                               const auto e = parseCchStatus(*r, "+CCHSTART:");
                               if (e && *e == 0) {
                                   done(okStatus());
                               } else {
                                   done(fail("tls_service", explainLine(*r)));
                               }
                               return;
                           }
                           if (!retry || r.error().code != "at_error") {
                               done(r.failure("starting the module's SSL service"));
                               return;
                           }
                           // Already started (by an earlier run of uplinkd, with settings we do not
                           // know): stop it and start again.
                           commandThenUrc(c2->loop, c2->at, c2->urcs, toCommandStep(kCchStop),
                                          {"+CCHSTOP: "}, c2->timing.cch_start, explainer(),
                                          [w, done](Result<std::string>) {
                                              if (auto c3 = w.lock()) {
                                                  c3->cchStartOnce(false, done);
                                              }
                                          });
                       });
               });
}

void A76xxDriver::Core::listCerts(std::function<void(Status)> done) {
    at.command(std::string(kCertList.command), kCertList.timeout,
               [w = weak_from_this(), done](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       done(Failure{commandError(kCertList.command, r.error(), explainer())});
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

void A76xxDriver::Core::open(const ModemSocketRequest& req, OpenDone done) {
    std::optional<Error> refusal;
    if (req.host.empty() || req.host.size() > kMaxHostLength || !safeForQuotedArgument(req.host)) {
        refusal = makeError("bad_host", "the host name \"" + req.host.substr(0, 64) +
                                            "\" cannot be given to the module");
    } else if (req.port == 0) {
        refusal = makeError("bad_port", "port 0 cannot be connected to");
    } else if (req.tls && !req.server_name.empty() && req.server_name != req.host) {
        refusal = makeError(
            "unsupported",
            "the module sends the host it connects to as the TLS server name (SNI) and checks "
            "the certificate against it; it cannot connect to " +
                req.host + " and use the name " + req.server_name + ": set the broker host to " +
                req.server_name + ", leave tls.server_name unset, or use tls = \"local\"");
    }
    const auto id = refusal ? std::nullopt : allocate(req.tls);
    if (!refusal && !id) {
        refusal = makeError("no_socket", req.tls ? "both SSL sessions of the module are in use"
                                                 : "all 10 links of the module are in use");
    }
    if (refusal) {
        post([done = std::move(done), e = *refusal] { done(Failure{e}); });
        return;
    }
    auto& busy = req.tls ? busy_sessions : busy_links;
    busy.insert(*id);
    auto finish = [w = weak_from_this(), tls = req.tls, id = *id,
                   done = std::move(done)](Result<ByteStreamPtr> r) {
        if (auto c = w.lock()) {
            (tls ? c->busy_sessions : c->busy_links).erase(id);
            done(std::move(r));
        }
    };
    through(&Core::net, &Core::netOpen, [w = weak_from_this(), id = *id, req, finish](Status s) {
        auto c = w.lock();
        if (!c) {
            return;
        }
        if (!s) {
            finish(s.failure("open " + target(req)));
            return;
        }
        if (req.tls) {
            c->openTls(id, req, finish);
        } else {
            c->openTcp(id, req, finish);
        }
    });
}

void A76xxDriver::Core::openTcp(int link, const ModemSocketRequest& req, OpenDone done) {
    commandThenUrc(
        loop, at, urcs, {cipopenCommand(link, req.host, req.port), timing.command},
        {"+CIPOPEN: " + std::to_string(link) + ","}, timing.connect, explainer(),
        [w = weak_from_this(), link, req, done](Result<std::string> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            if (!r) {
                if (r.error().code == "timeout") {
                    // No result: the link may still be connecting; free it.
                    c->at.command(cipcloseCommand(link), c->timing.command,
                                  [](Result<AtResponse>) {});
                }
                done(r.failure("open " + target(req)));
                return;
            }
            const auto res = parseIdResult(*r, "+CIPOPEN:");
            if (!res || res->err != 0) {
                done(Failure{tcpOpenError(res ? res->err : -1, *r, req)});
                return;
            }
            c->busy_links.erase(link);
            done(ByteStreamPtr(std::make_unique<TcpSocket>(
                c, link, "a76xx link " + std::to_string(link) + ": tcp " + target(req))));
        });
}

void A76xxDriver::Core::openTls(int session, const ModemSocketRequest& req, OpenDone done) {
    auto fail_with = [done, req](const Status& s, std::string_view what) {
        done(s.failure("open " + target(req) + ": " + std::string(what)));
    };
    auto connect = [w = weak_from_this(), session, req, done]() {
        auto c = w.lock();
        if (!c) {
            return;
        }
        commandThenUrc(c->loop, c->at, c->urcs,
                       {cchopenCommand(session, req.host, req.port), c->timing.command},
                       {"+CCHOPEN: " + std::to_string(session) + ","}, c->timing.tls_connect,
                       explainer(), [w, session, req, done](Result<std::string> r) {
                           auto c2 = w.lock();
                           if (!c2) {
                               return;
                           }
                           if (!r) {
                               if (r.error().code == "timeout") {
                                   c2->at.command(cchcloseCommand(session), c2->timing.command,
                                                  [](Result<AtResponse>) {});
                               }
                               done(r.failure("open " + target(req)));
                               return;
                           }
                           const auto res = parseIdResult(*r, "+CCHOPEN:");
                           if (!res || res->err != 0) {
                               done(Failure{tlsOpenError(res ? res->err : -1, *r, req)});
                               return;
                           }
                           c2->busy_sessions.erase(session);
                           done(ByteStreamPtr(std::make_unique<TlsSocket>(
                               c2, session,
                               "a76xx ssl session " + std::to_string(session) + ": tls " +
                                   target(req) + " (TLS in the module, SNI " + req.host + ")")));
                       });
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
        modem_common::runSteps(c->at, std::move(steps), explainer(),
                               [connect, fail_with](Status s) {
                                   if (!s) {
                                       fail_with(s, "SSL context");
                                       return;
                                   }
                                   connect();
                               });
    };
    through(&Core::cch, &Core::cchStart, [w = weak_from_this(), configure, fail_with](Status s) {
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

struct CertFile {
    std::string_view name;
    std::string content;
    std::string what;
};

Result<std::string> pemFile(std::string_view pem, std::string_view what, bool key) {
    auto blocks = modem_common::splitPem(pem);
    if (!blocks) {
        return blocks.failure(what);
    }
    std::vector<PemBlock> wanted;
    for (auto& b : *blocks) {
        if (key ? b.label.ends_with("PRIVATE KEY") : b.label == "CERTIFICATE") {
            wanted.push_back(std::move(b));
            if (key) {
                break;
            }
        }
    }
    if (wanted.empty()) {
        return fail("bad_pem", std::string(what) + ": no suitable PEM block");
    }
    std::string text = modem_common::joinBlocks(wanted, "\n");
    if (text.size() > kMaxCertFile) {
        return fail("bad_pem", std::string(what) + " is " + std::to_string(text.size()) +
                                   " bytes; the module takes at most " +
                                   std::to_string(kMaxCertFile));
    }
    return text;
}

/// Writes the files one after the other, removes stale client files when none is configured
/// (so that authmode 1 is used), then checks that AT+CCERTLIST shows what was written.
/// Thread: loop.
struct ProvisionRun : std::enable_shared_from_this<ProvisionRun> {
    std::weak_ptr<A76xxDriver::Core> core;
    std::vector<CertFile> files;
    bool client = false;
    std::function<void(Status)> done;

    void write(size_t i) {
        auto c = core.lock();
        if (!c) {
            return;
        }
        if (i == files.size()) {
            client ? verify() : removeStale();
            return;
        }
        const CertFile& f = files[i];
        AtDataWrite wr;
        wr.prompt = ">";
        wr.payload = f.content;
        c->at.commandWithData(
            ccertdownCommand(f.name, f.content.size()), wr, c->timing.cert_store,
            [self = shared_from_this(), i](Result<AtResponse> r) {
                if (!r) {
                    const CertFile& cur = self->files[i];
                    self->done(
                        Failure{commandError(ccertdownCommand(cur.name, 0), r.error(), explainer())
                                    .withContext("provision: writing " + cur.what)});
                    return;
                }
                self->write(i + 1);
            });
    }

    void removeStale() {
        auto c = core.lock();
        if (!c) {
            return;
        }
        // Deleting a file that is not there gives ERROR: fine.
        c->at.command(ccertdeleCommand(kCertFile), c->timing.command,
                      [self = shared_from_this()](Result<AtResponse>) {
                          auto c2 = self->core.lock();
                          if (!c2) {
                              return;
                          }
                          c2->at.command(ccertdeleCommand(kKeyFile), c2->timing.command,
                                         [self](Result<AtResponse>) { self->verify(); });
                      });
    }

    void verify() {
        auto c = core.lock();
        if (!c) {
            return;
        }
        c->listCerts([self = shared_from_this()](Status s) {
            auto c2 = self->core.lock();
            if (!c2) {
                return;
            }
            if (!s) {
                self->done(s.failure("provision: listing the store"));
                return;
            }
            const auto& have = *c2->certs;
            if (!have.ca || (self->client && (!have.cert || !have.key))) {
                self->done(fail("provision_mismatch",
                                "provision: AT+CCERTLIST does not list the files just written"));
                return;
            }
            self->done(okStatus());
        });
    }
};

}  // namespace

void A76xxDriver::Core::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) {
        post([done, e] { done(Failure{e.withContext("provision")}); });
    };
    if (creds.cert_pem.empty() != creds.key_pem.empty()) {
        refuse(
            makeError("bad_pem", "a client certificate needs both tls.cert_file and tls.key_file"));
        return;
    }
    auto files = std::make_shared<std::vector<CertFile>>();
    auto ca = pemFile(creds.ca_pem, "tls.ca_file", false);
    if (!ca) {
        refuse(ca.error());
        return;
    }
    files->push_back({kCaFile, std::move(*ca), "the root CA (tls.ca_file)"});
    const bool client = !creds.cert_pem.empty();
    if (client) {
        auto cert = pemFile(creds.cert_pem, "tls.cert_file", false);
        auto key = pemFile(creds.key_pem, "tls.key_file", true);
        if (!cert || !key) {
            refuse(!cert ? cert.error() : key.error());
            return;
        }
        files->push_back({kCertFile, std::move(*cert), "the client certificate (tls.cert_file)"});
        files->push_back({kKeyFile, std::move(*key), "the private key (tls.key_file)"});
    }

    auto run = std::make_shared<ProvisionRun>();
    run->core = weak_from_this();
    run->files = std::move(*files);
    run->client = client;
    run->done = std::move(done);
    run->write(0);
}

// ---- A76xxDriver ------------------------------------------------------------------------------

A76xxDriver::A76xxDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                         A76xxTiming timing)
    : core_(std::make_shared<Core>(loop, at, std::move(settings), timing)) {
    core_->registerUrcs();
}

A76xxDriver::~A76xxDriver() {
    const Error e = makeError("closed", "the modem driver was stopped");
    core_->breakLinks(e);
    core_->breakSessions(e);
}

void A76xxDriver::start(StatusDone done) {
    Core& c = *core_;
    const uint64_t gen = ++c.start_gen;
    if (c.start_done) {
        c.post([old = std::move(c.start_done)] {
            old(fail("cancelled", "the module is being started again"));
        });
    }
    c.start_done = std::move(done);
    const Error e =
        makeError("modem_reset", "the module is being started again: its sockets are gone");
    c.breakLinks(e);
    c.breakSessions(e);
    for (Gate* g : {&c.net, &c.cch}) {
        auto waiters = std::move(g->waiters);
        *g = Gate{};
        for (auto& wt : waiters) {
            c.post([wt = std::move(wt), e] { wt(Failure{e}); });
        }
    }
    std::vector<modem_common::AtCommandStep> steps;
    for (const auto& s : kInitSteps) {
        steps.push_back(toCommandStep(s));
    }
    modem_common::runSteps(c.at, std::move(steps), explainer(),
                           [w = std::weak_ptr<Core>(core_), gen](Status s) {
                               auto c2 = w.lock();
                               if (!c2 || !c2->keepGoing(gen)()) {
                                   return;
                               }
                               if (!s) {
                                   c2->finishStart(gen, s);
                                   return;
                               }
                               c2->startSim(gen);
                           });
}

void A76xxDriver::info(std::function<void(Result<ModemInfo>)> done) {
    modem_common::runInfo(
        core_->at, kInfoQueries,
        [w = std::weak_ptr<Core>(core_), done = std::move(done)](Result<ModemInfo> r) {
            if (!w.expired()) {
                done(std::move(r));
            }
        });
}

void A76xxDriver::provision(const ModemCredentials& creds, StatusDone done) {
    core_->provision(creds, std::move(done));
}

void A76xxDriver::open(const ModemSocketRequest& request,
                       std::function<void(Result<ByteStreamPtr>)> done) {
    core_->open(request, std::move(done));
}

std::string A76xxDriver::explain(const std::string& error_line) const {
    return explainLine(error_line);
}

// ---- plugin entry points ----------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{{"A7670", "A7672", "SIM7600"}, true};
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
    return ModemDriverPtr(std::make_unique<A76xxDriver>(loop, at, settings));
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
