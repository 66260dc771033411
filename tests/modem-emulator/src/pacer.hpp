// SPDX-License-Identifier: Apache-2.0
// Pacer: spaces byte transfers out to a line rate (the emulated UART speed). Pure, no I/O.
#pragma once

#include <chrono>
#include <cstddef>

namespace uplinkd::emulator {

/// Paces one direction of the line to the baud rate; loop-bound (single thread).
/// Every transfer of n bytes occupies the line for n / rate seconds; the next transfer may start
/// when the line is free again.
class Pacer {
  public:
    using Clock = std::chrono::steady_clock;

    /// `baud` in bits per second, 10 bits per byte (8N1); 0 means unlimited.
    explicit Pacer(unsigned long baud);

    bool unlimited() const { return bytes_per_second_ == 0.0; }
    double bytesPerSecond() const { return bytes_per_second_; }
    /// How many bytes to move at once: about 10 ms of line time (at least 1), or `fallback`.
    size_t chunk(size_t fallback) const;
    /// Records n bytes moved, starting at `now`; returns when the line is free again.
    Clock::time_point account(size_t n, Clock::time_point now);
    /// When the line is free again.
    Clock::time_point nextFree() const { return next_free_; }

  private:
    double bytes_per_second_;
    Clock::time_point next_free_{};
};

}  // namespace uplinkd::emulator
