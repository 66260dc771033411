// SPDX-License-Identifier: Apache-2.0
#include "pacer.hpp"

#include <algorithm>

namespace uplinkd::emulator {

Pacer::Pacer(unsigned long baud) : bytes_per_second_(static_cast<double>(baud) / 10.0) {}

size_t Pacer::chunk(size_t fallback) const {
    if (unlimited()) {
        return fallback;
    }
    return std::max<size_t>(1, static_cast<size_t>(bytes_per_second_ / 100.0));
}

Pacer::Clock::time_point Pacer::account(size_t n, Clock::time_point now) {
    if (unlimited()) {
        return now;
    }
    auto start = std::max(next_free_, now);
    auto busy = std::chrono::duration<double>(static_cast<double>(n) / bytes_per_second_);
    next_free_ = start + std::chrono::duration_cast<Clock::duration>(busy);
    return next_free_;
}

}  // namespace uplinkd::emulator
