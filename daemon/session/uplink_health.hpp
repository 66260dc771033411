// SPDX-License-Identifier: Apache-2.0
// UplinkHealth: the I/O around a route's UplinkSelector: notices that the active uplink died
// (nothing received for failover_after_ms, its interface down or without carrier), probes the
// preferred uplinks while a lower one carries the route (TCP and TLS handshake to the broker
// over that uplink) and says when to fail back. Only for routes with several uplinks.
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "session/uplink_selector.hpp"
#include "uplink/counting_stream.hpp"
#include "uplink/link_monitor.hpp"
#include "uplink/uplink.hpp"

namespace uplinkd {

class TlsContext;

/// Milliseconds on the steady clock (the UplinkSelector's time).
int64_t steadyNowMs();
/// Counts a stream's bytes into `traffic` (and when the last byte came in).
TrafficSink trafficSink(std::shared_ptr<UplinkTraffic> traffic);

class UplinkHealth {
  public:
    struct Events {
        /// The active uplink is dead: plain words why.
        std::function<void(const std::string& reason)> dead;
        /// Preferred uplink `index` has been healthy for the hold-down time.
        std::function<void(size_t index)> failback;
    };
    UplinkHealth(asio::io_context& loop, const RouteConfig& config, std::vector<Uplink*> uplinks,
                 UplinkSelector& selector, Events events);
    ~UplinkHealth();
    UplinkHealth(const UplinkHealth&) = delete;
    UplinkHealth& operator=(const UplinkHealth&) = delete;

    /// The route is online over the selector's active uplink: watch it, probe the preferred.
    void online();
    /// The route is not online: stop watching and probing.
    void offline();

  private:
    struct Probe;
    void watch();
    void scheduleProbes();
    void probe(size_t index);
    void onProbeDone(size_t index, bool ok, const std::string& reason);
    void onLink(const LinkEvent& ev);

    asio::io_context& loop_;
    const RouteConfig& config_;
    std::vector<Uplink*> uplinks_;
    UplinkSelector& selector_;
    Events events_;
    std::shared_ptr<TlsContext> tls_;  ///< for probes; null when the broker has no TLS
    LinkMonitor links_;
    asio::steady_timer watch_timer_;
    asio::steady_timer probe_timer_;
    bool online_ = false;
    std::vector<std::shared_ptr<Probe>> probes_;  ///< running, by uplink (null when none)
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
