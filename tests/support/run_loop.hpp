// SPDX-License-Identifier: Apache-2.0
// Running a test's own io_context: until a condition holds (with a deadline), or until nothing is
// ready any more. For tests that drive daemon objects or drivers on their thread. Thread: the
// test's.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <thread>

namespace uplinkd::testing {

/// Runs `loop` until `done()` holds or `timeout` passes; true when it holds.
inline bool runUntil(asio::io_context& loop, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        loop.restart();
        if (loop.run_one_for(std::chrono::milliseconds(10)) == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    return true;
}

/// Runs the handlers that are ready now (and those they post), without waiting.
inline void drain(asio::io_context& loop) {
    for (;;) {
        loop.restart();
        if (loop.poll() == 0) {
            return;
        }
    }
}

}  // namespace uplinkd::testing
