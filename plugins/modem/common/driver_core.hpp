// SPDX-License-Identifier: Apache-2.0
// What every AT modem driver does the same way, whatever its dialect:
//  - DriverCore: the core a driver shares with its sockets and URC handlers (loop, channel,
//    settings, timing, result-URC waits, SIM memory), URC routing, and the start() bookkeeping:
//    one bring-up at a time (a second start() cancels the first), each stage going on only while
//    its run is the current one, a failure ending the run under the stage's name;
//  - DriverFront: the ModemDriver itself, which hands everything to its core;
//  - SocketTable and CoreSocket: the sockets a core has open, by the module's id, and the
//    socket side of that bookkeeping (weak hold on the core, detach on a module reset, leaving
//    the table on close);
//  - the checks every driver makes before it sends anything (APN settings, socket requests).
// The drivers keep their dialect: commands, parsers, URC meanings and error tables.
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/at_socket_stream.hpp"
#include "common/at_steps.hpp"
#include "common/generic_info.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::modem_common {

using StatusDone = ModemDriver::StatusDone;

/// "closed: the modem driver is gone": AT work for a socket whose driver (or module socket) is
/// gone.
Error driverGone();

/// "host:port" of a request, for messages.
std::string hostPort(const ModemSocketRequest& req);

/// How a module's socket open failed, for the errors every driver words the same way.
enum class OpenFailure {
    Dns,      ///< "dns": the module could not resolve the host
    Timeout,  ///< "timeout": the connect timed out in the module
    Refused,  ///< "connect": refused or unreachable
};

/// The error for an open of `req` that failed as `how`; `line` (the module's result) is shown.
Error openFailure(OpenFailure how, const ModemSocketRequest& req, const std::string& line);

/// The error for an open of `req` that failed otherwise: "connecting to <host:port>: <words>".
Error openFailure(const ModemSocketRequest& req, const std::string& words);

/// OK when the APN settings can go into quoted AT arguments (at most 100 characters, no '"',
/// no control characters); else a "config" failure naming the setting.
Status checkApnSettings(const ModemSettings& settings);

/// Why the module should not be asked to open `req`, or nothing: a host that cannot be given
/// to it (empty, longer than `max_host_length`, or breaking the quoted argument), port 0, or a
/// TLS server name other than the host (`module`, e.g. "the module", sends the host as SNI).
std::optional<Error> socketRequestProblem(const ModemSocketRequest& req, size_t max_host_length,
                                          std::string_view module);

/// ModemPluginApi::create for drivers made as Driver(loop, at, settings): the APN settings are
/// checked first.
template <class Driver>
Result<ModemDriverPtr> createDriver(asio::io_context& loop, AtChannel& at,
                                    const ModemSettings& settings) {
    if (auto st = checkApnSettings(settings); !st) {
        return st.failure();
    }
    return ModemDriverPtr(std::make_unique<Driver>(loop, at, settings));
}

/// What a modem plugin's descriptor() returns: its `name` (as configured) and one-line
/// `summary`, with the modules it recognises (`Match`) and how it makes a driver (`Create`).
template <const ModemMatch& (*Match)(),
          Result<ModemDriverPtr> (*Create)(asio::io_context&, AtChannel&, const ModemSettings&)>
const PluginDescriptor* modemPluginDescriptor(const char* name, const char* summary) {
    static const ModemPluginApi api{&Match(), Create};
    static const PluginDescriptor d{kPluginAbiVersion, PluginKind::Modem, name, summary, &api};
    return &d;
}

// ---- DriverFront and DriverCore --------------------------------------------------------------

/// What a DriverFront hands its calls to: the driver's core (made as a DriverCore).
class CoreApi {
  public:
    using StatusDone = ModemDriver::StatusDone;
    virtual ~CoreApi() = default;

    /// Routes the module's URCs to the core; called once, when a shared_ptr owns the core.
    virtual void registerUrcs() = 0;
    virtual void start(StatusDone done) = 0;
    virtual void info(std::span<const InfoQuery> queries,
                      std::function<void(Result<ModemInfo>)> done) = 0;
    virtual void provision(const ModemCredentials& creds, StatusDone done) = 0;
    virtual void open(const ModemSocketRequest& req,
                      std::function<void(Result<ByteStreamPtr>)> done) = 0;
    /// The module's sockets are gone: every socket of the core fails with `e`.
    virtual void breakAll(const Error& e) = 0;
    /// Plain words for a module error line.
    virtual std::string explainError(const std::string& line) const = 0;
};

/// The ModemDriver of a dialect: it hands every call to its core, which its sockets and pending
/// AT callbacks hold weakly; when the driver goes, its sockets fail with "closed". Thread: loop.
class DriverFront : public ModemDriver {
  public:
    ~DriverFront() override;
    DriverFront(const DriverFront&) = delete;
    DriverFront& operator=(const DriverFront&) = delete;

    void start(StatusDone done) override;
    void info(std::function<void(Result<ModemInfo>)> done) override;
    void provision(const ModemCredentials& creds, StatusDone done) override;
    void open(const ModemSocketRequest& request,
              std::function<void(Result<ByteStreamPtr>)> done) override;
    std::string explain(const std::string& error_line) const override;
    size_t maxSendChunk() const override { return max_send_chunk_; }

  protected:
    /// `info_queries`: the `modem info` table (static data); `max_send_chunk`: the most one
    /// send command takes.
    DriverFront(std::shared_ptr<CoreApi> core, std::span<const InfoQuery> info_queries,
                size_t max_send_chunk);

  private:
    std::shared_ptr<CoreApi> core_;
    std::span<const InfoQuery> info_queries_;
    size_t max_send_chunk_;
};

/// The base of a driver's core (CRTP: `struct Core : DriverCore<Core, Timing>`), which adds
/// the rest of CoreApi. `Timing` has command, sim_retry, sim_busy_retries, registration_poll,
/// registration_timeout and denied_polls. Core has `void onUrc(const std::string&)` when it
/// routes URCs. Thread: loop.
template <class Core, class Timing>
struct DriverCore : CoreApi, std::enable_shared_from_this<Core> {
    /// A bring-up stage: a Core member that runs with the generation of its start() run.
    using Stage = void (Core::*)(uint64_t gen);
    using CorePtr = std::shared_ptr<Core>;

    DriverCore(asio::io_context& l, AtChannel& a, ModemSettings s, Timing t, Explainer e)
        : loop(l), at(a), settings(std::move(s)), timing(t), explain(std::move(e)) {}

    asio::io_context& loop;
    AtChannel& at;
    ModemSettings settings;
    Timing timing;
    Explainer explain;  ///< the dialect's plain words for error lines
    std::shared_ptr<ResultUrcs> urcs = std::make_shared<ResultUrcs>();
    std::shared_ptr<SimMemory> sim = std::make_shared<SimMemory>();
    uint64_t start_gen = 0;
    StatusDone start_done;

    /// Runs `fn` from the loop later, unless the core is gone by then.
    void post(std::function<void()> fn) {
        asio::post(loop, [w = this->weak_from_this(), fn = std::move(fn)] {
            if (!w.expired()) {
                fn();
            }
        });
    }

    /// Calls `done` with `e` from the loop (never inline), unless the core is gone by then.
    template <class Done>
    void failLater(Done done, Error e) {
        post([done = std::move(done), e = std::move(e)] { done(Failure{e}); });
    }

    std::string explainError(const std::string& line) const override { return explain(line); }

    /// A callback that runs `fn(core, args...)` while the core lives, and does nothing once it
    /// is gone (for AT answers and URC waits that may outlive the driver).
    template <class Fn>
    auto withCore(Fn fn) {
        return [w = this->weak_from_this(), fn = std::move(fn)](auto&&... args) {
            if (auto c = w.lock()) {
                fn(c, std::forward<decltype(args)>(args)...);
            }
        };
    }

    /// A Status callback for one step of a longer run: while the core lives, a failure goes to
    /// `done` as "<context>: ..." and success goes on with `next(core)`.
    template <class Done, class Next>
    auto whenOk(std::string context, Done done, Next next) {
        return withCore([context = std::move(context), done = std::move(done),
                         next = std::move(next)](const CorePtr& c, Status s) {
            if (!s) {
                done(s.failure(context));
                return;
            }
            next(c);
        });
    }

    /// True while the core lives (for runs that must stop with it).
    std::function<bool()> alive() {
        return [w = this->weak_from_this()] { return !w.expired(); };
    }

    /// Hands the URCs that start with one of `prefixes` to Core::onUrc while the core lives.
    void routeUrcs(std::initializer_list<const char*> prefixes) {
        for (const char* prefix : prefixes) {
            at.onUrc(prefix, [w = this->weak_from_this()](const std::string& line) {
                if (auto c = w.lock()) {
                    c->onUrc(line);
                }
            });
        }
    }

    /// Hands the module's boot lines (those that start with one of `prefixes`) to Core::onBoot
    /// while the core lives.
    void routeBoots(std::span<const std::string_view> prefixes) {
        for (const std::string_view prefix : prefixes) {
            at.onBoot(std::string(prefix), [w = this->weak_from_this()](const std::string& line) {
                if (auto c = w.lock()) {
                    c->onBoot(line);
                }
            });
        }
    }

    /// info(): the queries' answers; `done` is not called once the core is gone.
    void info(std::span<const InfoQuery> queries,
              std::function<void(Result<ModemInfo>)> done) override {
        runInfo(at, queries,
                [w = this->weak_from_this(), done = std::move(done)](Result<ModemInfo> r) {
                    if (!w.expired()) {
                        done(std::move(r));
                    }
                });
    }

    // ---- start() runs --------------------------------------------------------------------------

    /// Begins a start() run: a run under way gets "cancelled" (from the loop). Returns the new
    /// run's generation.
    uint64_t beginStart(StatusDone done) {
        const uint64_t gen = ++start_gen;
        if (start_done) {
            post([old = std::move(start_done)] {
                old(fail("cancelled", "the module is being started again"));
            });
        }
        start_done = std::move(done);
        return gen;
    }

    /// Whether run `gen` is the current one and not finished yet.
    bool current(uint64_t gen) const { return start_gen == gen && start_done; }

    /// The module restarted (`boot_line`): every result wait ends with "at_reset".
    void failResultWaits(const std::string& boot_line) {
        urcs->failAll(makeError("at_reset", "the module restarted (" + boot_line + ")"));
    }

    /// The module restarted (`boot_line`): a start() run under way fails with "at_reset".
    void failStartOnRestart(const std::string& boot_line) {
        if (start_done) {
            finishStart(start_gen,
                        fail("at_reset", "the module restarted (" + boot_line + ") during start"));
        }
    }

    /// current(gen) as a check for long runs (SIM, registration), false once the core is gone.
    std::function<bool()> keepGoing(uint64_t gen) {
        return [w = this->weak_from_this(), gen] {
            auto c = w.lock();
            return c && c->current(gen);
        };
    }

    /// Ends run `gen` with `s`; nothing when it is no longer the current one.
    void finishStart(uint64_t gen, Status s) {
        if (!current(gen)) {
            return;
        }
        auto d = std::move(start_done);
        start_done = nullptr;
        d(std::move(s));
    }

    /// The end of a stage of run `gen`: a failure ends the run (as "<context>: ..." when a
    /// context is given), success goes on with `next` (none: the run succeeds). Nothing happens
    /// when the core is gone or the run is no longer the current one.
    std::function<void(Status)> stageDone(uint64_t gen, std::string context, Stage next) {
        return [w = this->weak_from_this(), gen, context = std::move(context), next](Status s) {
            auto c = w.lock();
            if (!c || !c->current(gen)) {
                return;
            }
            if (!s) {
                c->finishStart(gen, context.empty() ? std::move(s) : Status(s.failure(context)));
                return;
            }
            if (next == nullptr) {
                c->finishStart(gen, okStatus());
                return;
            }
            ((*c).*next)(gen);
        };
    }

    /// Stage: runs `steps` (see runSteps), then `next`.
    void stepsStage(uint64_t gen, std::vector<AtCommandStep> steps, std::string context,
                    Stage next) {
        runSteps(at, std::move(steps), explain, stageDone(gen, std::move(context), next));
    }

    /// Stage: the SIM, unlocked with the PIN of the settings when it asks; failures read
    /// "SIM: ...".
    void simStage(uint64_t gen, Stage next) {
        SimPlan plan;
        plan.command_timeout = timing.command;
        plan.busy_retry_interval = timing.sim_retry;
        plan.busy_retries = timing.sim_busy_retries;
        plan.pin = settings.pin;
        unlockSim(loop, at, std::move(plan), sim, keepGoing(gen), stageDone(gen, "SIM", next));
    }

    /// Stage: polls `queries` until the module is registered; failures read
    /// "registration: ...".
    void registrationStage(uint64_t gen, std::vector<RegistrationPlan::Query> queries, Stage next) {
        RegistrationPlan plan;
        plan.queries = std::move(queries);
        plan.command_timeout = timing.command;
        plan.poll_interval = timing.registration_poll;
        plan.timeout = timing.registration_timeout;
        plan.denied_polls = timing.denied_polls;
        waitForRegistration(loop, at, std::move(plan), keepGoing(gen),
                            [done = stageDone(gen, "registration", next)](Result<RegState> r) {
                                done(r ? okStatus() : Status(r.failure()));
                            });
    }
};

// ---- sockets ----------------------------------------------------------------------------------

/// The sockets of one kind a driver core has open, by the module's id, and the ids that are
/// still being opened or closed (not free yet). `Socket` derives from CoreSocket. Thread: loop.
template <class Socket>
class SocketTable {
  public:
    void add(int id, Socket* s) { open_[id] = s; }
    /// Takes `s` out, when `id` still names it.
    void remove(int id, const Socket* s) {
        if (auto it = open_.find(id); it != open_.end() && it->second == s) {
            open_.erase(it);
        }
    }
    Socket* find(int id) const {
        auto it = open_.find(id);
        return it == open_.end() ? nullptr : it->second;
    }
    bool contains(int id) const { return open_.contains(id); }

    /// The module's sockets are gone: each is detached (nothing is sent for it any more) and
    /// broken with `e`; the table forgets them and the busy ids.
    void breakAll(const Error& e) {
        auto current = open_;
        open_.clear();
        busy.clear();
        for (auto& [id, s] : current) {
            s->detach();
            s->breakWith(e);
        }
    }

    std::set<int> busy;  ///< opening or closing

  private:
    std::map<int, Socket*> open_;
};

/// An AtSocketStream for socket `id()` of the module, worked through a driver core that it
/// holds weakly (the driver may go first). Thread: loop.
template <class Core>
class CoreSocket : public AtSocketStream {
  public:
    /// The module's socket is gone (reset): nothing is sent for this one any more.
    void detach() { detached_ = true; }

  protected:
    CoreSocket(const std::shared_ptr<Core>& core, int id, std::string description, size_t max_chunk)
        : AtSocketStream(core->loop, std::move(description), max_chunk), core_(core), id_(id) {}

    int id() const { return id_; }
    /// The core, or null when the driver is gone.
    std::shared_ptr<Core> lockCore() const { return core_.lock(); }

    /// The core when commands may go to the module for this socket (the driver lives, the
    /// socket is attached); else null, and `done` got driverGone().
    template <class Done>
    std::shared_ptr<Core> attachedOr(Done& done) const {
        auto c = detached_ ? nullptr : core_.lock();
        if (!c) {
            done(Failure{driverGone()});
        }
        return c;
    }

    /// sendChunk() by one command with a data phase: `command` with `write` (which holds the
    /// chunk); `done` gets the chunk's size on OK, else the command's error. Nothing once the
    /// socket is gone.
    void sendData(Core& core, const std::string& command, AtDataWrite write,
                  std::function<void(Result<size_t>)> done) {
        const size_t n = write.payload.size();
        core.at.commandWithData(command, write, core.timing.send,
                                [alive = token(), command, explain = core.explain,
                                 done = std::move(done), n](Result<AtResponse> r) {
                                    if (alive.expired()) {
                                        return;
                                    }
                                    if (!r) {
                                        done(Failure{commandError(command, r.error(), explain)});
                                        return;
                                    }
                                    done(n);
                                });
    }

    /// A read by count for fetch(): `command` with its data phase `read`; `then` gets the bytes
    /// or the command's error. Nothing once the socket is gone.
    void readData(Core& core, const std::string& command, AtDataRead read,
                  std::function<void(Result<std::string>)> then) {
        core.at.commandReadingData(command, read, core.timing.receive,
                                   [alive = token(), command, explain = core.explain,
                                    then = std::move(then)](Result<AtResponse> r) {
                                       if (alive.expired()) {
                                           return;
                                       }
                                       if (!r) {
                                           then(Failure{commandError(command, r.error(), explain)});
                                           return;
                                       }
                                       then(std::move(r->data));
                                   });
    }

    /// For closeSocket(): takes `self` out of the core's `table`; returns the core when close
    /// commands are to be sent (the driver lives, the socket is attached), else null.
    template <class Socket>
    std::shared_ptr<Core> leave(SocketTable<Socket> Core::*table, const Socket* self) {
        auto c = core_.lock();
        if (!c) {
            return nullptr;
        }
        ((*c).*table).remove(id_, self);
        return detached_ ? nullptr : c;
    }

  private:
    std::weak_ptr<Core> core_;
    int id_;
    bool detached_ = false;
};

/// A CoreSocket whose module refuses a send while its send buffer is full: the chunk is tried
/// again after the core's timing.send_retry, at most timing.send_retries times, then the write
/// fails with "timeout". Thread: loop.
template <class Core>
class RetryingSocket : public CoreSocket<Core> {
  protected:
    RetryingSocket(const std::shared_ptr<Core>& core, int id, std::string description,
                   size_t max_chunk)
        : CoreSocket<Core>(core, id, std::move(description), max_chunk), retry_(core->loop) {}

    /// One try to send `payload` (the socket is attached): `done` gets how many bytes the module
    /// took or an error; `full` gets the module's words when its send buffer was full. Neither
    /// is called once the socket is gone.
    virtual void trySend(Core& core, const std::string& payload,
                         std::function<void(Result<size_t>)> done,
                         std::function<void(const std::string& words)> full) = 0;

    void sendChunk(std::span<const uint8_t> chunk, std::function<void(Result<size_t>)> done) final {
        auto core = this->lockCore();
        attempt(std::string(reinterpret_cast<const char*>(chunk.data()), chunk.size()),
                core ? core->timing.send_retries : 0, std::move(done));
    }

  private:
    void attempt(std::string payload, int retries, std::function<void(Result<size_t>)> done) {
        auto core = this->attachedOr(done);
        if (!core) {
            return;
        }
        trySend(
            *core, payload, done,
            [alive = this->token(), this, payload, retries, done](const std::string& words) {
                if (retries <= 0) {
                    done(fail("timeout", "the module's send buffer stayed full (" + words + ")"));
                    return;
                }
                auto owner = this->lockCore();
                if (!owner) {
                    done(Failure{driverGone()});
                    return;
                }
                retry_.expires_after(owner->timing.send_retry);
                retry_.async_wait(
                    [alive, this, payload, retries, done](const asio::error_code& ec) {
                        if (ec || alive.expired()) {
                            return;
                        }
                        attempt(payload, retries - 1, done);
                    });
            });
    }

    asio::steady_timer retry_;
};

}  // namespace uplinkd::plugins::modem_common
