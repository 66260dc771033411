// SPDX-License-Identifier: Apache-2.0
// SqliteSpool: the durable Spool on one SQLite file (WAL, group commit on a worker thread).
// Thread: loop (every method, open() and the destructor; completions are posted to the loop).
#pragma once

// clang-format off
#include <cstddef>  // before Asio: its config reads libstdc++ macros (aligned_alloc vs operator new)
// clang-format on
#include <asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/result.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {

/// The durable queue of uplinkd.
///
/// - append() assigns the next seq at once and queues the row for the commit worker, which writes
///   everything queued in one transaction (PRAGMA synchronous=FULL), then posts one completion for
///   the whole batch; `done` runs on the loop once the row is durable.
/// - Only per-route counters and the lease state live in memory; message bodies are read back from
///   the database by lease() through a second, read-only connection (cheap: index on (route, seq)).
/// - Deletes (ack, drop-oldest, expire) go through the worker as well and are committed with the
///   next batch; an acknowledged message is never leased again by this process, and after a crash
///   it may come back (at-least-once).
/// - Limits count every accepted message, committed or not. Drop-oldest may displace a message
/// whose
///   append is not committed yet; its `done` still reports success (it was accepted, then
///   displaced).
/// - oldest_created_ms is the created_ms of the lowest-seq message of the route; dropped, expired
/// and
///   rejected count since open().
/// - expire() considers committed, non-leased messages only.
/// - Leases hand out the lowest non-leased seqs; a scan starts above a per-route floor below which
///   every message is leased or gone. A lease with a topic filter leaves holes (passed-over
///   messages below leased ones): the floor then stays below the first one, and a second mark
///   remembers how far that filter has looked, so that neither an unfiltered nor a filtered lease
///   reads a row twice in the common case.
/// - Dead letters live in their own table of the same file; a move is committed with the delete
///   of the queued row. Schema version 1 files (before dead letters) are upgraded on open.
/// - Full disk: "<path>-reserve" (kReserveBytes) is kept next to the database. When a commit meets
///   a full disk the reserve is deleted, deletes and dead-letter moves are committed without the
///   inserts, and appends fail with "spool_io" ("disk full") until twice the reserve is free and
///   the reserve could be made again (the worker looks every 0.5 s; no restart needed).
/// - Destruction: queued appends and deletes are committed before the destructor returns, but their
///   callbacks are dropped (never run); nothing is posted to the loop after that. The loop must
///   outlive the spool.
class SqliteSpool final : public Spool {
  public:
    /// Opens or creates the spool database at `path` (WAL mode). A file that is not a usable spool
    /// (corrupt, not SQLite, wrong schema version) is renamed to "<path>.corrupt-<unix time>" (kept
    /// for inspection) and a fresh spool is created; `recovery_note` (may be null) then receives
    /// one plain-words sentence for the caller to log, and is left empty otherwise. Unrecoverable
    /// problems (directory missing or not writable, I/O errors) → error "spool_io".
    static Result<std::unique_ptr<SqliteSpool>> open(asio::io_context& loop,
                                                     const std::string& path,
                                                     std::string* recovery_note);

    /// What open() did with the file, for the log: created it; read every page to check it
    /// (after a crash, or when the file changed since the last clean close — "<path>-clean"
    /// holds its size and time); or trusted it after a clean close.
    enum class OpenCheck { Created, Checked, TrustedAfterCleanClose };
    OpenCheck openCheck() const;
    /// True when open() took the per-route counters (depth, bytes, oldest) saved at the last clean
    /// close instead of counting every queued message (O(routes), not O(messages)). They are
    /// saved at a clean close when every change was committed, emptied as soon as the spool is
    /// open again, and never trusted after a crash.
    bool countersRestored() const;

    ~SqliteSpool() override;
    SqliteSpool(const SqliteSpool&) = delete;
    SqliteSpool& operator=(const SqliteSpool&) = delete;

    void configureRoute(const std::string& route, const SpoolLimits& limits) override;
    void append(Message msg, AppendDone done) override;
    std::vector<Message> lease(std::string_view route, size_t max,
                               const std::vector<std::string>& only_topics = {}) override;
    void ack(std::string_view route, uint64_t seq) override;
    void releaseLeases(std::string_view route) override;
    uint64_t expire(std::string_view route, int64_t now_ms) override;
    SpoolStats stats(std::string_view route) const override;
    bool deadLetter(std::string_view route, uint64_t seq, std::string reason,
                    int attempts) override;
    Result<std::vector<DeadLetter>> deadLetters(std::string_view route) override;
    void retryDeadLetter(uint64_t seq, AppendDone done) override;
    Status dropDeadLetter(uint64_t seq) override;

    /// `full` true: a commit met a full disk (or the spool opened on one); new messages are
    /// refused with "spool_io ... disk full" from now on, deletes still commit. `route` is one
    /// whose append failed (empty when none). `full` false: there is room again and appends
    /// work. Called once per change, on the loop thread.
    using DiskHandler = std::function<void(bool full, const std::string& route)>;
    void onDiskFull(DiskHandler handler);

    /// Number of write transactions committed so far (tests check that appends are grouped).
    uint64_t commitCountForTest() const;

  private:
    struct Impl;
    explicit SqliteSpool(std::unique_ptr<Impl> impl);

    std::unique_ptr<Impl> impl_;
};

}  // namespace uplinkd
