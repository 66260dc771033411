// SPDX-License-Identifier: Apache-2.0
// What every AT modem driver does the same way, whatever its dialect:
//  - DriverCore: the core a driver shares with its sockets and URC handlers (loop, channel,
//    settings, timing, result-URC waits, SIM memory), URC routing, and the start() bookkeeping:
//    one bring-up at a time (a second start() cancels the first), each stage going on only while
//    its run is the current one, a failure ending the run under the stage's name;
//  - DriverFront: the ModemDriver itself, which hands everything to its core;
//  - its sockets: common/core_socket.hpp;
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
#include "common/core_socket.hpp"
#include "common/generic_info.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::modem_common {

using StatusDone = ModemDriver::StatusDone;

/// "host:port" of a request, for messages.
std::string hostPort(const ModemSocketRequest& req);

/// How a socket in the module is shown in messages: "<kind> <id>: tcp <host:port>", or
/// "<kind> <id>: tls <host:port> (TLS in the module)".
std::string moduleSocketDescription(std::string_view kind, int id, const ModemSocketRequest& req);

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

/// One row of a module's table of socket-open failures: the module's code, and what it means:
/// one of the failures every driver words the same way (`how`), or else the row's own error
/// `error_code` and `words`, in which "{host}" stands for the host and "{to}" for "host:port".
struct OpenFailureRow {
    int code;
    std::optional<OpenFailure> how;
    std::string_view error_code = "";
    std::string_view words = "";
};

/// The error for an open of `req` that the module ended with `code` (in its `line`, which is
/// shown): the row of `table` for the code, else openFailure(req, explain(line)).
Error openFailure(std::span<const OpenFailureRow> table, int code, const ModemSocketRequest& req,
                  const std::string& line, const Explainer& explain);

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
/// the rest of CoreApi. `Timing` has `command`; simStage() and registrationStage() also use the
/// fields of a CellularTiming (at_steps.hpp). Core has `void onUrc(const std::string&)` when it
/// routes URCs. A Core takes this constructor (`using DriverCore::DriverCore`). Thread: loop.
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

    /// Frees what the module holds that no socket of this driver owns (after a restart of the
    /// driver; a hung module never frees them itself): `list` asks the module, `cleanup(core,
    /// lines)` gives the steps that free what the answer lists (none when the module does not
    /// know the listing), and `then` runs once they ran, whatever they said.
    void reconcile(
        const AtStep& list,
        std::function<std::vector<AtCommandStep>(Core&, const std::vector<std::string>&)> cleanup,
        std::function<void()> then) {
        at.command(std::string(list.command), list.timeout,
                   withCore([cleanup = std::move(cleanup), then = std::move(then)](
                                const CorePtr& c, Result<AtResponse> r) {
                       std::vector<AtCommandStep> steps;
                       if (r) {
                           steps = cleanup(*c, r->lines);
                       }
                       // A listing the firmware does not know is no reason to stop.
                       runSteps(c->at, std::move(steps), c->explain, [then](Status) { then(); });
                   }));
    }

    // ---- start() runs --------------------------------------------------------------------------

    /// Begins a start() run (see beginStart) that first drops the sockets the module had
    /// (Core::breakAll with "modem_reset").
    uint64_t beginFreshStart(StatusDone done) {
        const uint64_t gen = beginStart(std::move(done));
        static_cast<Core*>(this)->breakAll(
            makeError("modem_reset", "the module is being started again: its sockets are gone"));
        return gen;
    }

    /// A start() run that drops the module's sockets (beginFreshStart), runs the `init` steps,
    /// then goes on with `next`.
    void startWith(StatusDone done, std::span<const AtStep> init, Stage next) {
        const uint64_t gen = beginFreshStart(std::move(done));
        stepsStage(gen, toCommandSteps(init), "", next);
    }

    /// The error for the sockets the module lost when it restarted (`boot_line`).
    Error restartError(const std::string& boot_line) const {
        return makeError("modem_reset", explain(boot_line) + ": its sockets are gone");
    }

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

}  // namespace uplinkd::plugins::modem_common
