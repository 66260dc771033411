// SPDX-License-Identifier: Apache-2.0
#include "spool/sqlite_util.hpp"

#include <cstring>

namespace uplinkd::spool_sql {

const char* codeName(int rc) {
    switch (rc) {
        case SQLITE_IOERR_READ:
            return "SQLITE_IOERR_READ";
        case SQLITE_IOERR_SHORT_READ:
            return "SQLITE_IOERR_SHORT_READ";
        case SQLITE_IOERR_WRITE:
            return "SQLITE_IOERR_WRITE";
        case SQLITE_IOERR_FSYNC:
            return "SQLITE_IOERR_FSYNC";
        case SQLITE_IOERR_DIR_FSYNC:
            return "SQLITE_IOERR_DIR_FSYNC";
        case SQLITE_IOERR_TRUNCATE:
            return "SQLITE_IOERR_TRUNCATE";
        case SQLITE_IOERR_FSTAT:
            return "SQLITE_IOERR_FSTAT";
        case SQLITE_IOERR_DELETE:
            return "SQLITE_IOERR_DELETE";
        case SQLITE_IOERR_NOMEM:
            return "SQLITE_IOERR_NOMEM";
        case SQLITE_IOERR_ACCESS:
            return "SQLITE_IOERR_ACCESS";
        case SQLITE_IOERR_LOCK:
            return "SQLITE_IOERR_LOCK";
        case SQLITE_IOERR_SHMOPEN:
            return "SQLITE_IOERR_SHMOPEN";
        case SQLITE_IOERR_SHMSIZE:
            return "SQLITE_IOERR_SHMSIZE";
        case SQLITE_IOERR_SHMMAP:
            return "SQLITE_IOERR_SHMMAP";
        case SQLITE_IOERR_SEEK:
            return "SQLITE_IOERR_SEEK";
        case SQLITE_IOERR_CORRUPTFS:
            return "SQLITE_IOERR_CORRUPTFS";
        case SQLITE_BUSY_RECOVERY:
            return "SQLITE_BUSY_RECOVERY";
        case SQLITE_BUSY_SNAPSHOT:
            return "SQLITE_BUSY_SNAPSHOT";
        case SQLITE_CANTOPEN_ISDIR:
            return "SQLITE_CANTOPEN_ISDIR";
        case SQLITE_CANTOPEN_DIRTYWAL:
            return "SQLITE_CANTOPEN_DIRTYWAL";
        case SQLITE_CORRUPT_INDEX:
            return "SQLITE_CORRUPT_INDEX";
        case SQLITE_READONLY_CANTINIT:
            return "SQLITE_READONLY_CANTINIT";
        case SQLITE_READONLY_DIRECTORY:
            return "SQLITE_READONLY_DIRECTORY";
        case SQLITE_READONLY_DBMOVED:
            return "SQLITE_READONLY_DBMOVED";
        default:
            break;
    }
    switch (rc & 0xff) {
        case SQLITE_OK:
            return "SQLITE_OK";
        case SQLITE_ERROR:
            return "SQLITE_ERROR";
        case SQLITE_INTERNAL:
            return "SQLITE_INTERNAL";
        case SQLITE_PERM:
            return "SQLITE_PERM";
        case SQLITE_ABORT:
            return "SQLITE_ABORT";
        case SQLITE_BUSY:
            return "SQLITE_BUSY";
        case SQLITE_LOCKED:
            return "SQLITE_LOCKED";
        case SQLITE_NOMEM:
            return "SQLITE_NOMEM";
        case SQLITE_READONLY:
            return "SQLITE_READONLY";
        case SQLITE_INTERRUPT:
            return "SQLITE_INTERRUPT";
        case SQLITE_IOERR:
            return "SQLITE_IOERR";
        case SQLITE_CORRUPT:
            return "SQLITE_CORRUPT";
        case SQLITE_NOTFOUND:
            return "SQLITE_NOTFOUND";
        case SQLITE_FULL:
            return "SQLITE_FULL";
        case SQLITE_CANTOPEN:
            return "SQLITE_CANTOPEN";
        case SQLITE_PROTOCOL:
            return "SQLITE_PROTOCOL";
        case SQLITE_SCHEMA:
            return "SQLITE_SCHEMA";
        case SQLITE_TOOBIG:
            return "SQLITE_TOOBIG";
        case SQLITE_CONSTRAINT:
            return "SQLITE_CONSTRAINT";
        case SQLITE_MISMATCH:
            return "SQLITE_MISMATCH";
        case SQLITE_MISUSE:
            return "SQLITE_MISUSE";
        case SQLITE_NOLFS:
            return "SQLITE_NOLFS";
        case SQLITE_AUTH:
            return "SQLITE_AUTH";
        case SQLITE_RANGE:
            return "SQLITE_RANGE";
        case SQLITE_NOTADB:
            return "SQLITE_NOTADB";
        default:
            return "SQLITE_?";
    }
}

std::string describeSqlite(sqlite3* db, int rc) {
    const char* generic = sqlite3_errstr(rc);
    std::string text = generic;
    text += " (";
    text += codeName(rc);
    text += ")";
    if (db != nullptr) {
        const char* detail = sqlite3_errmsg(db);
        if (detail != nullptr && std::strcmp(detail, generic) != 0 &&
            std::strcmp(detail, "not an error") != 0) {
            text += ": ";
            text += detail;
        }
        if (const int sys = sqlite3_system_errno(db); sys != 0) {
            text += ": ";
            text += std::strerror(sys);
        }
    }
    return text;
}

int openConnection(const std::string& path, int flags, int busy_timeout_ms, DbPtr* db) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    db->reset(raw);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(raw, 1);
        sqlite3_busy_timeout(raw, busy_timeout_ms);
    }
    return rc;
}

int prepare(sqlite3* db, const char* sql, StmtPtr* out) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    out->reset(raw);
    return rc;
}

int stepOnce(sqlite3_stmt* stmt) {
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc;
}

}  // namespace uplinkd::spool_sql
