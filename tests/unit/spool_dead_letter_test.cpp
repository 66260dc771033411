// SPDX-License-Identifier: Apache-2.0
// Dead letters of the spool (SQLite and memory): moving a message out of its route's queue,
// listing, retrying at the end of the queue, dropping, counts, persistence, and the upgrade of a
// spool file written before dead letters existed (schema version 1).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spool/memory_spool.hpp"
#include "spool/sqlite_spool.hpp"
#include "spool_test_support.hpp"
#include "test_env.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using testing::payloadsOf;

Message makeMessage(const std::string& route, const std::string& payload) {
    Message m;
    m.route = route;
    m.topic = "t/" + payload;
    m.payload = payload;
    m.qos = 1;
    m.properties = {{"k", "v"}};
    return m;
}

class DeadLetterTest : public ::testing::TestWithParam<bool> {  // true: SQLite, false: memory
  protected:
    std::string path() const { return dir_.file("spool.db"); }

    SpoolPtr open() {
        if (!GetParam()) {
            if (!memory_) {
                memory_ = std::make_unique<MemorySpool>(loop_);
            }
            return nullptr;  // the memory spool lives in memory_
        }
        auto s = SqliteSpool::open(loop_, path(), nullptr);
        EXPECT_TRUE(s.ok()) << s.error().message;
        return s.ok() ? SpoolPtr(std::move(s).value()) : nullptr;
    }
    Spool& spool() { return GetParam() ? *sqlite_ : *memory_; }
    void reopen() {
        sqlite_.reset();
        loop_.restart();
        loop_.poll();
        sqlite_ = open();
    }

    bool runUntil(const std::function<bool()>& done) {
        return testing::runLoopUntil(loop_, done, 30s, 20ms);
    }

    uint64_t append(const std::string& route, const std::string& payload) {
        std::optional<Result<uint64_t>> r;
        spool().append(makeMessage(route, payload), [&](Result<uint64_t> x) { r.emplace(x); });
        EXPECT_TRUE(runUntil([&] { return r.has_value(); }));
        EXPECT_TRUE(r && r->ok());
        return r && r->ok() ? r->value() : 0;
    }

    Result<uint64_t> retry(uint64_t seq) {
        std::optional<Result<uint64_t>> r;
        spool().retryDeadLetter(seq, [&](Result<uint64_t> x) { r.emplace(x); });
        EXPECT_TRUE(runUntil([&] { return r.has_value(); }));
        return r ? *r : Result<uint64_t>(fail("test_timeout", "no completion"));
    }

    /// Dead letters of `route` once committed (the SQLite spool lists committed ones).
    std::vector<DeadLetter> deadOf(const std::string& route, size_t expect) {
        std::vector<DeadLetter> out;
        EXPECT_TRUE(runUntil([&] {
            auto l = spool().deadLetters(route);
            EXPECT_TRUE(l.ok());
            out = l.ok() ? *l : std::vector<DeadLetter>{};
            return out.size() == expect;
        }));
        return out;
    }

    void SetUp() override {
        if (GetParam()) {
            sqlite_ = open();
        } else {
            open();
        }
    }

    asio::io_context loop_;
    testing::TempDir dir_;
    SpoolPtr sqlite_;
    std::unique_ptr<MemorySpool> memory_;
};

TEST_P(DeadLetterTest, LeasedOrQueuedMessagesMoveOutOfTheQueueWithReasonAndAttempts) {
    const uint64_t a = append("r", "a");
    const uint64_t b = append("r", "b");
    const uint64_t c = append("r", "c");
    append("other", "o");
    ASSERT_EQ(spool().lease("r", 1).size(), 1u);  // a is leased, b and c are not
    EXPECT_TRUE(spool().deadLetter("r", a, "refused 0x87", 5));
    EXPECT_TRUE(spool().deadLetter("r", c, "too big", 1));
    EXPECT_FALSE(spool().deadLetter("r", a, "again", 1));            // no longer queued
    EXPECT_FALSE(spool().deadLetter("other", b, "wrong route", 1));  // not of that route
    EXPECT_FALSE(spool().deadLetter("r", 9999, "unknown", 1));

    const SpoolStats st = spool().stats("r");
    EXPECT_EQ(st.depth, 1u);
    EXPECT_EQ(st.bytes, 1u);
    EXPECT_EQ(st.dead_lettered, 2u);
    EXPECT_EQ(st.leased, 0u);
    EXPECT_EQ(spool().stats("other").dead_lettered, 0u);
    // The route goes on with what is left.
    spool().releaseLeases("r");
    EXPECT_EQ(payloadsOf(spool().lease("r", 10)), (std::vector<std::string>{"b"}));

    const auto dead = deadOf("r", 2);
    ASSERT_EQ(dead.size(), 2u);
    EXPECT_EQ(dead[0].message.seq, a);
    EXPECT_EQ(dead[0].message.payload, "a");
    EXPECT_EQ(dead[0].message.topic, "t/a");
    EXPECT_EQ(dead[0].message.properties, (Properties{{"k", "v"}}));
    EXPECT_EQ(dead[0].reason, "refused 0x87");
    EXPECT_EQ(dead[0].attempts, 5);
    EXPECT_GT(dead[0].dead_ms, 0);
    EXPECT_EQ(dead[1].message.seq, c);
    EXPECT_EQ(dead[1].reason, "too big");
    EXPECT_EQ(deadOf("", 2).size(), 2u);
    EXPECT_EQ(deadOf("other", 0).size(), 0u);
}

TEST_P(DeadLetterTest, RetryQueuesAtTheEndAndDropForgets) {
    const uint64_t a = append("r", "a");
    append("r", "b");
    const uint64_t c = append("r", "c");
    ASSERT_TRUE(spool().deadLetter("r", a, "refused", 3));
    ASSERT_TRUE(spool().deadLetter("r", c, "refused", 3));
    ASSERT_EQ(deadOf("r", 2).size(), 2u);

    auto again = retry(a);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_GT(*again, c);  // a new message, after everything queued
    EXPECT_EQ(payloadsOf(spool().lease("r", 10)), (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(spool().stats("r").dead_lettered, 1u);
    EXPECT_EQ(spool().stats("r").depth, 2u);
    auto twice = retry(a);
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(twice.error().code, "not_found");

    EXPECT_TRUE(spool().dropDeadLetter(c).ok());
    const Status gone = spool().dropDeadLetter(c);
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code, "not_found");
    EXPECT_EQ(spool().stats("r").dead_lettered, 0u);
    EXPECT_EQ(deadOf("r", 0).size(), 0u);
}

TEST_P(DeadLetterTest, DeadLettersSurviveAReopen) {
    if (!GetParam()) {
        GTEST_SUCCEED() << "the memory spool keeps nothing across restarts by design";
        return;
    }
    const uint64_t a = append("r", "a");
    append("r", "b");
    ASSERT_TRUE(spool().deadLetter("r", a, "refused", 4));
    reopen();
    ASSERT_TRUE(sqlite_);
    EXPECT_EQ(spool().stats("r").dead_lettered, 1u);
    EXPECT_EQ(spool().stats("r").depth, 1u);
    EXPECT_EQ(payloadsOf(spool().lease("r", 10)), (std::vector<std::string>{"b"}));
    const auto dead = deadOf("r", 1);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].message.seq, a);
    EXPECT_EQ(dead[0].attempts, 4);
    // A retried one is queued after a reopen too, and no longer a dead letter.
    ASSERT_TRUE(retry(a).ok());
    reopen();
    EXPECT_EQ(spool().stats("r").dead_lettered, 0u);
    EXPECT_EQ(payloadsOf(spool().lease("r", 10)), (std::vector<std::string>{"b", "a"}));
}

INSTANTIATE_TEST_SUITE_P(Spools, DeadLetterTest, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "Sqlite" : "Memory"; });

// A spool file as uplinkd wrote it before dead letters (schema version 1, exactly that SQL).
TEST(SpoolUpgrade, AVersion1FileKeepsItsMessagesAndGetsDeadLetters) {
    testing::TempDir dir;
    const std::string path = dir.file("spool.db");
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        const char* v1 = R"sql(
PRAGMA journal_mode = WAL;
BEGIN IMMEDIATE;
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,
    route      TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    properties TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX messages_by_route_seq ON messages(route, seq);
CREATE INDEX messages_by_route_created ON messages(route, created_ms);
CREATE TABLE spool_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO spool_meta(key, value) VALUES ('last_seq', 0);
PRAGMA user_version = 1;
PRAGMA application_id = 1431325771;
COMMIT;
INSERT INTO messages VALUES (7, 'r', 'old/topic', x'6f6c64', 1, 0, NULL, 1000);
INSERT INTO messages VALUES (8, 'r', 'old/next', x'6e657874', 1, 0, '[["k","v"]]', 1001);
UPDATE spool_meta SET value = 8 WHERE key = 'last_seq';
)sql";
        ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    asio::io_context loop;
    std::string note = "stale";
    auto opened = SqliteSpool::open(loop, path, &note);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(note, "");  // upgraded in place, not moved aside
    auto spool = std::move(opened).value();
    EXPECT_EQ(spool->stats("r").depth, 2u);
    auto leased = spool->lease("r", 10);
    ASSERT_EQ(leased.size(), 2u);
    EXPECT_EQ(leased[0].seq, 7u);
    EXPECT_EQ(leased[0].payload, "old");
    ASSERT_TRUE(spool->deadLetter("r", 7, "refused", 5));
    spool.reset();  // commits the move

    auto again = SqliteSpool::open(loop, path, &note);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(note, "");
    EXPECT_EQ(again.value()->stats("r").dead_lettered, 1u);
    EXPECT_EQ(again.value()->stats("r").depth, 1u);
    auto dead = again.value()->deadLetters("r");
    ASSERT_TRUE(dead.ok());
    ASSERT_EQ(dead->size(), 1u);
    EXPECT_EQ((*dead)[0].message.topic, "old/topic");
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    int version = 0;
    sqlite3_exec(
        db, "PRAGMA user_version",
        [](void* out, int, char** values, char**) {
            *static_cast<int*>(out) = std::atoi(values[0]);
            return 0;
        },
        &version, nullptr);
    sqlite3_close(db);
    EXPECT_EQ(version, 2);
}

}  // namespace
}  // namespace uplinkd
