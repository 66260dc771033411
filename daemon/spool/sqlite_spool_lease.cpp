// SPDX-License-Identifier: Apache-2.0
// Routes, leases and acks of the spool, through the loop's connection. Thread: the loop.
#include <algorithm>
#include <new>
#include <string>
#include <utility>

#include "spool/sqlite_spool_impl.hpp"
#include "spool/sqlite_spool_schema.hpp"
#include "uplinkd/mqtt_names.hpp"

namespace uplinkd {

using spool_sql::StmtReset;
using namespace sqlite_spool_detail;

namespace {

/// `n` with a comma between groups of three digits: 52,428,800.
std::string groupedDigits(uint64_t n) {
    std::string digits = std::to_string(n);
    for (size_t at = digits.size(); at > 3; at -= 3) {
        digits.insert(at - 3, 1, ',');
    }
    return digits;
}

/// Plain words for why a payload could not be read, by the SQLite result code of the call.
const char* unreadableCause(int rc) {
    switch (rc & 0xff) {
        case SQLITE_NOMEM:
            return "out of memory";
        case SQLITE_CORRUPT:
            return "the spool file is damaged";
        case SQLITE_IOERR:
            return "the disk could not be read";
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return "the spool file is locked";
        default:
            return "SQLite could not open it";
    }
}

/// Reads the payload of row `seq` of `messages`, `length` bytes, by count into `out`: one buffer
/// of ours, filled page by page (no second whole copy in SQLite's memory). Returns the SQLite code
/// of the failing step (SQLITE_CORRUPT when the blob is not `length` bytes), SQLITE_OK on success.
/// A failure leaves the message queued, like a failed step of the lease query: the next lease
/// tries again.
int readLargePayload(sqlite3* db, uint64_t seq, uint64_t length, std::string& out) {
    sqlite3_blob* blob = nullptr;
    int rc = sqlite3_blob_open(db, "main", "messages", "payload", static_cast<sqlite3_int64>(seq),
                               0, &blob);
    if (rc == SQLITE_OK && static_cast<uint64_t>(sqlite3_blob_bytes(blob)) != length) {
        rc = SQLITE_CORRUPT;
    }
    if (rc == SQLITE_OK) {
        try {
            out.resize(static_cast<size_t>(length));
        } catch (const std::bad_alloc&) {
            rc = SQLITE_NOMEM;
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_blob_read(blob, out.data(), static_cast<int>(length), 0);
    }
    sqlite3_blob_close(blob);
    if (rc != SQLITE_OK) {
        std::string().swap(out);
    }
    return rc;
}

/// What status says while message `seq` cannot be read: the message, the cause, what happens.
std::string stuckNote(uint64_t seq, uint64_t length, int rc) {
    return "message " + std::to_string(seq) + " (" + groupedDigits(length) +
           " bytes) cannot be read from the spool: " + unreadableCause(rc) +
           " (SQLite: " + sqlite3_errstr(rc) +
           "); it stays queued, first in line, and is read again shortly";
}

}  // namespace

auto SqliteSpool::Impl::routeFor(std::string_view name) -> RouteState& {
    auto it = routes_.find(name);
    if (it == routes_.end()) {
        it = routes_.emplace(std::string(name), RouteState{}).first;
        it->second.name = std::string(name);
    }
    return it->second;
}

auto SqliteSpool::Impl::findRoute(std::string_view name) -> RouteState* {
    const auto it = routes_.find(name);
    return it == routes_.end() ? nullptr : &it->second;
}

bool SqliteSpool::Impl::isLeased(const RouteState& rs, uint64_t seq) {
    return !rs.leased.empty() && seq <= rs.leased.rbegin()->first && rs.leased.contains(seq);
}

void SqliteSpool::Impl::removeMessage(RouteState& rs, uint64_t seq, uint64_t size,
                                      bool was_leased) {
    if (!was_leased && passedOver(rs, seq)) {
        rs.held -= std::min<uint64_t>(rs.held, 1);
    }
    rs.stats.depth -= std::min<uint64_t>(rs.stats.depth, 1);
    rs.stats.bytes -= std::min(rs.stats.bytes, size);
    if (seq > committed_seq_) {
        const auto it = std::lower_bound(rs.in_flight.begin(), rs.in_flight.end(), seq,
                                         [](const InFlight& f, uint64_t s) { return f.seq < s; });
        if (it != rs.in_flight.end() && it->seq == seq) {
            it->removed = true;
        }
    }
    // Until the DELETE is committed the reader still sees the row. Scans start above the
    // floor, and the floor only moves back (releaseLeases) to just below the lowest leased
    // seq; a row below both can never be reached again and need not be remembered. With
    // acknowledgements in order that is nearly every row, which keeps this set small.
    if (seq > rs.floor || (!rs.leased.empty() && seq > rs.leased.begin()->first)) {
        removed_.insert(seq);
    }
    enqueue([&] { delete_queue_.push_back(seq); });
    if (seq == rs.head_seq) {
        rs.head_stale = true;
    }
    if (seq == rs.stuck_seq) {
        clearStuck(rs);  // gone: status must not name it any more
    }
}

void SqliteSpool::Impl::refreshHead(RouteState& rs) {
    if (!rs.head_stale) {
        return;
    }
    rs.head_stale = false;
    rs.head_seq = 0;
    rs.stats.oldest_created_ms = 0;
    if (rs.stats.depth == 0) {
        return;
    }
    if (!rs.leased.empty() && rs.leased.begin()->first <= rs.floor) {
        // Below the floor, so below every non-leased message.
        rs.head_seq = rs.leased.begin()->first;
        rs.stats.oldest_created_ms = rs.leased.begin()->second.created_ms;
        return;
    }
    if (committed_seq_ > rs.floor) {
        // The first live row above the floor, leased (a hole below it) or not.
        sqlite3_stmt* s = scan_.get();
        StmtReset reset(s);
        bindRange(s, rs);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const auto seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
            if (removed_.contains(seq)) {
                rs.floor = seq;  // gone: no need to look at it again
                continue;
            }
            rs.head_seq = seq;
            rs.stats.oldest_created_ms = sqlite3_column_int64(s, 2);
            return;
        }
    }
    for (const InFlight& f : rs.in_flight) {
        if (f.seq > rs.floor && !f.removed) {
            rs.head_seq = f.seq;
            rs.stats.oldest_created_ms = f.created_ms;
            return;
        }
    }
}

void SqliteSpool::Impl::bindRange(sqlite3_stmt* s, const RouteState& rs, uint64_t from) const {
    sqlite3_bind_text64(s, 1, rs.name.data(), rs.name.size(), SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(from));
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(committed_seq_));
}

std::vector<Message> SqliteSpool::Impl::lease(std::string_view route, size_t max,
                                              const std::vector<std::string>& only_topics) {
    std::vector<Message> out;
    RouteState* rs = findRoute(route);
    if (rs == nullptr || max == 0) {
        return out;
    }
    if (only_topics != rs->filter) {
        // Another filter, or none: what the last one passed over is looked at again.
        rs->filter = only_topics;
        rs->filter_floor = rs->floor;
        rs->held = 0;
    }
    const bool filtered = !only_topics.empty();
    const uint64_t from = std::max(rs->floor, rs->filter_floor);
    if (committed_seq_ <= from) {
        return out;
    }
    // The floor follows the scan until the filter passes over a message.
    bool at_floor = from == rs->floor;
    sqlite3_stmt* s = lease_.get();
    StmtReset reset(s);
    bindRange(s, *rs, from);
    while (out.size() < max && sqlite3_step(s) == SQLITE_ROW) {
        const auto seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
        if (filtered) {
            rs->filter_floor = seq;
        }
        if (removed_.contains(seq) || isLeased(*rs, seq)) {
            rs->floor = at_floor ? seq : rs->floor;
            continue;
        }
        Message m;
        if (const auto* topic = sqlite3_column_text(s, 1); topic != nullptr) {
            m.topic.assign(reinterpret_cast<const char*>(topic),
                           static_cast<size_t>(sqlite3_column_bytes(s, 1)));
        }
        if (filtered &&
            std::none_of(only_topics.begin(), only_topics.end(),
                         [&](const std::string& f) { return mqtt::topicMatches(f, m.topic); })) {
            ++rs->held;  // stays where it is, below what is leased next: a hole
            at_floor = false;
            continue;
        }
        const auto length = static_cast<uint64_t>(sqlite3_column_int64(s, 7));
        if (length > static_cast<uint64_t>(kInlinePayloadBytes)) {
            if (const int rc = readLargePayload(read_db_.get(), seq, length, m.payload);
                rc != SQLITE_OK) {
                rs->stuck_seq = seq;
                rs->stats.stuck = stuckNote(seq, length, rc);
                if (filtered) {
                    rs->filter_floor = seq - 1;  // looked at again next time
                }
                break;  // leased next time (nothing after it goes first: order is kept)
            }
        } else if (const void* payload = sqlite3_column_blob(s, 2); payload != nullptr) {
            m.payload.assign(static_cast<const char*>(payload),
                             static_cast<size_t>(sqlite3_column_bytes(s, 2)));
        }
        rs->floor = at_floor ? seq : rs->floor;
        if (seq == rs->stuck_seq) {
            clearStuck(*rs);
        }
        m.seq = seq;
        m.route = rs->name;
        m.qos = sqlite3_column_int(s, 3);
        m.retain = sqlite3_column_int(s, 4) != 0;
        m.properties = decodeProperties(sqlite3_column_text(s, 5), sqlite3_column_bytes(s, 5));
        m.created_ms = sqlite3_column_int64(s, 6);
        rs->leased.emplace(seq, LeaseInfo{m.payload.size(), m.created_ms});
        out.push_back(std::move(m));
    }
    return out;
}

void SqliteSpool::Impl::ack(std::string_view route, uint64_t seq) {
    RouteState* rs = findRoute(route);
    if (rs == nullptr) {
        return;
    }
    if (const auto it = rs->leased.find(seq); it != rs->leased.end()) {
        const uint64_t size = it->second.size;
        rs->leased.erase(it);
        removeMessage(*rs, seq, size, true);
    } else if (seq > rs->floor && seq <= committed_seq_ && !removed_.contains(seq)) {
        // Not leased (the session acknowledged after releasing): look it up.
        sqlite3_stmt* s = lookup_.get();
        StmtReset reset(s);
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
        sqlite3_bind_text64(s, 2, rs->name.data(), rs->name.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (sqlite3_step(s) == SQLITE_ROW) {
            removeMessage(*rs, seq, static_cast<uint64_t>(sqlite3_column_int64(s, 0)), false);
        }
    }
    refreshHead(*rs);
}

void SqliteSpool::Impl::releaseLeases(std::string_view route) {
    RouteState* rs = findRoute(route);
    if (rs == nullptr || rs->leased.empty()) {
        return;
    }
    rs->floor = std::min(rs->floor, rs->leased.begin()->first - 1);
    rs->leased.clear();
    // The released messages lie among those a filter passed over: the next lease looks again.
    rs->filter.clear();
    rs->filter_floor = rs->floor;
    rs->held = 0;
}

SpoolStats SqliteSpool::Impl::stats(std::string_view route) const {
    const auto it = routes_.find(route);
    if (it == routes_.end()) {
        return {};
    }
    SpoolStats s = it->second.stats;
    s.leased = it->second.leased.size();
    s.held = it->second.held;
    return s;
}

}  // namespace uplinkd
