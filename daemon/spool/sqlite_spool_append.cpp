// SPDX-License-Identifier: Apache-2.0
// Appends to the spool and their completions after each batch. Thread: the loop.
// clang-format off
#include <cstddef>  // before Asio: its config reads libstdc++ macros (aligned_alloc vs operator new)
// clang-format on
#include <algorithm>
#include <asio/post.hpp>
#include <utility>

#include "spool/sqlite_spool_impl.hpp"

namespace uplinkd {

using namespace sqlite_spool_detail;

void SqliteSpool::Impl::postDone(AppendDone done, Result<uint64_t> result) {
    if (!done) {
        return;
    }
    asio::post(loop_, [alive = alive_, d = std::move(done), r = std::move(result)]() mutable {
        if (*alive) {
            d(std::move(r));
        }
    });
}

void SqliteSpool::Impl::onBatch(BatchResult result) {
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

void SqliteSpool::Impl::append(Message msg, AppendDone done) {
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
        msg.created_ms = wallClockMs();
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

}  // namespace uplinkd
