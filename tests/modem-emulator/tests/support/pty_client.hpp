// SPDX-License-Identifier: Apache-2.0
// PtyClient: the test's side of the serial line, opened and configured like a driver would.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emutest {

using namespace std::chrono_literals;

/// Opens the emulator's device (raw termios, 115200 8N1), writes raw bytes and reads with
/// deadlines. It parses nothing beyond finding literal byte strings. Test thread only.
class PtyClient {
  public:
    explicit PtyClient(const std::string& path);
    ~PtyClient();
    PtyClient(const PtyClient&) = delete;
    PtyClient& operator=(const PtyClient&) = delete;

    bool isOpen() const { return fd_ >= 0; }
    /// Writes every byte (waits while the pty is full).
    bool write(std::string_view bytes);
    /// Returns everything up to and including the first `token`, and consumes it.
    std::optional<std::string> readUntil(std::string_view token,
                                         std::chrono::milliseconds timeout = 5s);
    /// Like readUntil, for whichever token comes first.
    std::optional<std::string> readUntilAny(const std::vector<std::string>& tokens,
                                            std::chrono::milliseconds timeout = 5s);
    /// Exactly n bytes.
    std::optional<std::string> readExactly(size_t n, std::chrono::milliseconds timeout = 5s);
    /// Whatever arrives within `window` (used to check that nothing comes).
    std::string readFor(std::chrono::milliseconds window);
    /// Sends "<cmd>\r" and reads up to the final result ("\r\nOK\r\n", "\r\nERROR\r\n", "+CME
    /// ERROR: <n>\r\n"); returns everything read, or nullopt on timeout.
    std::optional<std::string> command(const std::string& cmd,
                                       std::chrono::milliseconds timeout = 5s);

  private:
    bool fill(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buf_;
};

}  // namespace emutest
