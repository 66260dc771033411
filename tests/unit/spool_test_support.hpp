// SPDX-License-Identifier: Apache-2.0
// What the spool unit tests share: a scratch directory for a spool file, running the spool's
// loop until a condition holds, and the payloads of a list of messages. Thread: the test's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "uplinkd/message.hpp"

namespace uplinkd::testing {

/// A fresh directory under the system's temporary directory, removed (whatever a test did to
/// its permissions) when it goes.
class ScratchDir {
  public:
    explicit ScratchDir(const std::string& prefix) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX")).string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp failed";
        }
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

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
