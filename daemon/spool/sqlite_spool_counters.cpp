// SPDX-License-Identifier: Apache-2.0
// Per-route counters saved at a clean close and restored at the next clean open, so that opening a
// large spool does not count every message. Thread: the loop (open; ~Impl once the worker stopped).
#include <string>
#include <vector>

#include "spool/sqlite_spool_impl.hpp"
#include "spool/sqlite_spool_schema.hpp"

namespace uplinkd {

using spool_sql::prepare;
using spool_sql::queryOne;
using spool_sql::stepOnce;
using spool_sql::StmtPtr;
using namespace sqlite_spool_detail;

namespace {

struct SavedRoute {
    std::string name;
    uint64_t depth = 0;
    uint64_t bytes = 0;
    uint64_t head_seq = 0;
    int64_t oldest_created_ms = 0;
};

std::string columnText(sqlite3_stmt* s, int col) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return text == nullptr ? std::string()
                           : std::string(text, static_cast<size_t>(sqlite3_column_bytes(s, col)));
}

}  // namespace

bool SqliteSpool::Impl::restoreCounters() {
    if (!closed_cleanly_) {
        return false;
    }
    sqlite3* db = read_db_.get();
    int64_t saved = 0;
    if (queryOne(db, kSavedCountersSql.saved_mark,
                 [&](sqlite3_stmt* s) { saved = sqlite3_column_int64(s, 0); }) != SQLITE_OK ||
        saved != 1) {
        return false;  // closed by a version that does not save them, or not saved at close
    }
    StmtPtr rows;
    StmtPtr head;
    if (prepare(db, kSavedCountersSql.load, &rows) != SQLITE_OK ||
        prepare(db, kOpenSql.created_of, &head) != SQLITE_OK) {
        return false;
    }
    std::vector<SavedRoute> loaded;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
        SavedRoute r;
        r.name = columnText(rows.get(), 0);
        r.depth = static_cast<uint64_t>(sqlite3_column_int64(rows.get(), 1));
        r.bytes = static_cast<uint64_t>(sqlite3_column_int64(rows.get(), 2));
        r.head_seq = static_cast<uint64_t>(sqlite3_column_int64(rows.get(), 3));
        if (r.depth == 0 || r.head_seq == 0) {
            return false;  // only routes with queued messages are saved
        }
        // The head must be a message of this route (one index lookup): a cheap sanity check,
        // and it gives the route's oldest_created_ms.
        sqlite3_bind_int64(head.get(), 1, static_cast<sqlite3_int64>(r.head_seq));
        sqlite3_bind_text64(head.get(), 2, r.name.data(), r.name.size(), SQLITE_STATIC,
                            SQLITE_UTF8);
        const int hrc = sqlite3_step(head.get());
        if (hrc == SQLITE_ROW) {
            r.oldest_created_ms = sqlite3_column_int64(head.get(), 0);
        }
        sqlite3_reset(head.get());
        sqlite3_clear_bindings(head.get());
        if (hrc != SQLITE_ROW) {
            return false;
        }
        loaded.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) {
        return false;
    }
    for (SavedRoute& r : loaded) {
        RouteState& rs = routeFor(r.name);
        rs.stats.depth = r.depth;
        rs.stats.bytes = r.bytes;
        rs.stats.oldest_created_ms = r.oldest_created_ms;
        rs.head_seq = r.head_seq;
        rs.floor = r.head_seq - 1;
    }
    return true;
}

int SqliteSpool::Impl::invalidateSavedCounters() {
    sqlite3* db = write_db_.get();
    const int rc = sqlite3_exec(db, kSavedCountersSql.invalidate, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK && sqlite3_get_autocommit(db) == 0) {
        sqlite3_exec(db, kRollbackSql, nullptr, nullptr, nullptr);
    }
    return rc;
}

void SqliteSpool::Impl::saveCounters() {
    sqlite3* db = write_db_.get();
    StmtPtr clear;
    StmtPtr save;
    StmtPtr head;
    StmtPtr mark;
    if (prepare(db, kSavedCountersSql.clear, &clear) != SQLITE_OK ||
        prepare(db, kSavedCountersSql.save, &save) != SQLITE_OK ||
        prepare(db, kSavedCountersSql.head_of_route, &head) != SQLITE_OK ||
        prepare(db, kSavedCountersSql.mark_saved, &mark) != SQLITE_OK) {
        return;  // the next open counts: slower, not wrong
    }
    int rc = stepOnce(begin_.get());
    if (rc == SQLITE_DONE) {
        rc = stepOnce(clear.get());
    }
    for (auto it = routes_.begin(); rc == SQLITE_DONE && it != routes_.end(); ++it) {
        const RouteState& rs = it->second;
        // Every queued change is committed now: the lowest seq is one index lookup, and whether
        // the route has rows at all checks the counters against the file.
        sqlite3_bind_text64(head.get(), 1, rs.name.data(), rs.name.size(), SQLITE_STATIC,
                            SQLITE_UTF8);
        rc = sqlite3_step(head.get());
        const bool has_rows = rc == SQLITE_ROW && sqlite3_column_type(head.get(), 0) != SQLITE_NULL;
        const auto head_seq = has_rows ? sqlite3_column_int64(head.get(), 0) : 0;
        sqlite3_reset(head.get());
        if (rc != SQLITE_ROW) {
            break;
        }
        if (has_rows != (rs.stats.depth != 0)) {
            rc = SQLITE_MISMATCH;  // the counters do not describe the file: do not save them
            break;
        }
        if (!has_rows) {
            rc = SQLITE_DONE;
            continue;
        }
        sqlite3_stmt* s = save.get();
        sqlite3_bind_text64(s, 1, rs.name.data(), rs.name.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(rs.stats.depth));
        sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(rs.stats.bytes));
        sqlite3_bind_int64(s, 4, head_seq);
        rc = stepOnce(s);
    }
    if (rc == SQLITE_DONE) {
        rc = stepOnce(mark.get());
    }
    if (rc == SQLITE_DONE) {
        rc = stepOnce(commit_.get());
    }
    if (rc != SQLITE_DONE && sqlite3_get_autocommit(db) == 0) {
        stepOnce(rollback_.get());
    }
}

}  // namespace uplinkd
