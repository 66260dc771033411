// SPDX-License-Identifier: Apache-2.0
// Durable store-and-forward: once a local app is told "queued", the message reaches the broker
// at least once, whatever happens in between (broker down, uplinkd killed, restarts).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

json publish(int id, const std::string& payload, int qos = 1) {
    return {{"op", "publish"},    {"id", id},   {"route", "cloud"},
            {"topic", "sf/data"}, {"qos", qos}, {"payload", payload}};
}

/// Publishes `ids` pipelined (at most `window` unanswered) and returns those answered "queued";
/// errors are collected in `errors` (code → count).
std::set<int> publishAll(ApiClient& c, const std::vector<int>& ids,
                         std::map<std::string, int>* errors = nullptr, size_t window = 256) {
    std::set<int> queued;
    size_t next = 0;
    size_t answered = 0;
    while (answered < ids.size()) {
        while (next < ids.size() && next - answered < window) {
            if (!c.send(publish(ids[next], "m" + std::to_string(ids[next]))))
                return queued;
            ++next;
        }
        auto r = c.receive(30s);
        if (!r)
            return queued;  // the daemon went away
        ++answered;
        if ((*r)["status"] == "queued") {
            queued.insert((*r)["id"].get<int>());
        } else if (errors) {
            ++(*errors)[(*r)["code"].get<std::string>()];
        }
    }
    return queued;
}

std::vector<int> range(int from, int to) {
    std::vector<int> v;
    for (int i = from; i < to; ++i)
        v.push_back(i);
    return v;
}

std::multiset<std::string> payloads(Subscriber& s) {
    std::multiset<std::string> out;
    for (const auto& m : s.messages())
        out.insert(m.payload);
    return out;
}

class StoreForward : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_F(StoreForward, EveryQueuedMessageArrivesWhenTheBrokerIsDownForAWhile) {
    // What the broker acknowledged must survive its restart and reach the subscriber, or a
    // message the broker accepted and lost would count as lost by uplinkd: a persistent broker
    // (its own directory, writable by the user it may drop to) and a persistent QoS 1 session.
    const std::string store = dir.file("broker-store");
    std::filesystem::create_directories(store);
    ::chmod(store.c_str(), 0777);
    Mosquitto broker(dir, pki,
                     {.tls = true,
                      .require_certificate = false,
                      .identity_as_username = false,
                      .extra = "persistence true\npersistence_location " + store + "/\n",
                      .port = 0});
    Subscriber::Options persistent;
    persistent.client_id = "sf-subscriber";
    persistent.clean_session = false;
    auto sub = std::make_unique<Subscriber>(pki, broker.port(), "sf/#", persistent);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    auto first = publishAll(c, range(0, 500));
    broker.stop();
    auto during = publishAll(c, range(500, 1500));  // accepted while the broker is away
    EXPECT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] != "online"; }, 10s));
    // libmosquitto does not always reconnect by itself (it gives up after a TLS error), so a
    // new client resumes the session. What the first one got after the broker died, it could
    // not acknowledge: the broker saved those messages and sends them again.
    std::set<std::string> got;
    for (const auto& p : payloads(*sub))
        got.insert(p);
    sub.reset();
    broker.restart();
    Subscriber resumed(pki, broker.port(), "sf/#", persistent);
    auto after = publishAll(c, range(1500, 2000));
    EXPECT_EQ(first.size() + during.size() + after.size(), 2000u);
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["queued"] == 0; }, 60s))
        << d.routeStatus("cloud").dump();
    waitUntil(
        [&] {
            for (const auto& p : payloads(resumed))
                got.insert(p);
            return got.size() >= 2000;
        },
        60s);
    for (int i = 0; i < 2000; ++i) {
        ASSERT_TRUE(got.count("m" + std::to_string(i)))
            << "m" << i << " never arrived; the broker's log:\n"
            << broker.log();
    }
}

TEST_F(StoreForward, KilledAtRandomPointsEveryQueuedMessageArrivesAtLeastOnce) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "sf/#");
    const int window = 32;
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca) +
                      "inflight_window = " + std::to_string(window) + "\n");
    constexpr int kTotal = 10000;
    std::mt19937 rng(std::random_device{}());
    std::set<int> queued;
    std::map<int, int> published;  // id → times the app sent it
    int kills = 0;
    int next = 0;
    while (next < kTotal) {
        ApiClient c;
        ASSERT_TRUE(c.connect(d.socket()));
        // Publish a random stretch, then kill -9 in the middle of the traffic.
        const int stretch = std::uniform_int_distribution<int>(1000, 3000)(rng);
        const int end = std::min(kTotal, next + stretch);
        std::vector<int> ids = range(next, end);
        for (int id : ids)
            ++published[id];
        const bool kill_now = end < kTotal;
        std::thread killer;
        if (kill_now) {
            const int delay_ms = std::uniform_int_distribution<int>(50, 400)(rng);
            killer = std::thread([&d, delay_ms] {
                std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                d.process().signal(SIGKILL);
            });
        }
        auto got = publishAll(c, ids);
        if (killer.joinable())
            killer.join();
        queued.insert(got.begin(), got.end());
        // Whatever was not answered "queued" is published again (that is what an app does).
        int first_missing = end;
        for (int i = next; i < end; ++i) {
            if (!got.count(i) && !queued.count(i)) {
                first_missing = i;
                break;
            }
        }
        next = first_missing;
        if (kill_now) {
            d.process().waitExit(5s);
            ++kills;
            d.restart();
        }
    }
    ASSERT_GE(kills, 3);
    ASSERT_EQ(queued.size(), static_cast<size_t>(kTotal));
    ASSERT_TRUE(waitUntil(
        [&] {
            std::set<std::string> unique;
            for (const auto& p : payloads(sub))
                unique.insert(p);
            return unique.size() >= static_cast<size_t>(kTotal);
        },
        120s));
    const auto all = payloads(sub);
    std::set<std::string> unique(all.begin(), all.end());
    for (int i : queued) {
        ASSERT_TRUE(unique.count("m" + std::to_string(i))) << "queued message m" << i << " lost";
    }
    // Duplicates the app caused (it published again what a kill left unanswered) are its own;
    // uplinkd's are copies of messages the app published once.
    size_t by_app = 0;
    size_t by_uplinkd = 0;
    for (const auto& [id, times] : published) {
        const size_t copies = all.count("m" + std::to_string(id));
        if (copies > 1) {
            (times > 1 ? by_app : by_uplinkd) += copies - 1;
        }
    }
    RecordProperty("kills", kills);
    RecordProperty("duplicates_by_uplinkd", static_cast<int>(by_uplinkd));
    std::cout << "kills: " << kills << ", duplicates: " << by_uplinkd << " by uplinkd, " << by_app
              << " from messages the app published again\n";
    // uplinkd sends a message again only if it was in flight, or acknowledged by the broker
    // but not yet deleted from the spool, when it was killed.
    EXPECT_LE(by_uplinkd, static_cast<size_t>(kills * 4 * window));
}

TEST_F(StoreForward, ASpoolThatIsFullRejectsWithSpoolFullAndKeepsWhatItAccepted) {
    const uint16_t port = freePort();  // no broker yet: everything waits in the spool
    Daemon d(dir, genericRoute("cloud", port, pki.ca) +
                      "[routes.cloud.spool]\nmax_messages = 5\nwhen_full = \"reject\"\n");
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    std::map<std::string, int> errors;
    auto queued = publishAll(c, range(0, 8), &errors, 1);
    EXPECT_EQ(queued, (std::set<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(errors["spool_full"], 3);
    auto st = d.routeStatus("cloud");
    EXPECT_EQ(st["queued"], 5);
    EXPECT_EQ(st["rejected"], 3);

    // Everything accepted goes out once the broker is there.
    Mosquitto broker(dir, pki,
                     {.tls = true,
                      .require_certificate = false,
                      .identity_as_username = false,
                      .extra = "",
                      .port = port});
    Subscriber sub(pki, port, "sf/#");
    ASSERT_TRUE(sub.waitFor(5, 20s)) << d.routeStatus("cloud").dump();
    std::set<std::string> got;
    for (const auto& m : sub.messages())
        got.insert(m.payload);
    EXPECT_EQ(got, (std::set<std::string>{"m0", "m1", "m2", "m3", "m4"}));
}

TEST_F(StoreForward, DropOldestKeepsTheNewestAndCountsTheDropped) {
    const uint16_t port = freePort();
    Daemon d(dir, genericRoute("cloud", port, pki.ca) +
                      "[routes.cloud.spool]\nmax_messages = 5\nwhen_full = \"drop-oldest\"\n");
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    auto queued = publishAll(c, range(0, 8), nullptr, 1);
    EXPECT_EQ(queued.size(), 8u);
    auto st = d.routeStatus("cloud");
    EXPECT_EQ(st["queued"], 5);
    EXPECT_EQ(st["dropped"], 3);
}

TEST_F(StoreForward, MessagesOlderThanTheMaxAgeExpireAndAreCounted) {
    const uint16_t port = freePort();
    Daemon d(dir,
             genericRoute("cloud", port, pki.ca) + "[routes.cloud.spool]\nmax_age_seconds = 1\n");
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    EXPECT_EQ(publishAll(c, range(0, 3)).size(), 3u);
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["expired"] == 3; }, 10s))
        << d.routeStatus("cloud").dump();
    EXPECT_EQ(d.routeStatus("cloud")["queued"], 0);
    EXPECT_NE(d.log().find("expired before delivery"), std::string::npos);
}

TEST_F(StoreForward, FiftyThousandMessagesSpooledOfflineSurviveARestart) {
    Mosquitto broker(dir, pki);
    const uint16_t port = broker.port();
    broker.stop();
    Daemon d(dir, genericRoute("cloud", port, pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    constexpr int kTotal = 50000;
    ASSERT_EQ(publishAll(c, range(0, kTotal), nullptr, 2048).size(), static_cast<size_t>(kTotal));
    EXPECT_EQ(d.routeStatus("cloud")["queued"], kTotal);
    c.close();
    d.process().stop();
    broker.restart();
    Subscriber sub(pki, port, "sf/#");
    d.restart();
    ASSERT_TRUE(waitUntil([&] { return sub.messages().size() >= kTotal; }, 180s))
        << sub.messages().size() << " of " << kTotal << " arrived; "
        << d.routeStatus("cloud").dump();
    std::set<std::string> unique;
    for (const auto& p : payloads(sub))
        unique.insert(p);
    EXPECT_EQ(unique.size(), static_cast<size_t>(kTotal));
    // In order per route: the first arrivals are the oldest messages.
    EXPECT_EQ(sub.messages().front().payload, "m0");
}

TEST_F(StoreForward, ARefusedConnectBacksOffAndSaysWhy) {
    writeFile(dir.file("passwd"), "");
    ASSERT_EQ(std::system(("mosquitto_passwd -b " + dir.file("passwd") + " gw secret").c_str()), 0);
    Mosquitto broker(dir, pki,
                     {.tls = true,
                      .require_certificate = false,
                      .identity_as_username = false,
                      .extra = "allow_anonymous false\npassword_file " + dir.file("passwd"),
                      .port = 0});
    writeFile(dir.file("pw"), "wrong", 0600);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca, "",
                               "username = \"gw\"\npassword_file = \"" + dir.file("pw") + "\"\n"));
    json st;
    ASSERT_TRUE(routeReaches(
        d, "cloud", [](const json& s) { return s["failures"].get<int>() >= 1; }, 20s, &st));
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("not authorized"), std::string::npos) << err;
    EXPECT_NE(err.find("password"), std::string::npos) << err;
    EXPECT_EQ(st["last_error_code"], "connack_5") << "mosquitto answers 5 for a wrong password";
    // refused_backoff_ms is 1000 in these tests: a hammering client would fail far more often.
    std::this_thread::sleep_for(3s);
    EXPECT_LE(d.routeStatus("cloud")["failures"].get<int>(), 5);
}

TEST_F(StoreForward, ACorruptSpoolIsMovedAsideAndUplinkdKeepsWorking) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "sf/#");
    std::filesystem::create_directories(dir.file("state"));
    writeFile(dir.file("state/spool.db"), std::string(8192, '\x5a'));
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    EXPECT_NE(d.log().find("spool"), std::string::npos);
    bool aside = false;
    for (const auto& e : std::filesystem::directory_iterator(dir.file("state"))) {
        aside |= e.path().filename().string().starts_with("spool.db.corrupt-");
    }
    EXPECT_TRUE(aside) << "the corrupt file was not kept for inspection";
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    EXPECT_EQ(publishAll(c, range(0, 10)).size(), 10u);
    ASSERT_TRUE(sub.waitFor(10, 20s));
}

}  // namespace
}  // namespace uplinkd::testing
