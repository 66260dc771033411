// SPDX-License-Identifier: Apache-2.0
// Emulator: puts the pieces together: pty, module model, certificate store, trace, control.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>

#include "cert_store.hpp"
#include "control_server.hpp"
#include "modem.hpp"
#include "pty_port.hpp"
#include "trace_log.hpp"

namespace uplinkd::emulator {

/// Command-line settings.
struct EmulatorConfig {
    std::string model = "hl78";  ///< "hl78", "a76xx", "bg9x", "bx310x" or "spwf04s"
    std::string variant;
    std::string link;
    std::string control;
    std::string log;
    unsigned long baud = 115200;
    unsigned boot_ms = 100;
    unsigned register_ms = 300;
    unsigned bearer_ms = 100;
    int max_sessions = 6;
    unsigned tls_fail_ms = 20000;  ///< A76xx MQTT: delay of the handshake-failure report
};

/// Owns the emulated module, its pty and its control socket; loop-bound (single thread).
/// `start` opens everything, `stop` closes it (symlink and socket file removed).
class Emulator {
  public:
    Emulator(asio::io_context& io, EmulatorConfig cfg);
    ~Emulator();
    Emulator(const Emulator&) = delete;
    Emulator& operator=(const Emulator&) = delete;

    /// Returns an empty string on success, else what went wrong.
    std::string start();
    void stop();
    const std::string& slavePath() const { return port_.slavePath(); }
    /// Runs one control command; returns the reply line (without newline).
    std::string control(const std::string& line);

  private:
    asio::io_context& io_;
    EmulatorConfig cfg_;
    TraceLog log_;
    CertStore certs_;
    PtyPort port_;
    std::unique_ptr<Modem> modem_;
    ControlServer control_;
};

}  // namespace uplinkd::emulator
