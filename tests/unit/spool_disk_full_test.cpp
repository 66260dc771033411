// SPDX-License-Identifier: Apache-2.0
// The SQLite spool on a full disk (a small tmpfs mounted by the test; tests run as root and
// fail when they cannot mount): appends are refused with "spool_io ... disk full", reported
// once per episode, acknowledgements still delete, appends work again by themselves once space
// is back, and a spool reopened on a full disk opens and delivers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "spool/sqlite_spool.hpp"
#include "spool_test_support.hpp"
#include "test_env.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;

/// Writes `path` until the disk is full; returns the bytes written.
size_t fill(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        ADD_FAILURE() << "cannot create " << path;
        return 0;
    }
    const std::string block(64 * 1024, 'f');
    size_t total = 0;
    for (;;) {
        const ssize_t n = ::write(fd, block.data(), block.size());
        if (n <= 0) {
            break;
        }
        total += static_cast<size_t>(n);
    }
    ::close(fd);
    return total;
}

class SpoolDiskFull : public ::testing::Test {
  protected:
    std::string path() const { return disk_.file("spool.db"); }

    std::unique_ptr<SqliteSpool> open() {
        auto s = SqliteSpool::open(loop_, path(), nullptr);
        EXPECT_TRUE(s.ok()) << s.error().message;
        if (!s.ok()) {
            return nullptr;
        }
        auto spool = std::move(s).value();
        spool->onDiskFull([this](bool full, const std::string& route) {
            events_.push_back((full ? "full:" : "space:") + route);
        });
        return spool;
    }

    bool runUntil(const std::function<bool()>& done) {
        return testing::runLoopUntil(loop_, done, 30s, 50ms);
    }

    Result<uint64_t> append(Spool& spool, const std::string& route, size_t bytes) {
        std::optional<Result<uint64_t>> r;
        Message m;
        m.route = route;
        m.topic = "t";
        m.payload = std::string(bytes, 'p');
        spool.append(std::move(m), [&](Result<uint64_t> x) { r.emplace(x); });
        EXPECT_TRUE(runUntil([&] { return r.has_value(); }));
        return r ? *r : Result<uint64_t>(fail("test_timeout", "no completion"));
    }

    /// Rows in the file, read through a connection of its own (what is committed).
    int64_t rowsOnDisk() {
        sqlite3* db = nullptr;
        int64_t n = -1;
        if (sqlite3_open_v2(path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_stmt* s = nullptr;
            if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &s, nullptr) ==
                    SQLITE_OK &&
                sqlite3_step(s) == SQLITE_ROW) {
                n = sqlite3_column_int64(s, 0);
            }
            sqlite3_finalize(s);
        }
        sqlite3_close(db);
        return n;
    }

    uint64_t freeBytes() const {
        struct statvfs vfs {};
        return ::statvfs(path().c_str(), &vfs) == 0
                   ? static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize
                   : 0;
    }

    void expectDiskFull(const Result<uint64_t>& r) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, "spool_io");
        EXPECT_NE(r.error().message.find("disk full"), std::string::npos) << r.error().message;
    }

    testing::TempDir dir_;
    testing::Tmpfs disk_{dir_.file("small"), "8m"};
    asio::io_context loop_;
    std::vector<std::string> events_;
};

TEST_F(SpoolDiskFull, RefusesOnceFullDeliversAndRecoversWithoutARestart) {
    ASSERT_TRUE(disk_.mounted());
    auto spool = open();
    ASSERT_TRUE(spool);
    std::vector<uint64_t> queued;
    for (int i = 0; i < 40; ++i) {
        auto r = append(*spool, "r", 10'000);
        ASSERT_TRUE(r.ok()) << r.error().message;
        queued.push_back(*r);
    }
    fill(disk_.file("filler"));

    for (int i = 0; i < 5; ++i) {
        expectDiskFull(append(*spool, "r", 10'000));
    }
    EXPECT_EQ(events_, (std::vector<std::string>{"full:r"}));  // once per episode
    EXPECT_EQ(spool->stats("r").depth, 40u);

    // Delivery goes on and acknowledgements delete, although the disk is full.
    auto leased = spool->lease("r", 100);
    ASSERT_EQ(leased.size(), 40u);
    for (const Message& m : leased) {
        spool->ack("r", m.seq);
    }
    EXPECT_TRUE(runUntil([&] { return rowsOnDisk() == 0; })) << rowsOnDisk();
    // How much of the reserve the deletes of 40 messages took (docs/design.md, "Full disk").
    std::cout << "[ measure  ] free after the reserve was given back and 40 deletes: "
              << freeBytes() / 1024 << " KiB (reserve: 2048 KiB)\n";
    expectDiskFull(append(*spool, "r", 100));
    EXPECT_EQ(events_.size(), 1u);

    // Space comes back: appends work again by themselves.
    ASSERT_EQ(::unlink(disk_.file("filler").c_str()), 0);
    ASSERT_TRUE(runUntil([&] { return events_.size() == 2; }));
    EXPECT_EQ(events_[1], "space:");
    auto after = append(*spool, "r", 10'000);
    ASSERT_TRUE(after.ok()) << after.error().message;
    EXPECT_EQ(spool->lease("r", 10).size(), 1u);
}

TEST_F(SpoolDiskFull, OpensOnAFullDiskAndDelivers) {
    ASSERT_TRUE(disk_.mounted());
    auto spool = open();
    ASSERT_TRUE(spool);
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(append(*spool, "r", 10'000).ok());
    }
    spool.reset();
    fill(disk_.file("filler"));

    spool = open();  // a restart on a full disk
    ASSERT_TRUE(spool);
    ASSERT_TRUE(runUntil([&] { return !events_.empty(); }));
    EXPECT_EQ(events_[0], "full:");
    expectDiskFull(append(*spool, "r", 100));
    auto leased = spool->lease("r", 100);
    ASSERT_EQ(leased.size(), 20u);
    for (const Message& m : leased) {
        spool->ack("r", m.seq);
    }
    EXPECT_TRUE(runUntil([&] { return rowsOnDisk() == 0; })) << rowsOnDisk();
    spool.reset();

    // And it reopens once more on the still full disk, with nothing left to deliver.
    spool = open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats("r").depth, 0u);
}

}  // namespace
}  // namespace uplinkd
