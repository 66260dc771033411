// SPDX-License-Identifier: Apache-2.0
#include "spool/memory_spool.hpp"

#include <algorithm>

#include "uplinkd/mqtt_names.hpp"

namespace uplinkd {

MemorySpool::RouteQueue& MemorySpool::queue(std::string_view route) {
    auto it = routes_.find(route);
    if (it == routes_.end()) {
        it = routes_.emplace(std::string(route), RouteQueue{}).first;
    }
    return it->second;
}

void MemorySpool::configureRoute(const std::string& route, const SpoolLimits& limits) {
    queue(route).limits = limits;
}

void MemorySpool::append(Message msg, AppendDone done) {
    RouteQueue& q = queue(msg.route);
    const auto& lim = q.limits;
    auto full = [&] {
        return (lim.max_messages != 0 && q.stats.depth + 1 > lim.max_messages) ||
               (lim.max_bytes != 0 && q.stats.bytes + msg.payload.size() > lim.max_bytes);
    };
    while (full() && lim.when_full == SpoolLimits::WhenFull::DropOldest) {
        auto victim = std::find_if(q.messages.begin(), q.messages.end(),
                                   [&](const auto& kv) { return q.leased.count(kv.first) == 0; });
        if (victim == q.messages.end()) {
            break;
        }
        q.stats.bytes -= victim->second.payload.size();
        --q.stats.depth;
        ++q.stats.dropped;
        q.held.erase(victim->first);
        q.messages.erase(victim);
    }
    if (full()) {
        ++q.stats.rejected;
        asio::post(loop_, [done = std::move(done), route = msg.route] {
            done(fail("spool_full", "the spool of route \"" + route + "\" is full"));
        });
        return;
    }
    const uint64_t seq = next_seq_++;
    msg.seq = seq;
    q.stats.bytes += msg.payload.size();
    ++q.stats.depth;
    q.messages.emplace(seq, std::move(msg));
    asio::post(loop_, [done = std::move(done), seq] { done(seq); });
}

std::vector<Message> MemorySpool::lease(std::string_view route, size_t max,
                                        const std::vector<std::string>& only_topics) {
    RouteQueue& q = queue(route);
    std::vector<Message> out;
    if (max == 0) {
        return out;
    }
    if (only_topics != q.filter) {
        q.filter = only_topics;
        q.held.clear();
    }
    for (auto& [seq, msg] : q.messages) {
        if (out.size() >= max) {
            break;
        }
        if (q.leased.contains(seq)) {
            continue;
        }
        if (!only_topics.empty() &&
            std::none_of(only_topics.begin(), only_topics.end(),
                         [&](const std::string& f) { return mqtt::topicMatches(f, msg.topic); })) {
            q.held.insert(seq);
            continue;
        }
        q.leased.insert(seq);
        out.push_back(msg);
    }
    q.stats.leased = q.leased.size();
    return out;
}

void MemorySpool::ack(std::string_view route, uint64_t seq) {
    RouteQueue& q = queue(route);
    auto it = q.messages.find(seq);
    if (it == q.messages.end()) {
        return;
    }
    q.stats.bytes -= it->second.payload.size();
    --q.stats.depth;
    q.messages.erase(it);
    q.leased.erase(seq);
    q.held.erase(seq);
    q.stats.leased = q.leased.size();
}

void MemorySpool::releaseLeases(std::string_view route) {
    RouteQueue& q = queue(route);
    if (q.leased.empty()) {
        return;
    }
    q.leased.clear();
    q.stats.leased = 0;
    q.filter.clear();  // the released messages are looked at again, and so are the held ones
    q.held.clear();
}

uint64_t MemorySpool::expire(std::string_view route, int64_t now_ms) {
    RouteQueue& q = queue(route);
    if (q.limits.max_age_seconds == 0) {
        return 0;
    }
    const int64_t cutoff = now_ms - q.limits.max_age_seconds * 1000;
    uint64_t n = 0;
    for (auto it = q.messages.begin(); it != q.messages.end();) {
        if (it->second.created_ms < cutoff && q.leased.count(it->first) == 0) {
            q.stats.bytes -= it->second.payload.size();
            --q.stats.depth;
            q.held.erase(it->first);
            it = q.messages.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    q.stats.expired += n;
    return n;
}

bool MemorySpool::deadLetter(std::string_view route, uint64_t seq, std::string reason,
                             int attempts) {
    RouteQueue& q = queue(route);
    auto it = q.messages.find(seq);
    if (it == q.messages.end()) {
        return false;
    }
    DeadLetter d;
    d.message = std::move(it->second);
    d.reason = std::move(reason);
    d.attempts = attempts;
    d.dead_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    q.stats.bytes -= d.message.payload.size();
    --q.stats.depth;
    ++q.stats.dead_lettered;
    q.messages.erase(it);
    q.leased.erase(seq);
    q.held.erase(seq);
    q.stats.leased = q.leased.size();
    dead_.emplace(seq, std::move(d));
    return true;
}

Result<std::vector<DeadLetter>> MemorySpool::deadLetters(std::string_view route) {
    std::vector<DeadLetter> out;
    for (const auto& [seq, d] : dead_) {
        if (route.empty() || d.message.route == route) {
            out.push_back(d);
        }
    }
    return out;
}

void MemorySpool::retryDeadLetter(uint64_t seq, AppendDone done) {
    auto it = dead_.find(seq);
    if (it == dead_.end()) {
        asio::post(loop_, [done = std::move(done), seq] {
            done(fail("not_found", "no dead letter with seq " + std::to_string(seq)));
        });
        return;
    }
    // Refused (spool_full): it stays a dead letter.
    DeadLetter kept = std::move(it->second);
    dead_.erase(it);
    --queue(kept.message.route).stats.dead_lettered;
    Message msg = kept.message;
    msg.seq = 0;
    append(std::move(msg),
           [this, kept = std::move(kept), done = std::move(done)](Result<uint64_t> r) mutable {
               if (!r) {
                   ++queue(kept.message.route).stats.dead_lettered;
                   const uint64_t old_seq = kept.message.seq;
                   dead_.emplace(old_seq, std::move(kept));
               }
               done(std::move(r));
           });
}

Status MemorySpool::dropDeadLetter(uint64_t seq) {
    auto it = dead_.find(seq);
    if (it == dead_.end()) {
        return fail("not_found", "no dead letter with seq " + std::to_string(seq));
    }
    --queue(it->second.message.route).stats.dead_lettered;
    dead_.erase(it);
    return okStatus();
}

SpoolStats MemorySpool::stats(std::string_view route) const {
    auto it = routes_.find(route);
    if (it == routes_.end()) {
        return {};
    }
    SpoolStats s = it->second.stats;
    s.held = it->second.held.size();
    s.oldest_created_ms =
        it->second.messages.empty() ? 0 : it->second.messages.begin()->second.created_ms;
    return s;
}

}  // namespace uplinkd
