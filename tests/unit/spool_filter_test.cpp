// SPDX-License-Identifier: Apache-2.0
// Leases with a topic filter (a metered uplink): they hand out only matching messages and leave
// the others queued below them (holes). Both spools from the same tables: holes, acks next to
// them, releases, the head of the queue, expiry and drop-oldest of held messages, dead letters, a
// crash with holes (SqliteSpool); then SqliteSpool against MemorySpool under random operations.
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "spool/memory_spool.hpp"
#include "spool/sqlite_spool.hpp"
#include "spool_test_support.hpp"

namespace uplinkd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const int64_t kNow = 1'700'000'000'000;
const std::vector<std::string> kAll;
const std::vector<std::string> kAlarms = {"alarms/#"};
const std::vector<std::string> kStatus = {"status/#"};
const std::vector<std::string> kAlarmsAndStatus = {"alarms/#", "status/#"};

/// Message names: the first letter gives the topic (a: alarms/x, t: telemetry/y, s: status/z);
/// a trailing '!' makes it an hour old.
std::string topicOf(const std::string& name) {
    switch (name.front()) {
        case 'a':
            return "alarms/x";
        case 's':
            return "status/z";
        default:
            return "telemetry/y";
    }
}

std::vector<std::string> split(const std::string& names) {
    std::istringstream in(names);
    std::vector<std::string> out;
    for (std::string n; in >> n;) {
        out.push_back(n);
    }
    return out;
}

std::string join(const std::vector<Message>& messages) {
    std::string out;
    for (const Message& m : messages) {
        out += (out.empty() ? "" : " ") + m.payload;
    }
    return out;
}

/// Each test's own directory for its spool file.
class TempDir : public testing::ScratchDir {
  public:
    TempDir() : ScratchDir("spool_filter") {}
};

struct Step {
    enum Kind { Append, Lease, Ack, Release, Expire, Dead, Crash } kind;
    std::string names{};  ///< Append, Ack, Dead: the messages; Lease: what it must hand out
    const std::vector<std::string>* filter = &kAll;  ///< Lease
    size_t max = 100;                                ///< Lease
    // After the step (-1, or "" for oldest: not checked; oldest "-": the route is empty).
    int depth = -1, held = -1, leased = -1;
    std::string oldest{};
    int expired = -1, dropped = -1;
};

struct Case {
    const char* name;
    std::vector<Step> steps;
    SpoolLimits limits{};
    bool sqlite_only = false;
};

// clang-format off
const Case kCases[] = {
    {"filtered leases leave holes, an unfiltered one fills them first", {
        {Step::Append, "t1 a1 t2 a2 t3 a3", nullptr, 0, 6, 0, 0, "t1"},
        {Step::Lease, "a1 a2", &kAlarms, 2, 6, 2, 2, "t1"},
        {Step::Lease, "a3", &kAlarms, 10, 6, 3, 3},
        {Step::Lease, "", &kAlarms, 10, 6, 3, 3},
        {Step::Append, "a4 t4", nullptr, 0, 8, 3, 3},
        {Step::Lease, "a4", &kAlarms, 10, 8, 4, 4},
        {Step::Lease, "t1 t2 t3 t4", &kAll, 10, 8, 0, 8, "t1"},
        {Step::Lease, "", &kAll, 10, 8, 0, 8},
    }},
    {"acks next to the holes, and of held messages", {
        {Step::Append, "t1 a1 t2 a2 t3"},
        {Step::Lease, "a1 a2", &kAlarms, 100, 5, 3, 2, "t1"},
        {Step::Ack, "a1 a2", nullptr, 0, 3, 3, 0, "t1"},
        {Step::Release, "", nullptr, 0, 3, 3, 0},  // nothing was leased: nothing to look at again
        {Step::Lease, "", &kAlarms, 100, 3, 3, 0},
        {Step::Ack, "t2", nullptr, 0, 2, 2, 0, "t1"},  // acknowledged after a release
        {Step::Lease, "t1 t3", &kAll, 100, 2, 0, 2},
        {Step::Release, "", nullptr, 0, 2, 0, 0},
        {Step::Lease, "t1", &kAll, 1},
        {Step::Ack, "t1", nullptr, 0, 1, 0, 0, "t3"},
        {Step::Lease, "t3", &kAll, 100},
        {Step::Ack, "t3", nullptr, 0, 0, 0, 0, "-"},
    }},
    {"a release gives back leases and holes in seq order", {
        {Step::Append, "t1 a1 t2 a2"},
        {Step::Lease, "a1", &kAlarms, 1, 4, 1, 1},
        {Step::Release, "", nullptr, 0, 4, 0, 0},
        {Step::Lease, "t1 a1 t2 a2", &kAll, 10, 4, 0, 4},
        {Step::Release},
        {Step::Lease, "a1 a2", &kAlarms, 10, 4, 2, 2},
        {Step::Ack, "a1"},
        {Step::Release, "", nullptr, 0, 3, 0, 0, "t1"},
        {Step::Lease, "t1 t2 a2", &kAll, 10, 3, 0, 3},
    }},
    {"the head of the queue is the lowest live message, held or leased", {
        {Step::Append, "a1 t1 a2"},
        {Step::Lease, "a1 a2", &kAlarms, 10, 3, 1, 2, "a1"},
        {Step::Ack, "a1", nullptr, 0, 2, 1, 1, "t1"},
        {Step::Ack, "t1", nullptr, 0, 1, 0, 1, "a2"},
        {Step::Ack, "a2", nullptr, 0, 0, 0, 0, "-"},
    }},
    {"held messages expire, counted; leased ones do not", {
        {Step::Append, "t1! a1! t2! a2 t3"},
        {Step::Lease, "a1! a2", &kAlarms, 100, 5, 3, 2, "t1!"},
        {Step::Expire, "", nullptr, 0, 3, 1, 2, "a1!", 2},
        {Step::Lease, "", &kAlarms, 100, 3, 1, 2},
        {Step::Lease, "t3", &kAll, 100, 3, 0, 3, "a1!", 2},
    }, {.max_age_seconds = 60}},
    {"drop-oldest takes held messages, never leased ones", {
        {Step::Append, "t1 a1 t2 a2"},
        {Step::Lease, "a1 a2", &kAlarms, 100, 4, 2, 2},
        {Step::Append, "a3", nullptr, 0, 4, 1, 2, "a1", -1, 1},
        {Step::Lease, "a3", &kAlarms, 100, 4, 1, 3},
        {Step::Append, "t3", nullptr, 0, 4, 0, 3, "a1", -1, 2},
        {Step::Release},
        {Step::Lease, "a1 a2 a3 t3", &kAll, 100, 4, 0, 4},
    }, {.max_messages = 4, .when_full = SpoolLimits::WhenFull::DropOldest}},
    {"another filter looks at what the last one passed over", {
        {Step::Append, "t1 s1 a1"},
        {Step::Lease, "a1", &kAlarms, 100, 3, 2, 1},
        {Step::Lease, "s1", &kStatus, 100, 3, 1, 2},
        {Step::Lease, "", &kAlarmsAndStatus, 100, 3, 1, 2},
        {Step::Append, "s2 t2 a2"},
        {Step::Lease, "s2 a2", &kAlarmsAndStatus, 100, 6, 2, 4},
        {Step::Lease, "t1 t2", &kAll, 100, 6, 0, 6},
    }},
    {"a held message moved to the dead letters is no longer held", {
        {Step::Append, "t1 a1 t2"},
        {Step::Lease, "a1", &kAlarms, 100, 3, 2, 1},
        {Step::Dead, "t1", nullptr, 0, 2, 1, 1, "a1"},
        {Step::Dead, "a1", nullptr, 0, 1, 1, 0, "t2"},
        {Step::Lease, "t2", &kAll, 100, 1, 0, 1},
    }},
    {"after a crash with holes everything not acknowledged comes back, in order", {
        {Step::Append, "t1 a1 t2 a2 t3"},
        {Step::Lease, "a1 a2", &kAlarms, 100, 5, 3, 2},
        {Step::Ack, "a1"},
        {Step::Append, "a3"},  // its commit carries the delete of a1
        {Step::Crash, "", nullptr, 0, 5, 0, 0, "t1"},
        {Step::Lease, "a2 a3", &kAlarms, 100, 5, 3, 2},  // a2 again: at least once
        {Step::Lease, "t1 t2 t3", &kAll, 100, 5, 0, 5},
    }, {}, true},
};
// clang-format on

class SpoolFilter : public ::testing::TestWithParam<std::string> {
  protected:
    bool sqlite() const { return GetParam() == "sqlite"; }

    std::unique_ptr<Spool> open(const std::string& path) {
        if (!sqlite()) {
            return std::make_unique<MemorySpool>(loop_);
        }
        auto s = SqliteSpool::open(loop_, path, nullptr);
        EXPECT_TRUE(s.ok()) << s.error().message;
        return s.ok() ? std::unique_ptr<Spool>(std::move(s).value()) : nullptr;
    }

    bool runUntil(const std::function<bool()>& done) {
        return testing::runLoopUntil(loop_, done, 30s, 1s);
    }

    /// Appends and waits for the completion; 0 when refused.
    uint64_t append(Spool& spool, const std::string& route, const std::string& topic,
                    const std::string& payload, int64_t created_ms) {
        Message m;
        m.route = route;
        m.topic = topic;
        m.payload = payload;
        m.qos = 1;
        m.created_ms = created_ms;
        std::optional<Result<uint64_t>> result;
        spool.append(std::move(m), [&](Result<uint64_t> r) { result.emplace(std::move(r)); });
        EXPECT_TRUE(runUntil([&] { return result.has_value(); }));
        return result && result->ok() ? result->value() : 0;
    }

    /// A copy of the spool file `path` (and its WAL) taken while it is open: what a crash leaves.
    static std::string crashImage(const std::string& path) {
        const std::string copy = path + "-crashed";
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ec;
            if (fs::exists(path + suffix)) {
                fs::copy_file(path + suffix, copy + suffix, fs::copy_options::overwrite_existing,
                              ec);
            }
        }
        return copy;
    }

    /// Runs the steps of `c` on a new spool in `dir`.
    void run(const Case& c, const std::string& dir);

    asio::io_context loop_;
};

void SpoolFilter::run(const Case& c, const std::string& dir) {
    SCOPED_TRACE(c.name);
    std::string path = dir + "/spool.db";
    std::unique_ptr<Spool> spool = open(path);
    ASSERT_TRUE(spool);
    spool->configureRoute("r", c.limits);
    std::map<std::string, uint64_t> seq;
    std::map<std::string, int64_t> created;
    int appended = 0;
    for (size_t i = 0; i < c.steps.size(); ++i) {
        const Step& st = c.steps[i];
        SCOPED_TRACE("step " + std::to_string(i + 1));
        switch (st.kind) {
            case Step::Append:
                for (const auto& n : split(st.names)) {
                    const int64_t at = kNow - (n.back() == '!' ? 3'600'000 : 1'000) + ++appended;
                    seq[n] = append(*spool, "r", topicOf(n), n, at);
                    created[n] = at;
                    ASSERT_NE(seq[n], 0u) << n << " was refused";
                }
                break;
            case Step::Lease:
                EXPECT_EQ(join(spool->lease("r", st.max, *st.filter)), st.names);
                break;
            case Step::Ack:
                for (const auto& n : split(st.names)) {
                    spool->ack("r", seq.at(n));
                }
                break;
            case Step::Release:
                spool->releaseLeases("r");
                break;
            case Step::Expire:
                spool->expire("r", kNow);
                break;
            case Step::Dead:
                for (const auto& n : split(st.names)) {
                    EXPECT_TRUE(spool->deadLetter("r", seq.at(n), "refused", 1)) << n;
                }
                break;
            case Step::Crash: {
                path = crashImage(path);
                spool.reset();
                spool = open(path);
                ASSERT_TRUE(spool);
                spool->configureRoute("r", c.limits);
                break;
            }
        }
        const SpoolStats s = spool->stats("r");
        if (st.depth >= 0) {
            EXPECT_EQ(s.depth, static_cast<uint64_t>(st.depth));
        }
        if (st.held >= 0) {
            EXPECT_EQ(s.held, static_cast<uint64_t>(st.held));
        }
        if (st.leased >= 0) {
            EXPECT_EQ(s.leased, static_cast<uint64_t>(st.leased));
        }
        if (st.oldest == "-") {
            EXPECT_EQ(s.oldest_created_ms, 0);
        } else if (!st.oldest.empty()) {
            EXPECT_EQ(s.oldest_created_ms, created.at(st.oldest)) << "oldest: " << st.oldest;
        }
        if (st.expired >= 0) {
            EXPECT_EQ(s.expired, static_cast<uint64_t>(st.expired));
        }
        if (st.dropped >= 0) {
            EXPECT_EQ(s.dropped, static_cast<uint64_t>(st.dropped));
        }
    }
}

TEST_P(SpoolFilter, Table) {
    for (const Case& c : kCases) {
        if (c.sqlite_only && !sqlite()) {
            continue;
        }
        TempDir dir;  // each case on a spool of its own
        run(c, dir.path());
    }
}

INSTANTIATE_TEST_SUITE_P(Spools, SpoolFilter, ::testing::Values("sqlite", "memory"),
                         [](const auto& p) { return p.param; });

// ---- SqliteSpool against MemorySpool, random operations with and without filters

TEST(SpoolFilterRandom, SqliteSpoolBehavesLikeMemorySpool) {
    const std::vector<const std::vector<std::string>*> filters = {&kAll, &kAlarms,
                                                                  &kAlarmsAndStatus};
    const std::vector<std::string> topics = {"alarms/x", "telemetry/y", "status/z"};
    const SpoolLimits limits{
        .max_messages = 40, .max_age_seconds = 50, .when_full = SpoolLimits::WhenFull::DropOldest};
    for (uint32_t seed = 1; seed <= 4; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        asio::io_context loop;
        TempDir dir;
        auto opened = SqliteSpool::open(loop, dir.path() + "/spool.db", nullptr);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        std::unique_ptr<SqliteSpool> sqlite = std::move(opened).value();
        MemorySpool memory(loop);
        sqlite->configureRoute("r", limits);
        memory.configureRoute("r", limits);
        std::mt19937 rng(seed);
        const auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
        std::vector<uint64_t> seqs;
        for (int step = 0; step < 800 && !::testing::Test::HasFailure(); ++step) {
            const std::string where = "step " + std::to_string(step);
            const uint32_t op = pick(100);
            if (op < 40) {
                Message m;
                m.route = "r";
                m.topic = topics[pick(3)];
                m.payload = std::string(1 + pick(20), 'x');
                m.created_ms = kNow - 100'000 + pick(100'000);
                Message copy = m;
                std::optional<Result<uint64_t>> a, b;
                sqlite->append(std::move(m), [&](Result<uint64_t> r) { a.emplace(std::move(r)); });
                memory.append(std::move(copy),
                              [&](Result<uint64_t> r) { b.emplace(std::move(r)); });
                testing::runLoopUntil(
                    loop, [&] { return a && b; }, 30s, 1s);
                ASSERT_TRUE(a && b) << where << ": an append did not complete";
                ASSERT_EQ(a->ok(), b->ok()) << where;
                if (a->ok()) {
                    ASSERT_EQ(a->value(), b->value()) << where;
                    seqs.push_back(a->value());
                }
            } else if (op < 65) {
                const auto* f = filters[pick(3)];
                const size_t max = 1 + pick(8);
                const auto got = sqlite->lease("r", max, *f);
                const auto want = memory.lease("r", max, *f);
                ASSERT_EQ(got.size(), want.size()) << where;
                for (size_t i = 0; i < got.size(); ++i) {
                    EXPECT_EQ(got[i].seq, want[i].seq) << where;
                    EXPECT_EQ(got[i].topic, want[i].topic) << where;
                    EXPECT_EQ(got[i].payload, want[i].payload) << where;
                }
            } else if (op < 82 && !seqs.empty()) {
                const uint64_t seq = seqs[pick(static_cast<uint32_t>(seqs.size()))];
                sqlite->ack("r", seq);
                memory.ack("r", seq);
            } else if (op < 88) {
                sqlite->releaseLeases("r");
                memory.releaseLeases("r");
            } else if (op < 94) {
                const int64_t at = kNow - 40'000 + pick(40'000);
                EXPECT_EQ(sqlite->expire("r", at), memory.expire("r", at)) << where;
            } else if (!seqs.empty()) {
                const uint64_t seq = seqs[pick(static_cast<uint32_t>(seqs.size()))];
                EXPECT_EQ(sqlite->deadLetter("r", seq, "refused", 1),
                          memory.deadLetter("r", seq, "refused", 1))
                    << where;
            }
            const SpoolStats s = sqlite->stats("r");
            const SpoolStats m = memory.stats("r");
            EXPECT_EQ(s.depth, m.depth) << where;
            EXPECT_EQ(s.bytes, m.bytes) << where;
            EXPECT_EQ(s.leased, m.leased) << where;
            EXPECT_EQ(s.held, m.held) << where;
            EXPECT_EQ(s.oldest_created_ms, m.oldest_created_ms) << where;
            EXPECT_EQ(s.dropped, m.dropped) << where;
            EXPECT_EQ(s.expired, m.expired) << where;
            EXPECT_EQ(s.dead_lettered, m.dead_lettered) << where;
        }
        sqlite.reset();
        loop.restart();
        loop.poll();
    }
}

}  // namespace
}  // namespace uplinkd
