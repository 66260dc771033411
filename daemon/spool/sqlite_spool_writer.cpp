// SPDX-License-Identifier: Apache-2.0
// The spool's commit worker: one transaction per batch. Thread: the worker (start, ~Impl: loop).
// clang-format off
#include <cstddef>  // before Asio: its config reads libstdc++ macros (aligned_alloc vs operator new)
// clang-format on
#include <algorithm>
#include <asio/post.hpp>
#include <cerrno>
#include <string>
#include <utility>

#include "spool/sqlite_spool_files.hpp"
#include "spool/sqlite_spool_impl.hpp"

namespace uplinkd {

using spool_sql::describeSqlite;
using spool_sql::stepOnce;

namespace {

// While the disk is full the worker looks for free space this often (no restart needed).
constexpr auto kDiskFullPoll = std::chrono::milliseconds(500);
// Queued inserts kept allocated between batches; above this a burst's memory is given back.
constexpr size_t kKeptQueueCapacity = 8192;

}  // namespace

SqliteSpool::Impl::~Impl() {
    if (worker_.joinable()) {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        worker_.join();  // commits whatever is still queued
    }
    *alive_ = false;  // batch completions already posted find the spool gone
    if (opened_) {
        if (!write_failed_) {
            saveCounters();  // lets the next open skip counting the messages
        }
        // Statements, then connections (the last close checkpoints the WAL into the file), then
        // the mark that lets the next open skip the integrity check.
        for (StmtPtr* stmt : {&begin_, &commit_, &rollback_, &insert_, &delete_, &update_last_seq_,
                              &move_dead_, &delete_dead_, &lease_, &scan_, &expire_, &lookup_}) {
            stmt->reset();
        }
        read_db_.reset();
        write_db_.reset();
        sqlite_spool_detail::leaveCleanMark(path_);
    }
}

void SqliteSpool::Impl::start() {
    worker_ = std::thread([this] { workerMain(); });
}

void SqliteSpool::Impl::workerMain() {
    Batch batch;
    Batch retry;  // moves and deletes of a failed transaction, tried again with the next one
    for (;;) {
        {
            std::unique_lock lock(mu_);
            worker_idle_ = true;
            const auto ready = [this] {
                return !insert_queue_.empty() || !delete_queue_.empty() || !move_queue_.empty() ||
                       !dead_delete_queue_.empty() || stop_ || release_memory_;
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
            if (std::exchange(release_memory_, false)) {
                releaseWorkerMemory(batch);
                if (!queued && !disk_full_ && retry.emptyOfOps()) {
                    continue;
                }
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
        if (result.last_insert_seq == 0 && result.deleted.empty() && result.dead_deleted.empty() &&
            !result.disk_full_began && !result.space_back) {
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

void SqliteSpool::Impl::releaseWorkerMemory(Batch& batch) {
    // Called under mu_, between batches: the queues and the batch are empty but may keep the
    // capacity of the last burst.
    if (insert_queue_.empty()) {
        std::vector<InsertOp>().swap(insert_queue_);
    }
    if (batch.inserts.empty()) {
        std::vector<InsertOp>().swap(batch.inserts);
    }
    sqlite3_db_release_memory(write_db_.get());
}

void SqliteSpool::Impl::releaseMemory() {
    sqlite3_db_release_memory(read_db_.get());
    enqueue([this] { release_memory_ = true; });
}

int SqliteSpool::Impl::insertRow(const InsertOp& op) {
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

int SqliteSpool::Impl::moveRow(const MoveOp& op) {
    sqlite3_stmt* s = move_dead_.get();
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(op.seq));
    sqlite3_bind_text64(s, 2, op.reason.data(), op.reason.size(), SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int(s, 3, op.attempts);
    sqlite3_bind_int64(s, 4, op.dead_ms);
    return stepOnce(s);
}

int SqliteSpool::Impl::writeTransaction(const std::vector<InsertOp>& inserts, const Batch& ops,
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
        sqlite3_bind_int64(update_last_seq_.get(), 1, static_cast<sqlite3_int64>(last_insert_seq));
        rc = stepOnce(update_last_seq_.get());
    }
    if (rc == SQLITE_DONE) {
        rc = stepOnce(commit_.get());
    }
    if (rc == SQLITE_DONE) {
        commit_count_.fetch_add(1, std::memory_order_relaxed);
        return SQLITE_OK;
    }
    write_failed_ = true;
    *full = (rc & 0xff) == SQLITE_FULL ||
            ((rc & 0xff) == SQLITE_IOERR && sqlite3_system_errno(write_db_.get()) == ENOSPC);
    *error = describeSqlite(write_db_.get(), rc);
    if (sqlite3_get_autocommit(write_db_.get()) == 0) {
        stepOnce(rollback_.get());
    }
    return rc;
}

auto SqliteSpool::Impl::commitBatch(Batch& batch, Batch* retry) -> BatchResult {
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
        result.status =
            fail("spool_io", "spool: append: disk full (SQLITE_FULL): no room on the disk of \"" +
                                 path_ + "\"" + (error.empty() ? std::string() : ": " + error) +
                                 "; new messages are refused until space is freed, queued ones "
                                 "are still delivered");
    } else {
        result.status = fail("spool_io", "spool: append: " + error);
    }
    return result;
}

}  // namespace uplinkd
