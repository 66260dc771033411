// SPDX-License-Identifier: Apache-2.0
// Spool: the durable queue between the local API and the routes. The single source of truth for
// every accepted message until the broker has acknowledged it. Thread: loop (completions are
// delivered on the loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/message.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

/// Per-route limits. Zero means unlimited.
struct SpoolLimits {
    uint64_t max_messages = 0;
    uint64_t max_bytes = 0;
    int64_t max_age_seconds = 0;
    enum class WhenFull { Reject, DropOldest } when_full = WhenFull::Reject;
};

/// What `uplinkctl status` shows about one route's queue.
struct SpoolStats {
    uint64_t depth = 0;             ///< messages waiting or in flight
    uint64_t bytes = 0;             ///< payload bytes waiting or in flight
    int64_t oldest_created_ms = 0;  ///< 0 when empty
    uint64_t leased = 0;            ///< handed to the session, not yet acknowledged
    uint64_t dropped = 0;           ///< removed by drop-oldest
    uint64_t expired = 0;           ///< removed because older than max_age_seconds
    uint64_t rejected = 0;          ///< refused with spool_full
    uint64_t dead_lettered = 0;     ///< in the dead-letter table now (not counted in depth)
    /// Queued, passed over by the last leases because they had a topic filter (a metered uplink):
    /// what waits for a lease without one. Counted again after releaseLeases().
    uint64_t held = 0;
    /// Why the oldest waiting message cannot be handed out now, in plain words naming it and the
    /// cause ("" when none). It stays queued and each lease tries it again; cleared once a lease
    /// hands it out or it leaves the queue. Only a durable spool sets it.
    std::string stuck;
};

/// A message the broker kept refusing, moved out of the queue so that it cannot block the route.
struct DeadLetter {
    Message message;      ///< as queued; message.seq is the seq it had in the queue
    std::string reason;   ///< plain words: why the broker (or the cloud's limits) refused it
    int attempts = 0;     ///< deliveries tried before it was moved
    int64_t dead_ms = 0;  ///< when it was moved, ms since the epoch
};

class Spool {
  public:
    virtual ~Spool() = default;

    using AppendDone = std::function<void(Result<uint64_t> seq)>;

    /// Sets the limits of a route (may be called again on reload).
    virtual void configureRoute(const std::string& route, const SpoolLimits& limits) = 0;
    /// Stores a message. `done` runs once it is durable (or refused: "spool_full",
    /// "spool_io"); only then may the publisher be told "queued".
    virtual void append(Message msg, AppendDone done) = 0;
    /// Hands out up to `max` messages of `route` that are not leased yet, oldest first. With
    /// `only_topics` (MQTT topic filters), only messages whose topic matches one of them: the
    /// others stay queued, untouched (SpoolStats::held), and a later lease without the filter hands
    /// them out first, being older. Empty: every message.
    virtual std::vector<Message> lease(std::string_view route, size_t max,
                                       const std::vector<std::string>& only_topics = {}) = 0;
    /// The broker has the message: forget it.
    virtual void ack(std::string_view route, uint64_t seq) = 0;
    /// The connection is gone: every lease of `route` returns to the queue, in order.
    virtual void releaseLeases(std::string_view route) = 0;
    /// Drops messages older than the route's max age; returns how many.
    virtual uint64_t expire(std::string_view route, int64_t now_ms) = 0;
    virtual SpoolStats stats(std::string_view route) const = 0;
    /// The daemon has been quiet for a while: give caches back to the system (a durable spool's
    /// page caches and batch buffers). Nothing queued is touched. Thread: loop.
    virtual void releaseMemory() {}

    // ---- dead letters (messages that would otherwise block their route)

    /// Moves message `seq` of `route` (leased or not) from the queue to the dead-letter table,
    /// durably with the next commit. False when it is not (or no longer) in the queue.
    virtual bool deadLetter(std::string_view route, uint64_t seq, std::string reason,
                            int attempts) = 0;
    /// The dead letters of `route` (of every route when empty), oldest first.
    virtual Result<std::vector<DeadLetter>> deadLetters(std::string_view route) = 0;
    /// Puts dead letter `seq` back at the end of its route's queue as a new message; `done` gets
    /// the new seq once it is durable (like append), or "not_found".
    virtual void retryDeadLetter(uint64_t seq, AppendDone done) = 0;
    /// Forgets dead letter `seq` for good; "not_found" when there is none.
    virtual Status dropDeadLetter(uint64_t seq) = 0;
};

using SpoolPtr = std::unique_ptr<Spool>;

}  // namespace uplinkd
