// SPDX-License-Identifier: Apache-2.0
// TraceLog: the AT trace file (--log): one line per command, response, URC or data phase.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <string_view>

namespace uplinkd::emulator {

/// Writes the AT trace file; loop-bound (single thread).
/// Timestamped lines: "> " what the host sent, "< " what the module answered, "! " URCs, "# "
/// events. Data phases are logged by length only. A closed log ignores everything.
class TraceLog {
  public:
    /// Opens (appends to) `path`; returns false when it cannot.
    bool open(const std::string& path);
    bool isOpen() const { return out_.is_open(); }
    void in(std::string_view text) { line('>', text); }
    void out(std::string_view text) { line('<', text); }
    void urc(std::string_view text) { line('!', text); }
    void note(std::string_view text) { line('#', text); }

  private:
    void line(char dir, std::string_view text);

    std::ofstream out_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Printable form of a line: control bytes as \r, \n, \xNN.
std::string printable(std::string_view text);

}  // namespace uplinkd::emulator
