// SPDX-License-Identifier: Apache-2.0
#include "modem/modem_supervisor.hpp"

#include <algorithm>
#include <iterator>

#include "core/enum_names.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kProbesAfterSoft = 2;   ///< "AT" tries before a soft restart gives up
constexpr int kProbesAfterBoot = 10;  ///< "AT" tries after a reset or power-on
constexpr milliseconds kStatusPoll{200};
constexpr int kBootsPerAttempt = 3;  ///< restarts during one bring-up before it counts as failed
constexpr int kExhaustedInARow = 2;  ///< "no more sessions" refusals that start a recovery

bool noAnswer(const Error& e) {
    return e.code == "at_timeout" || e.code == "at_closed";
}

std::string seconds(milliseconds ms) {
    if (ms < milliseconds(1000)) {
        return std::to_string(ms.count()) + " ms";
    }
    return std::to_string((ms.count() + 500) / 1000) + " s";
}

}  // namespace

ModemSupervisor::ModemSupervisor(asio::io_context& loop, SerialAtChannel& at, ModemDriver& driver,
                                 PowerControl& power, OpenLine open_line, Options options)
    : at_(at),
      driver_(driver),
      power_(power),
      open_line_(std::move(open_line)),
      options_(std::move(options)),
      timer_(loop),
      guard_(loop),
      health_timer_(loop) {}

ModemSupervisor::~ModemSupervisor() {
    alive_.reset();
    at_.setTimeoutObserver({});
    at_.setLineErrorObserver({});
    at_.setBootObserver({});
}

const char* ModemSupervisor::stateName(State s) {
    static constexpr const char* kNames[] = {"starting", "ready", "recovering", "waiting"};
    static_assert(std::size(kNames) == static_cast<size_t>(State::Waiting) + 1);
    return enumName(s, kNames);
}

const char* ModemSupervisor::stepName(Step s) {
    static constexpr const char* kNames[] = {"start", "soft restart", "reset line", "power cycle"};
    static_assert(std::size(kNames) == static_cast<size_t>(Step::PowerCycle) + 1);
    return enumName(s, kNames);
}

void ModemSupervisor::start() {
    if (started_) {
        return;
    }
    started_ = true;
    std::weak_ptr<bool> alive = alive_;
    at_.setTimeoutObserver([this, alive](const std::string& what) {
        if (!alive.expired()) {
            suspect("the module did not answer " + what + (what == "AT" ? "" : ", nor AT"));
        }
    });
    at_.setLineErrorObserver([this, alive](const Error& e) {
        if (!alive.expired()) {
            recover(e.message);
        }
    });
    at_.setBootObserver([this, alive](const std::string& line) {
        if (!alive.expired()) {
            onBoot(line);
        }
    });
    attempt(Step::Initial);
}

std::string ModemSupervisor::notReady() const {
    const std::string what = ever_ready_ ? "modem recovering" : "modem starting";
    switch (state_) {
        case State::Ready:
            return {};
        case State::Starting:
        case State::Recovering:
            if (problem_.empty()) {
                return what + ": " + phase_;
            }
            return what + ": " + problem_ + " (" + stepName(step_) + ": " + phase_ + ")";
        case State::Waiting: {
            const auto left = std::max<milliseconds>(
                milliseconds(0), std::chrono::duration_cast<milliseconds>(next_at_ - Clock::now()));
            return what + ": " + problem_ + " (next: " + stepName(next_step_) + " in " +
                   seconds(left) + ")";
        }
    }
    return what;
}

std::string ModemSupervisor::lastRecovery() const {
    if (recoveries_ == 0) {
        return {};
    }
    const auto ago = std::chrono::duration_cast<milliseconds>(Clock::now() - last_recovery_at_);
    return std::string(stepName(last_recovery_step_)) + ", " + seconds(ago) + " ago";
}

std::vector<ModemSupervisor::Step> ModemSupervisor::ladder() const {
    std::vector<Step> steps{Step::Soft};
    if (power_.canReset()) {
        steps.push_back(Step::Reset);
    }
    if (power_.canPowerKey()) {
        steps.push_back(Step::PowerCycle);
    }
    return steps;
}

void ModemSupervisor::after(milliseconds delay, uint64_t gen, std::function<void()> fn) {
    timer_.expires_after(delay);
    std::weak_ptr<bool> alive = alive_;
    timer_.async_wait([this, alive, gen, fn = std::move(fn)](asio::error_code ec) {
        if (!ec && !alive.expired() && gen == gen_) {
            fn();
        }
    });
}

void ModemSupervisor::attempt(Step step) {
    const uint64_t gen = ++gen_;
    step_ = step;
    timer_.cancel();
    guard_.cancel();
    health_timer_.cancel();
    probing_ = false;
    awaiting_boot_ = false;
    boots_in_attempt_ = 0;
    state_ = step == Step::Initial ? State::Starting : State::Recovering;
    if (step != Step::Initial) {
        at_.reset();  // the hung module's commands fail now
    }
    phase_ = "opening the serial line";
    if (!at_.attached()) {
        if (auto st = open_line_(); !st) {
            attemptFailed(gen, step, st.error(), true);
            return;
        }
    }
    std::weak_ptr<bool> alive = alive_;
    auto guarded = [this, alive, gen](auto fn) {
        return [this, alive, gen, fn = std::move(fn)](auto result) mutable {
            if (!alive.expired() && gen == gen_) {
                fn(std::move(result));
            }
        };
    };
    switch (step) {
        case Step::Initial:
            // A module that is off (status line low) gets the power key first.
            power_.readStatus(guarded([this, gen, step, guarded](Result<bool> on) {
                if (on && !*on) {
                    power_.pulsePowerKey(PowerControl::Press::On,
                                         guarded([this, gen, step](Status st) {
                                             if (!st) {
                                                 attemptFailed(gen, step, st.error(), true);
                                                 return;
                                             }
                                             afterPower(gen, step);
                                         }));
                    return;
                }
                bringUp(gen, step, kProbesAfterSoft);
            }));
            break;
        case Step::Soft:
            bringUp(gen, step, kProbesAfterSoft);
            break;
        case Step::Reset:
            phase_ = "pulsing the reset line";
            power_.pulseReset(guarded([this, gen, step](Status st) {
                if (!st) {
                    attemptFailed(gen, step, st.error(), true);
                    return;
                }
                afterPower(gen, step);
            }));
            break;
        case Step::PowerCycle:
            phase_ = "switching the module off and on";
            power_.pulsePowerKey(PowerControl::Press::Off, guarded([this, gen, step](Status st) {
                                     if (!st) {
                                         attemptFailed(gen, step, st.error(), true);
                                         return;
                                     }
                                     waitOff(gen, Clock::now() + power_.timings().shutdown_wait);
                                 }));
            break;
    }
}

void ModemSupervisor::waitOff(uint64_t gen, Clock::time_point deadline) {
    std::weak_ptr<bool> alive = alive_;
    auto switch_on = [this, alive, gen] {
        power_.pulsePowerKey(PowerControl::Press::On, [this, alive, gen](Status st) {
            if (alive.expired() || gen != gen_) {
                return;
            }
            if (!st) {
                attemptFailed(gen, Step::PowerCycle, st.error(), true);
                return;
            }
            afterPower(gen, Step::PowerCycle);
        });
    };
    power_.readStatus([this, alive, gen, deadline, switch_on](Result<bool> on) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        if (!on) {
            // No status line: give the module its shutdown time.
            after(power_.timings().shutdown_wait, gen, switch_on);
        } else if (*on && Clock::now() < deadline) {
            after(kStatusPoll, gen, [this, gen, deadline] { waitOff(gen, deadline); });
        } else {
            switch_on();
        }
    });
}

void ModemSupervisor::afterPower(uint64_t gen, Step step) {
    phase_ = "waiting for the module to boot";
    awaiting_boot_ = true;
    after(power_.timings().boot_wait, gen,
          [this, gen, step] { bringUp(gen, step, kProbesAfterBoot); });
}

void ModemSupervisor::bringUp(uint64_t gen, Step step, int probes_left) {
    awaiting_boot_ = false;
    phase_ = "waiting for the module to answer AT";
    probing_ = true;
    std::weak_ptr<bool> alive = alive_;
    at_.probe(options_.probe_timeout, [this, alive, gen, step, probes_left](Result<AtResponse> r) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        probing_ = false;
        if (!r && noAnswer(r.error())) {
            if (probes_left > 1) {
                bringUp(gen, step, probes_left - 1);
                return;
            }
            attemptFailed(gen, step, r.error(), true);
            return;
        }
        phase_ = "bringing the module up (SIM, network registration, data connection)";
        guard_.expires_after(options_.start_timeout);
        guard_.async_wait([this, alive, gen, step](asio::error_code ec) {
            if (!ec && !alive.expired() && gen == gen_) {
                attemptFailed(gen, step,
                              makeError("timeout", "the driver's start did not finish within " +
                                                       seconds(options_.start_timeout)),
                              true);
            }
        });
        driver_.start([this, alive, gen, step](Status st) {
            if (!alive.expired() && gen == gen_) {
                onStarted(gen, step, std::move(st));
            }
        });
    });
}

void ModemSupervisor::onStarted(uint64_t gen, Step step, Status st) {
    guard_.cancel();
    if (!st) {
        attemptFailed(gen, step, st.error(), noAnswer(st.error()));
        return;
    }
    if (step == Step::Initial && !ever_ready_) {
        logInfo("uplink " + options_.uplink + ": modem ready");
    } else {
        ++recoveries_;
        last_recovery_step_ = step;
        last_recovery_at_ = Clock::now();
        logEvent(LogLevel::Notice, LogEvent::ModemRecovered, {{}, options_.uplink, stepName(step)},
                 "uplink " + options_.uplink + ": modem ready again (" + stepName(step) +
                     ") after: " + (cause_.empty() ? problem_ : cause_));
    }
    ever_ready_ = true;
    state_ = State::Ready;
    failures_ = 0;
    scheduleHealthCheck();
}

void ModemSupervisor::attemptFailed(uint64_t gen, Step step, const Error& error, bool hang) {
    if (gen != gen_) {
        return;
    }
    ++failures_;
    problem_ = error.message;
    const std::vector<Step> steps = ladder();
    Step next = Step::Soft;
    if (hang) {
        // The module does not answer: escalate, and stay on the last rung.
        auto it = std::find(steps.begin(), steps.end(), step);
        if (it == steps.end()) {
            next = steps.size() > 1 ? steps[1] : steps[0];
        } else {
            next = it + 1 == steps.end() ? *it : *(it + 1);
        }
    }
    const int shift = std::min(failures_ - 1, 16);
    const milliseconds delay =
        std::min(options_.backoff_min * (int64_t{1} << shift), options_.backoff_max);
    state_ = State::Waiting;
    next_step_ = next;
    next_at_ = Clock::now() + delay;
    logWarning("uplink " + options_.uplink + ": modem " + stepName(step) +
               " failed: " + error.message + "; next: " + stepName(next) + " in " + seconds(delay));
    after(delay, gen, [this, next] { attempt(next); });
}

void ModemSupervisor::recover(const std::string& why) {
    recover(why, Step::Soft);
}

void ModemSupervisor::recover(const std::string& why, Step step) {
    if (state_ != State::Ready) {
        return;  // an attempt is already under way; it notices by itself
    }
    problem_ = why;
    cause_ = why;
    failures_ = 0;
    logWarning("uplink " + options_.uplink + ": " + why + "; recovering the modem (" +
               stepName(step) + ")");
    attempt(step);
}

ModemSupervisor::Step ModemSupervisor::rungAfter(Step step) const {
    const std::vector<Step> steps = ladder();
    auto it = std::find(steps.begin(), steps.end(), step);
    if (it == steps.end()) {
        return steps.front();
    }
    return it + 1 == steps.end() ? *it : *(it + 1);
}

void ModemSupervisor::onBoot(const std::string& line) {
    const std::string what = "the module restarted (" + line + ")";
    switch (state_) {
        case State::Ready:
            // Unexpected: whatever the driver set up is gone (echo, error codes, registration,
            // bearer, sockets). Its full start sequence runs again.
            recover(what + " by itself");
            return;
        case State::Starting:
        case State::Recovering: {
            if (awaiting_boot_) {
                // The boot this attempt waits for: no need to wait out the rest.
                const uint64_t gen = ++gen_;
                timer_.cancel();
                bringUp(gen, step_, kProbesAfterBoot);
                return;
            }
            // A restart in the middle of the bring-up: its commands failed with it; begin the
            // bring-up again, unless the module keeps restarting.
            const uint64_t gen = ++gen_;
            guard_.cancel();
            probing_ = false;
            if (++boots_in_attempt_ > kBootsPerAttempt) {
                attemptFailed(gen, step_,
                              makeError("modem_reset", what + " again and again while starting"),
                              true);
                return;
            }
            logInfo("uplink " + options_.uplink + ": " + what + " during " + stepName(step_) +
                    "; starting it again");
            bringUp(gen, step_, kProbesAfterBoot);
            return;
        }
        case State::Waiting:
            return;  // the next attempt starts it anyway
    }
}

void ModemSupervisor::exhausted(const std::string& why) {
    if (state_ != State::Ready) {
        return;
    }
    if (++exhausted_ < kExhaustedInARow) {
        return;  // the driver freed what it could; one refusal may pass
    }
    exhausted_ = 0;
    const Step step = exhausted_rung_ ? rungAfter(*exhausted_rung_) : Step::Soft;
    exhausted_rung_ = step;
    recover("the module refuses new connections (" + why + ")", step);
}

void ModemSupervisor::sessionOpened() {
    exhausted_ = 0;
    exhausted_rung_.reset();
}

void ModemSupervisor::suspect(const std::string& why) {
    if (state_ != State::Ready || probing_) {
        return;
    }
    probing_ = true;
    std::weak_ptr<bool> alive = alive_;
    at_.probe(options_.probe_timeout, [this, alive, gen = gen_, why](Result<AtResponse> r) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        probing_ = false;
        if (!r && noAnswer(r.error())) {
            recover(why);
        }
    });
}

void ModemSupervisor::scheduleHealthCheck() {
    health_timer_.expires_after(options_.health_interval);
    std::weak_ptr<bool> alive = alive_;
    health_timer_.async_wait([this, alive, gen = gen_](asio::error_code ec) {
        if (!ec && !alive.expired() && gen == gen_) {
            healthCheck();
        }
    });
}

void ModemSupervisor::healthCheck() {
    if (state_ != State::Ready) {
        return;
    }
    // A module that spoke recently, or a command in flight (its own timeout watches it), needs
    // no probe.
    if (at_.busy() || probing_ || Clock::now() - at_.lastReceived() < options_.health_interval) {
        scheduleHealthCheck();
        return;
    }
    probing_ = true;
    std::weak_ptr<bool> alive = alive_;
    at_.probe(options_.probe_timeout, [this, alive, gen = gen_](Result<AtResponse> r) {
        if (alive.expired() || gen != gen_) {
            return;
        }
        probing_ = false;
        if (!r && noAnswer(r.error())) {
            recover("no answer to the periodic AT (" + r.error().message + ")");
            return;
        }
        scheduleHealthCheck();
    });
}

}  // namespace uplinkd
