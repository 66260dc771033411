// SPDX-License-Identifier: Apache-2.0
#include "session/inflight_window.hpp"

#include <algorithm>

namespace uplinkd {

InflightWindowSettings inflightWindowSettings(bool module_mqtt_client) {
    InflightWindowSettings s;
    // A route never goes below the fixed window it had before (32): on a busy board the thread
    // hand-overs of each round trip cost more throughput than a smaller queue saves, and a
    // rise of the round trip there is mostly scheduling, so it shrinks only past 4× the base.
    s.min_window = 32;
    s.shrink_above = 4.0;
    // Up to ~100 ms of queue in the broker: on a LAN the window then reaches the direct client's
    // 1,000 in flight (issue 14); on a cellular link the base round trip dominates anyway.
    s.queue_us = 100'000;
    if (module_mqtt_client) {
        s.max_window = 32;
    }
    return s;
}

InflightWindow::InflightWindow(int fixed, InflightWindowSettings settings)
    : s_(settings), fixed_(std::max(0, fixed)) {
    reset();
}

void InflightWindow::reset() {
    window_ = fixed_ > 0 ? fixed_ : std::clamp(s_.initial_window, s_.min_window, s_.max_window);
    srtt_us_ = 0;
    base_cur_us_ = 0;
    base_prev_us_ = 0;
    period_start_ms_ = -1;
    acks_in_round_ = 0;
}

int64_t InflightWindow::baseRttUs() const {
    if (base_cur_us_ == 0 || base_prev_us_ == 0) {
        return std::max(base_cur_us_, base_prev_us_);
    }
    return std::min(base_cur_us_, base_prev_us_);
}

void InflightWindow::onAck(int64_t rtt_us, int64_t now_ms) {
    if (fixed_ > 0) {
        return;
    }
    rtt_us = std::max<int64_t>(1, rtt_us);
    srtt_us_ = srtt_us_ == 0 ? rtt_us : srtt_us_ + (rtt_us - srtt_us_) / 8;
    if (period_start_ms_ < 0) {
        period_start_ms_ = now_ms;
    } else if (now_ms - period_start_ms_ >= s_.base_period_ms) {
        base_prev_us_ = base_cur_us_;
        base_cur_us_ = 0;
        period_start_ms_ = now_ms;
    }
    if (++acks_in_round_ >= window_) {
        acks_in_round_ = 0;
        decide();
    }
}

void InflightWindow::decide() {
    // The base is the smallest smoothed round trip at the end of a round, not the smallest
    // sample: one lucky message on a busy board would make every later round look queued.
    base_cur_us_ = base_cur_us_ == 0 ? srtt_us_ : std::min(base_cur_us_, srtt_us_);
    const auto base = static_cast<double>(baseRttUs());
    const auto srtt = static_cast<double>(srtt_us_);
    const auto noise = static_cast<double>(s_.noise_us);
    const auto queue = static_cast<double>(s_.queue_us);
    if (srtt <= base * s_.grow_below + noise + queue / 2) {
        window_ = std::min(s_.max_window, window_ + std::max(1, window_ / 2));
    } else if (srtt > base * s_.shrink_above + noise + queue) {
        window_ = std::max(s_.min_window, window_ * 3 / 4);
    }
}

}  // namespace uplinkd
