// SPDX-License-Identifier: Apache-2.0
#include "core/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

#include "uplinkd/log.hpp"

namespace uplinkd {

ServiceNotifier::ServiceNotifier(asio::io_context& loop) : watchdog_timer_(loop) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && socket[0] != '\0';
    uint64_t usec = 0;
    // unset_environment=1: WATCHDOG_USEC/WATCHDOG_PID are for this process, not its children.
    const int r = sd_watchdog_enabled(1, &usec);
    if (r > 0 && usec > 0) {
        watchdog_interval_ = std::chrono::microseconds(usec);
    } else if (r < 0) {
        logWarning(std::string("systemd watchdog: bad WATCHDOG_USEC/WATCHDOG_PID (") +
                   std::strerror(-r) + "), not pinging it");
    }
}

ServiceNotifier::~ServiceNotifier() {
    alive_.reset();
    watchdog_timer_.cancel();
}

void ServiceNotifier::ready() {
    send(last_status_.empty() ? "READY=1" : "READY=1\nSTATUS=" + last_status_);
}

void ServiceNotifier::reloading() {
    send("RELOADING=1");
}

void ServiceNotifier::stopping() {
    watchdog_timer_.cancel();
    send("STOPPING=1");
}

void ServiceNotifier::status(const std::string& text) {
    if (text == last_status_) {
        return;
    }
    last_status_ = text;
    send("STATUS=" + text);
}

void ServiceNotifier::startWatchdog() {
    if (!enabled_ || watchdog_interval_.count() == 0) {
        return;
    }
    logDebug("systemd watchdog: pinging every " +
             std::to_string(watchdog_interval_.count() / 2000) + " ms");
    send("WATCHDOG=1");
    scheduleWatchdog();
}

void ServiceNotifier::scheduleWatchdog() {
    watchdog_timer_.expires_after(watchdog_interval_ / 2);
    std::weak_ptr<bool> alive = alive_;
    watchdog_timer_.async_wait([this, alive](asio::error_code ec) {
        if (ec || alive.expired()) {
            return;
        }
        send("WATCHDOG=1");
        scheduleWatchdog();
    });
}

void ServiceNotifier::send(const std::string& state) {
    if (!enabled_) {
        return;
    }
    if (const int r = sd_notify(0, state.c_str()); r < 0) {
        logDebug("sd_notify failed: " + std::string(std::strerror(-r)) + ", ignoring");
    }
}

}  // namespace uplinkd
