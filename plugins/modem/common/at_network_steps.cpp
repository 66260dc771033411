// SPDX-License-Identifier: Apache-2.0
// The network bring-up steps of at_steps.hpp: unlocking the SIM (AT+CPIN) and waiting for the
// registration (+CEREG/+CGREG/+CREG polls); the command runners are in at_steps.cpp.
#include <algorithm>
#include <optional>

#include "common/at_steps.hpp"

namespace uplinkd::plugins::modem_common {

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
                        "not registered with a network after " + describeTimeout(plan.timeout) +
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
