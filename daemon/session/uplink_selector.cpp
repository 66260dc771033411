// SPDX-License-Identifier: Apache-2.0
#include "session/uplink_selector.hpp"

#include <algorithm>
#include <iterator>

#include "core/enum_names.hpp"

namespace uplinkd {

UplinkSelector::UplinkSelector(std::vector<std::string> names, Settings settings)
    : settings_(settings) {
    for (auto& n : names) {
        Entry e;
        e.name = std::move(n);
        entries_.push_back(std::move(e));
    }
}

const char* UplinkSelector::stateName(State s) {
    static constexpr const char* kNames[] = {"active", "standby", "failing"};
    static_assert(std::size(kNames) == static_cast<size_t>(State::Failing) + 1);
    return enumName(s, kNames);
}

std::vector<size_t> UplinkSelector::dialOrder() const {
    std::vector<size_t> order;
    for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].state != State::Failing) {
            order.push_back(i);
        }
    }
    for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].state == State::Failing) {
            order.push_back(i);
        }
    }
    return order;
}

void UplinkSelector::dialFailed(size_t index, const std::string& reason, int64_t now_ms) {
    Entry& e = entries_.at(index);
    e.state = State::Failing;
    e.reason = reason;
    e.healthy_since_ms = 0;
    e.next_probe_ms = now_ms + settings_.probe_interval_ms;
    if (active_ == index) {
        active_.reset();
    }
}

void UplinkSelector::connected(size_t index, int64_t now_ms) {
    Entry& e = entries_.at(index);
    e.state = State::Active;
    e.reason.clear();
    e.probe_failures = 0;
    e.healthy_since_ms = 0;
    e.traffic->last_received_ms = now_ms;  // the handshake just answered
    if (previous_ && *previous_ != index) {
        history_.push_back(Switch{now_ms, entries_[*previous_].name, e.name, switch_reason_});
        while (history_.size() > kHistory) {
            history_.pop_front();
        }
    }
    // Preferred uplinks are probed from now on; the others wait for the next loss.
    for (size_t i = 0; i < index; ++i) {
        entries_[i].next_probe_ms =
            std::max(entries_[i].next_probe_ms, now_ms + settings_.probe_interval_ms);
    }
    active_ = index;
    previous_ = index;
    switch_reason_.clear();
}

void UplinkSelector::lost(const std::string& reason, int64_t now_ms) {
    if (!active_) {
        return;
    }
    Entry& e = entries_[*active_];
    e.state = State::Failing;
    e.reason = reason;
    e.healthy_since_ms = 0;
    e.next_probe_ms = now_ms + settings_.probe_interval_ms;
    previous_ = active_;
    switch_reason_ = e.name + ": " + reason;
    active_.reset();
}

void UplinkSelector::leaving(const std::string& reason) {
    if (!active_) {
        return;
    }
    entries_[*active_].state = State::Standby;
    previous_ = active_;
    switch_reason_ = reason;
    active_.reset();
}

void UplinkSelector::linkChanged(size_t index, bool up, const std::string& reason, int64_t now_ms) {
    Entry& e = entries_.at(index);
    if (up) {
        if (e.state == State::Failing) {
            e.next_probe_ms = now_ms;  // worth a look at once
            e.probe_failures = 0;
        }
        return;
    }
    if (active_ == index) {
        lost(reason, now_ms);
        return;
    }
    e.state = State::Failing;
    e.reason = reason;
    e.healthy_since_ms = 0;
}

bool UplinkSelector::silent(int64_t now_ms) const {
    if (!active_) {
        return false;
    }
    return now_ms - entries_[*active_].traffic->last_received_ms >= settings_.failover_after_ms;
}

std::vector<size_t> UplinkSelector::probesDue(int64_t now_ms) const {
    std::vector<size_t> due;
    if (!active_) {
        return due;
    }
    for (size_t i = 0; i < *active_; ++i) {
        if (entries_[i].next_probe_ms <= now_ms) {
            due.push_back(i);
        }
    }
    return due;
}

void UplinkSelector::probeStarted(size_t index, int64_t now_ms) {
    Entry& e = entries_.at(index);
    e.last_probe_ms = now_ms;
    // Not again before this one has answered (the answer sets the real next time).
    e.next_probe_ms = now_ms + settings_.probe_max_ms;
}

void UplinkSelector::probeResult(size_t index, bool ok, const std::string& reason, int64_t now_ms) {
    Entry& e = entries_.at(index);
    if (e.state == State::Active) {
        return;
    }
    if (ok) {
        e.state = State::Standby;
        e.reason.clear();
        e.probe_failures = 0;
        if (e.healthy_since_ms == 0) {
            e.healthy_since_ms = now_ms;
        }
        e.next_probe_ms = now_ms + settings_.probe_interval_ms;
        return;
    }
    e.state = State::Failing;
    e.reason = reason;
    e.healthy_since_ms = 0;
    ++e.probe_failures;
    int64_t delay = settings_.probe_interval_ms;
    for (int i = 1; i < e.probe_failures && delay < settings_.probe_max_ms; ++i) {
        delay *= 2;
    }
    e.next_probe_ms = now_ms + std::min(delay, settings_.probe_max_ms);
}

std::optional<size_t> UplinkSelector::failbackCandidate(int64_t now_ms) const {
    if (!active_) {
        return std::nullopt;
    }
    for (size_t i = 0; i < *active_; ++i) {
        const Entry& e = entries_[i];
        if (e.state == State::Standby && e.healthy_since_ms != 0 &&
            now_ms - e.healthy_since_ms >= settings_.failback_hold_ms) {
            return i;
        }
    }
    return std::nullopt;
}

std::optional<int64_t> UplinkSelector::nextProbeAt() const {
    if (!active_ || *active_ == 0) {
        return std::nullopt;
    }
    int64_t next = entries_[0].next_probe_ms;
    for (size_t i = 1; i < *active_; ++i) {
        next = std::min(next, entries_[i].next_probe_ms);
    }
    return next;
}

}  // namespace uplinkd
