// SPDX-License-Identifier: Apache-2.0
// ServiceNotifier: tells systemd how the service is doing (sd_notify READY, RELOADING, STOPPING,
// STATUS) and pings the watchdog from an event-loop timer, so a stuck loop stops the pings and
// gets restarted. Does nothing when NOTIFY_SOCKET is unset. Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace uplinkd {

class ServiceNotifier {
  public:
    explicit ServiceNotifier(asio::io_context& loop);
    ~ServiceNotifier();
    ServiceNotifier(const ServiceNotifier&) = delete;
    ServiceNotifier& operator=(const ServiceNotifier&) = delete;

    /// True when something listens for notifications (NOTIFY_SOCKET is set).
    bool enabled() const { return enabled_; }
    /// The watchdog interval the service manager asked for; zero when the watchdog is off.
    std::chrono::microseconds watchdogInterval() const { return watchdog_interval_; }

    /// READY=1: the configuration is loaded and the APIs are listening (also after a reload).
    void ready();
    /// RELOADING=1: a reload started; ready() ends it.
    void reloading();
    /// STOPPING=1
    void stopping();
    /// STATUS=<text>, sent only when the text changed.
    void status(const std::string& text);
    /// Starts WATCHDOG=1 pings at half the interval, when the watchdog is enabled.
    void startWatchdog();

  private:
    void send(const std::string& state);
    void scheduleWatchdog();

    asio::steady_timer watchdog_timer_;
    bool enabled_ = false;
    std::chrono::microseconds watchdog_interval_{0};
    std::string last_status_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
