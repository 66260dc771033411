// SPDX-License-Identifier: Apache-2.0
// Running AT interactions described as data: command steps with timeouts and a failure policy,
// commands whose real result comes later as a URC ("OK now, +CIPOPEN: 0,0 later"), SIM unlock
// and the registration wait. Everything goes through the AtChannel; nothing here outlives a
// cancelled run (callbacks hold only the channel, the loop and their own state).
// Thread: loop.
#pragma once

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/generic_at.hpp"
#include "uplinkd/at_channel.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

enum class StepPolicy {
    Required,  ///< a failure ends the sequence
    Optional,  ///< a failure is ignored (older firmware may not know the command)
};

/// A command as data: `constexpr` tables of these describe bring-up sequences.
struct AtStep {
    std::string_view command;
    std::chrono::milliseconds timeout;
    StepPolicy policy = StepPolicy::Required;
};

/// One constexpr table made of `parts` in order (shared tables with a dialect's own rows).
template <class T, size_t... N>
constexpr std::array<T, (N + ...)> joinedTable(const T (&... parts)[N]) {
    std::array<T, (N + ...)> all{};
    size_t at = 0;
    ((std::copy(std::begin(parts), std::end(parts), all.begin() + at), at += N), ...);
    return all;
}

// ---- tables that several dialects share ------------------------------------------------------

/// The bring-up 27.007 modules start with: echo off, numeric +CME ERROR codes.
inline constexpr AtStep kEchoOffNumericErrors[] = {
    {"ATE0", std::chrono::seconds(2), StepPolicy::Required},
    {"AT+CMEE=1", std::chrono::seconds(2), StepPolicy::Required},
};

/// The sizes a module's socket commands take, as data: each socket driver fills one.
struct SocketLimits {
    size_t max_send_chunk;   ///< one send command carries at most this much
    size_t max_read_chunk;   ///< one counted read asks for at most this much
    size_t max_host_length;  ///< longer host names are refused before anything is sent
};

/// Registration polled as {query, answer prefix}: EPS (LTE, LTE-M, NB-IoT) first, then GPRS
/// (packet-switched 2G/3G, for the variants that have it).
inline constexpr std::string_view kEpsThenGprsRegistration[][2] = {
    {"AT+CEREG?", "+CEREG:"},
    {"AT+CGREG?", "+CGREG:"},
};

/// The timeouts and polling every cellular driver's bring-up uses (its Timing derives from it):
/// plain commands, the SIM while it is busy after boot, and the wait for registration.
struct CellularTiming {
    std::chrono::milliseconds command = std::chrono::seconds(5);    ///< plain commands
    std::chrono::milliseconds sim_retry = std::chrono::seconds(1);  ///< SIM busy after boot
    int sim_busy_retries = 10;
    std::chrono::milliseconds registration_poll = std::chrono::seconds(2);
    std::chrono::milliseconds registration_timeout = std::chrono::seconds(180);
    int denied_polls = 3;
};

/// A step whose command text was built at run time (APN, host, lengths).
struct AtCommandStep {
    std::string command;
    std::chrono::milliseconds timeout;
    StepPolicy policy = StepPolicy::Required;
};

/// One setting of a module's SSL context: its name and its value as the command takes it.
struct SslSetting {
    std::string_view name;
    std::string value;
};

/// "<command>=\"<name>\",<context>,<value>": one setting of SSL context `context` (AT+QSSLCFG,
/// AT+CSSLCFG).
std::string sslConfigCommand(std::string_view command, int context, const SslSetting& setting);

/// The settings that name the files of a module's file store (kCaFile, kCertFile, kKeyFile):
/// "cacert", and with a client certificate "clientcert" and "clientkey"; each quoted, with
/// `prefix` (e.g. "UFS:") before the name.
std::vector<SslSetting> storeFileSettings(bool client_certificate, std::string_view prefix);

/// One step a setting (sslConfigCommand), in order.
std::vector<AtCommandStep> sslConfigSteps(std::string_view command, int context,
                                          const std::vector<SslSetting>& settings,
                                          std::chrono::milliseconds timeout);

AtCommandStep toCommandStep(const AtStep& step);
/// A constexpr table of steps, ready to run.
std::vector<AtCommandStep> toCommandSteps(std::span<const AtStep> steps);

/// Turns a module error line into plain words (the driver's explain()).
using Explainer = std::function<std::string(const std::string& error_line)>;

/// The error for a failed command: code from the channel ("at_error", "at_timeout",
/// "at_closed", "at_reset", "at_framing"), message "AT+X: <plain words>". Arguments are never shown
/// (they may be secret).
Error commandError(std::string_view command, const Error& channel_error, const Explainer& explain);

/// A timeout for messages: "5 s", or "1500 ms" when it is not whole seconds.
std::string describeTimeout(std::chrono::milliseconds d);

/// One command's answer as a Status: OK, or its commandError().
Status commandStatus(std::string_view command, const Result<AtResponse>& answer,
                     const Explainer& explain);

/// Runs `steps` one after the other and calls `done` once: OK, or the first Required failure.
void runSteps(AtChannel& at, std::vector<AtCommandStep> steps, Explainer explain,
              std::function<void(Status)> done);

/// A command with a data phase that writes something into the module (a certificate, a file).
struct AtDataStep {
    std::string command;
    AtDataWrite write;
    std::chrono::milliseconds timeout;
    std::string what;  ///< for errors: "writing <what>: AT+X: <plain words>"
};

/// Runs `steps` one after the other and calls `done` once: OK, or the first failure. After each
/// answer `keep_going` is asked; when it says no, the run stops without calling `done`.
void runDataSteps(AtChannel& at, std::vector<AtDataStep> steps, Explainer explain,
                  std::function<bool()> keep_going, std::function<void(Status)> done);

/// Calls `done` with the responses of `commands` in order (each OK or its error), stopping early
/// only when the channel is gone ("at_closed") or silent ("at_timeout" twice in a row).
void runQueries(AtChannel& at, std::vector<AtCommandStep> commands,
                std::function<void(std::vector<Result<AtResponse>>)> done);

/// One-shot waits for result URCs, keyed by line prefix. The driver's URC handlers offer every
/// line here first. Thread: loop.
class ResultUrcs {
  public:
    using Handler = std::function<void(const std::string& line)>;

    /// Waits for the next line that starts with one of `prefixes`; returns an id for cancel().
    /// `on_fail` (optional) hears of failAll().
    uint64_t arm(std::vector<std::string> prefixes, Handler handler,
                 std::function<void(const Error&)> on_fail = {});
    void cancel(uint64_t id);
    /// No result line will come any more (the module restarted): every wait ends, those with
    /// an `on_fail` get `e`.
    void failAll(const Error& e);
    /// Gives `line` to the oldest wait it matches (which is then removed). True when taken.
    bool offer(const std::string& line);
    size_t armed() const { return waits_.size(); }

  private:
    struct Wait {
        std::vector<std::string> prefixes;
        Handler handler;
        std::function<void(const Error&)> on_fail;
    };
    std::map<uint64_t, Wait> waits_;
    uint64_t next_id_ = 1;
};

/// Starts a command (through `issue`) whose outcome is a result URC starting with one of
/// `prefixes` (it may come before or after the final result, or be among the reply's lines).
/// `done` gets that line, or an error: the command failed without a result line, or no result
/// line came within `urc_timeout` after OK ("timeout"). With `accept`, matching lines it
/// refuses (intermediate states such as "+KCNX_IND: 1,4") are skipped.
void commandThenUrc(asio::io_context& loop, std::weak_ptr<ResultUrcs> urcs,
                    std::function<void(AtChannel::Done)> issue, std::string command_name,
                    std::vector<std::string> prefixes, std::chrono::milliseconds urc_timeout,
                    Explainer explain, std::function<void(Result<std::string>)> done,
                    std::function<bool(const std::string&)> accept = nullptr);

/// The usual case of commandThenUrc: a plain command.
void commandThenUrc(asio::io_context& loop, AtChannel& at, std::weak_ptr<ResultUrcs> urcs,
                    const AtCommandStep& step, std::vector<std::string> prefixes,
                    std::chrono::milliseconds urc_timeout, Explainer explain,
                    std::function<void(Result<std::string>)> done,
                    std::function<bool(const std::string&)> accept = nullptr);

/// What the SIM step needs to know and remember between runs.
struct SimPlan {
    std::chrono::milliseconds command_timeout{5000};
    std::chrono::milliseconds busy_retry_interval{1000};
    int busy_retries = 10;  ///< "+CME ERROR: 14" (SIM busy) right after boot
    std::string pin;        ///< secret; empty: none configured
};

/// Remembered across start() runs: a PIN the SIM refused is never sent again (three wrong PINs
/// block the SIM).
struct SimMemory {
    bool pin_rejected = false;
};

/// Checks AT+CPIN?, enters the PIN when asked and one is configured, and fails in plain words
/// for no SIM, a blocked SIM or a missing/refused PIN. `keep_going` is checked before every
/// command; when it says no, the run stops without calling `done`.
void unlockSim(asio::io_context& loop, AtChannel& at, SimPlan plan,
               std::shared_ptr<SimMemory> memory, std::function<bool()> keep_going,
               std::function<void(Status)> done);

/// How registration is awaited: which reads to poll (e.g. "AT+CEREG?" → "+CEREG:"), how often
/// and for how long.
struct RegistrationPlan {
    struct Query {
        std::string command;  ///< "AT+CEREG?"
        std::string prefix;   ///< "+CEREG:"
    };
    std::vector<Query> queries;
    std::chrono::milliseconds command_timeout{5000};
    std::chrono::milliseconds poll_interval{2000};
    std::chrono::milliseconds timeout{180000};
    /// A "denied" that lasts this many polls in a row ends the wait.
    int denied_polls = 3;
};

/// Polls until one of the queries says registered (home or roaming). Errors: "not_registered"
/// (timed out, with the last state), "registration_denied". `keep_going` as for unlockSim.
void waitForRegistration(asio::io_context& loop, AtChannel& at, RegistrationPlan plan,
                         std::function<bool()> keep_going,
                         std::function<void(Result<RegState>)> done);

}  // namespace uplinkd::plugins::modem_common
