// SPDX-License-Identifier: Apache-2.0
// The spool on a full disk: the reserve file, entering and leaving. Thread: the worker.
// clang-format off
#include <cstddef>  // before Asio: its config reads libstdc++ macros (aligned_alloc vs operator new)
// clang-format on
#include <unistd.h>

#include <asio/post.hpp>
#include <string>

#include "spool/disk_reserve.hpp"
#include "spool/sqlite_spool_impl.hpp"

namespace uplinkd {

namespace {

// Room kept free next to the spool (the "<path>-reserve" file) for the disk-full case: when a
// commit fails for lack of space the file is deleted, which leaves room for the WAL frames of the
// deletes that free the disk, for a checkpoint, and after a restart for the -shm and -wal files.
// Deleting a whole inflight window of acknowledged messages writes a few dozen pages; 2 MiB holds
// about 500 WAL frames of 4 KiB. New messages are refused until twice this much is free again.
constexpr uint64_t kReserveBytes = 2 * 1024 * 1024;

}  // namespace

void SqliteSpool::Impl::enterDiskFull(BatchResult* result, const std::vector<InsertOp>& inserts) {
    if (disk_full_) {
        return;
    }
    disk_full_ = true;
    ::unlink(reservePath().c_str());
    result->disk_full_began = true;
    result->full_route = inserts.empty() ? std::string() : inserts.front().route;
}

void SqliteSpool::Impl::checkpoint() {
    sqlite3_wal_checkpoint_v2(write_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
}

bool SqliteSpool::Impl::restoreReserve(bool need_headroom) {
    return makeReserve(reservePath(), kReserveBytes, need_headroom);
}

void SqliteSpool::Impl::claimReserveAtOpen() {
    if (!restoreReserve(true)) {
        // Started on a full disk: deliver (deletes have room), refuse new messages until there is
        // space; the handler hears of it as of a commit that met the full disk.
        disk_full_ = true;
        asio::post(loop_, [this, alive = alive_] {
            if (*alive && disk_handler_) {
                disk_handler_(true, "");
            }
        });
    }
}

}  // namespace uplinkd
