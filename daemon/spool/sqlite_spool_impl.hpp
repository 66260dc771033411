// SPDX-License-Identifier: Apache-2.0
// SqliteSpool::Impl, the state the spool's parts share. Thread: the loop; worker parts: worker.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/wall_clock.hpp"
#include "spool/sqlite_spool.hpp"
#include "spool/sqlite_util.hpp"

namespace uplinkd {
namespace sqlite_spool_detail {

/// Properties as JSON text `[["key","value"],...]`; empty when there are none.
Result<std::string> encodeProperties(const Properties& properties);
/// Properties from that JSON text; what is not of that form is left out.
Properties decodeProperties(const unsigned char* text, int size);

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

}  // namespace sqlite_spool_detail

/// The spool's state and its operations, each part defined in its own sqlite_spool_*.cpp.
/// Thread: the loop, except the worker's part (and members marked for the worker).
struct SqliteSpool::Impl final : SqliteSpool {
    using DbPtr = spool_sql::DbPtr;
    using StmtPtr = spool_sql::StmtPtr;
    using OpenFailure = sqlite_spool_detail::OpenFailure;
    using StringHash = sqlite_spool_detail::StringHash;

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
        /// Every live message that is not leased has seq > floor. Leased ones are <= floor,
        /// except after leases with a topic filter: those lease matching messages above the
        /// first one they pass over (a hole), where the floor stays.
        uint64_t floor = 0;
        std::map<uint64_t, LeaseInfo> leased;
        /// The topic filter of the last leases (empty: none). The live, non-leased messages in
        /// (floor, filter_floor] are those it passed over, `held` of them; a lease with the same
        /// filter goes on above filter_floor.
        std::vector<std::string> filter;
        uint64_t filter_floor = 0;
        uint64_t held = 0;
        /// The message a lease could not read (stats.stuck says why); 0 when none.
        uint64_t stuck_seq = 0;
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
    struct Victim {
        uint64_t seq;
        uint64_t size;
    };

    Impl(asio::io_context& loop, std::string path) : loop_(loop), path_(std::move(path)) {}
    ~Impl() override;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // ---- SqliteSpool's own accessors (loop thread)
    OpenCheck openCheck() const override { return open_check_; }
    bool countersRestored() const override { return counters_restored_; }
    void onDiskFull(DiskHandler handler) override { disk_handler_ = std::move(handler); }
    uint64_t commitCountForTest() const override {
        return commit_count_.load(std::memory_order_relaxed);
    }

    // ---- open (loop thread, before the worker starts): sqlite_spool_open.cpp
    bool openDatabase(OpenFailure* failure);
    /// Counters per route and the next seq, from the database.
    int loadState();
    /// Counts the queued messages of every route (O(n): after a crash or an unclean close).
    int countRoutes();

    // ---- counters saved at a clean close (loop thread): sqlite_spool_counters.cpp
    /// After a clean close: the counters saved then, checked with one lookup per route. False
    /// (nothing changed) when there are none to trust; the caller counts.
    bool restoreCounters();
    /// Empties the saved counters (the spool is about to change); run once at open.
    int invalidateSavedCounters();
    /// At close, once the worker stopped with every change committed: saves depth, bytes and head
    /// of every route with the mark that they are valid, in one transaction.
    void saveCounters();
    /// After open: makes the reserve file, or starts in the full-disk state when there is no room
    /// for it (sqlite_spool_disk_full.cpp).
    void claimReserveAtOpen();
    void start();

    // ---- worker thread: sqlite_spool_writer.cpp
    void workerMain();
    int insertRow(const InsertOp& op);
    /// The worker's share of releaseMemory(): queue capacity and its connection's page cache.
    /// Under mu_, between batches.
    void releaseWorkerMemory(Batch& batch);
    int moveRow(const MoveOp& op);
    /// One transaction: inserts, dead-letter moves, deletes of dead letters and of messages, then
    /// the seq high-water mark. Rolls back on error; `*full` tells whether the disk was full.
    int writeTransaction(const std::vector<InsertOp>& inserts, const Batch& ops,
                         uint64_t last_insert_seq, std::string* error, bool* full);
    /// Writes a whole batch in one transaction (the group commit). If that fails, the moves and
    /// deletes are tried on their own first (they free space and must never wait for an insert
    /// that cannot be written), then the inserts on their own; failed moves and deletes are kept
    /// in `retry` for the next batch. While the disk is full, inserts are refused without trying
    /// until there is room for the reserve again.
    BatchResult commitBatch(Batch& batch, Batch* retry);

    // ---- full disk (worker thread): sqlite_spool_disk_full.cpp
    /// The disk is full: frees the reserve so that deletes (which free the disk) can commit.
    void enterDiskFull(BatchResult* result, const std::vector<InsertOp>& inserts);
    void checkpoint();
    std::string reservePath() const { return path_ + "-reserve"; }
    /// Creates the reserve file; with `need_headroom`, only when twice its size is free (so that
    /// new messages do not fill the disk again at once). True when the reserve is in place.
    bool restoreReserve(bool need_headroom);

    // ---- loop thread: appends and their completions (sqlite_spool_append.cpp)
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

    void postDone(AppendDone done, Result<uint64_t> result);
    /// A batch committed (or failed): unblocks leases, then runs the append callbacks.
    void onBatch(BatchResult result);
    void append(Message msg, AppendDone done) override;

    // ---- loop thread: routes, leases and acks (sqlite_spool_lease.cpp)
    RouteState& routeFor(std::string_view name);
    RouteState* findRoute(std::string_view name);
    /// Forgets a live message (its lease, if it had one, is already gone: `was_leased`): counters
    /// now, the row with the next commit.
    void removeMessage(RouteState& rs, uint64_t seq, uint64_t size, bool was_leased);
    /// Whether `seq` is leased (cheap when the leases are all below the floor).
    static bool isLeased(const RouteState& rs, uint64_t seq);
    /// Whether live message `seq`, not leased, is one the route's filter passed over (held).
    static bool passedOver(const RouteState& rs, uint64_t seq) {
        return !rs.filter.empty() && seq > rs.floor && seq <= rs.filter_floor;
    }
    /// The message the route was stuck on was handed out or left the queue.
    static void clearStuck(RouteState& rs) {
        rs.stuck_seq = 0;
        rs.stats.stuck.clear();
    }
    /// Finds the lowest live message of the route after its head went away.
    void refreshHead(RouteState& rs);
    /// Binds route, `from` (default: the floor) and committed_seq_ to a lease or scan statement.
    void bindRange(sqlite3_stmt* s, const RouteState& rs) const { bindRange(s, rs, rs.floor); }
    void bindRange(sqlite3_stmt* s, const RouteState& rs, uint64_t from) const;
    void configureRoute(const std::string& route, const SpoolLimits& limits) override {
        routeFor(route).limits = limits;
    }
    std::vector<Message> lease(std::string_view route, size_t max,
                               const std::vector<std::string>& only_topics) override;
    void ack(std::string_view route, uint64_t seq) override;
    void releaseLeases(std::string_view route) override;
    SpoolStats stats(std::string_view route) const override;
    void releaseMemory() override;

    // ---- loop thread: limits and expiry (sqlite_spool_limits.cpp)
    /// The oldest non-leased messages of the route that free `count` messages and `bytes` bytes.
    Status collectOldest(RouteState& rs, uint64_t count, uint64_t bytes,
                         std::vector<Victim>* victims);
    /// Applies the route's limits to a new message of `size` bytes: fine, refused, or room made.
    Status makeRoom(RouteState& rs, uint64_t size);
    uint64_t expire(std::string_view route, int64_t now_ms) override;

    // ---- loop thread: dead letters (sqlite_spool_dead.cpp)
    bool deadLetter(std::string_view route, uint64_t seq, std::string reason,
                    int attempts) override;
    /// Reads dead letters: `where` is "" (all), "WHERE route = ?1" or "WHERE seq = ?1".
    Result<std::vector<DeadLetter>> readDead(const std::string& where, std::string_view route,
                                             uint64_t seq);
    Result<std::vector<DeadLetter>> deadLetters(std::string_view route) override;
    Result<DeadLetter> findDead(uint64_t seq);
    void retryDeadLetter(uint64_t seq, AppendDone done) override;
    Status dropDeadLetter(uint64_t seq) override;

    asio::io_context& loop_;
    const std::string path_;
    /// Set before openDatabase(): the last close was clean and the file is unchanged since, so
    /// the integrity check is skipped.
    bool closed_cleanly_ = false;
    SqliteSpool::OpenCheck open_check_ = SqliteSpool::OpenCheck::TrustedAfterCleanClose;
    /// The counters came from the last clean close rather than from counting the messages.
    bool counters_restored_ = false;
    /// The database opened; the destructor then closes it and leaves the clean mark.
    bool opened_ = false;
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
    bool release_memory_ = false;              // guarded by mu_: the worker frees its caches
    std::atomic<uint64_t> commit_count_{0};
    bool disk_full_ = false;  ///< worker thread only (before start(): the opening thread)
    /// A write transaction failed since open: the counters may not match the file, so they are
    /// not saved at close. Worker thread; read by ~Impl after the join.
    bool write_failed_ = false;
    std::thread worker_;
};

}  // namespace uplinkd
