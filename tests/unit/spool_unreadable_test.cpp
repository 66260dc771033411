// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: a large payload the lease cannot read holds its route in order and says
// why in SpoolStats::stuck, until the message is handed out or leaves the queue. The row is broken
// and mended through a second connection on the spool's file, as damage or a repair would.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "spool_file.hpp"
#include "spool_test_fixture.hpp"

namespace uplinkd {
namespace {

using namespace testing;

/// Over the spool's inline limit (64 KiB): the lease reads it by count.
constexpr size_t kLargeBytes = 70'000;

class SpoolUnreadableTest : public SpoolTest {
  protected:
    /// Breaks row `seq`: its payload becomes text of kLargeBytes two-byte characters, so that the
    /// length the lease is told (in characters) differs from the bytes stored.
    void breakRow(uint64_t seq) {
        std::string text;
        for (size_t i = 0; i < kLargeBytes; ++i) {
            text += "\xc3\xa9";  // é
        }
        setSpoolPayload(path(), seq, text, true);
    }

    /// A large message and a small one after it on `route`, committed; their seqs.
    std::pair<uint64_t, uint64_t> appendLargeThenSmall(Spool& spool, const std::string& route) {
        std::vector<Message> messages;
        messages.push_back(makeMessage(route, largePayload()));
        messages.push_back(makeMessage(route, "small"));
        auto results = appendAll(spool, std::move(messages));
        EXPECT_TRUE(results[0].ok() && results[1].ok());
        return {results[0].ok() ? results[0].value() : 0, results[1].ok() ? results[1].value() : 0};
    }

    static std::string largePayload() {
        std::string p(kLargeBytes, '\0');
        for (size_t i = 0; i < p.size(); ++i) {
            p[i] = static_cast<char>((i * 7) & 0xff);
        }
        return p;
    }
};

TEST_F(SpoolUnreadableTest, AnUnreadablePayloadHoldsItsRouteInOrderSaysWhyAndGoesOnOnceMended) {
    auto spool = open();
    ASSERT_TRUE(spool);
    const auto [large, small] = appendLargeThenSmall(*spool, "r");
    EXPECT_TRUE(spool->stats("r").stuck.empty());
    breakRow(large);

    for (int attempt = 0; attempt < 2; ++attempt) {
        // Nothing is handed out: the small message does not overtake the large one.
        EXPECT_TRUE(spool->lease("r", 10).empty()) << "attempt " << attempt;
        const SpoolStats st = spool->stats("r");
        EXPECT_EQ(st.depth, 2u);
        EXPECT_EQ(st.leased, 0u);
        EXPECT_NE(st.stuck.find("message " + std::to_string(large) + " (70,000 bytes)"),
                  std::string::npos)
            << st.stuck;
        EXPECT_NE(st.stuck.find("cannot be read from the spool: the spool file is damaged"),
                  std::string::npos)
            << st.stuck;
        EXPECT_NE(st.stuck.find(std::string("(SQLite: ") + sqlite3_errstr(SQLITE_CORRUPT) + ")"),
                  std::string::npos)
            << st.stuck;
        EXPECT_NE(st.stuck.find("it stays queued, first in line, and is read again shortly"),
                  std::string::npos)
            << st.stuck;
    }

    setSpoolPayload(path(), large, largePayload(), false);
    const auto got = spool->lease("r", 10);
    ASSERT_EQ(seqsOf(got), (std::vector<uint64_t>{large, small}));
    EXPECT_TRUE(got[0].payload == largePayload());
    EXPECT_EQ(got[1].payload, "small");
    EXPECT_TRUE(spool->stats("r").stuck.empty()) << spool->stats("r").stuck;
}

TEST_F(SpoolUnreadableTest, TheNoteGoesWhenTheMessageLeavesTheQueue) {
    auto spool = open();
    ASSERT_TRUE(spool);
    SpoolLimits short_lived;
    short_lived.max_age_seconds = 60;
    spool->configureRoute("expires", short_lived);
    const auto acked = appendLargeThenSmall(*spool, "acked");
    const auto dead = appendLargeThenSmall(*spool, "dead");
    const auto expires = appendLargeThenSmall(*spool, "expires");
    for (const auto& [large, small] : {acked, dead, expires}) {
        breakRow(large);
    }
    for (const std::string route : {"acked", "dead", "expires"}) {
        EXPECT_TRUE(spool->lease(route, 10).empty()) << route;
        EXPECT_FALSE(spool->stats(route).stuck.empty()) << route;
    }
    spool->ack("acked", acked.first);
    EXPECT_TRUE(spool->deadLetter("dead", dead.first, "cannot be read", 1));
    EXPECT_EQ(spool->expire("expires", nowMs() + 3'600'000), 2u);
    for (const std::string route : {"acked", "dead", "expires"}) {
        EXPECT_TRUE(spool->stats(route).stuck.empty())
            << route << ": " << spool->stats(route).stuck;
    }
    EXPECT_EQ(seqsOf(spool->lease("acked", 10)), (std::vector<uint64_t>{acked.second}));
    EXPECT_EQ(seqsOf(spool->lease("dead", 10)), (std::vector<uint64_t>{dead.second}));
}

}  // namespace
}  // namespace uplinkd
