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

TEST(ResumptionPolicy, ResumesBySessionIdWhileTheBrokerCachesSessionsAndByTicketOtherwise) {
    const Case cases[] = {
        {"nothing yet: the session ID (no ticket in the ClientHello)", {}, Way::SessionId},
        {"a broker with a session cache gave an ID", {{false, false, 32, false}}, Way::SessionId},
        {"and resumed it", {{false, false, 32, false}, {true, true, 32, false}}, Way::SessionId},
        {"the ID offered was gone (the link dropped, the broker dropped the session): tickets",
         {{false, false, 32, false}, {true, false, 32, false}},
         Way::Ticket},
        {"a broker without a session cache gives an empty ID: tickets",
         {{false, false, 0, false}},
         Way::Ticket},
        {"and then sends a ticket: tickets stay",
         {{false, false, 0, false}, {false, false, 0, true}, {true, true, 0, false}},
         Way::Ticket},
        {"a ticket that was not taken, a new one sent: tickets stay",
         {{false, false, 0, false}, {true, false, 0, true}},
         Way::Ticket},
        {"tickets offered, none sent, but an ID given (AWS IoT): back to the session ID",
         {{false, false, 0, false}, {false, false, 32, false}},
         Way::SessionId},
        {"a resumed handshake changes nothing",
         {{false, false, 0, false}, {true, true, 0, false}},
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
