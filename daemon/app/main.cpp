// SPDX-License-Identifier: Apache-2.0
// uplinkd: the gateway daemon. Runs in the foreground, logs to stderr with syslog prefixes.
#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "app/daemon.hpp"
#include "config/config_checks.hpp"
#include "core/service_notifier.hpp"
#include "plugin/plugin_registry.hpp"
#include "uplinkd/log.hpp"

namespace {
constexpr int kExitConfig = 78;  // EX_CONFIG: systemd does not restart on it
// EX_TEMPFAIL: another uplinkd uses the state directory. Not a configuration error: once the
// other one stops, starting again works.
constexpr int kExitLocked = 75;
constexpr const char* kDefaultConfig = "/etc/uplinkd/uplinkd.toml";

// For tests only: UPLINKD_TEST_STALL_LOOP_AFTER_MS=N blocks the event loop N ms after the start,
// for good, so a test can see that a stuck loop stops the watchdog pings. Never set it in
// production: the daemon then does nothing until it is killed.
void armTestStall(asio::steady_timer& timer, uplinkd::ServiceNotifier& notifier) {
    const char* after = std::getenv("UPLINKD_TEST_STALL_LOOP_AFTER_MS");
    if (after == nullptr || after[0] == '\0') {
        return;
    }
    timer.expires_after(std::chrono::milliseconds(std::strtoll(after, nullptr, 10)));
    timer.async_wait([&notifier](asio::error_code ec) {
        if (ec) {
            return;
        }
        uplinkd::logWarning("test hook UPLINKD_TEST_STALL_LOOP_AFTER_MS: blocking the event loop");
        notifier.status("test hook: event loop stalled");
        for (;;) {
            std::this_thread::sleep_for(std::chrono::hours(1));
        }
    });
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"uplinkd: stores local messages durably and delivers them to a cloud MQTT broker"};
    uplinkd::ConfigSource source;
    source.main_file = kDefaultConfig;
    std::string check_file;
    app.add_option("-c,--config", source.main_file, "configuration file")->capture_default_str();
    auto* check = app.add_option("--check-config", check_file,
                                 "validate the configuration (this file, or --config) and exit")
                      ->expected(0, 1);
    app.add_option(
        "--set", source.overrides,
        "override a setting: KEY=VALUE in TOML syntax, e.g. routes.demo.cloud.port=8883");
    app.add_option("--conf-dir", source.dropin_dir,
                   "drop-in directory read after the main file (default: conf.d beside it)");
    app.add_option("--plugin-dir", source.plugin_dir_override, "directory of plugin modules");
    uplinkd::DaemonOptions options;
    options.dbus = "system";
    app.add_option("--dbus", options.dbus,
                   "D-Bus API: system, session, none, or a bus address (unix:path=...); when the "
                   "bus cannot be reached uplinkd runs without it")
        ->capture_default_str();
    std::string log_target = "auto";
    app.add_option("--log-target", log_target,
                   "where log lines go: auto (the journal when stderr is the journal's stream), "
                   "journal (structured fields, docs/journal.md) or stderr (\"<N>\" prefixes)")
        ->check(CLI::IsMember({"auto", "journal", "stderr"}))
        ->capture_default_str();
    app.set_version_flag("--version", std::string("uplinkd ") + UPLINKD_VERSION);
    CLI11_PARSE(app, argc, argv);

    // Paho 1.3.12 silently uses these for every connection; uplinkd sets its own proxy.
    ::unsetenv("http_proxy");
    ::unsetenv("https_proxy");
    ::unsetenv("HTTP_PROXY");
    ::unsetenv("HTTPS_PROXY");
    std::signal(SIGPIPE, SIG_IGN);
    if (log_target == "journal" || (log_target == "auto" && uplinkd::stderrIsJournal())) {
        uplinkd::setLogTarget(uplinkd::LogTarget::Journal);
    }

    if (check->count() > 0) {
        if (!check_file.empty()) {
            source.main_file = check_file;
        }
        uplinkd::PluginRegistry plugins;
        auto cfg = uplinkd::loadConfig(source, plugins);
        if (!cfg) {
            std::cerr << cfg.error().message;
            return kExitConfig;
        }
        // What start-up would refuse on this host is not OK either.
        if (auto st = uplinkd::checkHost(*cfg); !st) {
            std::cerr << st.error().message;
            return kExitConfig;
        }
        std::cout << "configuration OK: ";
        for (size_t i = 0; i < cfg->files.size(); ++i) {
            std::cout << (i ? ", " : "") << cfg->files[i];
        }
        std::cout << "; " << cfg->routes.size() << " route(s)\n";
        return 0;
    }

    asio::io_context loop;
    // Watchdog pings come from a loop timer: a stuck loop stops them and systemd restarts us.
    uplinkd::ServiceNotifier notifier(loop);
    notifier.startWatchdog();
    if (notifier.enabled()) {
        options.status_changed = [&notifier](const std::string& line) { notifier.status(line); };
    }
    uplinkd::Daemon daemon(loop, source, options);
    // Signals are caught from before the socket exists: a SIGTERM that comes as soon as the
    // socket answers waits for the loop instead of killing the process.
    asio::signal_set signals(loop, SIGINT, SIGTERM, SIGHUP);
    std::function<void(asio::error_code, int)> on_signal = [&](asio::error_code ec, int sig) {
        if (ec) {
            return;
        }
        if (sig == SIGHUP) {
            uplinkd::logNotice("SIGHUP: reloading the configuration");
            notifier.reloading();
            daemon.reload();
            notifier.ready();
            signals.async_wait(on_signal);
            return;
        }
        uplinkd::logNotice("stopping");
        notifier.stopping();
        daemon.stop();
        loop.stop();
    };
    signals.async_wait(on_signal);
    if (auto st = daemon.start(); !st) {
        if (st.error().code == "config") {
            uplinkd::logError("invalid configuration, not starting:\n" + st.error().message);
            return kExitConfig;
        }
        if (st.error().code == "locked") {
            uplinkd::logError("not starting: " + st.error().message);
            return kExitLocked;
        }
        uplinkd::logError("cannot start: " + st.error().message);
        return 1;
    }
    // Configuration loaded, routes started, socket (and D-Bus name) up.
    notifier.ready();
    asio::steady_timer stall_timer(loop);
    armTestStall(stall_timer, notifier);
    loop.run();
    return 0;
}
