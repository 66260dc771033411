// SPDX-License-Identifier: Apache-2.0
// uplinkd-modem-emulator: presents a pty that behaves like a cellular module's UART.
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <string>

#include "emulator.hpp"

int main(int argc, char** argv) {
    using uplinkd::emulator::Emulator;
    using uplinkd::emulator::EmulatorConfig;

    EmulatorConfig cfg;
    int ready_fd = -1;
    CLI::App app{
        "uplinkd-modem-emulator: a pseudo-terminal that answers AT commands like a Sierra "
        "HL78xx or a SIMCom A76xx module and opens real TCP/TLS connections on the host."};
    app.add_option("--model", cfg.model, "Module to emulate")
        ->check(CLI::IsMember({"hl78", "a76xx", "bg9x", "bx310x", "spwf04s"}))
        ->capture_default_str();
    app.add_option("--variant", cfg.variant,
                   "Model name reported by AT+CGMM/ATI (default HL7802 / A7670E-LASE / BG96 / "
                   "BX3105; bg9x: BG96 or BG95-M3; BX3105-OLD: the older BX firmware's "
                   "+KMQTTSUB: form)");
    app.add_option("--link", cfg.link, "Create a symlink at PATH pointing to the pty slave");
    app.add_option("--baud", cfg.baud, "Line rate in bit/s, 10 bits per byte; 0 = unthrottled")
        ->capture_default_str();
    app.add_option("--control", cfg.control, "UNIX stream socket for control commands");
    app.add_option("--log", cfg.log, "AT trace file (appended)");
    app.add_option("--boot-ms", cfg.boot_ms, "Time from power-on to the boot URCs")
        ->capture_default_str();
    app.add_option("--register-ms", cfg.register_ms,
                   "Time from the boot URCs (or radio on) to network registration")
        ->capture_default_str();
    app.add_option("--bearer-ms", cfg.bearer_ms,
                   "Time the bearer takes to come up (HL78 KCNXUP/KTCPCNX, A76xx NETOPEN)")
        ->capture_default_str();
    app.add_option("--max-sessions", cfg.max_sessions, "HL78: KTCPCFG sessions that can exist")
        ->check(CLI::Range(1, 32))
        ->capture_default_str();
    app.add_option("--tls-fail-ms", cfg.tls_fail_ms,
                   "A76xx: delay before AT+CMQTTCONNECT reports a failed TLS handshake (32)")
        ->check(CLI::Range(0, 600000))
        ->capture_default_str();
    app.add_option("--ready-fd", ready_fd,
                   "Write \"ready\\n\" to this file descriptor once the pty and control socket "
                   "exist, then close it");
    bool exit_with_parent = false;
    app.add_flag("--exit-with-parent", exit_with_parent,
                 "Get SIGTERM when the parent process dies (for test harnesses)");
    CLI11_PARSE(app, argc, argv);

    if (exit_with_parent) {
        pid_t parent = getppid();
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            return 0;  // the parent died before prctl took effect
        }
    }

    // A client closing its end of a control connection must not kill us.
    std::signal(SIGPIPE, SIG_IGN);

    asio::io_context io;
    Emulator emulator(io, cfg);
    if (auto err = emulator.start(); !err.empty()) {
        std::fprintf(stderr, "uplinkd-modem-emulator: %s\n", err.c_str());
        return 1;
    }
    std::fprintf(stderr, "uplinkd-modem-emulator: %s on %s%s%s\n", cfg.model.c_str(),
                 emulator.slavePath().c_str(), cfg.link.empty() ? "" : " linked at ",
                 cfg.link.c_str());

    asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec) {
            emulator.stop();
            io.stop();
        }
    });

    if (ready_fd >= 0) {
        const char msg[] = "ready\n";
        ssize_t n = ::write(ready_fd, msg, sizeof(msg) - 1);
        (void)n;
        ::close(ready_fd);
    }
    io.run();
    // Let the cancelled operations finish (bounded) so every socket is released in order.
    io.restart();
    io.run_for(std::chrono::milliseconds(500));
    return 0;
}
