// SPDX-License-Identifier: Apache-2.0
// A full disk does not wedge the spool: uplinkd's state directory on a small tmpfs mounted by
// the test (tests run as root; the test fails when it cannot mount). Publishing gets
// spool_io "disk full", logged once; what was queued is delivered; publishing works again by
// itself once space is freed; a restart on a full disk still delivers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

void fill(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << "cannot create " << path;
    const std::string block(64 * 1024, 'f');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    ::close(fd);
}

json publishRequest(int id, const std::string& payload) {
    return {{"op", "publish"}, {"id", id}, {"route", "cloud"},
            {"topic", "df/x"}, {"qos", 1}, {"payload", payload}};
}

json ask(ApiClient& c, const json& request) {
    if (!c.send(request)) {
        ADD_FAILURE() << "cannot send";
        return {};
    }
    auto r = c.receive(20s);
    if (!r) {
        ADD_FAILURE() << "no reply: " << r.error().message;
        return {};
    }
    return *r;
}

size_t count(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

TEST(DiskFull, PublishingIsRefusedOnceDeliveryGoesOnAndSpaceComingBackIsEnough) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Tmpfs disk(dir.file("state"), "16m");
    ASSERT_TRUE(disk.mounted());
    const std::string filler = dir.file("state") + "/filler";
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(routeOnline(d, "cloud", 20s));

    broker.stop();  // messages stay queued
    for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(ask(c, publishRequest(i, std::string(20'000, 'q')))["status"], "queued");
    }
    fill(filler);
    for (int i = 0; i < 5; ++i) {
        const json r = ask(c, publishRequest(100 + i, "refused"));
        EXPECT_EQ(r["status"], "error") << r.dump();
        EXPECT_EQ(r.value("code", std::string()), "spool_io") << r.dump();
        EXPECT_NE(r.value("message", std::string()).find("disk full"), std::string::npos)
            << r.dump();
    }
    const std::string warning =
        "spool: the disk holding " + dir.file("state") + "/spool.db is full";
    EXPECT_EQ(count(d.log(), warning), 1u) << d.log();
    EXPECT_NE(d.log().find("route cloud could not queue a message"), std::string::npos);

    // Delivering what was queued goes on (and frees the spool's rows) while the disk is full.
    broker.restart();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["queued"] == 0 && s["delivered"] == 30; }, 60s))
        << d.routeStatus("cloud").dump();

    // Space comes back: publishing works again without a restart.
    ASSERT_EQ(::unlink(filler.c_str()), 0);
    ASSERT_TRUE(waitUntil(
        [&] {
            static int id = 200;
            return ask(c, publishRequest(++id, "after"))["status"] == "queued";
        },
        20s))
        << d.log();
    EXPECT_NE(d.log().find("again: new messages are accepted"), std::string::npos);
    EXPECT_EQ(count(d.log(), warning), 1u);

    // A restart on a full disk: the spool opens and delivers what it holds.
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["queued"] == 0; }, 30s));
    broker.stop();
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(ask(c, publishRequest(300 + i, std::string(20'000, 'r')))["status"], "queued");
    }
    fill(filler);
    c.close();
    d.restart();
    ApiClient c2;
    ASSERT_TRUE(c2.connect(d.socket())) << d.log();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["queued"] == 10; }, 10s))
        << d.routeStatus("cloud").dump();
    EXPECT_EQ(ask(c2, publishRequest(400, "refused")).value("code", std::string()), "spool_io");
    broker.restart();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["queued"] == 0 && s["delivered"] == 10; }, 60s))
        << d.routeStatus("cloud").dump() << d.log();
}

}  // namespace
}  // namespace uplinkd::testing
