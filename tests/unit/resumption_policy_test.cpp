// SPDX-License-Identifier: Apache-2.0
// ResumptionPolicy from tables: how a frugal TLS context (a modem uplink) resumes next, given what
// the broker did on the handshakes before.
#include "tls/resumption_policy.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace uplinkd {
namespace {

using Way = ResumptionPolicy::Way;

struct Handshake {
    bool offered;
    bool resumed;
    size_t session_id_length;
    bool ticket_received;
};

struct Case {
    const char* what;
    std::vector<Handshake> handshakes;
    Way expected;
};

TEST(ResumptionPolicy, ResumesByTicketUnlessTheBrokerSendsNoneButCachesSessionIds) {
    const Case cases[] = {
        {"nothing yet: tickets (they survive a dropped link)", {}, Way::Ticket},
        {"a broker that sends tickets", {{false, false, 0, true}}, Way::Ticket},
        {"and resumes them", {{false, false, 0, true}, {true, true, 0, false}}, Way::Ticket},
        {"a ticket that was not taken, a new one sent: tickets stay",
         {{false, false, 0, true}, {true, false, 0, true}},
         Way::Ticket},
        {"no ticket, but a session ID (AWS IoT): the session ID",
         {{false, false, 32, false}},
         Way::SessionId},
        {"and it resumes by ID",
         {{false, false, 32, false}, {true, true, 32, false}},
         Way::SessionId},
        {"a new ID on a full handshake without an offer: the session ID stays",
         {{false, false, 32, false}, {false, false, 32, false}},
         Way::SessionId},
        {"the ID offered was gone (the broker dropped the session): tickets again",
         {{false, false, 32, false}, {true, false, 32, false}},
         Way::Ticket},
        {"an empty session ID (no session cache): tickets again",
         {{false, false, 32, false}, {false, false, 0, false}},
         Way::Ticket},
        {"neither ticket nor ID: tickets (nothing resumes, nothing is lost)",
         {{false, false, 0, false}},
         Way::Ticket},
    };
    for (const auto& c : cases) {
        ResumptionPolicy p;
        for (const auto& h : c.handshakes) {
            p.afterHandshake(h.offered, h.resumed, h.session_id_length, h.ticket_received);
        }
        EXPECT_EQ(p.way(), c.expected) << c.what;
        EXPECT_FALSE(p.tls13()) << c.what;
    }
}

TEST(ResumptionPolicy, StaysOnTls12UntilTheBrokerRefusesIt) {
    ResumptionPolicy p;
    EXPECT_FALSE(p.tls13());
    p.afterHandshake(false, false, 32, false);
    EXPECT_FALSE(p.tls13());
    p.versionRefused();
    EXPECT_TRUE(p.tls13());
    EXPECT_STREQ(resumptionWayName(p.way()), "session id");
    EXPECT_STREQ(resumptionWayName(Way::Ticket), "ticket");
}

}  // namespace
}  // namespace uplinkd
