// SPDX-License-Identifier: Apache-2.0
// The fixture of the SqliteSpool tests (spool_*_test.cpp): a spool file in a directory of each
// test's own, its loop, appending and waiting for the commits; SpoolRecoveryTest adds files that
// are not a usable spool. Thread: the test's.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spool/sqlite_spool.hpp"
#include "spool_test_support.hpp"

namespace uplinkd::testing {

namespace fs = std::filesystem;

inline constexpr std::chrono::seconds kTimeout{30};

inline int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Each test's own directory for its spool file.
class TempDir : public ScratchDir {
  public:
    TempDir() : ScratchDir("spool_test") {}
};

inline Message makeMessage(const std::string& route, const std::string& payload,
                           int64_t created_ms = 0) {
    Message m;
    m.route = route;
    m.topic = "sensors/" + route;
    m.payload = payload;
    m.created_ms = created_ms;
    return m;
}

inline std::vector<uint64_t> seqsOf(const std::vector<Message>& messages) {
    std::vector<uint64_t> out;
    for (const Message& m : messages) {
        out.push_back(m.seq);
    }
    return out;
}

inline std::vector<std::string> filesStartingWith(const std::string& dir,
                                                  const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0) {
            out.push_back(entry.path().string());
        }
    }
    return out;
}

/// A SqliteSpool on a file in the test's own directory, run on the test's loop. Thread: the test's.
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
        return runLoopUntil(loop_, done, kTimeout, kTimeout);
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

/// A SpoolTest for files that are not a usable spool. Thread: the test's.
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

}  // namespace uplinkd::testing
