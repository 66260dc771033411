// SPDX-License-Identifier: Apache-2.0
// Dead letters: moving a message there, listing, retrying, dropping. Thread: the loop.
#include <algorithm>
#include <string>
#include <utility>

#include "spool/sqlite_spool_impl.hpp"
#include "spool/sqlite_spool_schema.hpp"

namespace uplinkd {

using spool_sql::describeSqlite;
using spool_sql::prepare;
using spool_sql::StmtPtr;
using spool_sql::StmtReset;
using namespace sqlite_spool_detail;

bool SqliteSpool::Impl::deadLetter(std::string_view route, uint64_t seq, std::string reason,
                                   int attempts) {
    RouteState* rs = findRoute(route);
    if (rs == nullptr) {
        return false;
    }
    uint64_t size = 0;
    bool was_leased = false;
    if (const auto it = rs->leased.find(seq); it != rs->leased.end()) {
        size = it->second.size;
        was_leased = true;
        rs->leased.erase(it);
    } else if (seq > rs->floor && seq <= committed_seq_ && !removed_.contains(seq)) {
        sqlite3_stmt* s = lookup_.get();
        StmtReset reset(s);
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
        sqlite3_bind_text64(s, 2, rs->name.data(), rs->name.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (sqlite3_step(s) != SQLITE_ROW) {
            return false;
        }
        size = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    } else {
        return false;
    }
    MoveOp op;
    op.seq = seq;
    op.attempts = attempts;
    op.dead_ms = nowMs();
    op.reason = std::move(reason);
    enqueue([&] { move_queue_.push_back(std::move(op)); });  // before the delete of the row
    removeMessage(*rs, seq, size, was_leased);
    ++rs->stats.dead_lettered;
    refreshHead(*rs);
    return true;
}

Result<std::vector<DeadLetter>> SqliteSpool::Impl::readDead(const std::string& where,
                                                            std::string_view route, uint64_t seq) {
    StmtPtr stmt;
    const std::string sql = std::string(kDeadColumns) + where + " ORDER BY seq";
    int rc = prepare(read_db_.get(), sql.c_str(), &stmt);
    std::vector<DeadLetter> out;
    if (rc == SQLITE_OK) {
        sqlite3_stmt* s = stmt.get();
        if (where.find("route") != std::string::npos) {
            sqlite3_bind_text64(s, 1, route.data(), route.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        } else if (!where.empty()) {
            sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
        }
        const auto text = [s](int col) {
            const auto* t = sqlite3_column_text(s, col);
            return t == nullptr ? std::string()
                                : std::string(reinterpret_cast<const char*>(t),
                                              static_cast<size_t>(sqlite3_column_bytes(s, col)));
        };
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            DeadLetter d;
            d.message.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
            if (dead_going_.contains(d.message.seq)) {
                continue;
            }
            d.message.route = text(1);
            d.message.topic = text(2);
            if (const void* payload = sqlite3_column_blob(s, 3); payload != nullptr) {
                d.message.payload.assign(static_cast<const char*>(payload),
                                         static_cast<size_t>(sqlite3_column_bytes(s, 3)));
            }
            d.message.qos = sqlite3_column_int(s, 4);
            d.message.retain = sqlite3_column_int(s, 5) != 0;
            d.message.properties =
                decodeProperties(sqlite3_column_text(s, 6), sqlite3_column_bytes(s, 6));
            d.message.created_ms = sqlite3_column_int64(s, 7);
            d.reason = text(8);
            d.attempts = sqlite3_column_int(s, 9);
            d.dead_ms = sqlite3_column_int64(s, 10);
            out.push_back(std::move(d));
        }
    }
    if (rc != SQLITE_DONE) {
        return fail("spool_io",
                    "spool: cannot read the dead letters: " + describeSqlite(read_db_.get(), rc));
    }
    return out;
}

Result<std::vector<DeadLetter>> SqliteSpool::Impl::deadLetters(std::string_view route) {
    return route.empty() ? readDead("", route, 0) : readDead("WHERE route = ?1", route, 0);
}

Result<DeadLetter> SqliteSpool::Impl::findDead(uint64_t seq) {
    auto found = readDead("WHERE seq = ?1", {}, seq);
    if (!found) {
        return found.failure();
    }
    if (found->empty()) {
        return fail("not_found", "no dead letter with seq " + std::to_string(seq));
    }
    return std::move(found->front());
}

void SqliteSpool::Impl::retryDeadLetter(uint64_t seq, AppendDone done) {
    auto dead = findDead(seq);
    if (!dead) {
        postDone(std::move(done), dead.failure());
        return;
    }
    dead_going_.insert(seq);
    Message msg = std::move(dead->message);
    const std::string route = msg.route;
    msg.seq = 0;
    msg.created_ms = nowMs();  // a new message at the end of the queue, not an expired one
    // Its dead letter is deleted only once the new row is durable: a failure or a crash in
    // between leaves it a dead letter (or, at worst, both: at least once).
    append(std::move(msg), [this, seq, route, done = std::move(done)](Result<uint64_t> r) {
        if (r) {
            enqueue([&] { dead_delete_queue_.push_back(seq); });
            RouteState& rs = routeFor(route);
            rs.stats.dead_lettered -= std::min<uint64_t>(rs.stats.dead_lettered, 1);
        } else {
            dead_going_.erase(seq);
        }
        if (done) {
            done(std::move(r));
        }
    });
}

Status SqliteSpool::Impl::dropDeadLetter(uint64_t seq) {
    auto dead = findDead(seq);
    if (!dead) {
        return dead.failure();
    }
    dead_going_.insert(seq);
    enqueue([&] { dead_delete_queue_.push_back(seq); });
    RouteState& rs = routeFor(dead->message.route);
    rs.stats.dead_lettered -= std::min<uint64_t>(rs.stats.dead_lettered, 1);
    return okStatus();
}

}  // namespace uplinkd
