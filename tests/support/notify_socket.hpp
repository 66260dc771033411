// SPDX-License-Identifier: Apache-2.0
// NotifySocket: the service manager's end of the systemd notify protocol, for the tests and
// benchmarks that start uplinkd as systemd does for Type=notify (NOTIFY_SOCKET=path()): a UNIX
// datagram socket bound at a path, read line by line. Thread: one at a time (the test's, or the
// one reader thread of a benchmark).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace uplinkd::testing {

class NotifySocket {
  public:
    /// Binds the socket at `path` (fails the test when it cannot: see ok()).
    explicit NotifySocket(std::string path);
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    bool ok() const { return bound_; }
    const std::string& path() const { return path_; }

    /// The next line ("READY=1", "STATUS=..."), or nothing when none comes within `timeout`.
    std::optional<std::string> next(std::chrono::milliseconds timeout);
    /// Reads lines until `wanted` comes; false when it does not within `timeout`.
    bool waitFor(const std::string& wanted, std::chrono::milliseconds timeout);
    /// Everything read so far, for failure messages.
    std::string seen() const;

  private:
    std::string path_;
    int fd_ = -1;
    bool bound_ = false;
    std::vector<std::string> lines_;
    std::vector<std::string> seen_;
};

}  // namespace uplinkd::testing
