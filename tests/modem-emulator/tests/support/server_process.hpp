// SPDX-License-Identifier: Apache-2.0
// Child processes of the emulator tests: starting one (posix_spawn), stopping it (SIGTERM with
// a bounded wait), and ServerProcess, a helper server (Mosquitto, HAProxy) on a free port of
// 127.0.0.1 for one test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support/emulator_process.hpp"

namespace emutest {

/// Where a child's output goes and which of the test's fds it gets.
struct ChildIo {
    std::string output_file;  ///< stdout and stderr go to this file (truncated); "": inherited
    int ready_fd = -1;        ///< >= 0: becomes the child's fd 3
};

/// Starts `args` (args[0]: the program's path) with posix_spawn; its pid, or -1 and `error`.
pid_t spawnChild(std::vector<std::string> args, const ChildIo& io, std::string& error);

/// SIGTERM, then waits up to 10 s (SIGKILL after that); `pid` becomes -1. Returns the exit
/// status, -1 when it did not exit normally, -2 when it had to be killed.
int stopChild(pid_t& pid);

/// A TCP port of 127.0.0.1 that was free a moment ago; 0 if none could be had.
uint16_t freeLoopbackPort();

/// Whether something accepts TCP connections on 127.0.0.1:`port` now.
bool acceptsOnLoopback(uint16_t port);

/// A helper server run as a child process for one test, in its own temporary directory, on a
/// free port of 127.0.0.1, its output in a log; SIGTERM on destruction. Test thread only.
class ServerProcess {
  public:
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    /// Empty when the server listens; else why not.
    const std::string& startError() const { return error_; }
    uint16_t port() const { return port_; }
    /// What the server wrote to stdout and stderr.
    std::string log() const;

  protected:
    /// `name` is the server's name in start errors.
    explicit ServerProcess(std::string name);

    /// Picks a free port for the next run(); false (and startError) when there is none.
    bool pickPort();
    /// Starts `args` (args[0]: the program) and waits up to `limit` until it accepts
    /// connections on port(); false (and startError) when it exited or did not listen.
    bool run(std::vector<std::string> args, std::chrono::seconds limit);
    /// Stops the server if it runs.
    void stop();

    TempDir dir_;
    std::string error_;

  private:
    std::string name_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
};

}  // namespace emutest
