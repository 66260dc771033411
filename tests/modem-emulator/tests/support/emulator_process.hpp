// SPDX-License-Identifier: Apache-2.0
// EmulatorProcess: runs uplinkd-modem-emulator as a child process for one test.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace emutest {

/// A temporary directory, removed with its content when its owner goes (move-only). Test thread
/// only.
class TempDir {
  public:
    TempDir();
    /// Empty when the directory could not be made.
    const std::string& path() const { return *path_; }
    std::string file(const std::string& name) const { return *path_ + "/" + name; }

  private:
    /// Removes the directory at the path it is given.
    struct Remove {
        void operator()(std::string* path) const;
    };
    std::unique_ptr<std::string, Remove> path_;
};

/// Spawns the emulator with --link/--control/--log in a temp dir and --ready-fd, waits for
/// "ready", and stops it with SIGTERM on destruction. Test thread only.
class EmulatorProcess {
  public:
    struct Options {
        std::string model = "hl78";
        unsigned long baud = 0;
        std::vector<std::string> extra;
    };

    explicit EmulatorProcess(Options opts);
    ~EmulatorProcess();
    EmulatorProcess(const EmulatorProcess&) = delete;
    EmulatorProcess& operator=(const EmulatorProcess&) = delete;

    /// Empty when the emulator started and said "ready"; else why not.
    const std::string& startError() const { return error_; }
    std::string ttyPath() const { return dir_.file("ttyEMU"); }
    std::string controlPath() const { return dir_.file("control.sock"); }
    std::string logPath() const { return dir_.file("trace.log"); }
    /// Sends one control line, returns the reply line (without newline); "" on failure.
    std::string control(const std::string& line) const;
    /// SIGTERM and wait; returns the exit status (-1 when it did not exit normally).
    int stop();

  private:
    TempDir dir_;
    pid_t pid_ = -1;
    std::string error_;
};

}  // namespace emutest
