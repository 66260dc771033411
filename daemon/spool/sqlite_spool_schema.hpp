// SPDX-License-Identifier: Apache-2.0
// The spool's file format and every SQL statement it runs. Thread: any (constants).
#pragma once

#include <cstdint>
#include <string>

namespace uplinkd::sqlite_spool_detail {

// ---- The file format, in one place. Bump kSchemaVersion on any change; a file with another
// version is not used (it is moved aside).
inline constexpr int64_t kSchemaVersion = 2;
inline constexpr int64_t kApplicationId = 0x55504C4B;  // "UPLK": marks the file as an uplinkd spool
/// The dead-letter table: created with the others, or added to a version 1 file.
inline constexpr const char* kCreateDeadLettersSql = R"sql(
CREATE TABLE dead_letters (
    seq        INTEGER PRIMARY KEY,  -- the seq it had in messages
    route      TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    properties TEXT,
    created_ms INTEGER NOT NULL,
    reason     TEXT    NOT NULL,     -- why the broker or the cloud's limits refused it
    attempts   INTEGER NOT NULL,
    dead_ms    INTEGER NOT NULL      -- when it left the queue, ms since the epoch
);
)sql";
inline const std::string kCreateSchemaSql = std::string(R"sql(
BEGIN IMMEDIATE;
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,  -- assigned by the spool, never reused (see spool_meta)
    route      TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    properties TEXT,                 -- JSON [["key","value"],...]; NULL when there are none
    created_ms INTEGER NOT NULL      -- ms since the epoch
);
CREATE INDEX messages_by_route_seq ON messages(route, seq);
CREATE INDEX messages_by_route_created ON messages(route, created_ms);
CREATE TABLE spool_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO spool_meta(key, value) VALUES ('last_seq', 0);  -- highest seq ever written
)sql") + kCreateDeadLettersSql + R"sql(
PRAGMA user_version = 2;
PRAGMA application_id = 1431325771;
COMMIT;
)sql";
static_assert(kSchemaVersion == 2 && kApplicationId == 1431325771,
              "kCreateSchemaSql sets user_version and application_id literally");
// Version 1 (before dead letters) → 2: the same tables plus dead_letters.
inline const std::string kMigrate1To2Sql = std::string("BEGIN IMMEDIATE;\n") +
                                           kCreateDeadLettersSql +
                                           "PRAGMA user_version = 2;\nCOMMIT;\n";

// Writer (worker thread).
inline constexpr const char* kBeginSql = "BEGIN IMMEDIATE";
inline constexpr const char* kCommitSql = "COMMIT";
inline constexpr const char* kRollbackSql = "ROLLBACK";
inline constexpr const char* kInsertSql =
    "INSERT INTO messages(seq, route, topic, payload, qos, retain, properties, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr const char* kDeleteSql = "DELETE FROM messages WHERE seq = ?1";
inline constexpr const char* kUpdateLastSeqSql =
    "UPDATE spool_meta SET value = max(value, ?1) WHERE key = 'last_seq'";
inline constexpr const char* kMoveToDeadSql =
    "INSERT OR REPLACE INTO dead_letters(seq, route, topic, payload, qos, retain, properties, "
    "created_ms, reason, attempts, dead_ms) SELECT seq, route, topic, payload, qos, retain, "
    "properties, created_ms, ?2, ?3, ?4 FROM messages WHERE seq = ?1";
inline constexpr const char* kDeleteDeadSql = "DELETE FROM dead_letters WHERE seq = ?1";
// Reader (loop thread).
// A payload over 64 KiB (kInlinePayloadBytes) is not selected (SQLite would assemble its
// overflow pages in a buffer of its own): the lease reads it by count (sqlite3_blob_read).
inline constexpr int64_t kInlinePayloadBytes = 65536;
inline constexpr const char* kLeaseSql =
    "SELECT seq, topic, CASE WHEN length(payload) <= 65536 THEN payload END, qos, retain, "
    "properties, created_ms, length(payload) FROM messages "
    "WHERE route = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq";
inline constexpr const char* kScanSql =
    "SELECT seq, length(payload), created_ms FROM messages "
    "WHERE route = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq";
inline constexpr const char* kExpireSql =
    "SELECT seq, length(payload) FROM messages WHERE route = ?1 AND created_ms < ?2";
inline constexpr const char* kLookupSql =
    "SELECT length(payload) FROM messages WHERE seq = ?1 AND route = ?2";
inline constexpr const char* kDeadColumns =
    "SELECT seq, route, topic, payload, qos, retain, properties, created_ms, reason, attempts, "
    "dead_ms FROM dead_letters ";

/// What the open reads once on the reader connection to learn the routes' state
/// (sqlite_spool_open.cpp; created_of also checks saved counters).
struct OpenSql {
    /// Each route's depth, bytes and head seq, counted (when no saved counters are trusted).
    const char* count_routes =
        "SELECT route, count(*), sum(length(payload)), min(seq) FROM messages GROUP BY route";
    /// The creation time of a route's message: its head's is the route's age.
    const char* created_of = "SELECT created_ms FROM messages WHERE seq = ?1 AND route = ?2";
    const char* count_dead = "SELECT route, count(*) FROM dead_letters GROUP BY route";
    /// The next seq follows the highest ever written, even when all were delivered.
    const char* max_seq =
        "SELECT max(coalesce((SELECT max(seq) FROM messages), 0), "
        "coalesce((SELECT value FROM spool_meta WHERE key = 'last_seq'), 0))";
};
inline constexpr OpenSql kOpenSql;

/// Counters saved at a clean close (sqlite_spool_counters.cpp), one row per route with queued
/// messages. An optional table, created when missing and ignored by versions that do not know
/// it, so it needs no new schema version: it is emptied at every open and trusted only when
/// spool_meta says it was written and the file was closed cleanly since.
struct SavedCountersSql {
    /// At every open, before the file changes: the table, empty, and no "saved" mark.
    const char* invalidate = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS route_counters (
    route    TEXT    PRIMARY KEY,
    depth    INTEGER NOT NULL,   -- queued messages of the route
    bytes    INTEGER NOT NULL,   -- sum of their payload sizes
    head_seq INTEGER NOT NULL    -- lowest queued seq of the route
) WITHOUT ROWID;
DELETE FROM route_counters;
DELETE FROM spool_meta WHERE key = 'counters_saved';
COMMIT;
)sql";
    // Open (reader connection): whether they were saved, and the rows.
    const char* saved_mark = "SELECT value FROM spool_meta WHERE key = 'counters_saved'";
    const char* load = "SELECT route, depth, bytes, head_seq FROM route_counters";
    // Clean close (writer connection), in one transaction.
    const char* clear = "DELETE FROM route_counters";
    const char* head_of_route = "SELECT min(seq) FROM messages WHERE route = ?1";
    const char* save =
        "INSERT INTO route_counters(route, depth, bytes, head_seq) VALUES (?1, ?2, ?3, ?4)";
    const char* mark_saved =
        "INSERT OR REPLACE INTO spool_meta(key, value) VALUES ('counters_saved', 1)";
};
inline constexpr SavedCountersSql kSavedCountersSql;

}  // namespace uplinkd::sqlite_spool_detail
