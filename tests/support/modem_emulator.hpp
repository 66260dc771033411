// ModemEmulator: uplinkd-modem-emulator as a child process for one test: a pty linked at a path
// in the test's directory, its control socket, and its AT trace (printed when the test failed).
// Started with --ready-fd, so nothing sleeps. Thread: the test's.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "test_env.hpp"

namespace uplinkd::testing {

class ModemEmulator {
  public:
    /// `model` is "hl78" or "a76xx"; `baud` 0 means unthrottled.
    ModemEmulator(const TempDir& dir, const std::string& model, unsigned baud = 115200);
    ~ModemEmulator();
    ModemEmulator(const ModemEmulator&) = delete;
    ModemEmulator& operator=(const ModemEmulator&) = delete;

    /// The serial device to give to uplinkd (a symlink to the pty).
    const std::string& device() const { return device_; }
    const std::string& controlSocket() const { return control_; }
    /// Sends one control line ("fault silent", "reset", ...) and returns the reply line.
    std::string control(const std::string& line) const;
    /// The "status" JSON (bytes_in, bytes_out, silent, powered, ...).
    nlohmann::json status() const;
    std::string trace() const { return readFile(trace_); }

  private:
    std::string device_;
    std::string control_;
    std::string trace_;
    std::unique_ptr<Process> process_;
};

}  // namespace uplinkd::testing
