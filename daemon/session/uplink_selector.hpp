// SPDX-License-Identifier: Apache-2.0
// UplinkSelector: which of a route's uplinks carries it, how the others are doing (healthy
// standby or failing, with the reason and the last probe), the order in which to dial them,
// when to probe the preferred ones and when to fail back, and the last switches. Pure: every
// time is passed in (steady clock, ms). Thread: loop.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace uplinkd {

/// Bytes through one uplink's streams (the connection and the probes), and when the last byte
/// came in. Thread: loop.
struct UplinkTraffic {
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    int64_t last_received_ms = 0;  ///< steady clock; 0: nothing yet
};

class UplinkSelector {
  public:
    struct Settings {
        int64_t failover_after_ms = 30000;  ///< silence on the active uplink that means "dead"
        int64_t failback_hold_ms = 60000;   ///< a preferred uplink healthy this long: move back
        int64_t probe_interval_ms = 10000;  ///< first probe interval of a preferred uplink
        int64_t probe_max_ms = 300000;      ///< probe back-off cap while it keeps failing
    };
    enum class State { Active, Standby, Failing };
    struct Entry {
        std::string name;
        State state = State::Standby;
        std::string reason;            ///< why it is failing; empty otherwise
        int64_t last_probe_ms = 0;     ///< steady clock; 0: never probed
        int64_t healthy_since_ms = 0;  ///< first of the consecutive good probes; 0: none
        int64_t next_probe_ms = 0;
        int probe_failures = 0;  ///< consecutive, for the back-off
        std::shared_ptr<UplinkTraffic> traffic = std::make_shared<UplinkTraffic>();
    };
    struct Switch {
        int64_t at_ms = 0;  ///< steady clock
        std::string from, to, reason;
    };
    static constexpr size_t kHistory = 10;

    UplinkSelector(std::vector<std::string> names, Settings settings);

    const Settings& settings() const { return settings_; }
    const std::vector<Entry>& entries() const { return entries_; }
    const std::deque<Switch>& history() const { return history_; }
    std::shared_ptr<UplinkTraffic> traffic(size_t index) { return entries_.at(index).traffic; }
    std::optional<size_t> active() const { return active_; }

    /// Uplinks to try, in order: those not failing by preference, then the failing ones.
    std::vector<size_t> dialOrder() const;
    /// Dialing over `index` failed (no stream, no TLS).
    void dialFailed(size_t index, const std::string& reason, int64_t now_ms);
    /// The route is online over `index`. A change of uplink is recorded with `reason` (or the
    /// reason the previous one failed).
    void connected(size_t index, int64_t now_ms);
    /// The active uplink went away (lost, silent, interface down): it is failing with `reason`.
    void lost(const std::string& reason, int64_t now_ms);
    /// The connection is dropped on purpose (fail-back): the active uplink becomes standby.
    void leaving(const std::string& reason);
    /// The interface of `index` went down or up (netlink).
    void linkChanged(size_t index, bool up, const std::string& reason, int64_t now_ms);

    /// Whether the active uplink has received nothing for failover_after_ms.
    bool silent(int64_t now_ms) const;
    /// Preferred uplinks (before the active one) whose probe is due.
    std::vector<size_t> probesDue(int64_t now_ms) const;
    void probeStarted(size_t index, int64_t now_ms);
    void probeResult(size_t index, bool ok, const std::string& reason, int64_t now_ms);
    /// A preferred uplink that has been healthy for the hold-down time, if any.
    std::optional<size_t> failbackCandidate(int64_t now_ms) const;
    /// When the next probe is due (steady ms), or nullopt when none is needed.
    std::optional<int64_t> nextProbeAt() const;

    static const char* stateName(State s);

  private:
    Settings settings_;
    std::vector<Entry> entries_;
    std::optional<size_t> active_;
    std::optional<size_t> previous_;  ///< the last active one, for the switch history
    std::string switch_reason_;       ///< why the previous one was left
    std::deque<Switch> history_;
};

}  // namespace uplinkd
