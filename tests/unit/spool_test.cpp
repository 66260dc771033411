// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: durability, group commit, leases and acks, unusable directories (limits
// and expiry: spool_limits_test.cpp; against a model: spool_model_test.cpp; bad files:
// spool_recovery_test.cpp; saved counters: spool_counters_test.cpp; payloads that cannot be read:
// spool_unreadable_test.cpp).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "spool_test_fixture.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using namespace testing;

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

TEST_F(SpoolTest, PayloadsAroundTheInlineLimitComeBackByteForByteAfterReopen) {
    // Up to 64 KiB a lease selects the payload with its row; above, it reads it by count
    // (sqlite3_blob_read): sizes on both sides of the edge, with every byte value in them.
    const std::vector<size_t> sizes{65535, 65536, 65537, 1 << 20, (1 << 20) + 1, (3 << 20) + 12345};
    std::vector<std::string> payloads;
    {
        auto spool = open();
        ASSERT_TRUE(spool);
        std::vector<Message> messages;
        for (size_t i = 0; i < sizes.size(); ++i) {
            std::string p(sizes[i], '\0');
            for (size_t k = 0; k < p.size(); ++k) {
                p[k] = static_cast<char>((k * 131 + i) & 0xff);
            }
            payloads.push_back(p);
            messages.push_back(makeMessage("r", p));
        }
        for (auto& r : appendAll(*spool, std::move(messages))) {
            ASSERT_TRUE(r.ok()) << r.error().message;
        }
    }
    auto spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats("r").depth, sizes.size());
    const auto got = spool->lease("r", sizes.size());
    ASSERT_EQ(got.size(), sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) {
        EXPECT_EQ(got[i].payload.size(), sizes[i]);
        EXPECT_TRUE(got[i].payload == payloads[i]) << "payload of " << sizes[i] << " bytes changed";
    }
}

TEST_F(SpoolTest, ReleasingMemoryWhenQuietLosesNothingAndAppendsGoOn) {
    auto spool = open();
    ASSERT_TRUE(spool);
    appendNumbered(*spool, "r", 3'000, "before-");
    const auto leased = spool->lease("r", 10);
    ASSERT_EQ(leased.size(), 10u);
    spool->releaseMemory();
    spool->ack("r", leased.front().seq);
    spool->releaseMemory();
    const auto after = appendNumbered(*spool, "r", 5, "after-");
    ASSERT_EQ(after.size(), 5u);
    spool->releaseLeases("r");
    EXPECT_EQ(spool->stats("r").depth, 3'004u);
    const auto all = spool->lease("r", 4'000);
    ASSERT_EQ(all.size(), 3'004u);
    EXPECT_EQ(all.front().payload, "before-1");
    EXPECT_EQ(all.back().payload, "after-4");
    spool.reset();
    spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats("r").depth, 3'004u) << "the ack or an append was lost";
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
