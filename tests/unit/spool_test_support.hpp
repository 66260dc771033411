// SPDX-License-Identifier: Apache-2.0
// What the spool unit tests share: a scratch directory for a spool file, running the spool's
// loop until a condition holds, comparing two spools' counters, and the payloads of a list of
// messages. Thread: the test's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "uplinkd/message.hpp"
#include "uplinkd/spool.hpp"

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

/// The counter of `s` named `name` (as in SpoolStats: "depth", "bytes", "oldest_created_ms",
/// "leased", "held", "dropped", "expired", "rejected", "dead_lettered").
inline int64_t statNamed(const SpoolStats& s, std::string_view name) {
    const std::pair<std::string_view, int64_t> counters[] = {
        {"depth", static_cast<int64_t>(s.depth)},
        {"bytes", static_cast<int64_t>(s.bytes)},
        {"oldest_created_ms", s.oldest_created_ms},
        {"leased", static_cast<int64_t>(s.leased)},
        {"held", static_cast<int64_t>(s.held)},
        {"dropped", static_cast<int64_t>(s.dropped)},
        {"expired", static_cast<int64_t>(s.expired)},
        {"rejected", static_cast<int64_t>(s.rejected)},
        {"dead_lettered", static_cast<int64_t>(s.dead_lettered)},
    };
    for (const auto& [counter, value] : counters) {
        if (counter == name) {
            return value;
        }
    }
    ADD_FAILURE() << "SpoolStats has no counter " << name;
    return -1;
}

/// `got` and `want` agree on each counter named in `counters`; a difference names the counter and
/// `where`.
inline void expectSameStats(const SpoolStats& got, const SpoolStats& want,
                            std::initializer_list<std::string_view> counters,
                            const std::string& where) {
    for (const std::string_view counter : counters) {
        EXPECT_EQ(statNamed(got, counter), statNamed(want, counter)) << where << ": " << counter;
    }
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
