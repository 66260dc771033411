// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: durability, group commit, limits, expiry, leases, recovery from bad files.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "spool/sqlite_spool.hpp"
#include "spool_test_support.hpp"

namespace uplinkd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::payloadsOf;

constexpr auto kTimeout = 30s;

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Each test's own directory for its spool file.
class TempDir : public testing::ScratchDir {
  public:
    TempDir() : ScratchDir("spool_test") {}
};

Message makeMessage(const std::string& route, const std::string& payload, int64_t created_ms = 0) {
    Message m;
    m.route = route;
    m.topic = "sensors/" + route;
    m.payload = payload;
    m.created_ms = created_ms;
    return m;
}

std::vector<uint64_t> seqsOf(const std::vector<Message>& messages) {
    std::vector<uint64_t> out;
    for (const Message& m : messages) {
        out.push_back(m.seq);
    }
    return out;
}

std::vector<std::string> filesStartingWith(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0) {
            out.push_back(entry.path().string());
        }
    }
    return out;
}

class SpoolTest : public ::testing::Test {
  protected:
    std::string path() const { return dir_.path() + "/spool.db"; }

    std::unique_ptr<SqliteSpool> open(std::string* note = nullptr) {
        auto spool = SqliteSpool::open(loop_, path(), note);
        EXPECT_TRUE(spool.ok()) << spool.error().message;
        return spool.ok() ? std::move(spool).value() : nullptr;
    }

    /// Runs the loop until `done` holds; false on timeout. Never sleeps: it waits for handlers.
    bool runUntil(const std::function<bool()>& done) {
        return testing::runLoopUntil(loop_, done, kTimeout, kTimeout);
    }

    /// Appends all messages back to back, then waits for every completion, in order of issue.
    std::vector<Result<uint64_t>> appendAll(Spool& spool, std::vector<Message> messages) {
        std::vector<std::optional<Result<uint64_t>>> results(messages.size());
        size_t completed = 0;
        for (size_t i = 0; i < messages.size(); ++i) {
            spool.append(std::move(messages[i]), [&results, &completed, i](Result<uint64_t> r) {
                results[i].emplace(std::move(r));
                ++completed;
            });
        }
        EXPECT_TRUE(runUntil([&] { return completed == results.size(); }))
            << "appends did not complete in time";
        std::vector<Result<uint64_t>> out;
        for (auto& r : results) {
            out.push_back(r ? std::move(*r)
                            : Result<uint64_t>(fail("test_timeout", "no completion")));
        }
        return out;
    }

    Result<uint64_t> appendOne(Spool& spool, Message m) {
        std::vector<Message> one;
        one.push_back(std::move(m));
        return std::move(appendAll(spool, std::move(one)).front());
    }

    /// Appends `n` messages with payloads "<prefix><i>" and checks they are accepted.
    std::vector<uint64_t> appendNumbered(Spool& spool, const std::string& route, int n,
                                         const std::string& prefix = "m") {
        std::vector<Message> messages;
        for (int i = 0; i < n; ++i) {
            messages.push_back(makeMessage(route, prefix + std::to_string(i)));
        }
        std::vector<uint64_t> seqs;
        for (auto& r : appendAll(spool, std::move(messages))) {
            EXPECT_TRUE(r.ok()) << r.error().message;
            seqs.push_back(r.ok() ? r.value() : 0);
        }
        return seqs;
    }

    asio::io_context loop_;
    TempDir dir_;
};

// ---- durability

TEST_F(SpoolTest, AcceptedMessagesSurviveReopenInOrderWithAllFields) {
    std::vector<Message> sent;
    for (int i = 0; i < 300; ++i) {
        Message m = makeMessage(i % 3 == 0 ? "b" : "a", "", 1'000 + i);
        m.topic = "t/" + std::to_string(i);
        if (i % 50 != 0) {  // some empty payloads
            m.payload = std::string("bin\0ary-", 8) + std::to_string(i) + std::string(200, 'x');
        }
        m.qos = i % 3;
        m.retain = i % 2 == 0;
        if (i % 4 == 0) {
            m.properties = {{"k", "v" + std::to_string(i)}, {"unicode", "\xc3\xa9t\xc3\xa9"}};
        }
        sent.push_back(m);
    }
    std::vector<uint64_t> seqs;
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        for (auto& r : appendAll(*spool, sent)) {
            ASSERT_TRUE(r.ok()) << r.error().message;
            seqs.push_back(r.value());
        }
    }
    for (size_t i = 1; i < seqs.size(); ++i) {
        EXPECT_LT(seqs[i - 1], seqs[i]);
    }

    auto spool = open();
    ASSERT_TRUE(spool);
    uint64_t a_bytes = 0;
    for (const Message& m : sent) {
        a_bytes += m.route == "a" ? m.payload.size() : 0;
    }
    EXPECT_EQ(spool->stats("a").depth, 200u);
    EXPECT_EQ(spool->stats("a").bytes, a_bytes);
    EXPECT_EQ(spool->stats("a").oldest_created_ms, 1'001);
    EXPECT_EQ(spool->stats("b").depth, 100u);
    EXPECT_EQ(spool->stats("b").oldest_created_ms, 1'000);

    std::vector<Message> got = spool->lease("a", 1'000);
    std::vector<Message> got_b = spool->lease("b", 1'000);
    got.insert(got.end(), got_b.begin(), got_b.end());
    ASSERT_EQ(got.size(), sent.size());
    std::sort(got.begin(), got.end(),
              [](const Message& x, const Message& y) { return x.seq < y.seq; });
    for (size_t i = 0; i < sent.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(got[i].seq, seqs[i]);
        EXPECT_EQ(got[i].route, sent[i].route);
        EXPECT_EQ(got[i].topic, sent[i].topic);
        EXPECT_EQ(got[i].payload, sent[i].payload);
        EXPECT_EQ(got[i].qos, sent[i].qos);
        EXPECT_EQ(got[i].retain, sent[i].retain);
        EXPECT_EQ(got[i].properties, sent[i].properties);
        EXPECT_EQ(got[i].created_ms, sent[i].created_ms);
    }

    auto next = appendOne(*spool, makeMessage("a", "after reopen"));
    ASSERT_TRUE(next.ok());
    EXPECT_GT(next.value(), seqs.back());
}

TEST_F(SpoolTest, SeqIsNeverReusedEvenWhenEverythingWasAcked) {
    uint64_t last = 0;
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        last = appendNumbered(*spool, "r", 3).back();
        for (const Message& m : spool->lease("r", 10)) {
            spool->ack("r", m.seq);
        }
        EXPECT_EQ(spool->stats("r").depth, 0u);
    }
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats("r").depth, 0u);
    auto next = appendOne(*spool, makeMessage("r", "x"));
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next.value(), last + 1);
}

TEST_F(SpoolTest, AckedMessagesStayGoneAfterReopen) {
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        appendNumbered(*spool, "r", 10);
        const auto leased = spool->lease("r", 10);
        ASSERT_EQ(leased.size(), 10u);
        for (int i = 0; i < 5; ++i) {
            spool->ack("r", leased[i].seq);
        }
    }  // the destructor commits the batched deletes
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(payloadsOf(spool->lease("r", 10)),
              (std::vector<std::string>{"m5", "m6", "m7", "m8", "m9"}));
}

TEST_F(SpoolTest, DoneRunsOnTheLoopThreadOnlyAfterCommitAndLeaseWaitsForIt) {
    auto spool = open();
    ASSERT_TRUE(spool);
    std::optional<std::thread::id> ran_on;
    spool->append(makeMessage("r", "one"), [&](Result<uint64_t> r) {
        EXPECT_TRUE(r.ok());
        ran_on = std::this_thread::get_id();
    });
    EXPECT_FALSE(ran_on);  // never synchronous
    EXPECT_TRUE(spool->lease("r", 10).empty()) << "leasable before the append was reported";
    EXPECT_EQ(spool->stats("r").depth, 1u);  // counted as soon as accepted
    ASSERT_TRUE(runUntil([&] { return ran_on.has_value(); }));
    EXPECT_EQ(*ran_on, std::this_thread::get_id());
    EXPECT_EQ(payloadsOf(spool->lease("r", 10)), std::vector<std::string>{"one"});
}

TEST_F(SpoolTest, DestructionCommitsQueuedAppendsAndDropsTheirCallbacks) {
    int callbacks = 0;
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        for (int i = 0; i < 100; ++i) {
            spool->append(makeMessage("r", "m" + std::to_string(i)),
                          [&](Result<uint64_t>) { ++callbacks; });
        }
    }
    loop_.restart();
    loop_.poll();  // whatever the worker posted must not run
    EXPECT_EQ(callbacks, 0);
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats("r").depth, 100u);
    EXPECT_EQ(spool->lease("r", 1'000).size(), 100u);
}

TEST_F(SpoolTest, ACallbackMayDestroyTheSpool) {
    auto spool = open();
    ASSERT_TRUE(spool);
    int callbacks = 0;
    for (int i = 0; i < 50; ++i) {
        spool->append(makeMessage("r", "m"), [&](Result<uint64_t>) {
            ++callbacks;
            spool.reset();
        });
    }
    ASSERT_TRUE(runUntil([&] { return callbacks > 0; }));
    loop_.restart();
    loop_.poll();
    EXPECT_EQ(callbacks, 1);
    EXPECT_FALSE(spool);
}

TEST_F(SpoolTest, FailedCommitReportsSpoolIoWithContextAndUncountsTheMessages) {
    auto spool = open();
    ASSERT_TRUE(spool);
    const auto kept = appendNumbered(*spool, "r", 3);
    // Make the file system refuse to grow the files of this process: the next commit fails.
    const std::string wal = path() + "-wal";
    const auto limit = static_cast<rlim_t>(std::max(fs::file_size(path()), fs::file_size(wal)));
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = old;
    tight.rlim_cur = limit + 4'096;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
    std::vector<Message> big;
    for (int i = 0; i < 50; ++i) {
        big.push_back(makeMessage("r", std::string(10'000, 'b')));
    }
    const auto results = appendAll(*spool, std::move(big));
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    std::signal(SIGXFSZ, old_handler);

    size_t failed = 0;
    for (const auto& r : results) {
        if (!r.ok()) {
            ++failed;
            EXPECT_EQ(r.error().code, "spool_io");
            EXPECT_EQ(r.error().message.rfind("spool: append: ", 0), 0u) << r.error().message;
            EXPECT_NE(r.error().message.find("(SQLITE_"), std::string::npos) << r.error().message;
        }
    }
    EXPECT_GT(failed, 0u);
    const uint64_t accepted = 3 + results.size() - failed;
    EXPECT_EQ(spool->stats("r").depth, accepted);

    // The spool keeps working once the disk does, and only accepted messages are there.
    EXPECT_TRUE(appendOne(*spool, makeMessage("r", "after")).ok());
    spool.reset();
    spool = open();
    ASSERT_TRUE(spool);
    const auto all = spool->lease("r", 1'000);
    ASSERT_EQ(all.size(), accepted + 1);
    EXPECT_EQ(all[0].seq, kept[0]);
    EXPECT_EQ(all.back().payload, "after");
}

// ---- group commit

TEST_F(SpoolTest, GroupCommitGroupsBackToBackAppends) {
    auto spool = open();
    ASSERT_TRUE(spool);
    const uint64_t before = spool->commitCountForTest();
    const auto seqs = appendNumbered(*spool, "r", 5'000, std::string(256, 'p'));
    const uint64_t commits = spool->commitCountForTest() - before;
    EXPECT_EQ(seqs.size(), 5'000u);
    EXPECT_GE(commits, 1u);
    EXPECT_LT(commits, 500u) << "5000 appends took " << commits << " transactions";
    RecordProperty("commits_for_5000_appends", static_cast<int>(commits));
    EXPECT_EQ(spool->stats("r").depth, 5'000u);
}

// ---- limits

TEST_F(SpoolTest, RejectPolicyRefusesWithSpoolFullAndLosesNothingAccepted) {
    std::vector<uint64_t> accepted;
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        spool->configureRoute("r", {.max_messages = 10});
        std::vector<Message> messages;
        for (int i = 0; i < 15; ++i) {
            messages.push_back(makeMessage("r", "m" + std::to_string(i)));
        }
        const auto results = appendAll(*spool, std::move(messages));
        for (size_t i = 0; i < results.size(); ++i) {
            if (i < 10) {
                ASSERT_TRUE(results[i].ok()) << results[i].error().message;
                accepted.push_back(results[i].value());
            } else {
                ASSERT_FALSE(results[i].ok());
                EXPECT_EQ(results[i].error().code, "spool_full");
                EXPECT_NE(results[i].error().message.find("\"r\""), std::string::npos)
                    << results[i].error().message;
                EXPECT_NE(results[i].error().message.find("max_messages = 10"), std::string::npos)
                    << results[i].error().message;
            }
        }
        EXPECT_EQ(spool->stats("r").depth, 10u);
        EXPECT_EQ(spool->stats("r").rejected, 5u);
        EXPECT_EQ(spool->stats("r").dropped, 0u);

        // By bytes, and another route is not affected.
        spool->configureRoute("bytes", {.max_bytes = 1'000});
        std::vector<Message> big;
        for (int i = 0; i < 4; ++i) {
            big.push_back(makeMessage("bytes", std::string(300, 'b')));
        }
        big.push_back(makeMessage("free", std::string(5'000, 'f')));
        const auto by_bytes = appendAll(*spool, std::move(big));
        EXPECT_TRUE(by_bytes[2].ok());
        ASSERT_FALSE(by_bytes[3].ok());
        EXPECT_EQ(by_bytes[3].error().code, "spool_full");
        EXPECT_NE(by_bytes[3].error().message.find("max_bytes = 1000"), std::string::npos)
            << by_bytes[3].error().message;
        EXPECT_TRUE(by_bytes[4].ok());
        EXPECT_EQ(spool->stats("bytes").bytes, 900u);

        // Once there is room again, appends are accepted.
        const auto first = spool->lease("r", 1);
        ASSERT_EQ(first.size(), 1u);
        spool->ack("r", first[0].seq);
        EXPECT_TRUE(appendOne(*spool, makeMessage("r", "m-late")).ok());
    }
    auto spool = open();
    ASSERT_TRUE(spool);
    const auto all = spool->lease("r", 100);
    ASSERT_EQ(all.size(), 10u);
    std::vector<uint64_t> kept = seqsOf(all);
    kept.pop_back();
    EXPECT_EQ(kept, std::vector<uint64_t>(accepted.begin() + 1, accepted.end()));
    EXPECT_EQ(all.back().payload, "m-late");
}

TEST_F(SpoolTest, DropOldestCountsDropsAndKeepsTheNewest) {
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        spool->configureRoute("r",
                              {.max_messages = 10, .when_full = SpoolLimits::WhenFull::DropOldest});
        appendNumbered(*spool, "r", 25);  // every append is accepted
        EXPECT_EQ(spool->stats("r").depth, 10u);
        EXPECT_EQ(spool->stats("r").dropped, 15u);
        EXPECT_EQ(spool->stats("r").rejected, 0u);
    }
    auto spool = open();
    ASSERT_TRUE(spool);
    std::vector<std::string> newest;
    for (int i = 15; i < 25; ++i) {
        newest.push_back("m" + std::to_string(i));
    }
    EXPECT_EQ(payloadsOf(spool->lease("r", 100)), newest);
}

TEST_F(SpoolTest, DropOldestSparesLeasedMessages) {
    auto spool = open();
    ASSERT_TRUE(spool);
    spool->configureRoute("r", {.max_messages = 5, .when_full = SpoolLimits::WhenFull::DropOldest});
    appendNumbered(*spool, "r", 5);
    EXPECT_EQ(payloadsOf(spool->lease("r", 2)), (std::vector<std::string>{"m0", "m1"}));
    appendNumbered(*spool, "r", 3, "n");
    const SpoolStats s = spool->stats("r");
    EXPECT_EQ(s.depth, 5u);
    EXPECT_EQ(s.dropped, 3u);
    EXPECT_EQ(s.leased, 2u);
    EXPECT_EQ(payloadsOf(spool->lease("r", 10)), (std::vector<std::string>{"n0", "n1", "n2"}));
    spool->releaseLeases("r");
    EXPECT_EQ(payloadsOf(spool->lease("r", 10)),
              (std::vector<std::string>{"m0", "m1", "n0", "n1", "n2"}));

    // Everything leased: nothing can be dropped, so the new message is refused.
    const auto refused = appendOne(*spool, makeMessage("r", "no room"));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, "spool_full");
    EXPECT_EQ(spool->stats("r").rejected, 1u);
}

TEST_F(SpoolTest, DropOldestByBytesAndWhileAppendsAreInFlight) {
    auto spool = open();
    ASSERT_TRUE(spool);
    spool->configureRoute("r",
                          {.max_bytes = 1'000, .when_full = SpoolLimits::WhenFull::DropOldest});
    std::vector<Message> messages;
    for (int i = 0; i < 10; ++i) {  // issued together: most are dropped before they are committed
        messages.push_back(makeMessage("r", std::to_string(i) + std::string(299, '.')));
    }
    for (const auto& r : appendAll(*spool, std::move(messages))) {
        EXPECT_TRUE(r.ok());
    }
    EXPECT_EQ(spool->stats("r").depth, 3u);
    EXPECT_EQ(spool->stats("r").bytes, 900u);
    EXPECT_EQ(spool->stats("r").dropped, 7u);
    const auto leased = spool->lease("r", 10);
    ASSERT_EQ(leased.size(), 3u);
    EXPECT_EQ(leased[0].payload[0], '7');
    EXPECT_EQ(leased[2].payload[0], '9');

    const auto too_big = appendOne(*spool, makeMessage("r", std::string(1'001, 'x')));
    ASSERT_FALSE(too_big.ok());
    EXPECT_EQ(too_big.error().code, "spool_full");
}

// ---- expiry

TEST_F(SpoolTest, ExpireRemovesOldNonLeasedMessagesAndCountsThem) {
    const int64_t now = nowMs();
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        spool->configureRoute("r", {.max_age_seconds = 60});
        std::vector<Message> messages;
        for (int i = 0; i < 3; ++i) {
            messages.push_back(makeMessage("r", "old" + std::to_string(i), now - 120'000 + i));
        }
        for (int i = 0; i < 2; ++i) {
            messages.push_back(makeMessage("r", "new" + std::to_string(i), now - 10'000 + i));
        }
        for (const auto& r : appendAll(*spool, std::move(messages))) {
            ASSERT_TRUE(r.ok());
        }
        EXPECT_EQ(spool->stats("r").oldest_created_ms, now - 120'000);
        EXPECT_EQ(payloadsOf(spool->lease("r", 1)), std::vector<std::string>{"old0"});

        EXPECT_EQ(spool->expire("r", now), 2u);  // old0 is leased: spared
        EXPECT_EQ(spool->expire("r", now), 0u);
        SpoolStats s = spool->stats("r");
        EXPECT_EQ(s.expired, 2u);
        EXPECT_EQ(s.depth, 3u);
        EXPECT_EQ(s.oldest_created_ms, now - 120'000);
        EXPECT_EQ(payloadsOf(spool->lease("r", 10)), (std::vector<std::string>{"new0", "new1"}));

        // No max age configured: nothing expires.
        appendNumbered(*spool, "other", 2);
        EXPECT_EQ(spool->expire("other", now + 1'000'000'000), 0u);
    }
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(payloadsOf(spool->lease("r", 10)),
              (std::vector<std::string>{"old0", "new0", "new1"}));
}

// ---- lease, ack, release

TEST_F(SpoolTest, LeaseAckAndReleaseKeepSeqOrder) {
    auto spool = open();
    ASSERT_TRUE(spool);
    const auto seqs = appendNumbered(*spool, "r", 10);
    appendNumbered(*spool, "other", 3, "o");

    EXPECT_EQ(payloadsOf(spool->lease("r", 3)), (std::vector<std::string>{"m0", "m1", "m2"}));
    EXPECT_EQ(payloadsOf(spool->lease("r", 3)), (std::vector<std::string>{"m3", "m4", "m5"}));
    EXPECT_EQ(spool->stats("r").leased, 6u);
    spool->ack("r", seqs[1]);
    spool->ack("r", seqs[4]);
    spool->ack("r", seqs[4]);      // twice: no effect
    spool->ack("other", seqs[2]);  // wrong route: no effect
    EXPECT_EQ(spool->stats("r").depth, 8u);
    EXPECT_EQ(spool->stats("r").leased, 4u);

    spool->releaseLeases("r");
    EXPECT_EQ(spool->stats("r").leased, 0u);
    EXPECT_EQ(payloadsOf(spool->lease("r", 4)), (std::vector<std::string>{"m0", "m2", "m3", "m5"}));
    EXPECT_EQ(payloadsOf(spool->lease("r", 100)),
              (std::vector<std::string>{"m6", "m7", "m8", "m9"}));
    EXPECT_TRUE(spool->lease("r", 100).empty());
    EXPECT_EQ(payloadsOf(spool->lease("other", 100)), (std::vector<std::string>{"o0", "o1", "o2"}));

    // An acknowledgement that arrives after the release still removes the message for good.
    spool->releaseLeases("r");
    spool->ack("r", seqs[0]);
    spool->ack("r", seqs[9]);
    EXPECT_EQ(payloadsOf(spool->lease("r", 100)),
              (std::vector<std::string>{"m2", "m3", "m5", "m6", "m7", "m8"}));
    for (const uint64_t seq : seqs) {
        spool->ack("r", seq);
    }
    EXPECT_EQ(spool->stats("r").depth, 0u);
    EXPECT_EQ(spool->stats("r").bytes, 0u);
    EXPECT_EQ(spool->stats("r").oldest_created_ms, 0);
    spool->releaseLeases("r");
    EXPECT_TRUE(spool->lease("r", 100).empty());
    // And once the deletes are committed, too.
    appendNumbered(*spool, "r", 1, "late");
    EXPECT_EQ(payloadsOf(spool->lease("r", 100)), std::vector<std::string>{"late0"});
}

TEST_F(SpoolTest, StatsFollowTheHeadOfTheQueue) {
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats("nothing").depth, 0u);
    EXPECT_EQ(spool->stats("nothing").oldest_created_ms, 0);
    std::vector<Message> messages;
    for (int i = 1; i <= 4; ++i) {
        messages.push_back(makeMessage("r", std::string(static_cast<size_t>(i), 'x'), i * 100));
    }
    const auto results = appendAll(*spool, std::move(messages));
    EXPECT_EQ(spool->stats("r").oldest_created_ms, 100);
    EXPECT_EQ(spool->stats("r").bytes, 10u);
    const auto leased = spool->lease("r", 2);
    spool->ack("r", leased[0].seq);
    EXPECT_EQ(spool->stats("r").oldest_created_ms, 200);
    spool->ack("r", leased[1].seq);
    EXPECT_EQ(spool->stats("r").oldest_created_ms, 300);  // read back from the database
    EXPECT_EQ(spool->stats("r").bytes, 7u);
    EXPECT_EQ(spool->stats("r").depth, 2u);
}

TEST_F(SpoolTest, InvalidUtf8PropertyIsRefused) {
    auto spool = open();
    ASSERT_TRUE(spool);
    Message m = makeMessage("r", "x");
    m.properties = {{"k", "\xff\xfe"}};
    const auto r = appendOne(*spool, std::move(m));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "spool_invalid");
    EXPECT_EQ(spool->stats("r").depth, 0u);
}

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

void expectSameStats(const SpoolStats& got, const SpoolStats& want, const std::string& where) {
    EXPECT_EQ(got.depth, want.depth) << where;
    EXPECT_EQ(got.bytes, want.bytes) << where;
    EXPECT_EQ(got.oldest_created_ms, want.oldest_created_ms) << where;
    EXPECT_EQ(got.leased, want.leased) << where;
    EXPECT_EQ(got.dropped, want.dropped) << where;
    EXPECT_EQ(got.expired, want.expired) << where;
    EXPECT_EQ(got.rejected, want.rejected) << where;
}

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
                expectSameStats(spool->stats(r), model.stats(r), where + " stats of " + r);
            }
            mismatch = HasFailure();
        }
        ASSERT_TRUE(runUntil([&] { return outstanding == 0; }));
        spool.reset();
    }
}

// ---- files that are not a usable spool

class SpoolRecoveryTest : public SpoolTest {
  protected:
    /// The file must be moved aside, the note must say so, and the new spool must work.
    void expectRecovered(const std::string& reason_part) {
        std::string note;
        auto spool = open(&note);
        ASSERT_TRUE(spool);
        EXPECT_NE(note.find("moved to"), std::string::npos) << note;
        EXPECT_NE(note.find(path()), std::string::npos) << note;
        EXPECT_NE(note.find(reason_part), std::string::npos) << note;
        const auto aside = filesStartingWith(dir_.path(), "spool.db.corrupt-");
        ASSERT_EQ(aside.size(), 1u);
        EXPECT_NE(note.find(aside[0]), std::string::npos) << note;
        EXPECT_EQ(spool->stats("r").depth, 0u);
        appendNumbered(*spool, "r", 3);
        EXPECT_EQ(payloadsOf(spool->lease("r", 10)), (std::vector<std::string>{"m0", "m1", "m2"}));
    }

    void writeSpoolWithMessages(int n) {
        auto spool = open();
        ASSERT_TRUE(spool);
        appendNumbered(*spool, "r", n, std::string(200, 'p'));
    }

    void execSql(const std::string& sql) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
        EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
};

TEST_F(SpoolRecoveryTest, GarbageFileIsMovedAside) {
    std::string garbage;
    for (int i = 0; i < 8'192; ++i) {
        garbage.push_back(static_cast<char>((i * 7919 + 13) % 251));
    }
    std::ofstream(path(), std::ios::binary) << garbage;
    expectRecovered("not an SQLite database");
    const auto aside = filesStartingWith(dir_.path(), "spool.db.corrupt-");
    ASSERT_EQ(aside.size(), 1u);
    EXPECT_EQ(fs::file_size(aside[0]), garbage.size());  // kept for inspection
}

TEST_F(SpoolRecoveryTest, TruncatedFileIsMovedAside) {
    writeSpoolWithMessages(2'000);
    const auto size = fs::file_size(path());
    ASSERT_GT(size, 100'000u);
    fs::resize_file(path(), size / 2);
    expectRecovered("damaged");
}

TEST_F(SpoolRecoveryTest, DamagedPagesAreMovedAside) {
    writeSpoolWithMessages(2'000);
    {
        std::fstream f(path(), std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(8 * 4'096);
        f << std::string(4 * 4'096, '\x5a');
    }
    expectRecovered("damaged");
}

TEST_F(SpoolRecoveryTest, WrongSchemaVersionIsMovedAside) {
    writeSpoolWithMessages(3);
    execSql("PRAGMA user_version = 99");
    expectRecovered("schema version 99");
}

TEST_F(SpoolRecoveryTest, ForeignSqliteDatabaseIsMovedAside) {
    execSql("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('keep me')");
    expectRecovered("another program");
}

TEST_F(SpoolRecoveryTest, HealthySpoolGivesNoNote) {
    writeSpoolWithMessages(3);
    std::string note = "stale";
    auto spool = open(&note);
    ASSERT_TRUE(spool);
    EXPECT_EQ(note, "");
    EXPECT_EQ(spool->stats("r").depth, 3u);
    EXPECT_TRUE(filesStartingWith(dir_.path(), "spool.db.corrupt-").empty());
}

// ---- the integrity check at open: after a crash, not after a clean close

TEST_F(SpoolRecoveryTest, ACleanCloseLetsTheNextOpenTrustTheFile) {
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        EXPECT_EQ(spool->openCheck(), SqliteSpool::OpenCheck::Created);
        appendNumbered(*spool, "r", 3);
    }
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->openCheck(), SqliteSpool::OpenCheck::TrustedAfterCleanClose);
    EXPECT_EQ(payloadsOf(spool->lease("r", 10)), (std::vector<std::string>{"m0", "m1", "m2"}));
}

TEST_F(SpoolRecoveryTest, AfterACrashTheNextOpenChecksEveryPage) {
    writeSpoolWithMessages(3);
    // A process that dies with the spool open leaves no mark: the one it found at open is gone.
    auto running = open();
    ASSERT_TRUE(running);
    std::error_code ec;
    const std::string copy_dir = dir_.path() + "/crashed";
    fs::create_directory(copy_dir);
    for (const char* suffix : {"", "-wal", "-shm", "-clean"}) {
        if (fs::exists(path() + suffix)) {
            fs::copy_file(path() + suffix, copy_dir + "/spool.db" + suffix, ec);
        }
    }
    EXPECT_FALSE(fs::exists(copy_dir + "/spool.db-clean"));
    auto spool = SqliteSpool::open(loop_, copy_dir + "/spool.db", nullptr);
    ASSERT_TRUE(spool.ok()) << spool.error().message;
    EXPECT_EQ(spool.value()->openCheck(), SqliteSpool::OpenCheck::Checked);
    EXPECT_EQ(spool.value()->stats("r").depth, 3u);
}

TEST_F(SpoolRecoveryTest, AFileChangedAfterACleanCloseIsCheckedAgain) {
    writeSpoolWithMessages(3);
    ASSERT_TRUE(fs::exists(path() + "-clean"));
    execSql("CREATE TABLE notes(x TEXT)");  // another program wrote to it: size and time move
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->openCheck(), SqliteSpool::OpenCheck::Checked);
}

// ---- per-route counters saved at a clean close

class SpoolCountersTest : public SpoolRecoveryTest {
  protected:
    /// Copies the spool's files as they are on disk now (a crash image; no clean mark) to `name`.
    std::string crashImage(const std::string& name) {
        const std::string copy_dir = dir_.path() + "/" + name;
        fs::create_directory(copy_dir);
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm"}) {
            if (fs::exists(path() + suffix)) {
                fs::copy_file(path() + suffix, copy_dir + "/spool.db" + suffix, ec);
                EXPECT_FALSE(ec) << ec.message();
            }
        }
        return copy_dir + "/spool.db";
    }

    std::unique_ptr<SqliteSpool> openAt(const std::string& file) {
        auto spool = SqliteSpool::open(loop_, file, nullptr);
        EXPECT_TRUE(spool.ok()) << spool.error().message;
        return spool.ok() ? std::move(spool).value() : nullptr;
    }

    /// Two routes with payloads of different sizes and times; the first messages of "a" are
    /// acknowledged and one is a dead letter, so the heads are not the first seqs.
    void fillTwoRoutes() {
        auto spool = open();
        ASSERT_TRUE(spool);
        std::vector<Message> messages;
        for (int i = 0; i < 40; ++i) {
            messages.push_back(makeMessage(i % 3 == 0 ? "b" : "a", std::string(10 + i, 'x'),
                                           1'700'000'000'000 + i * 1'000));
        }
        for (auto& r : appendAll(*spool, std::move(messages))) {
            ASSERT_TRUE(r.ok()) << r.error().message;
        }
        const auto leased = spool->lease("a", 5);
        ASSERT_EQ(leased.size(), 5u);
        for (size_t i = 0; i < 4; ++i) {
            spool->ack("a", leased[i].seq);
        }
        ASSERT_TRUE(spool->deadLetter("a", leased[4].seq, "refused by the broker", 3));
    }

    static void expectSameStats(const SpoolStats& got, const SpoolStats& want,
                                const std::string& route) {
        EXPECT_EQ(got.depth, want.depth) << route;
        EXPECT_EQ(got.bytes, want.bytes) << route;
        EXPECT_EQ(got.oldest_created_ms, want.oldest_created_ms) << route;
        EXPECT_EQ(got.dead_lettered, want.dead_lettered) << route;
    }
};

TEST_F(SpoolCountersTest, ACleanCloseSavesCountersThatMatchACount) {
    fillTwoRoutes();
    const std::string counted_path = crashImage("counted");  // the same file without the mark
    auto counted = openAt(counted_path);
    ASSERT_TRUE(counted);
    EXPECT_FALSE(counted->countersRestored());

    auto restored = open();
    ASSERT_TRUE(restored);
    EXPECT_EQ(restored->openCheck(), SqliteSpool::OpenCheck::TrustedAfterCleanClose);
    EXPECT_TRUE(restored->countersRestored()) << "a clean open counted every message";
    for (const char* route : {"a", "b"}) {
        expectSameStats(restored->stats(route), counted->stats(route), route);
    }
    EXPECT_EQ(restored->stats("a").depth, 21u);  // 26 appended, 4 acknowledged, 1 dead letter
    EXPECT_EQ(restored->stats("b").depth, 14u);
    // The queue itself continues where it was, from the restored head.
    EXPECT_EQ(seqsOf(restored->lease("a", 100)), seqsOf(counted->lease("a", 100)));
    EXPECT_EQ(seqsOf(restored->lease("b", 100)), seqsOf(counted->lease("b", 100)));
}

TEST_F(SpoolCountersTest, AfterACrashTheMessagesAreCountedAgain) {
    fillTwoRoutes();
    auto running = open();
    ASSERT_TRUE(running);
    ASSERT_TRUE(running->countersRestored());
    appendNumbered(*running, "a", 2, std::string(100, 'n'));
    const auto head = running->lease("b", 1);
    ASSERT_EQ(head.size(), 1u);
    running->ack("b", head[0].seq);
    appendNumbered(*running, "c", 1);  // forces a commit of the ack's delete with it

    auto crashed = openAt(crashImage("crashed"));
    ASSERT_TRUE(crashed);
    EXPECT_EQ(crashed->openCheck(), SqliteSpool::OpenCheck::Checked);
    EXPECT_FALSE(crashed->countersRestored());
    EXPECT_EQ(crashed->stats("a").depth, 23u);
    EXPECT_EQ(crashed->stats("a").bytes, running->stats("a").bytes);
    EXPECT_EQ(crashed->stats("b").depth, 13u);
    EXPECT_EQ(crashed->stats("b").oldest_created_ms, running->stats("b").oldest_created_ms);
    EXPECT_EQ(crashed->stats("c").depth, 1u);
}

TEST_F(SpoolCountersTest, SavedCountersAreEmptiedAsSoonAsTheSpoolIsOpen) {
    fillTwoRoutes();
    auto running = open();
    ASSERT_TRUE(running);
    ASSERT_TRUE(running->countersRestored());
    appendNumbered(*running, "a", 2, std::string(100, 'n'));

    // Even a file that looks cleanly closed (its mark made to match) does not bring back the
    // counters of the earlier close: they were emptied when the spool opened for writing.
    const std::string image = crashImage("marked");
    struct stat st {};
    ASSERT_EQ(::stat(image.c_str(), &st), 0);
    const long long mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL +
                               static_cast<long long>(st.st_mtim.tv_nsec);
    std::ofstream(image + "-clean")
        << std::to_string(static_cast<long long>(st.st_size)) + " " + std::to_string(mtime_ns);
    auto reopened = openAt(image);
    ASSERT_TRUE(reopened);
    ASSERT_EQ(reopened->openCheck(), SqliteSpool::OpenCheck::TrustedAfterCleanClose);
    EXPECT_FALSE(reopened->countersRestored()) << "counters of an earlier close were trusted";
    EXPECT_EQ(reopened->stats("a").depth, 23u);
    EXPECT_EQ(reopened->stats("a").bytes, running->stats("a").bytes);
}

// ---- unusable directories

TEST_F(SpoolTest, MissingDirectoryIsSpoolIo) {
    const std::string missing = dir_.path() + "/no/such/dir/spool.db";
    auto spool = SqliteSpool::open(loop_, missing, nullptr);
    ASSERT_FALSE(spool.ok());
    EXPECT_EQ(spool.error().code, "spool_io");
    EXPECT_NE(spool.error().message.find(missing), std::string::npos) << spool.error().message;
    EXPECT_NE(spool.error().message.find("does not exist"), std::string::npos)
        << spool.error().message;
}

TEST_F(SpoolTest, ParentThatIsAFileIsSpoolIo) {
    std::ofstream(dir_.path() + "/file") << "x";
    auto spool = SqliteSpool::open(loop_, dir_.path() + "/file/spool.db", nullptr);
    ASSERT_FALSE(spool.ok());
    EXPECT_EQ(spool.error().code, "spool_io");
    EXPECT_NE(spool.error().message.find("is not a directory"), std::string::npos)
        << spool.error().message;
}

TEST_F(SpoolTest, NonWritableDirectoryIsSpoolIo) {
    std::string target;
    if (::geteuid() == 0) {
        // Permission bits do not stop root; /proc is a directory in which nobody creates files.
        target = "/proc/uplinkd-spool-test.db";
    } else {
        const std::string locked = dir_.path() + "/locked";
        ASSERT_EQ(::mkdir(locked.c_str(), 0555), 0);
        target = locked + "/spool.db";
    }
    auto spool = SqliteSpool::open(loop_, target, nullptr);
    ASSERT_FALSE(spool.ok());
    EXPECT_EQ(spool.error().code, "spool_io");
    EXPECT_EQ(spool.error().message.rfind("spool: open \"" + target + "\": ", 0), 0u)
        << spool.error().message;
    EXPECT_FALSE(fs::exists(target));
}

}  // namespace
}  // namespace uplinkd
