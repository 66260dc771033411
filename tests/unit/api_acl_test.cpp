// SPDX-License-Identifier: Apache-2.0
// The local API's access control ([api.acl]): the decision table for publish, subscribe and the
// other operations, the filter-within-filter rule, and how the configuration is read.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_test_support.hpp"
#include "core/acl.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"

namespace uplinkd::api {
namespace {

constexpr uint32_t kService = 999;  // the user uplinkd runs as

Peer peer(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {}, std::string name = "") {
    Peer p;
    p.uid = uid;
    p.gid = gid;
    p.groups = std::move(groups);
    p.name = std::move(name);
    return p;
}

AclRule rule(std::string name, std::optional<uint32_t> uid, std::optional<uint32_t> gid,
             std::vector<std::string> routes, std::vector<std::string> publish,
             std::vector<std::string> subscribe, std::set<std::string> ops = {"status"}) {
    AclRule r;
    r.name = std::move(name);
    r.uid = uid;
    r.gid = gid;
    r.routes = std::move(routes);
    r.publish = std::move(publish);
    r.subscribe = std::move(subscribe);
    r.ops = std::move(ops);
    return r;
}

const Acl kAcl({rule("app1", 1001, std::nullopt, {"aws"}, {"sensors/#"}, {"cmd/app1/#"}),
                rule("vendors", std::nullopt, 2000, {}, {"vendor/+/data"}, {"vendor/+/cmd"},
                     {"status", "modem_info"}),
                rule("quiet", 1003, std::nullopt, {}, {}, {}, {})},
               kService);

struct Case {
    const char* what;
    Peer who;
    const char* op;  ///< "publish", "subscribe" or an operation name
    const char* route;
    const char* topic;    ///< topic or filter
    const char* refusal;  ///< nullptr: allowed; else part of the message
};

class AclTable : public ::testing::TestWithParam<Case> {};

TEST_P(AclTable, DecidesAndSaysWhichRuleRefused) {
    const Case& c = GetParam();
    const std::string op = c.op;
    const Status st = op == "publish"     ? kAcl.mayPublish(c.who, c.route, c.topic)
                      : op == "subscribe" ? kAcl.maySubscribe(c.who, c.route, c.topic)
                                          : kAcl.mayUse(c.who, op);
    if (c.refusal == nullptr) {
        EXPECT_TRUE(st) << c.what << ": " << st.error().message;
    } else {
        ASSERT_FALSE(st) << c.what << ": allowed";
        EXPECT_EQ(st.error().code, "forbidden");
        EXPECT_NE(st.error().message.find(c.refusal), std::string::npos)
            << c.what << ": " << st.error().message;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Table, AclTable,
    ::testing::Values(
        Case{"user rule, granted topic", peer(1001, 1001, {}, "app1"), "publish", "aws",
             "sensors/t1", nullptr},
        Case{"user rule, other topic", peer(1001, 1001, {}, "app1"), "publish", "aws", "x/y",
             "user 1001 (app1) may not publish to route aws topic x/y: rule [api.acl.app1] "
             "allows only sensors/#"},
        Case{"user rule, other route", peer(1001, 1001, {}, "app1"), "publish", "azure",
             "sensors/t1", "rule [api.acl.app1] covers only route aws"},
        Case{"'#' covers the parent level", peer(1001, 1001), "publish", "aws", "sensors", nullptr},
        Case{"group by primary gid", peer(1500, 2000), "publish", "any", "vendor/a/data", nullptr},
        Case{"group by supplementary gid", peer(1501, 1501, {7, 2000}), "publish", "azure",
             "vendor/b/data", nullptr},
        Case{"group rule, '+' is one level only", peer(1500, 2000), "publish", "azure",
             "vendor/a/b/data", "rule [api.acl.vendors] allows only vendor/+/data"},
        Case{"user and group rules add up", peer(1001, 2000, {}, "app1"), "publish", "azure",
             "vendor/x/data", nullptr},
        Case{"both rules named when both refuse", peer(1001, 2000, {}, "app1"), "publish", "azure",
             "sensors/t",
             "rule [api.acl.app1] covers only route aws; rule [api.acl.vendors] allows only "
             "vendor/+/data"},
        Case{"no rule names the user", peer(1002, 1002, {3}, "app2"), "publish", "aws", "sensors/t",
             "user 1002 (app2) may not publish to route aws topic sensors/t: no rule"},
        Case{"a rule without publish", peer(1003, 1003), "publish", "aws", "a",
             "rule [api.acl.quiet] allows no publishing"},
        Case{"root is not limited", peer(0, 0), "publish", "aws", "anything", nullptr},
        Case{"uplinkd's own user is not limited", peer(kService, kService), "subscribe", "r", "#",
             nullptr},
        Case{"subscribe within the grant", peer(1001, 1001), "subscribe", "aws", "cmd/app1/+",
             nullptr},
        Case{"subscribe to the grant itself", peer(1001, 1001), "subscribe", "aws", "cmd/app1/#",
             nullptr},
        Case{"subscribe wider than the grant", peer(1001, 1001), "subscribe", "aws", "cmd/#",
             "may not subscribe to route aws filter cmd/#: rule [api.acl.app1] allows only "
             "cmd/app1/#"},
        Case{"subscribe with '+' where the grant is literal", peer(1001, 1001), "subscribe", "aws",
             "cmd/+/x", "allows only cmd/app1/#"},
        Case{"'+' grant covers a literal level", peer(1500, 2000), "subscribe", "r",
             "vendor/acme/cmd", nullptr},
        Case{"'+' grant covers '+'", peer(1500, 2000), "subscribe", "r", "vendor/+/cmd", nullptr},
        Case{"'+' grant does not cover '#'", peer(1500, 2000), "subscribe", "r", "vendor/#",
             "allows only vendor/+/cmd"},
        Case{"a rule without subscribe", peer(1003, 1003), "subscribe", "r", "a",
             "allows no subscribing"},
        Case{"status by default", peer(1001, 1001), "status", "", "", nullptr},
        Case{"modem_info needs ops", peer(1001, 1001, {}, "app1"), "modem_info", "", "",
             "user 1001 (app1) may not use modem_info: rule [api.acl.app1] does not grant it"},
        Case{"modem_info granted to the group", peer(1500, 2000), "modem_info", "", "", nullptr},
        Case{"ops = [] grants no status", peer(1003, 1003), "status", "", "",
             "rule [api.acl.quiet] does not grant it"},
        Case{"deadletter not granted", peer(1500, 2000), "deadletter", "", "",
             "may not use deadletter"},
        Case{"no rule, other op", peer(1002, 1002), "status", "", "", "no rule of [api.acl]"}));

TEST(Acl, WithoutRulesEveryoneMayDoEverything) {
    const Acl none({}, kService);
    EXPECT_FALSE(none.enabled());
    EXPECT_TRUE(none.mayPublish(peer(1234, 1234), "r", "t"));
    EXPECT_TRUE(none.maySubscribe(peer(1234, 1234), "r", "#"));
    EXPECT_TRUE(none.mayUse(peer(1234, 1234), "modem_info"));
}

struct Within {
    const char* requested;
    const char* allowed;
    bool within;
};

class FilterWithin : public ::testing::TestWithParam<Within> {};

TEST_P(FilterWithin, MatchesWhatTheFiltersCover) {
    const auto& w = GetParam();
    EXPECT_EQ(filterWithin(w.requested, w.allowed), w.within)
        << w.requested << " within " << w.allowed;
}

INSTANTIATE_TEST_SUITE_P(
    Table, FilterWithin,
    ::testing::Values(
        Within{"a/b", "a/b", true}, Within{"a/b", "a/c", false}, Within{"a/b/c", "a/#", true},
        Within{"a", "a/#", true}, Within{"a/#", "a/#", true}, Within{"#", "a/#", false},
        Within{"a/+", "a/#", true}, Within{"a/+/c", "a/+/c", true}, Within{"a/+/c", "a/b/c", false},
        Within{"a/#", "a/+", false}, Within{"a/b/c", "a/+", false}, Within{"a", "a/+", false},
        Within{"x", "#", true}, Within{"$SYS/x", "#", false}, Within{"$SYS/x", "+/x", false},
        Within{"$SYS/x", "$SYS/#", true}, Within{"a//b", "a/+/b", true}, Within{"", "#", true}));

Result<Config> load(const std::string& text) {
    return testing::loadConfigText(text, "acl.toml");
}

const std::string kRoutes = testing::minimalCloud("aws");

TEST(AclConfig, RulesAreReadWithNamesResolved) {
    auto cfg = load(R"(
[api.acl.admins]
group = "root"
routes = ["aws"]
publish = ["#"]
subscribe = ["cmd/#"]
ops = ["status", "modem_info", "deadletter"]
[api.acl.numeric]
user = "4321"
publish = ["a/+/b"]
)" + kRoutes);
    ASSERT_TRUE(cfg) << cfg.error().message;
    ASSERT_EQ(cfg->api.acl.size(), 2u);
    const AclRule& a = cfg->api.acl[0];
    EXPECT_EQ(a.name, "admins");
    EXPECT_EQ(a.gid, 0u);
    EXPECT_FALSE(a.uid);
    EXPECT_EQ(a.routes, std::vector<std::string>{"aws"});
    EXPECT_EQ(a.ops.size(), 3u);
    const AclRule& n = cfg->api.acl[1];
    EXPECT_EQ(n.uid, 4321u);
    EXPECT_TRUE(n.routes.empty());
    EXPECT_EQ(n.ops, Acl::defaultOps());
    EXPECT_TRUE(n.subscribe.empty());
}

TEST(AclConfig, NoAclMeansNoRules) {
    auto cfg = load(kRoutes);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_TRUE(cfg->api.acl.empty());
}

struct AclMistake {
    const char* what;
    std::string text;
    const char* expected;
};

class AclMistakes : public ::testing::TestWithParam<AclMistake> {};

TEST_P(AclMistakes, AreReportedWithPosition) {
    const auto& m = GetParam();
    auto cfg = load(m.text + kRoutes);
    ASSERT_FALSE(cfg) << m.what << ": accepted";
    EXPECT_NE(cfg.error().message.find(m.expected), std::string::npos)
        << m.what << ": expected \"" << m.expected << "\" in:\n"
        << cfg.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, AclMistakes,
    ::testing::Values(
        AclMistake{"neither user nor group", "[api.acl.x]\npublish = [\"a\"]\n",
                   "acl.toml:1:1: api.acl.x: give exactly one of user"},
        AclMistake{"both user and group", "[api.acl.x]\nuser = \"root\"\ngroup = \"root\"\n",
                   "api.acl.x: give exactly one of user"},
        AclMistake{"unknown user", "[api.acl.x]\nuser = \"no-such-user-here\"\n",
                   "acl.toml:2:8: api.acl.x.user: no user \"no-such-user-here\" on this system"},
        AclMistake{"unknown group", "[api.acl.x]\ngroup = \"no-such-group-here\"\n",
                   "acl.toml:2:9: api.acl.x.group: no group \"no-such-group-here\""},
        AclMistake{"bad filter", "[api.acl.x]\nuser = \"root\"\npublish = [\"a/#/b\"]\n",
                   "acl.toml:3:11: api.acl.x.publish: \"a/#/b\" is not a topic filter"},
        AclMistake{"bad subscribe filter", "[api.acl.x]\nuser = \"root\"\nsubscribe = [\"a+\"]\n",
                   "api.acl.x.subscribe: \"a+\" is not a topic filter"},
        AclMistake{"unknown op", "[api.acl.x]\nuser = \"root\"\nops = [\"modem_at\"]\n",
                   "acl.toml:3:7: api.acl.x.ops: unknown operation \"modem_at\""},
        AclMistake{"unknown route", "[api.acl.x]\nuser = \"root\"\nroutes = [\"azure\"]\n",
                   "acl.toml:3:10: api.acl.x.routes: no route named \"azure\""},
        AclMistake{"unknown key", "[api.acl.x]\nuser = \"root\"\npublsh = [\"a\"]\n",
                   "acl.toml:3:1: api.acl.x.publsh: unknown key"},
        AclMistake{"wrong type", "[api.acl.x]\nuser = \"root\"\npublish = \"a/#\"\n",
                   "acl.toml:3:11: api.acl.x.publish: expected"},
        AclMistake{"limit out of range", "[api]\nmax_connections_per_uid = 0\n",
                   "api.max_connections_per_uid: 0 is out of range"},
        AclMistake{"timeout out of range", "[api]\npartial_line_timeout_ms = 5\n",
                   "api.partial_line_timeout_ms: 5 is out of range"}));

}  // namespace
}  // namespace uplinkd::api
