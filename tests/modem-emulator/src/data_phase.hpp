// SPDX-License-Identifier: Apache-2.0
// DataPhase: collects the raw bytes that follow a `CONNECT` or `>` prompt. Pure, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace uplinkd::emulator {

/// Collects the payload of one data phase; loop-bound (single thread).
/// Modes: byte-counted (SIMCom `>`), pattern-terminated (HL78 KTCPSND), either one (HL78
/// KCERTSTORE: exactly n bytes, or data ended by the EOF pattern) or Ctrl-Z-terminated (SIMCom
/// CIPSEND without a length; ESC cancels) or escape-terminated (BX310x: `+++` standing alone
/// between two guard-time silences; the owner passes arrival times and calls idle()).
class DataPhase {
  public:
    using Clock = std::chrono::steady_clock;
    enum class Mode { Count, Pattern, CountOrPattern, CtrlZ, Escape };
    enum class Outcome { Pending, Complete, Cancelled, Overflow };

    static DataPhase count(size_t n);
    /// Until `pattern`; more than `cap` bytes without it is an Overflow.
    static DataPhase pattern(std::string pattern, size_t cap);
    /// Ends at `pattern`, or after exactly n bytes (then a pattern that follows is swallowed).
    static DataPhase countOrPattern(size_t n, std::string pattern);
    static DataPhase ctrlZ(size_t cap);
    /// Until the escape `+++`, sent after at least `guard` of silence and followed by at least
    /// `guard` of silence (the silence before it counts from `start`, when the prompt went
    /// out). A `+++` without those pauses is data. More than `cap` bytes is an Overflow.
    static DataPhase escape(size_t cap, std::chrono::milliseconds guard, Clock::time_point start);

    /// Consumes bytes until the phase ends; returns how many of `bytes` it took. `at` is when
    /// they arrived (only the Escape mode looks at it).
    size_t feed(std::string_view bytes, Clock::time_point at = {});
    /// Escape mode: nothing arrived until `now`; ends the phase when a pending `+++` has been
    /// followed by the guard time, and turns a lone `+` or `++` back into data.
    void idle(Clock::time_point now);
    /// Escape mode: when idle() has something to decide (a pending `+` sequence), if ever.
    std::optional<Clock::time_point> wakeAt() const;
    /// CountOrPattern only: true once n bytes are in and only an optional pattern may follow.
    bool inTrailer() const { return trailer_; }
    /// Ends a phase that waits in its trailer (the owner's grace timer expired).
    void finishNow();

    Outcome outcome() const { return outcome_; }
    bool done() const { return outcome_ != Outcome::Pending; }
    Mode mode() const { return mode_; }
    /// The payload: without the pattern / Ctrl-Z.
    const std::string& data() const { return data_; }
    /// The length announced by the command (Count, CountOrPattern).
    size_t expected() const { return expected_; }
    /// True when the phase ended on the pattern (Pattern, CountOrPattern).
    bool endedOnPattern() const { return ended_on_pattern_; }

  private:
    DataPhase(Mode mode, size_t expected, std::string pattern, size_t cap);
    bool endsWithPattern() const;
    void feedEscape(char c, Clock::time_point at);
    void keep(char c);

    Mode mode_;
    size_t expected_;
    std::string pattern_;
    size_t cap_;
    std::string data_;
    Outcome outcome_ = Outcome::Pending;
    bool trailer_ = false;
    size_t trailer_matched_ = 0;
    bool ended_on_pattern_ = false;
    std::chrono::milliseconds guard_{0};  ///< Escape: the silence around `+++`
    Clock::time_point last_{};            ///< Escape: when the last byte (or the prompt) came
    size_t pluses_ = 0;                   ///< Escape: `+` bytes held as a possible escape
};

}  // namespace uplinkd::emulator
