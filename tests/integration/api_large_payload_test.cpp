// SPDX-License-Identifier: Apache-2.0
// The byte-counted publish of the local API (docs/api.md, "Large payloads") against a running
// uplinkd and a Mosquitto over TLS: a large binary payload arrives byte for byte, the connection
// goes on after it, a payload over the limit is skipped by count, and a client that goes away
// mid-payload queues nothing.
#include <gtest/gtest.h>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

json publishRequest(int id, const std::string& topic) {
    return {{"op", "publish"}, {"id", id}, {"route", "cloud"}, {"topic", topic}, {"qos", 1}};
}

/// Bytes that a line-based reader would trip over: newlines, CR LF, NUL bytes, and whole API
/// requests, among pseudo-random bytes.
std::string awkwardBytes(size_t n) {
    std::string out(n, '\0');
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = static_cast<char>(x >> 24);
    }
    const std::string request = "\n{\"op\":\"ping\",\"id\":99}\r\n\0\n";
    for (size_t at = 0; at + request.size() < n; at += n / 7) {
        out.replace(at, request.size(), request);
    }
    return out;
}

/// Sends publish `id` with `payload` awkward bytes after its line, then a ping (`id` + 1); returns
/// the publish's reply once the ping's has followed it: a payload skipped by count was not read as
/// requests (its bytes hold whole ones, answered with id 99).
json publishAwkwardThenPing(ApiClient& c, int id, const std::string& topic, size_t payload) {
    EXPECT_TRUE(c.sendWithPayload(publishRequest(id, topic), awkwardBytes(payload)));
    EXPECT_TRUE(c.send({{"op", "ping"}, {"id", id + 1}}));
    const json reply = awaitApiReply(c, id, "queued");
    auto next = c.receive(30s);
    EXPECT_TRUE(next) << (next ? "" : next.error().message);
    if (next) {
        EXPECT_EQ((*next)["id"], id + 1)
            << "the skipped payload was read as requests: " << next->dump();
        EXPECT_EQ((*next)["status"], "ok") << next->dump();
    }
    return reply;
}

class LargePayload : public PkiTest {};

TEST_F(LargePayload, EightMegabytesArriveByteForByteAndTheConnectionGoesOn) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "big/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 30s));
    const std::string payload = awkwardBytes(8 * 1024 * 1024);

    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    json big = publishRequest(1, "big/one");
    big["report_delivered"] = true;
    ASSERT_TRUE(c.sendWithPayload(big, payload));
    // Right after it on the same connection: a plain request line.
    json small = publishRequest(2, "big/after");
    small["payload"] = "after";
    ASSERT_TRUE(c.send(small));
    const json queued = awaitApiReply(c, 1, "queued");
    ASSERT_EQ(queued["status"], "queued") << queued.dump();
    EXPECT_EQ(awaitApiReply(c, 2, "queued")["status"], "queued");
    EXPECT_EQ(awaitApiReply(c, 1, "delivered")["status"], "delivered");

    ASSERT_TRUE(sub.waitFor(2, 90s));
    const auto got = sub.payloadsByTopic();
    ASSERT_EQ(got.count("big/one"), 1u);
    EXPECT_TRUE(got.at("big/one") == payload)
        << "received " << got.at("big/one").size() << " bytes of " << payload.size();
    EXPECT_EQ(got.at("big/after"), "after");
    ASSERT_TRUE(c.send({{"op", "ping"}, {"id", 3}}));
    EXPECT_EQ(awaitApiReply(c, 3, "ok")["status"], "ok");
}

TEST_F(LargePayload, OverTheLimitIsRefusedAndItsBytesSkippedByCount) {
    Mosquitto broker(dir, pki);
    Daemon d(dir, "max_message_bytes = 1000\n" + genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    // The payload holds whole requests: read as lines, they would be answered (id 99); the
    // next reply is the ping's.
    const json refused = publishAwkwardThenPing(c, 1, "big/over", 5000);
    EXPECT_EQ(refused["status"], "error");
    EXPECT_EQ(refused["code"], "payload_too_large");
    EXPECT_NE(refused.value("message", "")
                  .find("\"payload_length\" 5000 is over the limit of "
                        "1000 bytes (api.max_message_bytes)"),
              std::string::npos)
        << refused.dump();
}

TEST_F(LargePayload, AClientGoneMidPayloadQueuesNothing) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "big/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 30s));
    {
        ApiClient quitter;
        ASSERT_TRUE(quitter.connect(d.socket()));
        json half = publishRequest(1, "big/half");
        half["payload_length"] = 100000;
        ASSERT_TRUE(quitter.sendRaw(half.dump() + "\n" + std::string(50000, 'h')));
    }  // closed with half of the payload sent
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.sendWithPayload(publishRequest(2, "big/whole"), "whole"));
    ASSERT_EQ(awaitApiReply(c, 2, "queued")["status"], "queued");
    // Messages of a route go out in order: had the half one been queued, it would come first.
    ASSERT_TRUE(sub.waitFor(1, 60s));
    const auto got = sub.messages();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front().topic, "big/whole");
    EXPECT_EQ(got.front().payload, "whole");
    EXPECT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r.value("queued", -1) == 0; }, 30s))
        << d.routeStatus("cloud").dump();
}

TEST_F(LargePayload, WhileOtherClientsPayloadsFillTheLimitOneMoreIsBusyThenGoesThrough) {
    Mosquitto broker(dir, pki);
    Daemon d(dir, "max_message_bytes = 100000\n" + genericRoute("cloud", broker.port(), pki.ca));
    // Client a announces 80,000 bytes and sends 10,000 of them. Its small publish first: once
    // that is answered, the daemon has read the rest of the same write (the announcement).
    ApiClient a;
    ASSERT_TRUE(a.connect(d.socket()));
    json first = publishRequest(1, "big/first");
    first["payload"] = "first";
    json announced = publishRequest(2, "big/a");
    announced["payload_length"] = 80000;
    const std::string a_payload = awkwardBytes(80000);
    ASSERT_TRUE(
        a.sendRaw(first.dump() + "\n" + announced.dump() + "\n" + a_payload.substr(0, 10000)));
    ASSERT_EQ(awaitApiReply(a, 1, "queued")["status"], "queued");

    // Client b's 30,000 bytes would make 110,000 in flight: busy, skipped by count.
    ApiClient b;
    ASSERT_TRUE(b.connect(d.socket()));
    const json busy = publishAwkwardThenPing(b, 3, "big/b", 30000);
    EXPECT_EQ(busy["code"], "busy") << busy.dump();
    EXPECT_NE(busy.value("message", "")
                  .find("more than 100000 bytes (api.max_message_bytes); "
                        "this one of 30000 bytes was skipped"),
              std::string::npos)
        << busy.dump();

    // a finishes: its message is queued, and b's comes through when sent again.
    ASSERT_TRUE(a.sendRaw(a_payload.substr(10000)));
    EXPECT_EQ(awaitApiReply(a, 2, "queued")["status"], "queued");
    ASSERT_TRUE(b.sendWithPayload(publishRequest(5, "big/b"), awkwardBytes(30000)));
    EXPECT_EQ(awaitApiReply(b, 5, "queued")["status"], "queued");

    // A client that leaves mid-payload gives its share back.
    {
        ApiClient quitter;
        ASSERT_TRUE(quitter.connect(d.socket()));
        json q = publishRequest(6, "big/q");
        q["payload_length"] = 90000;
        ASSERT_TRUE(quitter.sendRaw(first.dump() + "\n" + q.dump() + "\n" + std::string(100, 'q')));
        ASSERT_EQ(awaitApiReply(quitter, 1, "queued")["status"], "queued");
    }
    EXPECT_TRUE(waitUntil(
        [&] {
            auto r = b.sendWithPayload(publishRequest(7, "big/after"), awkwardBytes(30000));
            return r && awaitApiReply(b, 7, "queued")["status"] == "queued";
        },
        30s))
        << "the share of a client that left was kept";
}

TEST_F(LargePayload, ALengthThatIsNotANumberClosesTheConnection) {
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    json req = publishRequest(1, "big/bad");
    req["payload_length"] = "12";
    ASSERT_TRUE(c.sendRaw(req.dump() + "\n{\"op\":\"ping\",\"id\":2}\n"));
    const json err = awaitApiReply(c, 1, "queued");
    EXPECT_EQ(err["status"], "error");
    EXPECT_NE(err.value("message", "").find("\"payload_length\" must be a whole number"),
              std::string::npos)
        << err.dump();
    auto after = c.receive(30s);
    if (after) {
        ADD_FAILURE() << "the connection went on: " << after->dump();
    } else {
        EXPECT_EQ(after.error().code, "eof");
    }
    // Other clients are served.
    ApiClient other;
    ASSERT_TRUE(other.connect(d.socket()));
    ASSERT_TRUE(other.send({{"op", "ping"}, {"id", 3}}));
    EXPECT_EQ(awaitApiReply(other, 3, "ok")["status"], "ok");
}

}  // namespace
}  // namespace uplinkd::testing
