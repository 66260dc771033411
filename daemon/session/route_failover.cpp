// SPDX-License-Identifier: Apache-2.0
// RouteSession: failover between the route's uplinks (the selector and the health checks).
#include <algorithm>

#include "session/route_session.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

int64_t unixNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A steady-clock time as Unix time (for status).
int64_t toUnixMs(int64_t steady_ms) {
    return steady_ms == 0 ? 0 : unixNowMs() - (steadyNowMs() - steady_ms);
}

}  // namespace

void RouteSession::startHealth() {
    if (uplinks_.size() < 2) {
        return;
    }
    UplinkHealth::Events ev;
    ev.dead = [this](const std::string& reason) { onUplinkDead(reason); };
    ev.failback = [this](size_t index) { onFailbackDue(index); };
    health_ = std::make_unique<UplinkHealth>(loop_, config_, uplinks_, selector_, std::move(ev));
}

void RouteSession::noteOnline() {
    const size_t before = selector_.history().size();
    const auto last = before ? selector_.history().back().at_ms : 0;
    selector_.connected(session_->uplinkIndex(), steadyNowMs());
    const auto& h = selector_.history();
    if (!h.empty() && (h.size() != before || h.back().at_ms != last)) {
        logFailover(config_.name, h.back().from, h.back().to, "failover",
                    "route " + config_.name + ": now on uplink " + h.back().to + " instead of " +
                        h.back().from + " (" + h.back().reason + ")");
    }
    if (health_) {
        health_->online();
    }
    if (!meteredTopics().empty()) {
        std::string topics;
        for (const auto& t : config_.metered_topics) {
            topics += (topics.empty() ? "" : ", ") + t;
        }
        logInfo("route " + config_.name + ": uplink " + uplinks_[session_->uplinkIndex()]->name() +
                " is metered: sending only " + topics +
                "; the other messages wait in the spool for an unmetered uplink");
    }
}

const std::vector<std::string>& RouteSession::meteredTopics() const {
    static const std::vector<std::string> kEverything;
    if (!session_) {
        return kEverything;
    }
    const size_t i = session_->uplinkIndex();
    const bool metered = i < config_.metered_uplinks.size() && config_.metered_uplinks[i];
    return metered ? config_.metered_topics : kEverything;
}

void RouteSession::onUplinkDead(const std::string& reason) {
    if (state_ != RouteState::Online) {
        return;
    }
    const auto active = selector_.active();
    const std::string name = active ? selector_.entries()[*active].name : "?";
    selector_.lost(reason, steadyNowMs());
    const Error error = makeError("uplink_failed", "uplink " + name + ": " + reason);
    const auto order = selector_.dialOrder();
    if (order.empty() ||
        selector_.entries()[order.front()].state == UplinkSelector::State::Failing) {
        fail(error, false);  // no healthy one left: back off before trying them again
        return;
    }
    logWarning("route " + config_.name + ": " + error.message + "; switching to uplink " +
               selector_.entries()[order.front()].name);
    ++counters_.failures;
    last_error_ = error;
    // What was in flight is released to the spool and goes out again, in order, on the next.
    dropConnection();
    dial();
}

void RouteSession::onFailbackDue(size_t index) {
    if (state_ != RouteState::Online || failback_pending_) {
        return;
    }
    const auto& e = selector_.entries()[index];
    failback_reason_ = "fail-back: " + e.name + " healthy for " +
                       std::to_string((steadyNowMs() - e.healthy_since_ms) / 1000) + " s";
    logInfo("route " + config_.name + ": " + failback_reason_ +
            ", moving back once the messages in flight are acknowledged");
    failback_pending_ = true;
    // Bounded: what is still unacknowledged then is sent again over the preferred uplink.
    failback_timer_.expires_after(
        std::chrono::milliseconds(std::max(1000, config_.failover.failover_after_ms)));
    std::weak_ptr<bool> alive = alive_;
    failback_timer_.async_wait([this, alive](asio::error_code ec) {
        if (!ec && !alive.expired() && failback_pending_) {
            failBack();
        }
    });
    pump();
}

void RouteSession::failBack() {
    const std::string reason = failback_reason_;
    selector_.leaving(reason);
    dropConnection();
    attempt_ = 0;
    dial();
}

std::string RouteSession::silenceNote() const {
    const auto active = selector_.active();
    if (!active) {
        return {};
    }
    const int64_t quiet = steadyNowMs() - selector_.entries()[*active].traffic->last_received_ms;
    if (quiet < 1000) {
        return {};
    }
    return "; nothing received for " + std::to_string(quiet / 1000) + " s";
}

void RouteSession::fillUplinkStatus(RouteStatus& s) const {
    for (const auto& e : selector_.entries()) {
        s.uplinks.push_back(UplinkStatus{e.name, UplinkSelector::stateName(e.state), e.reason,
                                         toUnixMs(e.last_probe_ms), e.traffic->bytes_sent,
                                         e.traffic->bytes_received});
        const size_t i = s.uplinks.size() - 1;
        s.uplinks.back().metered = i < config_.metered_uplinks.size() && config_.metered_uplinks[i];
        if (e.state == UplinkSelector::State::Active && state_ == RouteState::Online) {
            s.active_uplink = e.name;
        }
    }
    for (const auto& sw : selector_.history()) {
        s.failovers.push_back(FailoverStatus{toUnixMs(sw.at_ms), sw.from, sw.to, sw.reason});
    }
}

}  // namespace uplinkd
