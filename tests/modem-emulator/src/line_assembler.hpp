// SPDX-License-Identifier: Apache-2.0
// LineAssembler: turns command-mode bytes into AT command lines. Pure, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace uplinkd::emulator {

/// Assembles command-mode bytes into AT command lines; loop-bound (single thread).
/// It waits for "AT" (any case), then takes bytes up to CR. Junk before "AT" is dropped, LF and
/// other control bytes inside a line are ignored, backspace deletes, "A/" repeats the last line.
class LineAssembler {
  public:
    enum class Status { None, Line, TooLong };
    struct Result {
        Status status = Status::None;
        std::string body;  ///< the text after "AT", without the CR
    };

    explicit LineAssembler(size_t max_line = 4096) : max_line_(max_line) {}

    /// Feeds one byte; a Result with status Line carries a completed command body.
    Result feed(char c);
    /// Forgets a partial line (after a reboot).
    void reset();
    /// True while a line has started ("AT" seen) and not ended.
    bool inLine() const { return state_ == State::InLine || state_ == State::Overflow; }
    /// Bytes dropped outside a command line since the last call (CR and LF not counted), then 0.
    size_t takeDropped() {
        size_t n = dropped_;
        dropped_ = 0;
        return n;
    }

  private:
    enum class State { Idle, SawA, InLine, Overflow };
    State state_ = State::Idle;
    std::string body_;
    std::string last_;
    size_t max_line_;
    size_t dropped_ = 0;
};

}  // namespace uplinkd::emulator
