// SPDX-License-Identifier: Apache-2.0
#include "common/at_steps.hpp"

#include <algorithm>
#include <optional>

#include "common/pem.hpp"

namespace uplinkd::plugins::modem_common {

std::string describeTimeout(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + " s";
    }
    return std::to_string(ms) + " ms";
}

namespace {

bool startsWithAny(const std::string& line, const std::vector<std::string>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const std::string& p) { return line.starts_with(p); });
}

}  // namespace

std::string sslConfigCommand(std::string_view command, int context, const SslSetting& setting) {
    return std::string(command) + "=" + quoted(setting.name) + "," + std::to_string(context) + "," +
           setting.value;
}

std::vector<SslSetting> storeFileSettings(bool client_certificate, std::string_view prefix) {
    auto file = [prefix](std::string_view name) {
        return quoted(std::string(prefix) + std::string(name));
    };
    std::vector<SslSetting> settings = {{"cacert", file(kCaFile)}};
    if (client_certificate) {
        settings.push_back({"clientcert", file(kCertFile)});
        settings.push_back({"clientkey", file(kKeyFile)});
    }
    return settings;
}

std::vector<AtCommandStep> sslConfigSteps(std::string_view command, int context,
                                          const std::vector<SslSetting>& settings,
                                          std::chrono::milliseconds timeout) {
    std::vector<AtCommandStep> steps;
    for (const auto& s : settings) {
        steps.push_back({sslConfigCommand(command, context, s), timeout});
    }
    return steps;
}

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
                                             "\" result within " +
                                             describeTimeout(self->urc_timeout)));
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

}  // namespace uplinkd::plugins::modem_common
