// SPDX-License-Identifier: Apache-2.0
// RouteSession: the dead-letter rules. A message the broker keeps refusing (PUBACK reason code
// 0x80 or more), or that the broker closes the connection over right after it was sent, leaves the
// queue for the spool's dead letters so that it cannot block the route. Thread: loop.
#include <algorithm>
#include <cstdio>

#include "session/route_session.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

/// Why a broker refuses a PUBLISH, by MQTT 5 PUBACK reason code (MQTT 5.0 §3.4.2.1).
struct PubackReason {
    int code;
    const char* meaning;
};
// clang-format off
constexpr PubackReason kPubackReasons[] = {
    {0x80, "unspecified error"},
    {0x83, "implementation specific error"},
    {0x87, "not authorized"},
    {0x90, "topic name invalid"},
    {0x91, "packet identifier in use"},
    {0x97, "quota exceeded"},
    {0x99, "payload format invalid"},
};
// clang-format on

std::string describePuback(int code) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(code));
    const char* meaning = "an error";
    for (const auto& r : kPubackReasons) {
        if (r.code == code) {
            meaning = r.meaning;
        }
    }
    return std::string("the broker refused it: PUBACK reason code ") + hex + " (" + meaning + ")";
}

/// A connection loss counts against the oldest unacknowledged message only when it came this
/// soon after that message was sent: a broker that refuses a packet closes at once.
constexpr auto kCulpritWindow = std::chrono::seconds(10);

}  // namespace

void RouteSession::onRefused(uint64_t seq, int reason_code) {
    auto it = inflight_.find(seq);
    Message msg = std::move(it->second.message);
    msg.payload = takePayload(std::move(it->second.payload));
    inflight_.erase(it);
    refused_on_connection_ = true;
    const int attempts = ++refusals_[seq];
    const std::string reason = describePuback(reason_code);
    if (attempts >= config_.delivery.max_attempts) {
        moveToDeadLetters(seq, reason, attempts);
    } else {
        logInfo("route " + config_.name + ": message " + std::to_string(seq) + ": " + reason +
                " (attempt " + std::to_string(attempts) + " of " +
                std::to_string(config_.delivery.max_attempts) + "), sending it again");
        // Still leased: back among the messages Paho has not taken, in seq order.
        const auto pos = std::lower_bound(unsent_.begin(), unsent_.end(), seq,
                                          [](const Message& m, uint64_t s) { return m.seq < s; });
        unsent_.insert(pos, std::move(msg));
    }
    pump();
}

void RouteSession::noteLossCulprit(const Error& why) {
    // A broker that refused a publish may close the connection next (Mosquitto does): that close
    // is the refused message's, already counted, not the next one's.
    if (inflight_.empty() || refused_on_connection_) {
        return;
    }
    const auto& [seq, sent] = *inflight_.begin();
    if (std::chrono::steady_clock::now() - sent.at > kCulpritWindow) {
        return;  // not "right after": most likely the network, not this message
    }
    if (seq == suspect_seq_) {
        ++suspect_strikes_;
    } else {
        suspect_seq_ = seq;
        suspect_strikes_ = 1;
    }
    if (suspect_strikes_ < config_.delivery.max_attempts) {
        return;
    }
    const uint64_t culprit = seq;
    const int strikes = suspect_strikes_;
    suspect_seq_ = 0;
    suspect_strikes_ = 0;
    inflight_.erase(culprit);
    moveToDeadLetters(culprit,
                      "the broker closed the connection right after it was sent, " +
                          std::to_string(strikes) + " times in a row (last: " + why.message + ")",
                      strikes);
}

void RouteSession::moveToDeadLetters(uint64_t seq, const std::string& reason, int attempts) {
    refusals_.erase(seq);
    if (!spool_.deadLetter(config_.name, seq, reason, attempts)) {
        return;
    }
    // Once per message, with its seq and the reason, never its payload.
    logEvent(LogLevel::Warning, LogEvent::DeadLetter, {config_.name, {}, {}},
             "route " + config_.name + ": message " + std::to_string(seq) +
                 " moved to the dead letters after " + std::to_string(attempts) +
                 " attempt(s): " + reason + " (uplinkctl deadletter list)");
}

}  // namespace uplinkd
