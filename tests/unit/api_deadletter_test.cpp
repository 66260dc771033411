// SPDX-License-Identifier: Apache-2.0
// The "deadletter" op of the local API (docs/api.md, "Dead letters"), from a table.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/protocol.hpp"

namespace uplinkd::api {
namespace {

TEST(ProtocolDeadLetter, ParsesActionsAndRefusesWhatIsUnclear) {
    struct Case {
        std::string line;
        std::string error;  // a part of the bad_request message; empty: parsed
        std::string action = {};
        std::string route = {};
        uint64_t seq = 0;
        bool all = false;
    };
    const std::vector<Case> cases = {
        {R"({"op":"deadletter","id":1,"action":"list"})", "", "list"},
        {R"({"op":"deadletter","id":1,"action":"list","route":"demo"})", "", "list", "demo"},
        {R"({"op":"deadletter","id":1,"action":"retry","seq":42})", "", "retry", "", 42},
        {R"({"op":"deadletter","id":1,"action":"drop","all":true,"route":"r"})", "", "drop", "r", 0,
         true},
        {R"({"op":"deadletter","id":1})", "\"action\" is missing"},
        {R"({"op":"deadletter","id":1,"action":"purge"})", "\"list\", \"retry\" or \"drop\""},
        {R"({"op":"deadletter","id":1,"action":"retry"})", "exactly one of \"seq\" and \"all\""},
        {R"({"op":"deadletter","id":1,"action":"drop","seq":3,"all":true})",
         "exactly one of \"seq\" and \"all\""},
        {R"({"op":"deadletter","id":1,"action":"drop","seq":0})", "positive integer"},
        {R"({"op":"deadletter","id":1,"action":"drop","seq":-3})", "positive integer"},
        {R"({"op":"deadletter","id":1,"action":"drop","seq":"3"})", "positive integer"},
        {R"({"op":"deadletter","id":1,"action":"drop","seq":1.5})", "positive integer"},
        {R"({"op":"deadletter","id":1,"action":"drop","all":"yes"})", "true or false"},
        {R"({"op":"deadletter","id":1,"action":"list","route":7})", "\"route\" must be a string"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.line);
        nlohmann::json id;
        auto r = parseRequest(c.line, id);
        if (!c.error.empty()) {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error().code, "bad_request");
            EXPECT_NE(r.error().message.find(c.error), std::string::npos) << r.error().message;
            continue;
        }
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->op, Op::DeadLetter);
        EXPECT_EQ(r->action, c.action);
        EXPECT_EQ(r->route, c.route);
        EXPECT_EQ(r->seq, c.seq);
        EXPECT_EQ(r->all, c.all);
    }
}

}  // namespace
}  // namespace uplinkd::api
