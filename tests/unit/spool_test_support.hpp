// SPDX-License-Identifier: Apache-2.0
// What the spool unit tests share: running the spool's loop until a condition holds, and the
// payloads of a list of messages. Thread: the test's.
#pragma once

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "uplinkd/message.hpp"

namespace uplinkd::testing {

/// Runs `loop` (kept alive by a work guard) until `done` holds; false when `timeout` passed
/// first. It looks at `done` after each handler and at least every `wake` (a commit by the
/// spool's worker shows without a completion on the loop); never sleeps otherwise.
inline bool runLoopUntil(asio::io_context& loop, const std::function<bool()>& done,
                         std::chrono::milliseconds timeout, std::chrono::milliseconds wake) {
    loop.restart();
    auto guard = asio::make_work_guard(loop);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return false;
        }
        loop.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now, wake));
    }
    return true;
}

/// The payloads of `messages`, in order.
inline std::vector<std::string> payloadsOf(const std::vector<Message>& messages) {
    std::vector<std::string> out;
    for (const Message& m : messages) {
        out.push_back(m.payload);
    }
    return out;
}

}  // namespace uplinkd::testing
