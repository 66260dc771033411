#include "spool/sqlite_spool.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <asio/post.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "spool/disk_reserve.hpp"
#include "spool/sqlite_util.hpp"

namespace uplinkd {
namespace {

using spool_sql::DbPtr;
using spool_sql::describeSqlite;
using spool_sql::prepare;
using spool_sql::queryOne;
using spool_sql::stepOnce;
using spool_sql::StmtPtr;
using spool_sql::StmtReset;

// ---- The file format, in one place. Bump kSchemaVersion on any change; a file with another
// version is not used (it is moved aside).
constexpr int64_t kSchemaVersion = 2;
constexpr int64_t kApplicationId = 0x55504C4B;  // "UPLK": marks the file as an uplinkd spool
constexpr const char* kCreateSchemaSql = R"sql(
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
PRAGMA user_version = 2;
PRAGMA application_id = 1431325771;
COMMIT;
)sql";
static_assert(kSchemaVersion == 2 && kApplicationId == 1431325771,
              "kCreateSchemaSql sets user_version and application_id literally");
// Version 1 (before dead letters) → 2: the same tables plus dead_letters.
constexpr const char* kMigrate1To2Sql = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE dead_letters (
    seq        INTEGER PRIMARY KEY,
    route      TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    properties TEXT,
    created_ms INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    attempts   INTEGER NOT NULL,
    dead_ms    INTEGER NOT NULL
);
PRAGMA user_version = 2;
COMMIT;
)sql";

// Writer (worker thread).
constexpr const char* kBeginSql = "BEGIN IMMEDIATE";
constexpr const char* kCommitSql = "COMMIT";
constexpr const char* kRollbackSql = "ROLLBACK";
constexpr const char* kInsertSql =
    "INSERT INTO messages(seq, route, topic, payload, qos, retain, properties, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kDeleteSql = "DELETE FROM messages WHERE seq = ?1";
constexpr const char* kUpdateLastSeqSql =
    "UPDATE spool_meta SET value = max(value, ?1) WHERE key = 'last_seq'";
constexpr const char* kMoveToDeadSql =
    "INSERT OR REPLACE INTO dead_letters(seq, route, topic, payload, qos, retain, properties, "
    "created_ms, reason, attempts, dead_ms) SELECT seq, route, topic, payload, qos, retain, "
    "properties, created_ms, ?2, ?3, ?4 FROM messages WHERE seq = ?1";
constexpr const char* kDeleteDeadSql = "DELETE FROM dead_letters WHERE seq = ?1";
// Reader (loop thread).
constexpr const char* kLeaseSql =
    "SELECT seq, topic, payload, qos, retain, properties, created_ms FROM messages "
    "WHERE route = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq";
constexpr const char* kScanSql =
    "SELECT seq, length(payload), created_ms FROM messages "
    "WHERE route = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq";
constexpr const char* kExpireSql =
    "SELECT seq, length(payload) FROM messages WHERE route = ?1 AND created_ms < ?2";
constexpr const char* kLookupSql =
    "SELECT length(payload) FROM messages WHERE seq = ?1 AND route = ?2";
constexpr const char* kDeadColumns =
    "SELECT seq, route, topic, payload, qos, retain, properties, created_ms, reason, attempts, "
    "dead_ms FROM dead_letters ";
constexpr const char* kCountDeadSql = "SELECT route, count(*) FROM dead_letters GROUP BY route";
// Open.
constexpr const char* kLoadRoutesSql =
    "SELECT route, count(*), sum(length(payload)), min(seq) FROM messages GROUP BY route";
constexpr const char* kCreatedOfSql = "SELECT created_ms FROM messages WHERE seq = ?1";
constexpr const char* kMaxSeqSql =
    "SELECT max(coalesce((SELECT max(seq) FROM messages), 0), "
    "coalesce((SELECT value FROM spool_meta WHERE key = 'last_seq'), 0))";

constexpr int kBusyTimeoutMs = 5000;
// Room kept free next to the spool (the "<path>-reserve" file) for the disk-full case: when a
// commit fails for lack of space the file is deleted, which leaves room for the WAL frames of the
// deletes that free the disk, for a checkpoint, and after a restart for the -shm and -wal files.
// Deleting a whole inflight window of acknowledged messages writes a few dozen pages; 2 MiB holds
// about 500 WAL frames of 4 KiB. New messages are refused until twice this much is free again.
constexpr uint64_t kReserveBytes = 2 * 1024 * 1024;
// While the disk is full the worker looks for free space this often (no restart needed).
constexpr auto kDiskFullPoll = std::chrono::milliseconds(500);
// Queued inserts kept allocated between batches; above this a burst's memory is given back.
constexpr size_t kKeptQueueCapacity = 8192;
// Page cache capped at about 2 MB per connection (negative: KiB); the WAL file is truncated back
// to 16 MB after a checkpoint.
constexpr const char* kWriterPragmas =
    "PRAGMA synchronous = FULL; PRAGMA cache_size = -2000; PRAGMA journal_size_limit = 16777216;";
constexpr const char* kReaderPragmas = "PRAGMA query_only = 1; PRAGMA cache_size = -2000;";

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string parentDir(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool pathExists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

/// Makes a rename or a new file in `dir` durable.
void syncDirectory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

/// The first real line of a multi-line SQLite report, e.g. of PRAGMA quick_check.
std::string firstLine(const std::string& text) {
    size_t begin = 0;
    for (;;) {
        const size_t end = text.find('\n', begin);
        const std::string line = text.substr(begin, end == std::string::npos ? end : end - begin);
        if (!line.empty() && line.rfind("***", 0) != 0) {
            return line;
        }
        if (end == std::string::npos) {
            return text.empty() ? "unknown problem" : line;
        }
        begin = end + 1;
    }
}

Failure ioFailure(const std::string& path, const std::string& why) {
    return fail("spool_io", "spool: open \"" + path + "\": " + why);
}

Status checkDirectory(const std::string& path) {
    if (path.empty()) {
        return fail("spool_io", "spool: open: no path given for the spool database");
    }
    const std::string dir = parentDir(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        return ioFailure(path, err == ENOENT ? "directory \"" + dir + "\" does not exist"
                                             : "directory \"" + dir + "\" cannot be read (" +
                                                   std::strerror(err) + ")");
    }
    if (!S_ISDIR(st.st_mode)) {
        return ioFailure(path, "\"" + dir + "\" is not a directory");
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return ioFailure(path, "directory \"" + dir + "\" is not writable (" +
                                   std::strerror(errno) +
                                   "); the spool creates its -wal and -shm files there");
    }
    return okStatus();
}

/// Spooled payloads are not for every user: creates the database file mode 0640 whatever the
/// umask (SQLite gives its -wal and -shm files the mode of the database file), and takes group
/// write and every right of others away from the files an older version may have left.
void restrictFileModes(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd >= 0) {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && (st.st_mode & 0027) != 0) {
            (void)::fchmod(fd, (st.st_mode & 0740) | 0600);
        }
        ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        const std::string file = path + suffix;
        struct stat st {};
        if (::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0027) != 0) {
            (void)::chmod(file.c_str(), (st.st_mode & 0740) | 0600);
        }
    }
}

/// Renames a database that is not a usable spool (and its -wal, -shm, -journal files) to
/// "<path>.corrupt-<unix time>"; returns the new name.
Result<std::string> moveAside(const std::string& path) {
    const std::string stem =
        path + ".corrupt-" + std::to_string(static_cast<long long>(::time(nullptr)));
    std::string aside = stem;
    for (int i = 1; pathExists(aside); ++i) {
        aside = stem + "-" + std::to_string(i);
    }
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        const std::string from = path + suffix;
        const std::string to = aside + suffix;
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
            return ioFailure(path,
                             "the file is not a usable spool and cannot be moved aside to \"" + to +
                                 "\" (" + std::strerror(errno) + ")");
        }
    }
    syncDirectory(parentDir(path));
    return aside;
}

/// Properties as JSON text `[["key","value"],...]`; empty when there are none.
Result<std::string> encodeProperties(const Properties& properties) {
    if (properties.empty()) {
        return std::string();
    }
    nlohmann::json array = nlohmann::json::array();
    for (const auto& [key, value] : properties) {
        array.push_back(nlohmann::json::array({key, value}));
    }
    try {
        return array.dump();
    } catch (const nlohmann::json::exception&) {
        return fail("spool_invalid", "spool: append: a user property is not valid UTF-8");
    }
}

Properties decodeProperties(const unsigned char* text, int size) {
    Properties out;
    if (text == nullptr || size <= 0) {
        return out;
    }
    const char* begin = reinterpret_cast<const char*>(text);
    const auto parsed = nlohmann::json::parse(begin, begin + size, nullptr, false);
    if (!parsed.is_array()) {
        return out;
    }
    for (const auto& pair : parsed) {
        if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
            out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
        }
    }
    return out;
}

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

/// Why opening failed; `corrupt` means the file is not a usable spool and may be moved aside.
struct OpenFailure {
    Error error;
    bool corrupt = false;
    std::string reason;  ///< plain words, for the recovery note
};

}  // namespace

struct SqliteSpool::Impl {
    struct LeaseInfo {
        uint64_t size;
        int64_t created_ms;
    };
    struct InFlight {  ///< accepted, commit not yet reported to the loop
        uint64_t seq;
        uint64_t size;
        int64_t created_ms;
        bool removed = false;  ///< displaced by drop-oldest before its commit was reported
    };
    struct RouteState {
        std::string name;
        SpoolLimits limits;
        SpoolStats stats;       ///< `leased` is filled in by stats()
        uint64_t head_seq = 0;  ///< lowest live seq (its created_ms is stats.oldest_created_ms)
        bool head_stale = false;
        /// Every live message that is not leased has seq > floor (so leased ones are <= floor).
        uint64_t floor = 0;
        std::map<uint64_t, LeaseInfo> leased;
        std::deque<InFlight> in_flight;  ///< in seq order
    };
    struct PendingAppend {
        uint64_t seq;
        RouteState* route;
        AppendDone done;
    };
    struct InsertOp {
        bool retain = false;
        int qos = 0;
        uint64_t seq = 0;
        int64_t created_ms = 0;
        std::string route;
        std::string topic;
        std::string payload;
        std::string properties;
    };
    struct MoveOp {  ///< a message row copied to dead_letters (its delete follows)
        uint64_t seq = 0;
        int attempts = 0;
        int64_t dead_ms = 0;
        std::string reason;
    };
    /// What the worker writes in one go; the ops are what is not an insert.
    struct Batch {
        std::vector<InsertOp> inserts;
        std::vector<MoveOp> moves;
        std::vector<uint64_t> dead_deletes;
        std::vector<uint64_t> deletes;

        bool emptyOfOps() const { return moves.empty() && dead_deletes.empty() && deletes.empty(); }
        /// Appends the ops of `other` (emptied) after this batch's own.
        void takeOps(Batch& other) {
            std::move(other.moves.begin(), other.moves.end(), std::back_inserter(moves));
            dead_deletes.insert(dead_deletes.end(), other.dead_deletes.begin(),
                                other.dead_deletes.end());
            deletes.insert(deletes.end(), other.deletes.begin(), other.deletes.end());
            other.moves.clear();
            other.dead_deletes.clear();
            other.deletes.clear();
        }
        void clear() {
            inserts.clear();
            moves.clear();
            dead_deletes.clear();
            deletes.clear();
        }
    };
    struct BatchResult {
        uint64_t last_insert_seq = 0;        ///< 0: the batch had no inserts
        Status status;                       ///< of the inserts
        std::vector<uint64_t> deleted;       ///< committed deletes
        std::vector<uint64_t> dead_deleted;  ///< committed deletes of dead letters
        bool disk_full_began = false;        ///< a commit failed for lack of space
        bool space_back = false;             ///< the reserve could be made again
        std::string full_route;              ///< a route whose append met the full disk
    };

    Impl(asio::io_context& loop, std::string path) : loop_(loop), path_(std::move(path)) {}

    ~Impl() {
        if (worker_.joinable()) {
            {
                std::lock_guard lock(mu_);
                stop_ = true;
            }
            cv_.notify_one();
            worker_.join();  // commits whatever is still queued
        }
        *alive_ = false;  // batch completions already posted find the spool gone
    }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // ---- open (loop thread, before the worker starts)

    bool openDatabase(OpenFailure* failure) {
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
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(path_.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        write_db_.reset(raw);
        if (rc != SQLITE_OK) {
            return sqlFailed(raw, rc, "cannot open");
        }
        sqlite3* db = write_db_.get();
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, kBusyTimeoutMs);
        if (sqlite3_db_readonly(db, "main") == 1) {
            return io("the file is read-only");
        }
        std::string mode;
        rc = queryOne(db, "PRAGMA journal_mode = WAL", [&](sqlite3_stmt* s) {
            const auto* text = sqlite3_column_text(s, 0);
            mode = text != nullptr ? reinterpret_cast<const char*>(text) : "";
        });
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
        rc = queryOne(db, "PRAGMA user_version",
                      [&](sqlite3_stmt* s) { user_version = sqlite3_column_int64(s, 0); });
        if (rc == SQLITE_OK) {
            rc = queryOne(db, "PRAGMA application_id",
                          [&](sqlite3_stmt* s) { application_id = sqlite3_column_int64(s, 0); });
        }
        if (rc == SQLITE_OK) {
            rc = queryOne(db, "SELECT count(*) FROM sqlite_master",
                          [&](sqlite3_stmt* s) { objects = sqlite3_column_int64(s, 0); });
        }
        if (rc != SQLITE_OK) {
            return sqlFailed(db, rc, "cannot read its schema");
        }
        if (objects == 0 && user_version == 0 && application_id == 0) {
            rc = sqlite3_exec(db, kCreateSchemaSql, nullptr, nullptr, nullptr);
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
        } else {
            // Reads every page of the file once: finds damage now rather than on a later lease.
            std::string verdict;
            rc = queryOne(db, "PRAGMA quick_check", [&](sqlite3_stmt* s) {
                const auto* text = sqlite3_column_text(s, 0);
                verdict = text != nullptr ? reinterpret_cast<const char*>(text) : "";
            });
            if (rc != SQLITE_OK) {
                return sqlFailed(db, rc, "cannot check it");
            }
            if (verdict != "ok") {
                return corrupt("the database is damaged: " + firstLine(verdict));
            }
            if (user_version == 1) {  // written before dead letters existed: add their table
                rc = sqlite3_exec(db, kMigrate1To2Sql, nullptr, nullptr, nullptr);
                if (rc != SQLITE_OK) {
                    const std::string what = describeSqlite(db, rc);
                    sqlite3_exec(db, kRollbackSql, nullptr, nullptr, nullptr);
                    return io("cannot upgrade it from spool schema version 1 to " +
                              std::to_string(kSchemaVersion) + ": " + what);
                }
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
        raw = nullptr;
        rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
        read_db_.reset(raw);
        if (rc != SQLITE_OK) {
            return sqlFailed(raw, rc, "cannot open a second connection");
        }
        sqlite3* rdb = read_db_.get();
        sqlite3_extended_result_codes(rdb, 1);
        sqlite3_busy_timeout(rdb, kBusyTimeoutMs);
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
        return true;
    }

    /// Counters per route and the next seq, from the database.
    int loadState() {
        sqlite3* db = read_db_.get();
        StmtPtr routes;
        int rc = prepare(db, kLoadRoutesSql, &routes);
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
        if (rc = prepare(db, kCreatedOfSql, &created); rc != SQLITE_OK) {
            return rc;
        }
        for (auto& [name, rs] : routes_) {
            sqlite3_bind_int64(created.get(), 1, static_cast<sqlite3_int64>(rs.head_seq));
            rc = sqlite3_step(created.get());
            if (rc == SQLITE_ROW) {
                rs.stats.oldest_created_ms = sqlite3_column_int64(created.get(), 0);
            }
            sqlite3_reset(created.get());
            if (rc != SQLITE_ROW) {
                return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
            }
        }
        StmtPtr dead;
        if (rc = prepare(db, kCountDeadSql, &dead); rc != SQLITE_OK) {
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
        rc = queryOne(db, kMaxSeqSql, [&](sqlite3_stmt* s) {
            last_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
        });
        next_seq_ = last_seq + 1;
        committed_seq_ = last_seq;
        return rc;
    }

    void start() {
        worker_ = std::thread([this] { workerMain(); });
    }

    // ---- worker thread

    void workerMain() {
        Batch batch;
        Batch retry;  // moves and deletes of a failed transaction, tried again with the next one
        for (;;) {
            {
                std::unique_lock lock(mu_);
                worker_idle_ = true;
                const auto ready = [this] {
                    return !insert_queue_.empty() || !delete_queue_.empty() ||
                           !move_queue_.empty() || !dead_delete_queue_.empty() || stop_;
                };
                if (disk_full_ || !retry.emptyOfOps()) {
                    // Nothing may wait for the next append: look for free space on a timer.
                    cv_.wait_for(lock, kDiskFullPoll, ready);
                } else {
                    cv_.wait(lock, ready);
                }
                worker_idle_ = false;
                const bool queued = !insert_queue_.empty() || !delete_queue_.empty() ||
                                    !move_queue_.empty() || !dead_delete_queue_.empty();
                if (stop_ && !queued) {
                    break;  // stopping, and everything is written
                }
                // Taking every queue at once keeps each delete after the insert of its row.
                batch.inserts.swap(insert_queue_);
                batch.deletes.swap(delete_queue_);
                batch.moves.swap(move_queue_);
                batch.dead_deletes.swap(dead_delete_queue_);
            }
            batch.takeOps(retry);
            BatchResult result = commitBatch(batch, &retry);
            batch.clear();
            if (batch.inserts.capacity() > kKeptQueueCapacity) {
                batch.inserts.shrink_to_fit();  // a burst must not pin its memory
            }
            if (result.last_insert_seq == 0 && result.deleted.empty() &&
                result.dead_deleted.empty() && !result.disk_full_began && !result.space_back) {
                continue;  // a timed look at the disk that changed nothing
            }
            asio::post(loop_, [this, alive = alive_, r = std::move(result)]() mutable {
                if (*alive) {
                    onBatch(std::move(r));
                }
            });
        }
        if (!retry.emptyOfOps()) {
            Batch ignored;
            (void)commitBatch(retry, &ignored);
        }
    }

    int insertRow(const InsertOp& op) {
        sqlite3_stmt* s = insert_.get();
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(op.seq));
        sqlite3_bind_text64(s, 2, op.route.data(), op.route.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_text64(s, 3, op.topic.data(), op.topic.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_blob64(s, 4, op.payload.data(), op.payload.size(), SQLITE_STATIC);
        sqlite3_bind_int(s, 5, op.qos);
        sqlite3_bind_int(s, 6, op.retain ? 1 : 0);
        if (op.properties.empty()) {
            sqlite3_bind_null(s, 7);
        } else {
            sqlite3_bind_text64(s, 7, op.properties.data(), op.properties.size(), SQLITE_STATIC,
                                SQLITE_UTF8);
        }
        sqlite3_bind_int64(s, 8, op.created_ms);
        return stepOnce(s);
    }

    int moveRow(const MoveOp& op) {
        sqlite3_stmt* s = move_dead_.get();
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(op.seq));
        sqlite3_bind_text64(s, 2, op.reason.data(), op.reason.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_int(s, 3, op.attempts);
        sqlite3_bind_int64(s, 4, op.dead_ms);
        return stepOnce(s);
    }

    /// One transaction: inserts, dead-letter moves, deletes of dead letters and of messages, then
    /// the seq high-water mark. Rolls back on error; `*full` tells whether the disk was full.
    int writeTransaction(const std::vector<InsertOp>& inserts, const Batch& ops,
                         uint64_t last_insert_seq, std::string* error, bool* full) {
        int rc = stepOnce(begin_.get());
        for (auto it = inserts.begin(); rc == SQLITE_DONE && it != inserts.end(); ++it) {
            rc = insertRow(*it);
        }
        for (auto it = ops.moves.begin(); rc == SQLITE_DONE && it != ops.moves.end(); ++it) {
            rc = moveRow(*it);
        }
        for (auto it = ops.dead_deletes.begin(); rc == SQLITE_DONE && it != ops.dead_deletes.end();
             ++it) {
            sqlite3_bind_int64(delete_dead_.get(), 1, static_cast<sqlite3_int64>(*it));
            rc = stepOnce(delete_dead_.get());
        }
        for (auto it = ops.deletes.begin(); rc == SQLITE_DONE && it != ops.deletes.end(); ++it) {
            sqlite3_bind_int64(delete_.get(), 1, static_cast<sqlite3_int64>(*it));
            rc = stepOnce(delete_.get());
        }
        if (rc == SQLITE_DONE && last_insert_seq != 0) {
            sqlite3_bind_int64(update_last_seq_.get(), 1,
                               static_cast<sqlite3_int64>(last_insert_seq));
            rc = stepOnce(update_last_seq_.get());
        }
        if (rc == SQLITE_DONE) {
            rc = stepOnce(commit_.get());
        }
        if (rc == SQLITE_DONE) {
            commit_count_.fetch_add(1, std::memory_order_relaxed);
            return SQLITE_OK;
        }
        *full = (rc & 0xff) == SQLITE_FULL ||
                ((rc & 0xff) == SQLITE_IOERR && sqlite3_system_errno(write_db_.get()) == ENOSPC);
        *error = describeSqlite(write_db_.get(), rc);
        if (sqlite3_get_autocommit(write_db_.get()) == 0) {
            stepOnce(rollback_.get());
        }
        return rc;
    }

    /// The disk is full: frees the reserve so that deletes (which free the disk) can commit.
    void enterDiskFull(BatchResult* result, const std::vector<InsertOp>& inserts) {
        if (disk_full_) {
            return;
        }
        disk_full_ = true;
        ::unlink(reservePath().c_str());
        result->disk_full_began = true;
        result->full_route = inserts.empty() ? std::string() : inserts.front().route;
    }

    /// Writes a whole batch in one transaction (the group commit). If that fails, the moves and
    /// deletes are tried on their own first (they free space and must never wait for an insert
    /// that cannot be written), then the inserts on their own; failed moves and deletes are kept
    /// in `retry` for the next batch. While the disk is full, inserts are refused without trying
    /// until there is room for the reserve again.
    BatchResult commitBatch(Batch& batch, Batch* retry) {
        BatchResult result;
        for (const InsertOp& op : batch.inserts) {
            result.last_insert_seq = std::max(result.last_insert_seq, op.seq);
        }
        if (disk_full_ && restoreReserve(true)) {
            disk_full_ = false;
            result.space_back = true;
            checkpoint();  // what was written meanwhile goes to the database file
        }
        if (batch.inserts.empty() && batch.emptyOfOps()) {
            return result;  // a timed look at the disk
        }
        std::string error;
        bool full = false;
        const bool had_ops = !batch.emptyOfOps();
        if (!disk_full_) {
            if (writeTransaction(batch.inserts, batch, result.last_insert_seq, &error, &full) ==
                SQLITE_OK) {
                result.deleted = std::move(batch.deletes);
                result.dead_deleted = std::move(batch.dead_deletes);
                return result;
            }
            if (full) {
                enterDiskFull(&result, batch.inserts);
            }
        }
        if (!batch.emptyOfOps()) {
            std::string ops_error;
            bool ops_full = false;
            if (writeTransaction({}, batch, 0, &ops_error, &ops_full) == SQLITE_OK) {
                result.deleted = std::move(batch.deletes);
                result.dead_deleted = std::move(batch.dead_deletes);
                if (disk_full_) {
                    checkpoint();  // lets the next transactions reuse the WAL from its start
                }
            } else {
                retry->takeOps(batch);
                if (ops_full) {
                    enterDiskFull(&result, batch.inserts);
                }
            }
        }
        if (batch.inserts.empty()) {
            return result;
        }
        if (!disk_full_ && had_ops && !error.empty() &&
            writeTransaction(batch.inserts, Batch{}, result.last_insert_seq, &error, &full) ==
                SQLITE_OK) {
            return result;
        }
        if (full) {
            enterDiskFull(&result, batch.inserts);
        }
        if (disk_full_) {
            result.status = fail(
                "spool_io", "spool: append: disk full (SQLITE_FULL): no room on the disk of \"" +
                                path_ + "\"" + (error.empty() ? std::string() : ": " + error) +
                                "; new messages are refused until space is freed, queued ones "
                                "are still delivered");
        } else {
            result.status = fail("spool_io", "spool: append: " + error);
        }
        return result;
    }

    void checkpoint() {
        sqlite3_wal_checkpoint_v2(write_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
    }

    std::string reservePath() const { return path_ + "-reserve"; }

    /// Creates the reserve file; with `need_headroom`, only when twice its size is free (so that
    /// new messages do not fill the disk again at once). True when the reserve is in place.
    bool restoreReserve(bool need_headroom) {
        return makeReserve(reservePath(), kReserveBytes, need_headroom);
    }

    // ---- loop thread

    /// Hands work to the worker; `add` runs under the queue lock.
    template <typename Add>
    void enqueue(Add add) {
        bool wake = false;
        {
            std::lock_guard lock(mu_);
            add();
            if (worker_idle_) {
                worker_idle_ = false;
                wake = true;
            }
        }
        if (wake) {
            cv_.notify_one();
        }
    }

    void postDone(AppendDone done, Result<uint64_t> result) {
        if (!done) {
            return;
        }
        asio::post(loop_, [alive = alive_, d = std::move(done), r = std::move(result)]() mutable {
            if (*alive) {
                d(std::move(r));
            }
        });
    }

    /// A batch committed (or failed): unblocks leases, then runs the append callbacks.
    void onBatch(BatchResult result) {
        for (const uint64_t seq : result.deleted) {
            removed_.erase(seq);
        }
        for (const uint64_t seq : result.dead_deleted) {
            dead_going_.erase(seq);
        }
        if ((result.disk_full_began || result.space_back) && disk_handler_) {
            const std::shared_ptr<bool> alive = alive_;
            disk_handler_(result.disk_full_began, result.full_route);
            if (!*alive) {
                return;
            }
        }
        std::vector<std::pair<AppendDone, Result<uint64_t>>> calls;
        std::vector<RouteState*> touched;
        if (result.last_insert_seq != 0) {
            committed_seq_ = std::max(committed_seq_, result.last_insert_seq);
            while (!pending_.empty() && pending_.front().seq <= result.last_insert_seq) {
                PendingAppend p = std::move(pending_.front());
                pending_.pop_front();
                RouteState& rs = *p.route;
                InFlight f{p.seq, 0, 0};
                if (!rs.in_flight.empty() && rs.in_flight.front().seq == p.seq) {
                    f = rs.in_flight.front();
                    rs.in_flight.pop_front();
                }
                if (result.status.ok()) {
                    calls.emplace_back(std::move(p.done), Result<uint64_t>(p.seq));
                    continue;
                }
                if (!f.removed) {  // still counted: un-count it
                    rs.stats.depth -= std::min<uint64_t>(rs.stats.depth, 1);
                    rs.stats.bytes -= std::min(rs.stats.bytes, f.size);
                    if (rs.head_seq == p.seq) {
                        rs.head_stale = true;
                        touched.push_back(&rs);
                    }
                }
                calls.emplace_back(std::move(p.done), Result<uint64_t>(result.status.failure()));
            }
        }
        for (RouteState* rs : touched) {
            refreshHead(*rs);
        }
        // A callback may destroy the spool: then the remaining ones are dropped.
        const std::shared_ptr<bool> alive = alive_;
        for (auto& [done, r] : calls) {
            if (!*alive) {
                return;
            }
            if (done) {
                done(std::move(r));
            }
        }
    }

    RouteState& routeFor(std::string_view name) {
        auto it = routes_.find(name);
        if (it == routes_.end()) {
            it = routes_.emplace(std::string(name), RouteState{}).first;
            it->second.name = std::string(name);
        }
        return it->second;
    }

    RouteState* findRoute(std::string_view name) {
        const auto it = routes_.find(name);
        return it == routes_.end() ? nullptr : &it->second;
    }

    /// Forgets a live message (already not leased): counters now, the row with the next commit.
    void removeMessage(RouteState& rs, uint64_t seq, uint64_t size) {
        rs.stats.depth -= std::min<uint64_t>(rs.stats.depth, 1);
        rs.stats.bytes -= std::min(rs.stats.bytes, size);
        if (seq > committed_seq_) {
            const auto it =
                std::lower_bound(rs.in_flight.begin(), rs.in_flight.end(), seq,
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
    }

    /// Finds the lowest live message of the route after its head went away.
    void refreshHead(RouteState& rs) {
        if (!rs.head_stale) {
            return;
        }
        rs.head_stale = false;
        rs.head_seq = 0;
        rs.stats.oldest_created_ms = 0;
        if (rs.stats.depth == 0) {
            return;
        }
        if (!rs.leased.empty()) {  // leased messages are all below the non-leased ones
            rs.head_seq = rs.leased.begin()->first;
            rs.stats.oldest_created_ms = rs.leased.begin()->second.created_ms;
            return;
        }
        if (committed_seq_ > rs.floor) {
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

    /// Binds route, floor and committed_seq_ to a lease or scan statement.
    void bindRange(sqlite3_stmt* s, const RouteState& rs) const {
        sqlite3_bind_text64(s, 1, rs.name.data(), rs.name.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(rs.floor));
        sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(committed_seq_));
    }

    struct Victim {
        uint64_t seq;
        uint64_t size;
    };

    /// The oldest non-leased messages of the route that free `count` messages and `bytes` bytes.
    Status collectOldest(RouteState& rs, uint64_t count, uint64_t bytes,
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
                if (removed_.contains(seq)) {
                    continue;
                }
                const auto size = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
                victims->push_back({seq, size});
                ++freed_count;
                freed_bytes += size;
            }
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                return fail("spool_io",
                            "spool: append: cannot find the oldest messages of route \"" + rs.name +
                                "\": " + describeSqlite(read_db_.get(), rc));
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

    /// Applies the route's limits to a new message of `size` bytes: fine, refused, or room made.
    Status makeRoom(RouteState& rs, uint64_t size) {
        const SpoolLimits& limits = rs.limits;
        const bool over_count =
            limits.max_messages != 0 && rs.stats.depth + 1 > limits.max_messages;
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
            return fail("spool_full", route + std::to_string(rs.stats.bytes) +
                                          " bytes queued, a message of " + std::to_string(size) +
                                          " bytes does not fit in max_bytes = " +
                                          std::to_string(limits.max_bytes));
        }
        std::vector<Victim> victims;
        const uint64_t need_count = over_count ? rs.stats.depth + 1 - limits.max_messages : 0;
        const uint64_t need_bytes = over_bytes ? rs.stats.bytes + size - limits.max_bytes : 0;
        if (auto st = collectOldest(rs, need_count, need_bytes, &victims); !st) {
            return st;
        }
        rs.floor = std::max(rs.floor, victims.back().seq);  // victims are the lowest non-leased
        for (const Victim& v : victims) {
            removeMessage(rs, v.seq, v.size);
            ++rs.stats.dropped;
        }
        return okStatus();
    }

    void append(Message msg, AppendDone done) {
        RouteState& rs = routeFor(msg.route);
        const uint64_t size = msg.payload.size();
        auto properties = encodeProperties(msg.properties);
        if (!properties) {
            postDone(std::move(done), properties.failure());
            return;
        }
        if (auto st = makeRoom(rs, size); !st) {
            if (st.error().code == "spool_full") {
                ++rs.stats.rejected;
            }
            refreshHead(rs);
            postDone(std::move(done), st.failure());
            return;
        }
        if (msg.created_ms == 0) {
            msg.created_ms = nowMs();
        }
        const uint64_t seq = next_seq_++;
        if (rs.stats.depth == 0) {
            rs.head_seq = seq;
            rs.head_stale = false;
            rs.stats.oldest_created_ms = msg.created_ms;
        }
        ++rs.stats.depth;
        rs.stats.bytes += size;
        rs.in_flight.push_back({seq, size, msg.created_ms});
        pending_.push_back({seq, &rs, std::move(done)});
        refreshHead(rs);

        InsertOp op;
        op.seq = seq;
        op.route = std::move(msg.route);
        op.topic = std::move(msg.topic);
        op.payload = std::move(msg.payload);
        op.properties = std::move(*properties);
        op.qos = msg.qos;
        op.retain = msg.retain;
        op.created_ms = msg.created_ms;
        enqueue([&] { insert_queue_.push_back(std::move(op)); });
    }

    std::vector<Message> lease(std::string_view route, size_t max) {
        std::vector<Message> out;
        RouteState* rs = findRoute(route);
        if (rs == nullptr || max == 0 || committed_seq_ <= rs->floor) {
            return out;
        }
        sqlite3_stmt* s = lease_.get();
        StmtReset reset(s);
        bindRange(s, *rs);
        while (out.size() < max && sqlite3_step(s) == SQLITE_ROW) {
            const auto seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
            rs->floor = seq;
            if (removed_.contains(seq)) {
                continue;
            }
            Message m;
            m.seq = seq;
            m.route = rs->name;
            if (const auto* topic = sqlite3_column_text(s, 1); topic != nullptr) {
                m.topic.assign(reinterpret_cast<const char*>(topic),
                               static_cast<size_t>(sqlite3_column_bytes(s, 1)));
            }
            if (const void* payload = sqlite3_column_blob(s, 2); payload != nullptr) {
                m.payload.assign(static_cast<const char*>(payload),
                                 static_cast<size_t>(sqlite3_column_bytes(s, 2)));
            }
            m.qos = sqlite3_column_int(s, 3);
            m.retain = sqlite3_column_int(s, 4) != 0;
            m.properties = decodeProperties(sqlite3_column_text(s, 5), sqlite3_column_bytes(s, 5));
            m.created_ms = sqlite3_column_int64(s, 6);
            rs->leased.emplace(seq, LeaseInfo{m.payload.size(), m.created_ms});
            out.push_back(std::move(m));
        }
        return out;
    }

    void ack(std::string_view route, uint64_t seq) {
        RouteState* rs = findRoute(route);
        if (rs == nullptr) {
            return;
        }
        if (const auto it = rs->leased.find(seq); it != rs->leased.end()) {
            const uint64_t size = it->second.size;
            rs->leased.erase(it);
            removeMessage(*rs, seq, size);
        } else if (seq > rs->floor && seq <= committed_seq_ && !removed_.contains(seq)) {
            // Not leased (the session acknowledged after releasing): look it up.
            sqlite3_stmt* s = lookup_.get();
            StmtReset reset(s);
            sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
            sqlite3_bind_text64(s, 2, rs->name.data(), rs->name.size(), SQLITE_STATIC, SQLITE_UTF8);
            if (sqlite3_step(s) == SQLITE_ROW) {
                removeMessage(*rs, seq, static_cast<uint64_t>(sqlite3_column_int64(s, 0)));
            }
        }
        refreshHead(*rs);
    }

    void releaseLeases(std::string_view route) {
        RouteState* rs = findRoute(route);
        if (rs == nullptr || rs->leased.empty()) {
            return;
        }
        rs->floor = rs->leased.begin()->first - 1;
        rs->leased.clear();
    }

    uint64_t expire(std::string_view route, int64_t now_ms) {
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
                // Leased messages and removed ones not remembered in removed_ are <= floor.
                if (seq <= rs->floor || seq > committed_seq_ || removed_.contains(seq)) {
                    continue;
                }
                victims.push_back({seq, static_cast<uint64_t>(sqlite3_column_int64(s, 1))});
            }
        }
        for (const Victim& v : victims) {
            removeMessage(*rs, v.seq, v.size);
        }
        rs->stats.expired += victims.size();
        refreshHead(*rs);
        return victims.size();
    }

    // ---- dead letters (loop thread)

    bool deadLetter(std::string_view route, uint64_t seq, std::string reason, int attempts) {
        RouteState* rs = findRoute(route);
        if (rs == nullptr) {
            return false;
        }
        uint64_t size = 0;
        if (const auto it = rs->leased.find(seq); it != rs->leased.end()) {
            size = it->second.size;
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
        removeMessage(*rs, seq, size);
        ++rs->stats.dead_lettered;
        refreshHead(*rs);
        return true;
    }

    /// Reads dead letters: `where` is "" (all), "WHERE route = ?1" or "WHERE seq = ?1".
    Result<std::vector<DeadLetter>> readDead(const std::string& where, std::string_view route,
                                             uint64_t seq) {
        StmtPtr stmt;
        const std::string sql = std::string(kDeadColumns) + where + " ORDER BY seq";
        int rc = prepare(read_db_.get(), sql.c_str(), &stmt);
        std::vector<DeadLetter> out;
        if (rc == SQLITE_OK) {
            sqlite3_stmt* s = stmt.get();
            if (where.find("route") != std::string::npos) {
                sqlite3_bind_text64(s, 1, route.data(), route.size(), SQLITE_TRANSIENT,
                                    SQLITE_UTF8);
            } else if (!where.empty()) {
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
            }
            const auto text = [s](int col) {
                const auto* t = sqlite3_column_text(s, col);
                return t == nullptr
                           ? std::string()
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
            return fail("spool_io", "spool: cannot read the dead letters: " +
                                        describeSqlite(read_db_.get(), rc));
        }
        return out;
    }

    Result<std::vector<DeadLetter>> deadLetters(std::string_view route) {
        return route.empty() ? readDead("", route, 0) : readDead("WHERE route = ?1", route, 0);
    }

    Result<DeadLetter> findDead(uint64_t seq) {
        auto found = readDead("WHERE seq = ?1", {}, seq);
        if (!found) {
            return found.failure();
        }
        if (found->empty()) {
            return fail("not_found", "no dead letter with seq " + std::to_string(seq));
        }
        return std::move(found->front());
    }

    void retryDeadLetter(uint64_t seq, AppendDone done) {
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

    Status dropDeadLetter(uint64_t seq) {
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

    SpoolStats stats(std::string_view route) const {
        const auto it = routes_.find(route);
        if (it == routes_.end()) {
            return {};
        }
        SpoolStats s = it->second.stats;
        s.leased = it->second.leased.size();
        return s;
    }

    asio::io_context& loop_;
    const std::string path_;
    /// False once the spool is destroyed; posted handlers check it before touching the spool.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    // Connections first: members are destroyed in reverse order, statements before connections.
    DbPtr write_db_;  ///< the worker's, once it runs
    DbPtr read_db_;   ///< the loop's
    StmtPtr begin_, commit_, rollback_, insert_, delete_, update_last_seq_;  // writer
    StmtPtr move_dead_, delete_dead_;                                        // writer
    StmtPtr lease_, scan_, expire_, lookup_;                                 // reader

    // Loop thread only.
    std::unordered_map<std::string, RouteState, StringHash, std::equal_to<>> routes_;
    std::deque<PendingAppend> pending_;  ///< appends not yet reported, in seq order
    /// Removed seqs whose DELETE is not committed yet and that a scan could still reach.
    std::unordered_set<uint64_t> removed_;
    /// Dead letters being retried or dropped whose delete is not committed yet.
    std::unordered_set<uint64_t> dead_going_;
    SqliteSpool::DiskHandler disk_handler_;
    uint64_t next_seq_ = 1;
    uint64_t committed_seq_ = 0;  ///< every append up to here is committed (or failed)

    // Shared between the loop and the worker.
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<InsertOp> insert_queue_;       // guarded by mu_
    std::vector<uint64_t> delete_queue_;       // guarded by mu_
    std::vector<MoveOp> move_queue_;           // guarded by mu_
    std::vector<uint64_t> dead_delete_queue_;  // guarded by mu_
    bool stop_ = false;                        // guarded by mu_
    bool worker_idle_ = false;                 // guarded by mu_
    std::atomic<uint64_t> commit_count_{0};
    bool disk_full_ = false;  ///< worker thread only (before start(): the opening thread)
    std::thread worker_;
};

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
    if (!impl->restoreReserve(true)) {
        // Started on a full disk: deliver (deletes have room), refuse new messages until there is
        // space; the handler hears of it as of a commit that met the full disk.
        impl->disk_full_ = true;
        Impl* raw = impl.get();
        asio::post(loop, [raw, alive = impl->alive_] {
            if (*alive && raw->disk_handler_) {
                raw->disk_handler_(true, "");
            }
        });
    }
    impl->start();
    return std::unique_ptr<SqliteSpool>(new SqliteSpool(std::move(impl)));
}

SqliteSpool::SqliteSpool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteSpool::~SqliteSpool() = default;

void SqliteSpool::configureRoute(const std::string& route, const SpoolLimits& limits) {
    impl_->routeFor(route).limits = limits;
}
void SqliteSpool::append(Message msg, AppendDone done) {
    impl_->append(std::move(msg), std::move(done));
}
std::vector<Message> SqliteSpool::lease(std::string_view route, size_t max) {
    return impl_->lease(route, max);
}
void SqliteSpool::ack(std::string_view route, uint64_t seq) {
    impl_->ack(route, seq);
}
void SqliteSpool::releaseLeases(std::string_view route) {
    impl_->releaseLeases(route);
}
uint64_t SqliteSpool::expire(std::string_view route, int64_t now_ms) {
    return impl_->expire(route, now_ms);
}
SpoolStats SqliteSpool::stats(std::string_view route) const {
    return impl_->stats(route);
}
bool SqliteSpool::deadLetter(std::string_view route, uint64_t seq, std::string reason,
                             int attempts) {
    return impl_->deadLetter(route, seq, std::move(reason), attempts);
}
Result<std::vector<DeadLetter>> SqliteSpool::deadLetters(std::string_view route) {
    return impl_->deadLetters(route);
}
void SqliteSpool::retryDeadLetter(uint64_t seq, AppendDone done) {
    impl_->retryDeadLetter(seq, std::move(done));
}
Status SqliteSpool::dropDeadLetter(uint64_t seq) {
    return impl_->dropDeadLetter(seq);
}
void SqliteSpool::onDiskFull(DiskHandler handler) {
    impl_->disk_handler_ = std::move(handler);
}
uint64_t SqliteSpool::commitCountForTest() const {
    return impl_->commit_count_.load(std::memory_order_relaxed);
}

}  // namespace uplinkd
