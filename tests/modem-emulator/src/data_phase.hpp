// DataPhase: collects the raw bytes that follow a `CONNECT` or `>` prompt. Pure, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace uplinkd::emulator {

/// Collects the payload of one data phase; loop-bound (single thread).
/// Modes: byte-counted (SIMCom `>`), pattern-terminated (HL78 KTCPSND), either one (HL78
/// KCERTSTORE: exactly n bytes, or data ended by the EOF pattern) or Ctrl-Z-terminated (SIMCom
/// CIPSEND without a length; ESC cancels).
class DataPhase {
  public:
    enum class Mode { Count, Pattern, CountOrPattern, CtrlZ };
    enum class Outcome { Pending, Complete, Cancelled, Overflow };

    static DataPhase count(size_t n);
    /// Until `pattern`; more than `cap` bytes without it is an Overflow.
    static DataPhase pattern(std::string pattern, size_t cap);
    /// Ends at `pattern`, or after exactly n bytes (then a pattern that follows is swallowed).
    static DataPhase countOrPattern(size_t n, std::string pattern);
    static DataPhase ctrlZ(size_t cap);

    /// Consumes bytes until the phase ends; returns how many of `bytes` it took.
    size_t feed(std::string_view bytes);
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

    Mode mode_;
    size_t expected_;
    std::string pattern_;
    size_t cap_;
    std::string data_;
    Outcome outcome_ = Outcome::Pending;
    bool trailer_ = false;
    size_t trailer_matched_ = 0;
    bool ended_on_pattern_ = false;
};

}  // namespace uplinkd::emulator
