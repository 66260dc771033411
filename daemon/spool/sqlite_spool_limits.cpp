// SPDX-License-Identifier: Apache-2.0
// Housekeeping: a route's limits (reject, drop oldest) and expiry by age. Thread: the loop.
#include <algorithm>
#include <string>

#include "spool/sqlite_spool_impl.hpp"

namespace uplinkd {

using spool_sql::describeSqlite;
using spool_sql::StmtReset;

Status SqliteSpool::Impl::collectOldest(RouteState& rs, uint64_t count, uint64_t bytes,
                                        std::vector<Victim>* victims) {
    uint64_t freed_count = 0;
    uint64_t freed_bytes = 0;
    const auto enough = [&] { return freed_count >= count && freed_bytes >= bytes; };
    if (committed_seq_ > rs.floor) {
        sqlite3_stmt* s = scan_.get();
        StmtReset reset(s);
        bindRange(s, rs);
        int rc = SQLITE_ROW;
        while (!enough() && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            const auto seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
            if (removed_.contains(seq) || isLeased(rs, seq)) {
                continue;
            }
            const auto size = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
            victims->push_back({seq, size});
            ++freed_count;
            freed_bytes += size;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            return fail("spool_io", "spool: append: cannot find the oldest messages of route \"" +
                                        rs.name + "\": " + describeSqlite(read_db_.get(), rc));
        }
    }
    for (const InFlight& f : rs.in_flight) {
        if (enough()) {
            break;
        }
        if (f.seq > rs.floor && !f.removed) {
            victims->push_back({f.seq, f.size});
            ++freed_count;
            freed_bytes += f.size;
        }
    }
    if (!enough()) {
        return fail("spool_full", "spool: route \"" + rs.name +
                                      "\" is full and every queued message is in flight, so "
                                      "none can be dropped");
    }
    return okStatus();
}

Status SqliteSpool::Impl::makeRoom(RouteState& rs, uint64_t size) {
    const SpoolLimits& limits = rs.limits;
    const bool over_count = limits.max_messages != 0 && rs.stats.depth + 1 > limits.max_messages;
    const bool over_bytes = limits.max_bytes != 0 && rs.stats.bytes + size > limits.max_bytes;
    if (!over_count && !over_bytes) {
        return okStatus();
    }
    const std::string route = "spool: route \"" + rs.name + "\" is full: ";
    if (limits.max_bytes != 0 && size > limits.max_bytes) {
        return fail("spool_full",
                    route + "the message has " + std::to_string(size) +
                        " bytes, more than max_bytes = " + std::to_string(limits.max_bytes));
    }
    if (limits.when_full == SpoolLimits::WhenFull::Reject) {
        if (over_count) {
            return fail("spool_full", route + std::to_string(rs.stats.depth) +
                                          " messages queued, max_messages = " +
                                          std::to_string(limits.max_messages));
        }
        return fail("spool_full",
                    route + std::to_string(rs.stats.bytes) + " bytes queued, a message of " +
                        std::to_string(size) +
                        " bytes does not fit in max_bytes = " + std::to_string(limits.max_bytes));
    }
    std::vector<Victim> victims;
    const uint64_t need_count = over_count ? rs.stats.depth + 1 - limits.max_messages : 0;
    const uint64_t need_bytes = over_bytes ? rs.stats.bytes + size - limits.max_bytes : 0;
    if (auto st = collectOldest(rs, need_count, need_bytes, &victims); !st) {
        return st;
    }
    for (const Victim& v : victims) {
        if (passedOver(rs, v.seq)) {  // counted before the floor moves above it
            rs.held -= std::min<uint64_t>(rs.held, 1);
        }
    }
    rs.floor = std::max(rs.floor, victims.back().seq);  // victims are the lowest non-leased
    rs.filter_floor = std::max(rs.filter_floor, rs.floor);
    for (const Victim& v : victims) {
        removeMessage(rs, v.seq, v.size, false);
        ++rs.stats.dropped;
    }
    return okStatus();
}

uint64_t SqliteSpool::Impl::expire(std::string_view route, int64_t now_ms) {
    RouteState* rs = findRoute(route);
    if (rs == nullptr || rs->limits.max_age_seconds <= 0 || rs->stats.depth == 0) {
        return 0;
    }
    const int64_t cutoff = now_ms - rs->limits.max_age_seconds * 1000;
    std::vector<Victim> victims;
    {
        sqlite3_stmt* s = expire_.get();
        StmtReset reset(s);
        sqlite3_bind_text64(s, 1, rs->name.data(), rs->name.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_int64(s, 2, cutoff);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const auto seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
            // Removed ones not remembered in removed_ are <= floor, and so are leased ones but
            // those of a filtered lease.
            if (seq <= rs->floor || seq > committed_seq_ || removed_.contains(seq) ||
                isLeased(*rs, seq)) {
                continue;
            }
            victims.push_back({seq, static_cast<uint64_t>(sqlite3_column_int64(s, 1))});
        }
    }
    for (const Victim& v : victims) {
        removeMessage(*rs, v.seq, v.size, false);
    }
    rs->stats.expired += victims.size();
    refreshHead(*rs);
    return victims.size();
}

}  // namespace uplinkd
