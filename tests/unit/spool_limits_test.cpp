// SPDX-License-Identifier: Apache-2.0
// Tests of SqliteSpool: the limits of a route (reject, drop the oldest) and expiry.
#include <gtest/gtest.h>

#include "spool_test_fixture.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using namespace testing;

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

}  // namespace
}  // namespace uplinkd
