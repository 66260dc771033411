// SPDX-License-Identifier: Apache-2.0
// InflightWindow: how many messages a route keeps in flight, chosen from the measured round trip
// (publish → PUBACK, or → written for QoS 0) by a delay-based controller in the manner of TCP
// Vegas: once per round (a window's worth of acknowledgements) the window grows while the
// smoothed round trip stays near the smallest one seen lately (the link is not queueing), holds
// in between, and shrinks when it rises well above it (messages wait in a queue somewhere).
// A configured window stays fixed. Pure: the caller passes the times. Thread: loop.
#pragma once

#include <cstdint>

namespace uplinkd {

struct InflightWindowSettings {
    int min_window = 8;
    int max_window = 1024;
    int initial_window = 32;
    /// Round-trip rises below this are noise, not a queue worth shrinking for: a busy board
    /// schedules threads late, and a LAN's few milliseconds of queue cost nothing.
    int64_t noise_us = 10'000;
    /// A queue that drains within this much is worth its throughput: messages waiting this long
    /// in the broker's (or Paho's) queue instead of the spool cost a little latency and, on a
    /// lost connection, a few more sent again. Without it, a fast link with a base round trip of
    /// milliseconds stops growing at a few hundred in flight, well below what the broker takes.
    int64_t queue_us = 0;
    /// Grow while smoothed RTT ≤ base × grow_below + noise + queue / 2; shrink above
    /// base × shrink_above + noise + queue; hold in between.
    double grow_below = 1.5;
    double shrink_above = 3.0;
    /// The base round trip is the smallest of the current and the previous period of this length,
    /// so that a route that moved to a slower uplink forgets the faster one.
    int64_t base_period_ms = 10'000;
};

/// The defaults; a module's own MQTT client (few in-flight slots) keeps 32 as the ceiling.
InflightWindowSettings inflightWindowSettings(bool module_mqtt_client);

class InflightWindow {
  public:
    /// `fixed` > 0: that window, always (the route configures inflight_window).
    explicit InflightWindow(int fixed = 0, InflightWindowSettings settings = {});

    int window() const { return window_; }
    bool automatic() const { return fixed_ == 0; }
    /// 0 until measured.
    int64_t baseRttUs() const;
    int64_t smoothedRttUs() const { return srtt_us_; }

    /// One message was acknowledged `rtt_us` after it was handed over; `now_ms` is a steady time.
    void onAck(int64_t rtt_us, int64_t now_ms);
    /// A new connection (maybe over another uplink): measurements start again, the window too.
    void reset();

  private:
    void decide();

    InflightWindowSettings s_;
    int fixed_;
    int window_;
    int64_t srtt_us_ = 0;
    int64_t base_cur_us_ = 0;   ///< min RTT in the current period (0: none yet)
    int64_t base_prev_us_ = 0;  ///< min RTT in the previous period
    int64_t period_start_ms_ = -1;
    int acks_in_round_ = 0;
};

}  // namespace uplinkd
