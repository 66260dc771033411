// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: random operations against a simple model of what it should hold.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "spool_test_fixture.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// ---- random operations against a simple model

/// What the spool should contain, kept the simple way (everything in memory).
class SpoolModel {
  public:
    struct Entry {
        std::string route;
        uint64_t size = 0;
        int64_t created_ms = 0;
        bool committed = false;  ///< its done has run
        bool leased = false;
    };

    void configure(const std::string& route, const SpoolLimits& limits) {
        routes_[route].limits = limits;
    }

    /// Predicts the outcome of an append: the seq it gets, or 0 when it is refused.
    uint64_t append(const std::string& route, uint64_t size, int64_t created_ms) {
        RouteModel& r = routes_[route];
        uint64_t depth = 0;
        uint64_t bytes = 0;
        for (const auto& [seq, e] : live_) {
            if (e.route == route) {
                ++depth;
                bytes += e.size;
            }
        }
        const SpoolLimits& l = r.limits;
        const bool over_count = l.max_messages != 0 && depth + 1 > l.max_messages;
        const bool over_bytes = l.max_bytes != 0 && bytes + size > l.max_bytes;
        if (over_count || over_bytes) {
            if ((l.max_bytes != 0 && size > l.max_bytes) ||
                l.when_full == SpoolLimits::WhenFull::Reject) {
                ++r.rejected;
                return 0;
            }
            std::vector<uint64_t> victims;
            uint64_t freed = 0;
            uint64_t freed_bytes = 0;
            const uint64_t need = over_count ? depth + 1 - l.max_messages : 0;
            const uint64_t need_bytes = over_bytes ? bytes + size - l.max_bytes : 0;
            for (const auto& [seq, e] : live_) {
                if (freed >= need && freed_bytes >= need_bytes) {
                    break;
                }
                if (e.route == route && !e.leased) {
                    victims.push_back(seq);
                    ++freed;
                    freed_bytes += e.size;
                }
            }
            if (freed < need || freed_bytes < need_bytes) {
                ++r.rejected;
                return 0;
            }
            for (const uint64_t seq : victims) {
                live_.erase(seq);
                ++r.dropped;
            }
        }
        const uint64_t seq = next_seq_++;
        live_[seq] = Entry{route, size, created_ms, false, false};
        return seq;
    }

    void committed(uint64_t seq) {
        if (auto it = live_.find(seq); it != live_.end()) {
            it->second.committed = true;
        }
    }

    std::vector<uint64_t> lease(const std::string& route, size_t max) {
        std::vector<uint64_t> out;
        for (auto& [seq, e] : live_) {
            if (out.size() == max) {
                break;
            }
            if (e.route == route && e.committed && !e.leased) {
                e.leased = true;
                out.push_back(seq);
            }
        }
        return out;
    }

    void ack(const std::string& route, uint64_t seq) {
        const auto it = live_.find(seq);
        if (it != live_.end() && it->second.route == route && it->second.committed) {
            live_.erase(it);
        }
    }

    void release(const std::string& route) {
        for (auto& [seq, e] : live_) {
            if (e.route == route) {
                e.leased = false;
            }
        }
    }

    uint64_t expire(const std::string& route, int64_t now_ms) {
        RouteModel& r = routes_[route];
        if (r.limits.max_age_seconds <= 0) {
            return 0;
        }
        const int64_t cutoff = now_ms - r.limits.max_age_seconds * 1000;
        uint64_t n = 0;
        for (auto it = live_.begin(); it != live_.end();) {
            const Entry& e = it->second;
            if (e.route == route && e.committed && !e.leased && e.created_ms < cutoff) {
                it = live_.erase(it);
                ++n;
            } else {
                ++it;
            }
        }
        r.expired += n;
        return n;
    }

    /// Close and reopen: everything accepted is committed, leases and counters are gone.
    void reopen() {
        for (auto& [seq, e] : live_) {
            e.committed = true;
            e.leased = false;
        }
        for (auto& [name, r] : routes_) {
            r.dropped = r.expired = r.rejected = 0;
        }
    }

    SpoolStats stats(const std::string& route) {
        SpoolStats s;
        for (const auto& [seq, e] : live_) {
            if (e.route != route) {
                continue;
            }
            if (s.depth == 0) {
                s.oldest_created_ms = e.created_ms;
            }
            ++s.depth;
            s.bytes += e.size;
            s.leased += e.leased ? 1 : 0;
        }
        const RouteModel& r = routes_[route];
        s.dropped = r.dropped;
        s.expired = r.expired;
        s.rejected = r.rejected;
        return s;
    }

    std::vector<uint64_t> leasedOf(const std::string& route) const {
        std::vector<uint64_t> out;
        for (const auto& [seq, e] : live_) {
            if (e.route == route && e.leased) {
                out.push_back(seq);
            }
        }
        return out;
    }

    const std::map<uint64_t, Entry>& live() const { return live_; }
    void setNextSeq(uint64_t seq) { next_seq_ = seq; }

  private:
    struct RouteModel {
        SpoolLimits limits;
        uint64_t dropped = 0;
        uint64_t expired = 0;
        uint64_t rejected = 0;
    };
    std::map<uint64_t, Entry> live_;
    std::map<std::string, RouteModel> routes_;
    uint64_t next_seq_ = 1;
};

TEST_F(SpoolTest, RandomOperationsMatchTheModel) {
    const std::vector<std::string> routes = {"drop", "reject", "free"};
    const std::map<std::string, SpoolLimits> limits = {
        {"drop",
         {.max_messages = 12,
          .max_bytes = 600,
          .max_age_seconds = 50,
          .when_full = SpoolLimits::WhenFull::DropOldest}},
        {"reject", {.max_messages = 15, .max_age_seconds = 30}},
        {"free", {.max_age_seconds = 70}},
    };
    const int64_t now = 1'700'000'000'000;
    for (uint32_t seed = 1; seed <= 6; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        TempDir dir;
        const std::string file = dir.path() + "/spool.db";
        std::mt19937 rng(seed);
        const auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
        SpoolModel model;
        auto opened = SqliteSpool::open(loop_, file, nullptr);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        std::unique_ptr<SqliteSpool> spool = std::move(opened).value();
        for (const auto& [route, l] : limits) {
            spool->configureRoute(route, l);
            model.configure(route, l);
        }
        size_t outstanding = 0;
        bool mismatch = false;
        for (int step = 0; step < 1'200 && !mismatch && !HasFailure(); ++step) {
            const std::string& route = routes[pick(3)];
            const std::string where = "step " + std::to_string(step) + " route " + route;
            const uint32_t op = pick(100);
            if (op < 45) {
                const uint64_t size = pick(90);
                const int64_t created = now - 100'000 + pick(100'000);  // not monotonic
                const uint64_t want = model.append(route, size, created);
                std::string payload = "#" + std::to_string(want) + ":";
                payload.resize(std::max<size_t>(payload.size(), size), '.');
                if (payload.size() != size) {  // too short to carry the seq: plain filler
                    payload.assign(size, '.');
                }
                ++outstanding;
                spool->append(makeMessage(route, payload, created),
                              [&, want, where](Result<uint64_t> r) {
                                  --outstanding;
                                  if (want == 0) {
                                      EXPECT_FALSE(r.ok()) << where;
                                      if (!r.ok()) {
                                          EXPECT_EQ(r.error().code, "spool_full") << where;
                                      }
                                      return;
                                  }
                                  ASSERT_TRUE(r.ok()) << where << ": " << r.error().message;
                                  EXPECT_EQ(r.value(), want) << where;
                                  model.committed(want);
                              });
            } else if (op < 60) {
                const size_t max = 1 + pick(6);
                const auto got = spool->lease(route, max);
                const auto want = model.lease(route, max);
                EXPECT_EQ(seqsOf(got), want) << where;
                for (const Message& m : got) {
                    const auto it = model.live().find(m.seq);
                    ASSERT_NE(it, model.live().end()) << where;
                    EXPECT_EQ(m.payload.size(), it->second.size) << where;
                    EXPECT_EQ(m.created_ms, it->second.created_ms) << where;
                    const std::string tag = "#" + std::to_string(m.seq) + ":";
                    if (m.payload.size() >= tag.size()) {
                        EXPECT_EQ(m.payload.rfind(tag, 0), 0u) << where << " " << m.payload;
                    }
                }
            } else if (op < 75) {
                const auto leased = model.leasedOf(route);
                uint64_t seq = 1 + pick(400);  // sometimes a random seq
                if (!leased.empty() && pick(4) != 0) {
                    seq = leased[pick(static_cast<uint32_t>(leased.size()))];
                }
                spool->ack(route, seq);
                model.ack(route, seq);
            } else if (op < 80) {
                spool->releaseLeases(route);
                model.release(route);
            } else if (op < 85) {
                const int64_t at = now - 40'000 + pick(40'000);
                EXPECT_EQ(spool->expire(route, at), model.expire(route, at)) << where;
            } else if (op < 97) {
                // Let some completions run.
                loop_.restart();
                for (uint32_t i = pick(4); i > 0; --i) {
                    loop_.poll_one();
                }
                if (pick(3) == 0) {
                    ASSERT_TRUE(runUntil([&] { return outstanding == 0; })) << where;
                }
            } else {
                spool.reset();  // commits what is queued, drops the callbacks
                outstanding = 0;
                loop_.restart();
                loop_.poll();
                model.reopen();
                auto again = SqliteSpool::open(loop_, file, nullptr);
                ASSERT_TRUE(again.ok()) << again.error().message;
                spool = std::move(again).value();
                for (const auto& [name, l] : limits) {
                    spool->configureRoute(name, l);
                }
            }
            for (const std::string& r : routes) {
                expectSameStats(spool->stats(r), model.stats(r),
                                {"depth", "bytes", "oldest_created_ms", "leased", "dropped",
                                 "expired", "rejected"},
                                where + " stats of " + r);
            }
            mismatch = HasFailure();
        }
        ASSERT_TRUE(runUntil([&] { return outstanding == 0; }));
        spool.reset();
    }
}

}  // namespace
}  // namespace uplinkd
