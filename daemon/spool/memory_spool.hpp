// SPDX-License-Identifier: Apache-2.0
// MemorySpool: a Spool held in memory only (nothing survives a restart). For tests and for
// `[daemon] spool = "memory"` on boards without writable storage. Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "uplinkd/spool.hpp"

namespace uplinkd {

class MemorySpool final : public Spool {
  public:
    explicit MemorySpool(asio::io_context& loop) : loop_(loop) {}

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

  private:
    struct RouteQueue {
        SpoolLimits limits;
        std::map<uint64_t, Message> messages;  // seq order
        std::set<uint64_t> leased;
        std::vector<std::string> filter;  ///< of the last leases; empty: none
        std::set<uint64_t> held;          ///< passed over by leases with `filter`
        SpoolStats stats;
    };
    RouteQueue& queue(std::string_view route);

    asio::io_context& loop_;
    std::map<std::string, RouteQueue, std::less<>> routes_;
    std::map<uint64_t, DeadLetter> dead_;  // seq order
    uint64_t next_seq_ = 1;
};

}  // namespace uplinkd
