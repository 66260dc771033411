// SPDX-License-Identifier: Apache-2.0
// Opening the spool: connections, schema, upgrade, recovery. Thread: the loop, worker not started.
// clang-format off
#include <cstddef>  // before Asio: its config reads libstdc++ macros (aligned_alloc vs operator new)
// clang-format on
#include <malloc.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <string>
#include <utility>

#include "spool/sqlite_spool_files.hpp"
#include "spool/sqlite_spool_impl.hpp"
#include "spool/sqlite_spool_schema.hpp"

namespace uplinkd {

using spool_sql::describeSqlite;
using spool_sql::openConnection;
using spool_sql::prepare;
using spool_sql::queryInt64;
using spool_sql::queryOne;
using spool_sql::queryText;
using spool_sql::StmtPtr;
using namespace sqlite_spool_detail;

namespace {

constexpr int kBusyTimeoutMs = 5000;
// Page cache capped at 512 KiB per connection (negative: KiB): appends, deletes and leases work
// at the ends of the tables and indexes, so a few hundred pages hold what they touch; a larger
// cache only kept pages of the backlog already delivered (2 MB each cost 4 MB of heap after a
// backlog, for the same throughput: issue 14). The WAL file is truncated back to 16 MB after a
// checkpoint.
constexpr const char* kWriterPragmas =
    "PRAGMA synchronous = FULL; PRAGMA cache_size = -512; PRAGMA journal_size_limit = 16777216;";
constexpr const char* kReaderPragmas = "PRAGMA query_only = 1; PRAGMA cache_size = -512;";

}  // namespace

bool SqliteSpool::Impl::openDatabase(OpenFailure* failure) {
    const auto io = [&](const std::string& why) {
        failure->corrupt = false;
        failure->error = ioFailure(path_, why).error;
        return false;
    };
    const auto corrupt = [&](const std::string& reason) {
        failure->corrupt = true;
        failure->reason = reason;
        failure->error = ioFailure(path_, "not a usable spool: " + reason).error;
        return false;
    };
    const auto sqlFailed = [&](sqlite3* db, int rc, const std::string& what) {
        if ((rc & 0xff) == SQLITE_NOTADB) {
            return corrupt("it is not an SQLite database");
        }
        if ((rc & 0xff) == SQLITE_CORRUPT) {
            return corrupt("the database is damaged: " + describeSqlite(db, rc));
        }
        if ((rc & 0xff) == SQLITE_BUSY) {
            return io(what +
                      ": the database is locked by another process (is a second "
                      "uplinkd running?)");
        }
        return io(what + ": " + describeSqlite(db, rc));
    };

    // Writer connection: creates the file, sets WAL, creates or checks the schema.
    restrictFileModes(path_);
    int rc = openConnection(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            kBusyTimeoutMs, &write_db_);
    if (rc != SQLITE_OK) {
        return sqlFailed(write_db_.get(), rc, "cannot open");
    }
    sqlite3* db = write_db_.get();
    if (sqlite3_db_readonly(db, "main") == 1) {
        return io("the file is read-only");
    }
    std::string mode;
    rc = queryText(db, "PRAGMA journal_mode = WAL", &mode);
    if (rc != SQLITE_OK) {
        return sqlFailed(db, rc, "cannot read it");
    }
    if (mode != "wal") {
        return io("cannot switch it to WAL mode (journal_mode stays \"" + mode + "\")");
    }
    if (rc = sqlite3_exec(db, kWriterPragmas, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        return sqlFailed(db, rc, "cannot configure it");
    }

    int64_t user_version = 0;
    int64_t application_id = 0;
    int64_t objects = 0;
    rc = queryInt64(db, "PRAGMA user_version", &user_version);
    if (rc == SQLITE_OK) {
        rc = queryInt64(db, "PRAGMA application_id", &application_id);
    }
    if (rc == SQLITE_OK) {
        rc = queryInt64(db, "SELECT count(*) FROM sqlite_master", &objects);
    }
    if (rc != SQLITE_OK) {
        return sqlFailed(db, rc, "cannot read its schema");
    }
    if (objects == 0 && user_version == 0 && application_id == 0) {
        open_check_ = SqliteSpool::OpenCheck::Created;
        rc = sqlite3_exec(db, kCreateSchemaSql.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) {
            const std::string what = describeSqlite(db, rc);
            sqlite3_exec(db, kRollbackSql, nullptr, nullptr, nullptr);
            return io("cannot create the spool tables: " + what);
        }
        syncDirectory(parentDir(path_));
    } else if (application_id != kApplicationId) {
        return corrupt("it is an SQLite database of another program");
    } else if (user_version != kSchemaVersion && user_version != 1) {
        return corrupt("it has spool schema version " + std::to_string(user_version) +
                       ", this uplinkd uses version " + std::to_string(kSchemaVersion));
    } else if (!closed_cleanly_) {
        // After a crash (or when the file changed while no uplinkd had it open): reads every page
        // of the file once, so damage is found now rather than on a later lease.
        open_check_ = SqliteSpool::OpenCheck::Checked;
        std::string verdict;
        rc = queryText(db, "PRAGMA quick_check", &verdict);
        if (rc != SQLITE_OK) {
            return sqlFailed(db, rc, "cannot check it");
        }
        if (verdict != "ok") {
            return corrupt("the database is damaged: " + firstLine(verdict));
        }
    }
    if (objects != 0 &&
        user_version == 1) {  // written before dead letters existed: add their table
        rc = sqlite3_exec(db, kMigrate1To2Sql.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) {
            const std::string what = describeSqlite(db, rc);
            sqlite3_exec(db, kRollbackSql, nullptr, nullptr, nullptr);
            return io("cannot upgrade it from spool schema version 1 to " +
                      std::to_string(kSchemaVersion) + ": " + what);
        }
    }

    for (const auto& [stmt, sql] :
         {std::pair{&begin_, kBeginSql}, std::pair{&commit_, kCommitSql},
          std::pair{&rollback_, kRollbackSql}, std::pair{&insert_, kInsertSql},
          std::pair{&delete_, kDeleteSql}, std::pair{&update_last_seq_, kUpdateLastSeqSql},
          std::pair{&move_dead_, kMoveToDeadSql}, std::pair{&delete_dead_, kDeleteDeadSql}}) {
        if (rc = prepare(db, sql, stmt); rc != SQLITE_OK) {
            if ((rc & 0xff) == SQLITE_ERROR) {
                return corrupt("its tables do not match spool schema version " +
                               std::to_string(kSchemaVersion) + " (" + describeSqlite(db, rc) +
                               ")");
            }
            return sqlFailed(db, rc, "cannot prepare statements");
        }
    }

    // Reader connection: lease, drop-oldest and expiry scans on the loop thread (WAL lets it
    // read while the worker writes).
    rc = openConnection(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMs,
                        &read_db_);
    if (rc != SQLITE_OK) {
        return sqlFailed(read_db_.get(), rc, "cannot open a second connection");
    }
    sqlite3* rdb = read_db_.get();
    if (rc = sqlite3_exec(rdb, kReaderPragmas, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        return sqlFailed(rdb, rc, "cannot configure the second connection");
    }
    for (const auto& [stmt, sql] :
         {std::pair{&lease_, kLeaseSql}, std::pair{&scan_, kScanSql},
          std::pair{&expire_, kExpireSql}, std::pair{&lookup_, kLookupSql}}) {
        if (rc = prepare(rdb, sql, stmt); rc != SQLITE_OK) {
            return sqlFailed(rdb, rc, "cannot prepare statements");
        }
    }

    if (rc = loadState(); rc != SQLITE_OK) {
        return sqlFailed(rdb, rc, "cannot read the queued messages");
    }
    // From here on the file changes, so counters saved at the last close no longer describe it.
    // If this fails (e.g. a full disk), they still are not trusted: the clean mark is gone, and
    // only a clean close, which saves them anew, leaves another.
    (void)invalidateSavedCounters();
    // The check and the count read through both page caches; what they cached is not what the
    // appends and leases need next, so it is given back now rather than kept for the daemon's life.
    sqlite3_db_release_memory(db);
    sqlite3_db_release_memory(rdb);
    ::malloc_trim(0);
    opened_ = true;
    return true;
}

int SqliteSpool::Impl::loadState() {
    sqlite3* db = read_db_.get();
    counters_restored_ = restoreCounters();
    int rc = counters_restored_ ? SQLITE_OK : countRoutes();
    if (rc != SQLITE_OK) {
        return rc;
    }
    StmtPtr dead;
    if (rc = prepare(db, kOpenSql.count_dead, &dead); rc != SQLITE_OK) {
        return rc;
    }
    while ((rc = sqlite3_step(dead.get())) == SQLITE_ROW) {
        const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(dead.get(), 0));
        routeFor(name != nullptr ? name : "").stats.dead_lettered =
            static_cast<uint64_t>(sqlite3_column_int64(dead.get(), 1));
    }
    if (rc != SQLITE_DONE) {
        return rc;
    }
    uint64_t last_seq = 0;
    rc = queryOne(db, kOpenSql.max_seq, [&](sqlite3_stmt* s) {
        last_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    });
    next_seq_ = last_seq + 1;
    committed_seq_ = last_seq;
    return rc;
}

int SqliteSpool::Impl::countRoutes() {
    sqlite3* db = read_db_.get();
    StmtPtr routes;
    int rc = prepare(db, kOpenSql.count_routes, &routes);
    if (rc != SQLITE_OK) {
        return rc;
    }
    while ((rc = sqlite3_step(routes.get())) == SQLITE_ROW) {
        const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(routes.get(), 0));
        RouteState& rs = routeFor(name != nullptr ? name : "");
        rs.stats.depth = static_cast<uint64_t>(sqlite3_column_int64(routes.get(), 1));
        rs.stats.bytes = static_cast<uint64_t>(sqlite3_column_int64(routes.get(), 2));
        rs.head_seq = static_cast<uint64_t>(sqlite3_column_int64(routes.get(), 3));
        rs.floor = rs.head_seq - 1;
    }
    if (rc != SQLITE_DONE) {
        return rc;
    }
    StmtPtr created;
    if (rc = prepare(db, kOpenSql.created_of, &created); rc != SQLITE_OK) {
        return rc;
    }
    for (auto& [name, rs] : routes_) {
        sqlite3_bind_int64(created.get(), 1, static_cast<sqlite3_int64>(rs.head_seq));
        sqlite3_bind_text64(created.get(), 2, name.data(), name.size(), SQLITE_STATIC, SQLITE_UTF8);
        rc = sqlite3_step(created.get());
        if (rc == SQLITE_ROW) {
            rs.stats.oldest_created_ms = sqlite3_column_int64(created.get(), 0);
        }
        sqlite3_reset(created.get());
        if (rc != SQLITE_ROW) {
            return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
        }
    }
    return SQLITE_OK;
}

Result<std::unique_ptr<SqliteSpool>> SqliteSpool::open(asio::io_context& loop,
                                                       const std::string& path,
                                                       std::string* recovery_note) {
    if (recovery_note != nullptr) {
        recovery_note->clear();
    }
    if (auto st = checkDirectory(path); !st) {
        return st.failure();
    }
    // The reserve makes room for opening a spool on a full disk (-shm, -wal); it is made again
    // below.
    ::unlink((path + "-reserve").c_str());
    auto impl = std::make_unique<Impl>(loop, path);
    impl->closed_cleanly_ = takeCleanMark(path);
    OpenFailure failure;
    if (!impl->openDatabase(&failure)) {
        if (!failure.corrupt) {
            return fail(failure.error);
        }
        impl.reset();  // close the file before moving it
        auto aside = moveAside(path);
        if (!aside) {
            return aside.failure();
        }
        const std::string reason = failure.reason;
        impl = std::make_unique<Impl>(loop, path);
        if (!impl->openDatabase(&failure)) {
            return fail(makeError("spool_io", failure.error.message));
        }
        if (recovery_note != nullptr) {
            *recovery_note = "The spool file \"" + path + "\" could not be used (" + reason +
                             "), so it was moved to \"" + *aside +
                             "\" and a new, empty spool was created; messages still queued in "
                             "the old file will not be sent.";
        }
    }
    impl->claimReserveAtOpen();
    impl->start();
    return std::unique_ptr<SqliteSpool>(std::move(impl));
}

}  // namespace uplinkd
