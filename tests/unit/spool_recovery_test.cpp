// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: files that are not a usable spool, and the integrity check at open.
#include <gtest/gtest.h>

#include <fstream>

#include "spool_test_fixture.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using namespace testing;

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

}  // namespace
}  // namespace uplinkd
