// SPDX-License-Identifier: Apache-2.0
// End to end: a local app's message reaches a real Mosquitto over TLS through uplinkd.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "api_helpers.hpp"
#include "cli/api_client.hpp"
#include "test_env.hpp"
#include "tunnel/connect_request.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

json publishRequest(int id, const std::string& topic, const std::string& payload, int qos,
                    bool binary = false) {
    json r{{"op", "publish"}, {"id", id},   {"route", "cloud"},
           {"topic", topic},  {"qos", qos}, {"report_delivered", qos > 0}};
    if (binary) {
        r["payload_b64"] = base64Encode(payload);
    } else {
        r["payload"] = payload;
    }
    return r;
}

class Skeleton : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), "gateway-1");
};

TEST_F(Skeleton, TextAndBinaryPayloadsArriveUnchangedAtQos0And1) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "t/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 20s));

    std::string binary;
    for (int i = 0; i < 256; ++i)
        binary += static_cast<char>(i);
    binary += std::string("\r\nOK\r\n\0\0", 8);
    const std::vector<std::tuple<std::string, std::string, int, bool>> cases{
        {"t/text0", "21.5 °C", 0, false},
        {"t/text1", "{\"temp\": 21.5}", 1, false},
        {"t/bin0", binary, 0, true},
        {"t/bin1", binary, 1, true},
    };
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    int id = 1;
    for (const auto& [topic, payload, qos, bin] : cases) {
        ASSERT_TRUE(c.send(publishRequest(id, topic, payload, qos, bin)));
        auto q = awaitApiReply(c, id, "queued");
        ASSERT_EQ(q["status"], "queued") << q.dump();
        if (qos > 0) {
            auto del = awaitApiReply(c, id, "delivered");
            EXPECT_EQ(del["status"], "delivered") << del.dump();
            EXPECT_EQ(del["seq"], q["seq"]);
        }
        ++id;
    }
    ASSERT_TRUE(sub.waitFor(cases.size(), 20s));
    std::map<std::string, std::pair<std::string, int>> got;
    for (const auto& m : sub.messages())
        got[m.topic] = {m.payload, m.qos};
    for (const auto& [topic, payload, qos, bin] : cases) {
        ASSERT_TRUE(got.count(topic)) << topic;
        EXPECT_EQ(got[topic].first, payload) << topic;
        EXPECT_EQ(got[topic].second, qos) << topic;
    }
}

TEST_F(Skeleton, Mqtt5RoutesDeliverToo) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "v5/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca, "", "mqtt_version = \"5\"\n"));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    json r = publishRequest(1, "v5/t", "five", 1);
    r["properties"] = {{"unit", "C"}};
    ASSERT_TRUE(publishDelivered(c, r));
    ASSERT_TRUE(received(sub, 0, "v5/t", "five"));
}

TEST_F(Skeleton, AWrongCaGivesARouteErrorThatNamesTheVerifyFailure) {
    Mosquitto broker(dir, pki);
    const Pki other = makePki(dir.file("other-pki"));
    Daemon d(dir, genericRoute("cloud", broker.port(), other.ca));
    json st;
    ASSERT_TRUE(routeFailed(d, "cloud", 20s, &st));
    const std::string err = st["last_error"];
    EXPECT_EQ(st["last_error_code"], "tls_verify");
    // 20 when the broker sends only its certificate, 19 when it also sends its own root.
    EXPECT_TRUE(err.find("verify error 20") != std::string::npos ||
                err.find("verify error 19") != std::string::npos)
        << err;
    EXPECT_NE(err.find("uplinkd test CA"), std::string::npos) << err;
    EXPECT_NE(err.find("not in the trusted CAs"), std::string::npos) << err;
    EXPECT_NE(err.find("tls.ca_file"), std::string::npos) << err;
    EXPECT_NE(st["state"], "online");
}

TEST_F(Skeleton, ABrokerThatRequiresAClientCertificateSaysSoWhenNoneIsConfigured) {
    Mosquitto broker(
        dir, pki,
        {.require_certificate = true, .identity_as_username = false, .extra = "", .port = 0});
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    json st;
    ASSERT_TRUE(routeFailed(d, "cloud", 20s, &st));
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("requires a client certificate"), std::string::npos) << err;
    EXPECT_NE(err.find("none is configured"), std::string::npos) << err;
}

TEST_F(Skeleton, MutualTlsWorksWithTheClientCertificateConfigured) {
    Mosquitto broker(
        dir, pki,
        {.require_certificate = true, .identity_as_username = true, .extra = "", .port = 0});
    Subscriber sub(pki, broker.port(), "m/#", true, pki.client_cert, pki.client_key);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca,
                               "cert_file = \"" + pki.client_cert + "\"\nkey_file = \"" +
                                   pki.client_key + "\"\n"));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(publishDelivered(c, publishRequest(1, "m/1", "mutual", 1)));
    ASSERT_TRUE(received(sub, 0, "m/1", "mutual"));
}

TEST_F(Skeleton, AThousandPipelinedPublishesAreAllQueuedAndArrive) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "p/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    constexpr int kCount = 1000;
    std::string batch;
    for (int i = 0; i < kCount; ++i) {
        json r =
            publishRequest(i, "p/" + std::to_string(i % 10), "message " + std::to_string(i), 1);
        r["report_delivered"] = false;
        batch += r.dump() + "\n";
    }
    ASSERT_TRUE(c.sendRaw(batch));  // all at once, without waiting for answers
    ASSERT_TRUE(awaitQueued(c, kCount, 30s));
    ASSERT_TRUE(sub.waitFor(kCount, 60s)) << sub.messages().size() << " arrived";
    std::set<std::string> payloads;
    for (const auto& m : sub.messages())
        payloads.insert(m.payload);
    EXPECT_EQ(payloads.size(), static_cast<size_t>(kCount));
    EXPECT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["delivered"] == kCount; }, 10s));
}

TEST_F(Skeleton, AMalformedLineGetsAnErrorAndTheConnectionKeepsWorking) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "ok/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.sendRaw("{this is not json\n"));
    auto e = c.receive(5s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["status"], "error");
    EXPECT_EQ((*e)["code"], "bad_json");
    ASSERT_TRUE(c.send(
        {{"op", "publish"}, {"id", 9}, {"route", "nowhere"}, {"topic", "x"}, {"payload", ""}}));
    auto u = c.receive(5s);
    ASSERT_TRUE(u);
    EXPECT_EQ((*u)["code"], "unknown_route");
    EXPECT_NE((*u)["message"].get<std::string>().find("configured: cloud"), std::string::npos);
    ASSERT_TRUE(publishDelivered(c, publishRequest(10, "ok/after", "still works", 1)));
    ASSERT_TRUE(sub.waitFor(1, 10s));
}

TEST_F(Skeleton, UplinkctlPublishesFromStdinAndShowsStatus) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "cli/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    const std::string ctl = buildDir() + "/daemon/uplinkctl --socket " + d.socket();
    writeFile(dir.file("payload.bin"), std::string("\x01\x02\x00\xfe", 4));
    const std::string pub = ctl + " publish -r cloud -t cli/bin --wait-delivered < " +
                            dir.file("payload.bin") + " > " + dir.file("out.txt");
    ASSERT_EQ(std::system(pub.c_str()), 0) << readFile(dir.file("out.txt"));
    EXPECT_NE(readFile(dir.file("out.txt")).find("delivered #"), std::string::npos);
    ASSERT_TRUE(sub.waitFor(1, 10s));
    EXPECT_EQ(sub.messages()[0].payload, std::string("\x01\x02\x00\xfe", 4));

    ASSERT_EQ(std::system((ctl + " status > " + dir.file("status.txt")).c_str()), 0);
    const std::string status = readFile(dir.file("status.txt"));
    EXPECT_NE(status.find("route cloud (generic-mqtt): online"), std::string::npos) << status;
    EXPECT_NE(status.find("delivered 1"), std::string::npos) << status;
}

TEST_F(Skeleton, BadConfigurationExitsWith78AndNamesThePosition) {
    writeFile(dir.file("bad.toml"), "[routes.x.cloud]\ntype = \"generic-mqtt\"\nhost = 5\n");
    Process check({buildDir() + "/daemon/uplinkd", "--check-config", dir.file("bad.toml"),
                   "--plugin-dir", pluginDir()},
                  dir.file("check.log"));
    EXPECT_EQ(check.waitExit(10s), 78);
    EXPECT_NE(
        check.log().find("bad.toml:3:8: routes.x.cloud.host: expected a string, got an integer"),
        std::string::npos)
        << check.log();

    Process run({buildDir() + "/daemon/uplinkd", "--config", dir.file("bad.toml"), "--plugin-dir",
                 pluginDir()},
                dir.file("run.log"));
    EXPECT_EQ(run.waitExit(10s), 78);
}

TEST_F(Skeleton, SighupKeepsTheRunningConfigurationWhenTheNewOneIsBadAndAppliesAGoodOne) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 20s));
    const std::string good = readFile(d.configFile());

    writeFile(d.configFile(), "nonsense = true\n" + good);
    d.process().signal(SIGHUP);
    ASSERT_TRUE(waitUntil(
        [&] { return d.log().find("keeping the running one") != std::string::npos; }, 10s));
    EXPECT_NE(d.log().find("nonsense: unknown key"), std::string::npos);
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(publishDelivered(c, publishRequest(1, "still/there", "x", 1)));

    // A good change: a topic prefix for the route.
    std::string changed = good;
    const std::string anchor = "client_id = \"uplinkd-cloud\"\n";
    changed.insert(changed.find(anchor) + anchor.size(), "topic_prefix = \"gw1/\"\n");
    writeFile(d.configFile(), changed);
    d.process().signal(SIGHUP);
    ASSERT_TRUE(
        waitUntil([&] { return d.log().find("configuration applied") != std::string::npos; }, 10s));
    ASSERT_TRUE(publishDelivered(c, publishRequest(2, "prefixed", "y", 1)));
    ASSERT_TRUE(received(sub, 1, "gw1/prefixed", "y"));
}

TEST_F(Skeleton, SigtermStopsCleanlyAndRemovesTheSocket) {
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    EXPECT_EQ(d.process().stop(), 0);
    EXPECT_FALSE(std::filesystem::exists(d.socket()));
    EXPECT_NE(d.log().find("<5>stopping"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace uplinkd::testing
