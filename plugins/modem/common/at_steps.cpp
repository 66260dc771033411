#include "common/at_steps.hpp"

#include <algorithm>
#include <optional>

namespace uplinkd::plugins::modem_common {

namespace {

std::string seconds(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + " s";
    }
    return std::to_string(ms) + " ms";
}

bool startsWithAny(const std::string& line, const std::vector<std::string>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const std::string& p) { return line.starts_with(p); });
}

}  // namespace

AtCommandStep toCommandStep(const AtStep& step) {
    return AtCommandStep{std::string(step.command), step.timeout, step.policy};
}

std::vector<AtCommandStep> toCommandSteps(std::span<const AtStep> steps) {
    std::vector<AtCommandStep> out;
    for (const auto& s : steps) {
        out.push_back(toCommandStep(s));
    }
    return out;
}

Error commandError(std::string_view command, const Error& channel_error, const Explainer& explain) {
    const std::string name = commandName(command);
    if (channel_error.code == "at_timeout") {
        return makeError("at_timeout", name + ": the module did not answer in time");
    }
    if (channel_error.code == "at_closed") {
        return makeError("at_closed", name + ": the AT channel was closed (module reset)");
    }
    if (channel_error.code == "at_reset" || channel_error.code == "at_framing") {
        // The channel's own words: the module's restart, or the data block that broke framing.
        return makeError(channel_error.code, name + ": " + channel_error.message);
    }
    std::string words = explain ? explain(channel_error.message) : std::string();
    if (words.empty()) {
        words = channel_error.message;
    }
    return makeError(channel_error.code.empty() ? "at_error" : channel_error.code,
                     name + ": " + words);
}

Status commandStatus(std::string_view command, const Result<AtResponse>& answer,
                     const Explainer& explain) {
    if (!answer) {
        return Failure{commandError(command, answer.error(), explain)};
    }
    return okStatus();
}

// ---- runSteps ---------------------------------------------------------------------------------

namespace {

void issue(AtChannel& at, const AtCommandStep& s, AtChannel::Done done) {
    at.command(s.command, s.timeout, std::move(done));
}

void issue(AtChannel& at, const AtDataStep& s, AtChannel::Done done) {
    at.commandWithData(s.command, s.write, s.timeout, std::move(done));
}

/// The error that ends a run when step `s` failed with `e`, or nothing (the step was optional).
std::optional<Error> stepFailure(const AtCommandStep& s, const Error& e, const Explainer& explain) {
    const bool channel_gone = e.code == "at_closed" || e.code == "at_timeout";
    if (s.policy == StepPolicy::Required || channel_gone) {
        return commandError(s.command, e, explain);
    }
    return std::nullopt;
}

std::optional<Error> stepFailure(const AtDataStep& s, const Error& e, const Explainer& explain) {
    return commandError(s.command, e, explain).withContext("writing " + s.what);
}

/// One runSteps() / runDataSteps() call: the steps and where it is. Thread: loop.
template <class Step>
struct StepRun : std::enable_shared_from_this<StepRun<Step>> {
    AtChannel& at;
    std::vector<Step> steps;
    Explainer explain;
    std::function<bool()> keep_going;  ///< asked after every answer; none: always yes
    std::function<void(Status)> done;
    size_t next = 0;

    StepRun(AtChannel& a, std::vector<Step> s, Explainer e, std::function<bool()> k,
            std::function<void(Status)> d)
        : at(a),
          steps(std::move(s)),
          explain(std::move(e)),
          keep_going(std::move(k)),
          done(std::move(d)) {}

    void step() {
        if (next == steps.size()) {
            auto d = std::move(done);
            d(okStatus());
            return;
        }
        issue(at, steps[next], [self = this->shared_from_this()](Result<AtResponse> r) {
            if (self->keep_going && !self->keep_going()) {
                return;
            }
            if (!r) {
                if (auto e = stepFailure(self->steps[self->next], r.error(), self->explain)) {
                    auto d = std::move(self->done);
                    d(Failure{std::move(*e)});
                    return;
                }
            }
            ++self->next;
            self->step();
        });
    }
};

/// One runQueries() call: the commands and the answers so far. Thread: loop.
struct QueryRun : std::enable_shared_from_this<QueryRun> {
    AtChannel& at;
    std::vector<AtCommandStep> commands;
    std::function<void(std::vector<Result<AtResponse>>)> done;
    std::vector<Result<AtResponse>> results;
    int timeouts_in_row = 0;

    QueryRun(AtChannel& a, std::vector<AtCommandStep> c,
             std::function<void(std::vector<Result<AtResponse>>)> d)
        : at(a), commands(std::move(c)), done(std::move(d)) {}

    void step() {
        if (results.size() == commands.size()) {
            auto d = std::move(done);
            d(std::move(results));
            return;
        }
        const AtCommandStep& c = commands[results.size()];
        at.command(c.command, c.timeout, [self = shared_from_this()](Result<AtResponse> r) {
            bool stop = false;
            if (!r && r.error().code == "at_closed") {
                stop = true;
            } else if (!r && r.error().code == "at_timeout") {
                stop = ++self->timeouts_in_row >= 2;
            } else {
                self->timeouts_in_row = 0;
            }
            const Error last = r ? Error{} : r.error();
            self->results.push_back(std::move(r));
            while (stop && self->results.size() < self->commands.size()) {
                self->results.push_back(Failure{last});
            }
            self->step();
        });
    }
};

}  // namespace

void runSteps(AtChannel& at, std::vector<AtCommandStep> steps, Explainer explain,
              std::function<void(Status)> done) {
    auto run = std::make_shared<StepRun<AtCommandStep>>(at, std::move(steps), std::move(explain),
                                                        nullptr, std::move(done));
    run->step();
}

void runDataSteps(AtChannel& at, std::vector<AtDataStep> steps, Explainer explain,
                  std::function<bool()> keep_going, std::function<void(Status)> done) {
    auto run = std::make_shared<StepRun<AtDataStep>>(at, std::move(steps), std::move(explain),
                                                     std::move(keep_going), std::move(done));
    run->step();
}

void runQueries(AtChannel& at, std::vector<AtCommandStep> commands,
                std::function<void(std::vector<Result<AtResponse>>)> done) {
    auto run = std::make_shared<QueryRun>(at, std::move(commands), std::move(done));
    run->step();
}

// ---- ResultUrcs -------------------------------------------------------------------------------

uint64_t ResultUrcs::arm(std::vector<std::string> prefixes, Handler handler,
                         std::function<void(const Error&)> on_fail) {
    const uint64_t id = next_id_++;
    waits_.emplace(id, Wait{std::move(prefixes), std::move(handler), std::move(on_fail)});
    return id;
}

void ResultUrcs::failAll(const Error& e) {
    auto waits = std::move(waits_);
    waits_.clear();
    for (auto& [id, w] : waits) {
        if (w.on_fail) {
            w.on_fail(e);
        }
    }
}

void ResultUrcs::cancel(uint64_t id) {
    waits_.erase(id);
}

bool ResultUrcs::offer(const std::string& line) {
    for (auto it = waits_.begin(); it != waits_.end(); ++it) {
        if (startsWithAny(line, it->second.prefixes)) {
            Handler h = std::move(it->second.handler);
            waits_.erase(it);
            h(line);
            return true;
        }
    }
    return false;
}

// ---- commandThenUrc ---------------------------------------------------------------------------

namespace {

/// One commandThenUrc() call: the final result and the result URC, in either order. Thread: loop.
struct UrcCall : std::enable_shared_from_this<UrcCall> {
    asio::steady_timer timer;
    std::weak_ptr<ResultUrcs> urcs;
    uint64_t wait_id = 0;
    std::string name;
    std::vector<std::string> prefixes;
    std::chrono::milliseconds urc_timeout;
    Explainer explain;
    std::function<void(Result<std::string>)> done;
    std::function<bool(const std::string&)> accept;
    std::optional<std::string> urc;
    bool command_done = false;
    bool finished = false;

    UrcCall(asio::io_context& loop, std::weak_ptr<ResultUrcs> u, std::string n,
            std::vector<std::string> p, std::chrono::milliseconds t, Explainer e,
            std::function<void(Result<std::string>)> d)
        : timer(loop),
          urcs(std::move(u)),
          name(std::move(n)),
          prefixes(std::move(p)),
          urc_timeout(t),
          explain(std::move(e)),
          done(std::move(d)) {}

    void armWait() {
        auto u = urcs.lock();
        if (!u) {
            return;
        }
        wait_id = u->arm(
            prefixes,
            [self = shared_from_this()](const std::string& line) {
                if (self->finished) {
                    return;
                }
                if (self->accept && !self->accept(line)) {
                    self->armWait();
                    return;
                }
                self->urc = line;
                if (self->command_done) {
                    self->finish(line);
                }
            },
            [self = shared_from_this()](const Error& e) {
                self->finish(Failure{e.withContext(self->name)});
            });
    }

    void finish(Result<std::string> r) {
        if (finished) {
            return;
        }
        finished = true;
        timer.cancel();
        if (auto u = urcs.lock()) {
            u->cancel(wait_id);
        }
        auto d = std::move(done);
        d(std::move(r));
    }

    void onCommand(Result<AtResponse> r) {
        if (finished) {
            return;
        }
        command_done = true;
        if (r) {
            // The channel counts every line that starts with the command's name as part of its
            // reply, so the result line of an earlier command of the same name (AT+QMTPUB's
            // "+QMTPUB: 0,17,0" while AT+QMTPUB for id 18 runs) can be among them: it goes to
            // the call that waits for it.
            std::optional<std::string> mine;
            for (const auto& line : r->lines) {
                if (!mine && startsWithAny(line, prefixes) && (!accept || accept(line))) {
                    mine = line;
                } else if (auto u = urcs.lock()) {
                    u->offer(line);
                }
            }
            if (mine) {
                finish(*mine);
                return;
            }
        }
        if (urc) {
            finish(*urc);
            return;
        }
        if (!r) {
            finish(Failure{commandError(name, r.error(), explain)});
            return;
        }
        timer.expires_after(urc_timeout);
        timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (ec || self->finished) {
                return;
            }
            self->finish(fail("timeout", self->name + ": no \"" + self->prefixes.front() +
                                             "\" result within " + seconds(self->urc_timeout)));
        });
    }
};

}  // namespace

void commandThenUrc(asio::io_context& loop, std::weak_ptr<ResultUrcs> urcs,
                    std::function<void(AtChannel::Done)> issue, std::string command_name,
                    std::vector<std::string> prefixes, std::chrono::milliseconds urc_timeout,
                    Explainer explain, std::function<void(Result<std::string>)> done,
                    std::function<bool(const std::string&)> accept) {
    if (urcs.expired()) {
        return;  // the driver is gone; nobody waits for the answer
    }
    auto call =
        std::make_shared<UrcCall>(loop, urcs, commandName(command_name), std::move(prefixes),
                                  urc_timeout, std::move(explain), std::move(done));
    call->accept = std::move(accept);
    call->armWait();
    issue([call](Result<AtResponse> r) { call->onCommand(std::move(r)); });
}

void commandThenUrc(asio::io_context& loop, AtChannel& at, std::weak_ptr<ResultUrcs> urcs,
                    const AtCommandStep& step, std::vector<std::string> prefixes,
                    std::chrono::milliseconds urc_timeout, Explainer explain,
                    std::function<void(Result<std::string>)> done,
                    std::function<bool(const std::string&)> accept) {
    commandThenUrc(
        loop, std::move(urcs),
        [&at, command = step.command, timeout = step.timeout](AtChannel::Done d) {
            at.command(command, timeout, std::move(d));
        },
        step.command, std::move(prefixes), urc_timeout, std::move(explain), std::move(done),
        std::move(accept));
}

// ---- SIM --------------------------------------------------------------------------------------

namespace {

/// One unlockSim() run: AT+CPIN? and at most one PIN entry. Thread: loop.
struct SimRun : std::enable_shared_from_this<SimRun> {
    AtChannel& at;
    asio::steady_timer timer;
    SimPlan plan;
    std::shared_ptr<SimMemory> memory;
    std::function<bool()> keep_going;
    std::function<void(Status)> done;
    int busy_left;
    bool pin_sent = false;

    SimRun(asio::io_context& loop, AtChannel& a, SimPlan p, std::shared_ptr<SimMemory> m,
           std::function<bool()> k, std::function<void(Status)> d)
        : at(a),
          timer(loop),
          plan(std::move(p)),
          memory(std::move(m)),
          keep_going(std::move(k)),
          done(std::move(d)),
          busy_left(plan.busy_retries) {}

    void finish(Status s) {
        auto d = std::move(done);
        d(std::move(s));
    }

    void retryLater() {
        timer.expires_after(plan.busy_retry_interval);
        timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (!ec) {
                self->check();
            }
        });
    }

    void check() {
        if (!keep_going()) {
            return;
        }
        at.command("AT+CPIN?", plan.command_timeout,
                   [self = shared_from_this()](Result<AtResponse> r) { self->onStatus(r); });
    }

    void onStatus(const Result<AtResponse>& r) {
        if (!keep_going()) {
            return;
        }
        if (!r) {
            const auto code = parseCmeErrorCode(r.error().message);
            if (code == 14 && busy_left-- > 0) {
                retryLater();
                return;
            }
            if (code == 10) {
                finish(fail("no_sim",
                            "no SIM card: the module reports \"SIM not inserted\" (+CME ERROR: "
                            "10); insert the SIM and check that it is seated properly"));
                return;
            }
            if (code == 13 || code == 15) {
                finish(fail("sim_failure", "the module cannot use the SIM card (" +
                                               cmeGeneralWords(*code) +
                                               "): check the card and its contacts"));
                return;
            }
            finish(Failure{commandError("AT+CPIN?", r.error(), [](const std::string& line) {
                const auto c = parseCmeErrorCode(line);
                return c ? cmeGeneralWords(*c) : std::string();
            })});
            return;
        }
        std::optional<SimStatus> status;
        for (const auto& line : r->lines) {
            if (auto s = parseCpin(line)) {
                status = *s;
                break;
            }
        }
        if (!status) {
            finish(fail("bad_reply", "AT+CPIN?: the module gave no +CPIN line"));
            return;
        }
        switch (status->state) {
            case SimState::Ready:
                finish(okStatus());
                return;
            case SimState::PinRequired:
                enterPin();
                return;
            case SimState::PukRequired:
                finish(fail("sim_blocked",
                            "the SIM is blocked: it asks for its PUK (after three wrong PINs); "
                            "unblock it in a phone with the PUK from the operator"));
                return;
            case SimState::Other:
                break;
        }
        finish(fail("sim_locked", "the SIM is not ready: it asks for \"" + status->code +
                                      "\", which uplinkd cannot give"));
    }

    void enterPin() {
        if (pin_sent) {
            if (busy_left-- > 0) {
                retryLater();  // the SIM may take a moment to report READY after the PIN
                return;
            }
            finish(fail("sim_pin", "the SIM still asks for its PIN after it was entered"));
            return;
        }
        if (plan.pin.empty()) {
            finish(
                fail("sim_pin", "the SIM asks for its PIN: put it in the file named by pin_file"));
            return;
        }
        if (memory->pin_rejected) {
            finish(fail("sim_pin",
                        "the SIM refused the PIN from pin_file earlier; it is not sent again "
                        "(three wrong PINs block the SIM): correct pin_file and restart uplinkd"));
            return;
        }
        if (!safeForQuotedArgument(plan.pin) || plan.pin.size() > 16) {
            finish(fail("sim_pin", "the PIN in pin_file is not a valid PIN"));
            return;
        }
        pin_sent = true;
        at.command(
            "AT+CPIN=\"" + plan.pin + "\"", plan.command_timeout,
            [self = shared_from_this()](Result<AtResponse> r) {
                if (!self->keep_going()) {
                    return;
                }
                if (!r) {
                    if (r.error().code != "at_closed") {
                        self->memory->pin_rejected = true;
                    }
                    const auto code = parseCmeErrorCode(r.error().message);
                    self->finish(fail(
                        "sim_pin", "the SIM refused the PIN from pin_file (" +
                                       (code ? "+CME ERROR: " + std::to_string(*code) + ", " +
                                                   cmeGeneralWords(*code)
                                             : r.error().message) +
                                       "); it will not be sent again (three wrong PINs block the "
                                       "SIM): correct pin_file and restart uplinkd"));
                    return;
                }
                self->check();
            });
    }
};

}  // namespace

void unlockSim(asio::io_context& loop, AtChannel& at, SimPlan plan,
               std::shared_ptr<SimMemory> memory, std::function<bool()> keep_going,
               std::function<void(Status)> done) {
    auto run = std::make_shared<SimRun>(loop, at, std::move(plan), std::move(memory),
                                        std::move(keep_going), std::move(done));
    run->check();
}

// ---- registration -----------------------------------------------------------------------------

namespace {

/// Ranks states so that the best of several reads (CEREG, CGREG) wins.
int rank(RegState s) {
    switch (s) {
        case RegState::Home:
        case RegState::Roaming:
            return 4;
        case RegState::Searching:
            return 3;
        case RegState::Denied:
            return 2;
        case RegState::Unknown:
            return 1;
        case RegState::NotSearching:
            return 0;
    }
    return 0;
}

/// One waitForRegistration() run: the polls and the best state seen. Thread: loop.
struct RegRun : std::enable_shared_from_this<RegRun> {
    AtChannel& at;
    asio::steady_timer timer;
    RegistrationPlan plan;
    std::function<bool()> keep_going;
    std::function<void(Result<RegState>)> done;
    std::chrono::steady_clock::time_point deadline;
    std::optional<RegState> best;  // of the current poll
    std::optional<RegState> last;  // of the previous poll
    size_t query = 0;
    int denied_in_row = 0;

    RegRun(asio::io_context& loop, AtChannel& a, RegistrationPlan p, std::function<bool()> k,
           std::function<void(Result<RegState>)> d)
        : at(a), timer(loop), plan(std::move(p)), keep_going(std::move(k)), done(std::move(d)) {
        deadline = std::chrono::steady_clock::now() + plan.timeout;
    }

    void finish(Result<RegState> r) {
        auto d = std::move(done);
        d(std::move(r));
    }

    void poll() {
        if (!keep_going()) {
            return;
        }
        if (query == plan.queries.size()) {
            endOfPoll();
            return;
        }
        const auto& q = plan.queries[query];
        at.command(q.command, plan.command_timeout,
                   [self = shared_from_this()](Result<AtResponse> r) { self->onRead(r); });
    }

    void onRead(const Result<AtResponse>& r) {
        if (!keep_going()) {
            return;
        }
        const auto& q = plan.queries[query];
        if (!r) {
            if (r.error().code == "at_timeout" || r.error().code == "at_closed") {
                finish(Failure{commandError(q.command, r.error(), nullptr)});
                return;
            }
            // An error answer (e.g. the module does not know CGREG): this read says nothing.
        } else {
            for (const auto& line : r->lines) {
                if (auto s = parseRegistrationRead(line, q.prefix)) {
                    if (!best || rank(*s) > rank(*best)) {
                        best = *s;
                    }
                    break;
                }
            }
        }
        ++query;
        poll();
    }

    void endOfPoll() {
        query = 0;
        const std::optional<RegState> now = best;
        best.reset();
        if (now) {
            last = now;
        }
        if (now && isRegistered(*now)) {
            finish(*now);
            return;
        }
        denied_in_row = (now && *now == RegState::Denied) ? denied_in_row + 1 : 0;
        if (denied_in_row >= plan.denied_polls) {
            finish(fail("registration_denied",
                        "the network denied registration: the SIM may not be activated for "
                        "data, may not be allowed on this network or radio technology "
                        "(LTE-M / NB-IoT), or roaming may be barred; ask the operator"));
            return;
        }
        if (std::chrono::steady_clock::now() + plan.poll_interval > deadline) {
            finish(fail("not_registered",
                        "not registered with a network after " + seconds(plan.timeout) +
                            " (last state: " + (last ? regStateWords(*last) : "no answer") +
                            "): check the antenna, the coverage and that the SIM is activated"));
            return;
        }
        timer.expires_after(plan.poll_interval);
        timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (!ec) {
                self->poll();
            }
        });
    }
};

}  // namespace

void waitForRegistration(asio::io_context& loop, AtChannel& at, RegistrationPlan plan,
                         std::function<bool()> keep_going,
                         std::function<void(Result<RegState>)> done) {
    auto run =
        std::make_shared<RegRun>(loop, at, std::move(plan), std::move(keep_going), std::move(done));
    run->poll();
}

}  // namespace uplinkd::plugins::modem_common
