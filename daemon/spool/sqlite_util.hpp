// SPDX-License-Identifier: Apache-2.0
// Small helpers around the SQLite C API for the spool: owning handles, statement reset, result
// code names and messages. Thread: the thread that owns the connection passed in.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

namespace uplinkd::spool_sql {

struct DbCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

/// Resets a statement when leaving scope, which ends its read transaction (a reader that keeps
/// one open would pin an old snapshot and stop WAL checkpoints).
class StmtReset {
  public:
    explicit StmtReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~StmtReset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    StmtReset(const StmtReset&) = delete;
    StmtReset& operator=(const StmtReset&) = delete;

  private:
    sqlite3_stmt* stmt_;
};

/// The name of a result code: the extended one when it says more ("SQLITE_IOERR_FSYNC").
const char* codeName(int rc);

/// "disk I/O error (SQLITE_IOERR_FSYNC): Input/output error". Call right after the failing call,
/// on the thread that made it (sqlite3_errmsg describes the connection's last call).
std::string describeSqlite(sqlite3* db, int rc);

/// Prepares a statement kept for the life of the connection.
int prepare(sqlite3* db, const char* sql, StmtPtr* out);

/// Opens a connection to `path` with `flags` into `*db`, which is set even when that fails (it
/// then holds the error message, or is null). Once open: extended result codes, and a busy
/// timeout of `busy_timeout_ms`.
int openConnection(const std::string& path, int flags, int busy_timeout_ms, DbPtr* db);

/// Steps a statement once and resets it; returns the step's result code.
int stepOnce(sqlite3_stmt* stmt);

/// Runs a statement that returns at most one row; `row` (may be null) sees that row.
template <typename OnRow>
int queryOne(sqlite3* db, const char* sql, OnRow on_row) {
    StmtPtr stmt;
    int rc = prepare(db, sql, &stmt);
    if (rc != SQLITE_OK) {
        return rc;
    }
    rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_ROW) {
        on_row(stmt.get());
        return SQLITE_OK;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/// Runs a statement whose one row holds one text column (a PRAGMA's answer) into `*out` ("" for
/// NULL; unchanged when there is no row).
inline int queryText(sqlite3* db, const char* sql, std::string* out) {
    return queryOne(db, sql, [out](sqlite3_stmt* s) {
        const auto* text = sqlite3_column_text(s, 0);
        *out = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    });
}

/// The same for one integer column.
inline int queryInt64(sqlite3* db, const char* sql, int64_t* out) {
    return queryOne(db, sql, [out](sqlite3_stmt* s) { *out = sqlite3_column_int64(s, 0); });
}

}  // namespace uplinkd::spool_sql
