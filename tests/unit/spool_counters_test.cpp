// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: the per-route counters saved at a clean close and restored at open.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "spool_test_fixture.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// ---- per-route counters saved at a clean close

/// A SpoolRecoveryTest that copies the spool's files as a crash leaves them. Thread: the test's.
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

    /// fillTwoRoutes(), opened again with its counters restored, and two more messages on "a":
    /// the running spool, or null after a test failure.
    std::unique_ptr<SqliteSpool> openRestoredAndAppend() {
        fillTwoRoutes();
        auto running = open();
        if (!running) {
            return nullptr;
        }
        EXPECT_TRUE(running->countersRestored());
        if (!running->countersRestored()) {
            return nullptr;
        }
        appendNumbered(*running, "a", 2, std::string(100, 'n'));
        return running;
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
        expectSameStats(restored->stats(route), counted->stats(route),
                        {"depth", "bytes", "oldest_created_ms", "dead_lettered"}, route);
    }
    EXPECT_EQ(restored->stats("a").depth, 21u);  // 26 appended, 4 acknowledged, 1 dead letter
    EXPECT_EQ(restored->stats("b").depth, 14u);
    // The queue itself continues where it was, from the restored head.
    EXPECT_EQ(seqsOf(restored->lease("a", 100)), seqsOf(counted->lease("a", 100)));
    EXPECT_EQ(seqsOf(restored->lease("b", 100)), seqsOf(counted->lease("b", 100)));
}

TEST_F(SpoolCountersTest, AfterACrashTheMessagesAreCountedAgain) {
    auto running = openRestoredAndAppend();
    ASSERT_TRUE(running);
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
    auto running = openRestoredAndAppend();
    ASSERT_TRUE(running);

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

}  // namespace
}  // namespace uplinkd
