// SPDX-License-Identifier: Apache-2.0
// ModemSupervisor: keeps the module usable. Opens the serial line, brings the module up with
// driver.start(), probes it with "AT" when the line is idle or after a command timed out, and
// when it does not answer escalates: soft restart (driver.start() again), reset line, power
// cycle, with growing pauses in between. A boot indication (the module restarted, expected or
// not) makes it run driver.start() again at once; a module that keeps refusing new sessions
// climbs the same ladder. The uplink asks it whether the module may be used and, if not, why.
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modem/at_channel_impl.hpp"
#include "modem/power_control.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd {

class ModemSupervisor {
  public:
    struct Options {
        std::string uplink;  ///< for log lines
        std::chrono::milliseconds health_interval{30000};
        std::chrono::milliseconds probe_timeout{2000};
        std::chrono::milliseconds start_timeout{std::chrono::minutes(3)};  ///< driver.start()
        std::chrono::milliseconds backoff_min{1000};
        std::chrono::milliseconds backoff_max{std::chrono::minutes(5)};
    };

    enum class State { Starting, Ready, Recovering, Waiting };
    /// What the supervisor does to bring the module back, in escalating order.
    enum class Step { Initial, Soft, Reset, PowerCycle };

    /// Opens (or reopens) the serial line and attaches it to the channel.
    using OpenLine = std::function<Status()>;

    ModemSupervisor(asio::io_context& loop, SerialAtChannel& at, ModemDriver& driver,
                    PowerControl& power, OpenLine open_line, Options options);
    ~ModemSupervisor();
    ModemSupervisor(const ModemSupervisor&) = delete;
    ModemSupervisor& operator=(const ModemSupervisor&) = delete;

    /// Brings the module up (once); recovery follows by itself.
    void start();
    bool ready() const { return state_ == State::Ready; }
    /// Why the module cannot be used now, e.g. "modem recovering: the module did not answer AT
    /// within 2 s (next: reset line in 4 s)". Empty when ready.
    std::string notReady() const;
    /// Something outside saw the module misbehave: probe it now.
    void suspect(const std::string& why);
    /// The module refused a new session for lack of resources ("no more sessions"). Twice in
    /// a row escalates like a hang: soft restart, then reset line, then power cycle, each rung
    /// only when the one before did not help (no session opened since).
    void exhausted(const std::string& why);
    /// A session was opened: the module's resources are fine again.
    void sessionOpened();

    State state() const { return state_; }
    static const char* stateName(State s);
    static const char* stepName(Step s);
    uint64_t recoveries() const { return recoveries_; }
    const std::string& lastProblem() const { return problem_; }
    /// E.g. "reset line, 12 s ago: ready".
    std::string lastRecovery() const;

  private:
    void attempt(Step step);
    void afterPower(uint64_t gen, Step step);
    void waitOff(uint64_t gen, std::chrono::steady_clock::time_point deadline);
    void bringUp(uint64_t gen, Step step, int probes_left);
    void onStarted(uint64_t gen, Step step, Status st);
    void attemptFailed(uint64_t gen, Step step, const Error& error, bool hang);
    void recover(const std::string& why);
    void recover(const std::string& why, Step step);
    void onBoot(const std::string& line);
    Step rungAfter(Step step) const;
    void scheduleHealthCheck();
    void healthCheck();
    void after(std::chrono::milliseconds delay, uint64_t gen, std::function<void()> fn);
    std::vector<Step> ladder() const;

    SerialAtChannel& at_;
    ModemDriver& driver_;
    PowerControl& power_;
    OpenLine open_line_;
    Options options_;

    State state_ = State::Starting;
    Step step_ = Step::Initial;
    uint64_t gen_ = 0;  ///< bumped per attempt: stale callbacks are ignored
    int failures_ = 0;  ///< consecutive failed attempts
    bool started_ = false;
    bool ever_ready_ = false;
    bool probing_ = false;
    bool awaiting_boot_ = false;          ///< after a reset or power-on, before the boot wait ended
    int boots_in_attempt_ = 0;            ///< boot indications during the running attempt
    int exhausted_ = 0;                   ///< "no more sessions" refusals in a row
    std::optional<Step> exhausted_rung_;  ///< the rung last used against them
    std::string problem_;                 ///< why the module is not ready (or was last not ready)
    std::string cause_;                   ///< what started the running recovery
    std::string phase_ = "not started";   ///< what the running attempt is doing
    Step next_step_ = Step::Soft;
    std::chrono::steady_clock::time_point next_at_{};
    uint64_t recoveries_ = 0;
    Step last_recovery_step_ = Step::Initial;
    std::chrono::steady_clock::time_point last_recovery_at_{};
    asio::steady_timer timer_;         ///< the attempt's waits
    asio::steady_timer guard_;         ///< driver.start() taking too long
    asio::steady_timer health_timer_;  ///< idle probes
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
