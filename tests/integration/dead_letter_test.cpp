// SPDX-License-Identifier: Apache-2.0
// No message can block a route: what the broker keeps refusing goes to the spool's dead letters
// (counted in status, listed, retried and dropped with uplinkctl), and topics that brokers drop
// the connection for are refused at publish time. A message the spool cannot read holds the route
// in order, and status says why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "cli/api_client.hpp"
#include "spool_file.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

json publishRequest(int id, const std::string& topic, const std::string& payload) {
    return {{"op", "publish"}, {"id", id}, {"route", "cloud"},
            {"topic", topic},  {"qos", 1}, {"payload", payload}};
}

/// Sends a request and returns the reply for its id.
json ask(ApiClient& c, const json& request) {
    if (!c.send(request)) {
        ADD_FAILURE() << "cannot send " << request.dump();
        return {};
    }
    while (true) {
        auto r = c.receive(20s);
        if (!r) {
            ADD_FAILURE() << "no reply to " << request.dump() << ": " << r.error().message;
            return {};
        }
        if ((*r)["id"] == request["id"]) {
            return *r;
        }
    }
}

/// Runs uplinkctl with `args`; returns its exit status, output in `out`.
int uplinkctl(const TempDir& dir, const Daemon& d, const std::string& args, std::string* out) {
    const std::string file = dir.file("ctl.out");
    const std::string cmd = buildDir() + "/daemon/uplinkctl --socket " + d.socket() + " " + args +
                            " > " + file + " 2>&1";
    const int rc = std::system(cmd.c_str());
    *out = readFile(file);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

using DeadLetters = PkiTest;

// The issue's seed: a topic with U+0001 used to be queued, and the broker then dropped the
// connection for it on every attempt, blocking the route for ever.
TEST_F(DeadLetters, ControlCharactersAndNoncharactersAreRefusedAtPublishTime) {
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    const json topic = ask(c, publishRequest(1, "a/\x01/b", "x"));
    EXPECT_EQ(topic["status"], "error");
    EXPECT_EQ(topic.value("code", std::string()), "bad_topic");
    EXPECT_NE(topic.value("message", std::string())
                  .find("U+0001 (a control character) at "
                        "character 3"),
              std::string::npos)
        << topic.dump();

    json with_property = publishRequest(2, "a/b", "x");
    with_property["properties"] = {{"unit", "\xef\xbf\xbf"}};
    const json property = ask(c, with_property);
    EXPECT_EQ(property.value("code", std::string()), "bad_property");
    EXPECT_NE(property.value("message", std::string()).find("\"unit\" contains U+FFFF"),
              std::string::npos)
        << property.dump();
    EXPECT_EQ(ask(c, publishRequest(3, "a/b", "fine"))["status"], "queued");
}

// MQTT 5: the broker's ACL refuses one topic with PUBACK 0x87 (not authorized), and Mosquitto
// then closes the connection. That message leaves the queue after max_attempts, the messages
// behind it (unacknowledged when the connection closed) are not blamed and arrive, and uplinkctl
// shows, retries and drops it.
TEST_F(DeadLetters, AMessageTheBrokerRefusesIsDeadLetteredAndLaterOnesArrive) {
    writeFile(dir.file("acl"), "topic readwrite dl/ok/#\n");
    Mosquitto::Options o;
    o.extra = "acl_file " + dir.file("acl");
    Mosquitto broker(dir, pki, o);
    Subscriber sub(pki, broker.port(), "dl/ok/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca, "", "mqtt_version = \"5\"") +
                      "max_attempts = 3\n");
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    const json refused = ask(c, publishRequest(1, "dl/denied/x", "secret-payload"));
    ASSERT_EQ(refused["status"], "queued") << refused.dump();
    const uint64_t seq = refused.value("seq", uint64_t{0});
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(ask(c, publishRequest(10 + i, "dl/ok/" + std::to_string(i), "ok"))["status"],
                  "queued");
    }
    ASSERT_TRUE(sub.waitFor(3, 30s)) << "later messages stayed behind the refused one";
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [](const json& s) { return s.value("dead_lettered", -1) == 1 && s["queued"] == 0; }, 30s))
        << d.routeStatus("cloud").dump();

    // Logged once, with the seq and the reason, never the payload.
    const std::string moved = "message " + std::to_string(seq) + " moved to the dead letters";
    EXPECT_EQ(occurrences(d.log(), moved), 1u) << d.log();
    EXPECT_NE(d.log().find("0x87"), std::string::npos);
    EXPECT_EQ(d.log().find("secret-payload"), std::string::npos);

    std::string out;
    ASSERT_EQ(uplinkctl(dir, d, "deadletter list", &out), 0) << out;
    EXPECT_NE(out.find("seq " + std::to_string(seq)), std::string::npos) << out;
    EXPECT_NE(out.find("dl/denied/x"), std::string::npos) << out;
    EXPECT_NE(out.find("3 attempt(s)"), std::string::npos) << out;
    EXPECT_NE(out.find("PUBACK reason code 0x87 (not authorized)"), std::string::npos) << out;
    EXPECT_EQ(out.find("secret-payload"), std::string::npos) << out;

    // Retry: back at the end of the queue as a new message; the broker refuses it again.
    ASSERT_EQ(
        uplinkctl(dir, d, "deadletter retry --route cloud --seq " + std::to_string(seq), &out), 0)
        << out;
    EXPECT_NE(out.find("queued again as seq"), std::string::npos) << out;
    ASSERT_TRUE(waitUntil(
        [&] {
            std::string list;
            return uplinkctl(dir, d, "deadletter list --json", &list) == 0 &&
                   list.find("\"seq\": " + std::to_string(seq) + ",") == std::string::npos &&
                   occurrences(list, "dl/denied/x") == 1;
        },
        30s))
        << out;
    EXPECT_EQ(ask(c, publishRequest(20, "dl/ok/after", "ok"))["status"], "queued");
    ASSERT_TRUE(sub.waitFor(4, 30s));

    // Drop: gone for good, from the list and from status.
    ASSERT_EQ(uplinkctl(dir, d, "deadletter drop --all", &out), 0) << out;
    EXPECT_NE(out.find("dropped"), std::string::npos) << out;
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s.value("dead_lettered", -1) == 0; }, 10s));
    ASSERT_EQ(uplinkctl(dir, d, "deadletter list", &out), 0) << out;
    EXPECT_NE(out.find("no dead letters"), std::string::npos) << out;
    EXPECT_NE(uplinkctl(dir, d, "deadletter retry --seq 999999", &out), 0);
    EXPECT_NE(out.find("not_found"), std::string::npos) << out;
}

// A broker that closes the connection right after one message (Mosquitto's max_packet_size
// here): the same message is the oldest unacknowledged one every time, so it is the culprit;
// after max_attempts (the default, 5) it leaves the queue and the rest is delivered. It survives
// a restart.
TEST_F(DeadLetters, AMessageTheBrokerClosesTheConnectionForIsDeadLetteredAndKeptAcrossRestarts) {
    Mosquitto::Options o;
    o.extra = "max_packet_size 2000";
    Mosquitto broker(dir, pki, o);
    Subscriber sub(pki, broker.port(), "big/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));  // max_attempts: default 5
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(routeOnline(d, "cloud", 20s));
    const json big = ask(c, publishRequest(1, "big/one", std::string(5000, 'b')));
    ASSERT_EQ(big["status"], "queued") << big.dump();
    ASSERT_EQ(ask(c, publishRequest(2, "big/small", "small"))["status"], "queued");
    ASSERT_TRUE(sub.waitFor(1, 60s)) << "the small message stayed behind the big one\n"
                                     << d.routeStatus("cloud").dump();
    EXPECT_EQ(sub.messages()[0].payload, "small");
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [](const json& s) { return s.value("dead_lettered", -1) == 1 && s["queued"] == 0; }, 30s));

    d.restart();
    std::string out;
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s.value("dead_lettered", -1) == 1; }, 10s));
    ASSERT_EQ(uplinkctl(dir, d, "deadletter list", &out), 0) << out;
    EXPECT_NE(out.find("seq " + std::to_string(big.value("seq", uint64_t{0}))), std::string::npos)
        << out;
    EXPECT_NE(out.find("closed the connection right after it was sent, 5 times in a row"),
              std::string::npos)
        << out;
}

// A large payload the spool cannot read (its row damaged while the broker was away: the length
// the lease is told, in characters, is not the bytes stored) holds the route in order. Status,
// uplinkctl status and the log say which message and why, the log once; once the row is mended
// the route reads it again by itself and hands everything out in order, and the note goes.
TEST_F(DeadLetters, AMessageTheSpoolCannotReadHoldsTheRouteAndStatusSaysWhy) {
    Mosquitto broker(dir, pki);
    broker.stop();
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    const std::string large(70'000, 'L');
    const json big = ask(c, publishRequest(1, "held/large", large));
    ASSERT_EQ(big["status"], "queued") << big.dump();
    ASSERT_EQ(ask(c, publishRequest(2, "held/small", "small"))["status"], "queued");
    const uint64_t seq = big.value("seq", uint64_t{0});
    std::string damaged;
    for (size_t i = 0; i < large.size(); ++i) {
        damaged += "\xc3\xa9";  // é: two bytes, one character
    }
    const std::string spool_file = dir.file("state") + "/spool.db";
    setSpoolPayload(spool_file, seq, damaged, true);

    broker.restart();
    Subscriber sub(pki, broker.port(), "held/#");
    const std::string note = "message " + std::to_string(seq) +
                             " (70,000 bytes) cannot be read from the spool: the spool file is "
                             "damaged";
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [&](const json& s) {
            return s.value("spool_problem", std::string()).find(note) != std::string::npos;
        },
        30s))
        << d.routeStatus("cloud").dump();
    EXPECT_EQ(d.routeStatus("cloud")["queued"], 2);
    std::string out;
    ASSERT_EQ(uplinkctl(dir, d, "status", &out), 0) << out;
    EXPECT_NE(out.find("  spool       " + note), std::string::npos) << out;
    // A monitoring check sees it too, though the route is connected.
    EXPECT_EQ(uplinkctl(dir, d, "health", &out), 1) << out;
    EXPECT_NE(out.find("cloud: held by the spool: " + note), std::string::npos) << out;

    // Another message makes another lease: the route does not log the same note again, and
    // nothing overtakes the held message (the order of arrival below shows it too).
    ASSERT_EQ(ask(c, publishRequest(3, "held/after", "after"))["status"], "queued");
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [&](const json& s) {
            return s["queued"] == 3 &&
                   s.value("spool_problem", std::string()).find(note) != std::string::npos;
        },
        30s))
        << d.routeStatus("cloud").dump();
    EXPECT_FALSE(sub.waitFor(1, 0ms)) << "a message overtook the one the spool cannot read";
    EXPECT_EQ(occurrences(d.log(), note), 1u) << d.log();

    // Mended, with no new traffic: the route reads it again by itself (every few seconds).
    setSpoolPayload(spool_file, seq, large, false);
    ASSERT_TRUE(sub.waitFor(3, 30s)) << d.routeStatus("cloud").dump();
    const auto got = sub.messages();
    EXPECT_EQ(got[0].topic, "held/large");
    EXPECT_TRUE(got[0].payload == large);
    EXPECT_EQ(got[1].topic, "held/small");
    EXPECT_EQ(got[2].topic, "held/after");
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [](const json& s) {
            return s.value("spool_problem", std::string("?")).empty() && s["queued"] == 0;
        },
        10s))
        << d.routeStatus("cloud").dump();
    EXPECT_EQ(occurrences(d.log(), "the route goes on"), 1u) << d.log();
    ASSERT_EQ(uplinkctl(dir, d, "status", &out), 0) << out;
    EXPECT_EQ(out.find("  spool "), std::string::npos) << out;
    EXPECT_EQ(uplinkctl(dir, d, "health", &out), 0) << out;
}

}  // namespace
}  // namespace uplinkd::testing
