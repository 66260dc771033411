// SPDX-License-Identifier: Apache-2.0
// The local API against a running uplinkd, as an attacker or a careless user would try it: a
// number out of range, a regular file at the socket path, a second daemon on the same socket,
// running out of file descriptors, too many connections of one uid, a line that never ends, too
// much unfinished input, and the per-user ACL on the socket (clients of other uids) and on D-Bus.
#include <dirent.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "cli/api_client.hpp"
#include "system_bus.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

/// The next reply with `id` (events and other ids are skipped), or null.
json replyTo(ApiClient& c, const json& id) {
    while (true) {
        auto r = c.receive(20s);
        if (!r) {
            ADD_FAILURE() << "no reply for id " << id.dump() << ": " << r.error().message;
            return nullptr;
        }
        if ((*r)["id"] == id) {
            return *r;
        }
    }
}

json ping(ApiClient& c, int id) {
    if (!c.send({{"op", "ping"}, {"id", id}})) {
        return nullptr;
    }
    return replyTo(c, id);
}

json publish(ApiClient& c, int id, const std::string& topic, const std::string& route = "r1") {
    if (!c.send({{"op", "publish"},
                 {"id", id},
                 {"route", route},
                 {"topic", topic},
                 {"payload", "x"}})) {
        return nullptr;
    }
    return replyTo(c, id);
}

std::unique_ptr<ApiClient> connect(const std::string& socket) {
    auto c = std::make_unique<ApiClient>();
    EXPECT_TRUE(c->connect(socket)) << socket;
    return c;
}

/// True when the server closes `c` after (optionally) an error with `code`.
bool closedWith(ApiClient& c, const std::string& code) {
    bool told = false;
    while (true) {
        auto r = c.receive(20s);
        if (!r) {
            return r.error().code == "eof" && told;
        }
        told |= (*r)["status"] == "error" && (*r)["code"] == code;
    }
}

/// uplinkd with a configuration file of our own (no helper-added sections), not waited for.
std::unique_ptr<Process> launch(const TempDir& dir, const std::string& name,
                                const std::string& toml) {
    const std::string config = dir.file(name + ".toml");
    writeFile(config, toml);
    return std::make_unique<Process>(
        std::vector<std::string>{buildDir() + "/daemon/uplinkd", "--config", config, "--plugin-dir",
                                 pluginDir()},
        dir.file(name + ".log"));
}

class ApiHardening : public ::testing::Test {
  protected:
    TempDir dir;
};

TEST_F(ApiHardening, AnOutOfRangeNumberGetsAnErrorAndTheDaemonKeepsServing) {
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "t/#");
    Daemon d(dir, genericRoute("r1", broker.port(), pki.ca));
    auto bad = connect(d.socket());
    const std::vector<std::pair<std::string, std::string>> lines{
        {R"({"op":"ping","id":1e400})", "\"id\": the number 1e400 is out of range"},
        {R"({"op":"publish","id":2,"route":"r1","topic":"t/a","payload":"x","qos":1e400})",
         "\"qos\": the number 1e400 is out of range"},
        {R"({"op":"ping","id":3,"x":-1e999})", "\"x\": the number -1e999 is out of range"},
        {R"({"op":"ping","id":4,"x":[)" + std::string(10000, '[') + "1e400" +
             std::string(10000, ']') + "]}",
         "the number 1e400 is out of range"},
        {"{\"op\":\"ping\",\"id\":5,\"topic\":\"\xff\"}", "not valid JSON: \"topic\""},
    };
    for (const auto& [line, message] : lines) {
        ASSERT_TRUE(bad->sendRaw(line + "\n"));
        auto r = bad->receive(20s);
        ASSERT_TRUE(r) << "no answer to " << line.substr(0, 80) << ": " << r.error().message;
        EXPECT_EQ((*r)["status"], "error") << r->dump();
        EXPECT_NE((*r)["message"].get<std::string>().find(message), std::string::npos) << r->dump();
    }
    ASSERT_TRUE(d.process().running()) << "uplinkd died on an out-of-range number";
    // The same connection and a new one keep working; a message still reaches the broker.
    EXPECT_EQ(ping(*bad, 6)["status"], "ok");
    auto good = connect(d.socket());
    auto q = publish(*good, 7, "t/after");
    EXPECT_EQ(q["status"], "queued") << q.dump();
    ASSERT_TRUE(sub.waitFor(1, 20s));
    EXPECT_EQ(sub.messages()[0].topic, "t/after");
}

TEST_F(ApiHardening, ARegularFileAtTheSocketPathIsRefusedAndLeftAlone) {
    // A copy of a real spool: what a careless api.socket = ".../spool.db" would point at.
    {
        Daemon first(dir, "");
        ASSERT_TRUE(first.process().running());
    }
    const std::string victim = dir.file("copy-of-spool.db");
    std::filesystem::copy_file(dir.file("state/spool.db"), victim);
    const std::string before = readFile(victim);
    ASSERT_FALSE(before.empty());

    auto p = launch(dir, "careless",
                    "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n[api]\nsocket = \"" +
                        victim + "\"\n");
    const auto status = p->waitExit(20s);
    ASSERT_TRUE(status.has_value()) << "uplinkd started on a regular file:\n" << p->log();
    EXPECT_NE(*status, 0);
    EXPECT_NE(p->log().find(victim + " exists and is not a socket; not replacing it"),
              std::string::npos)
        << p->log();
    ASSERT_TRUE(std::filesystem::is_regular_file(victim)) << "the file was deleted";
    EXPECT_EQ(readFile(victim), before);
}

TEST_F(ApiHardening, ASecondDaemonOnTheSameSocketExitsNamingTheFirst) {
    Daemon first(dir, "");
    auto second = launch(dir, "second",
                         "[daemon]\nstate_dir = \"" + dir.file("state2") +
                             "\"\n[api]\nsocket = \"" + first.socket() + "\"\n");
    const auto status = second->waitExit(20s);
    ASSERT_TRUE(status.has_value()) << "a second uplinkd runs on the same socket:\n"
                                    << second->log();
    EXPECT_NE(*status, 0);
    EXPECT_NE(second->log().find("another uplinkd (pid " + std::to_string(first.process().pid()) +
                                 ") is serving " + first.socket()),
              std::string::npos)
        << second->log();
    // The first keeps its socket.
    auto c = connect(first.socket());
    EXPECT_EQ(ping(*c, 1)["status"], "ok");
    EXPECT_TRUE(first.process().running());
}

TEST_F(ApiHardening, OutOfDescriptorsBacksOffLogsOnceAndKeepsServing) {
    Daemon d(dir, "max_connections_per_uid = 1000\n");
    ASSERT_TRUE(d.process().running());
    const pid_t pid = d.process().pid();
    // Lower the daemon's descriptor limit so that only `room` more connections fit.
    size_t open_fds = 0;
    int highest = 0;
    for (const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        ++open_fds;
        highest = std::max(highest, std::stoi(e.path().filename().string()));
    }
    const int limit = highest + 1 + 8;
    const size_t room = static_cast<size_t>(limit) - open_fds;
    Process prlimit({"prlimit", "--pid", std::to_string(pid),
                     "--nofile=" + std::to_string(limit) + ":" + std::to_string(limit)},
                    dir.file("prlimit.log"));
    ASSERT_EQ(prlimit.waitExit(10s), 0) << prlimit.log();

    std::vector<std::unique_ptr<ApiClient>> clients;
    for (size_t i = 0; i < room + 5; ++i) {
        clients.push_back(connect(d.socket()));
        ASSERT_TRUE(clients.back()->send({{"op", "ping"}, {"id", static_cast<int>(i)}}));
    }
    // The third failed accept() in a row: retried with a growing pause, logged once.
    ASSERT_TRUE(
        waitUntil([&] { return d.log().find("next try in 400 ms") != std::string::npos; }, 30s))
        << d.log();
    EXPECT_EQ(count(d.log(), "cannot accept connections"), 1u) << d.log();
    // A connected client is still served while accept() fails.
    EXPECT_EQ(replyTo(*clients[0], 0)["status"], "ok");
    EXPECT_EQ(ping(*clients[0], 100000)["status"], "ok");
    // Room again: close every client that may have been accepted but the first, so that
    // the last five, which waited in the backlog, are accepted and answered.
    ASSERT_GE(room, 6u);
    for (size_t i = 1; i < room; ++i) {
        clients[i].reset();
    }
    for (size_t i = room; i < room + 5; ++i) {
        EXPECT_EQ(replyTo(*clients[i], static_cast<int>(i))["status"], "ok") << "client " << i;
    }
    EXPECT_NE(d.log().find("accepting connections again"), std::string::npos) << d.log();
    EXPECT_TRUE(d.process().running());
}

TEST_F(ApiHardening, OneUidGetsOnlyItsShareOfConnections) {
    Daemon d(dir, "max_connections_per_uid = 3\n");
    std::vector<std::unique_ptr<ApiClient>> held;
    // The helper's start-up probe may still count for a moment: hold three that answer.
    ASSERT_TRUE(waitUntil(
        [&] {
            auto c = connect(d.socket());
            if (!c->send({{"op", "ping"}, {"id", 1}})) {
                return false;
            }
            auto r = c->receive(10s);
            if (r && (*r)["status"] == "ok") {
                held.push_back(std::move(c));
            }
            return held.size() == 3;
        },
        20s));
    auto extra = connect(d.socket());
    EXPECT_TRUE(closedWith(*extra, "too_many_connections"));
    EXPECT_NE(d.log().find("uid 0 has 3 connections"), std::string::npos) << d.log();
    for (auto& c : held) {
        EXPECT_EQ(ping(*c, 2)["status"], "ok");
    }
    held.pop_back();
    ASSERT_TRUE(waitUntil(
        [&] {
            auto c = connect(d.socket());
            return ping(*c, 3)["status"] == "ok";
        },
        20s));
}

TEST_F(ApiHardening, ALineThatIsNeverFinishedIsClosedAndIdleClientsStay) {
    Daemon d(dir, "partial_line_timeout_ms = 300\n");
    auto idle = connect(d.socket());
    EXPECT_EQ(ping(*idle, 1)["status"], "ok");
    auto slow = connect(d.socket());
    ASSERT_TRUE(slow->sendRaw(R"({"op":"ping",)"));
    EXPECT_TRUE(closedWith(*slow, "line_timeout"));
    // A client without an unfinished line is not closed however long it waits.
    EXPECT_EQ(ping(*idle, 2)["status"], "ok");
}

TEST_F(ApiHardening, TooMuchUnfinishedInputClosesTheOffenderOnly) {
    Daemon d(dir, "max_line_bytes = 4096\nmax_buffered_input_bytes = 10000\n");
    std::vector<std::unique_ptr<ApiClient>> cs;
    for (int i = 0; i < 3; ++i) {
        cs.push_back(connect(d.socket()));
        const std::string head = R"({"op":"ping","id":)" + std::to_string(i) + R"(,"pad":")";
        ASSERT_TRUE(cs.back()->sendRaw(head + std::string(4000 - head.size(), 'x')));
    }
    // Two partial lines fit; whichever is read third goes over the cap and is closed.
    ASSERT_TRUE(waitUntil(
        [&] { return d.log().find("api.max_buffered_input_bytes") != std::string::npos; }, 20s))
        << d.log();
    size_t closed = 0;
    for (int i = 0; i < 3; ++i) {
        (void)cs[static_cast<size_t>(i)]->sendRaw("\"}\n");  // the closed one may refuse it
    }
    for (int i = 0; i < 3; ++i) {
        auto r = cs[static_cast<size_t>(i)]->receive(20s);
        ASSERT_TRUE(r) << r.error().message;
        if ((*r)["status"] == "error") {
            EXPECT_EQ((*r)["code"], "input_limit") << r->dump();
            ++closed;
        } else {
            EXPECT_EQ((*r)["id"], i) << r->dump();
            EXPECT_EQ((*r)["status"], "ok") << r->dump();
        }
    }
    EXPECT_EQ(closed, 1u);
}

/// A client connected as `uid` (primary group `gid`): the test (root) switches its effective ids
/// for the connect(), which is what SO_PEERCRED records, then switches back. The socket is
/// reachable for it through the supplementary group `nogroup` (the socket's group).
std::unique_ptr<ApiClient> connectAs(const std::string& socket, uid_t uid, gid_t gid) {
    std::vector<gid_t> saved(static_cast<size_t>(::getgroups(0, nullptr)));
    ::getgroups(static_cast<int>(saved.size()), saved.data());
    const group* nog = ::getgrnam("nogroup");
    EXPECT_NE(nog, nullptr);
    const gid_t access = nog != nullptr ? nog->gr_gid : 65534;
    auto c = std::make_unique<ApiClient>();
    bool ok = ::setgroups(1, &access) == 0 && ::setegid(gid) == 0 && ::seteuid(uid) == 0;
    ok = ok && c->connect(socket).ok();
    EXPECT_EQ(::seteuid(0), 0);
    EXPECT_EQ(::setegid(0), 0);
    EXPECT_EQ(::setgroups(saved.size(), saved.data()), 0);
    EXPECT_TRUE(ok) << "cannot connect as uid " << uid;
    return c;
}

TEST_F(ApiHardening, TheAclDecidesPerUserAndSaysWhichRuleRefused) {
    ASSERT_EQ(::getuid(), 0u) << "this test connects as other users: run it as root";
    const std::string acl = R"(socket_group = "nogroup"
[api.acl.app1]
user = "1001"
routes = ["r1"]
publish = ["sensors/#"]
subscribe = ["cmd/app1/#"]
[api.acl.vendors]
group = "2000"
publish = ["vendor/+/data"]
ops = []
)";
    // The route's broker is not running: publishes are stored (queued) all the same.
    Daemon d(dir, acl + genericRoute("r1", freePort(), ""));
    auto app1 = connectAs(d.socket(), 1001, 1001);
    auto vendor = connectAs(d.socket(), 1002, 2000);
    auto stranger = connectAs(d.socket(), 1003, 1003);
    auto admin = connect(d.socket());

    EXPECT_EQ(publish(*app1, 1, "sensors/t1")["status"], "queued");
    auto r = publish(*app1, 2, "x/y");
    EXPECT_EQ(r["code"], "forbidden") << r.dump();
    EXPECT_EQ(r["message"],
              "user 1001 may not publish to route r1 topic x/y: rule "
              "[api.acl.app1] allows only sensors/#");
    ASSERT_TRUE(app1->send({{"op", "subscribe"}, {"id", 3}, {"route", "r1"}, {"filter", "cmd/#"}}));
    r = replyTo(*app1, 3);
    EXPECT_EQ(r["code"], "forbidden") << r.dump();
    ASSERT_TRUE(app1->send({{"op", "status"}, {"id", 4}}));
    EXPECT_EQ(replyTo(*app1, 4)["status"], "ok");

    EXPECT_EQ(publish(*vendor, 5, "vendor/acme/data")["status"], "queued");
    r = publish(*vendor, 6, "sensors/t1");
    EXPECT_EQ(r["message"],
              "user 1002 may not publish to route r1 topic sensors/t1: rule "
              "[api.acl.vendors] allows only vendor/+/data");
    ASSERT_TRUE(vendor->send({{"op", "status"}, {"id", 7}}));
    r = replyTo(*vendor, 7);
    EXPECT_EQ(r["code"], "forbidden") << r.dump();

    EXPECT_EQ(ping(*stranger, 8)["status"], "ok");
    r = publish(*stranger, 9, "sensors/t1");
    EXPECT_NE(r["message"].get<std::string>().find(
                  "user 1003 may not publish to route r1 topic sensors/t1: no rule of [api.acl]"),
              std::string::npos)
        << r.dump();

    // root (like uplinkd's own user) is not limited by the ACL.
    EXPECT_EQ(publish(*admin, 10, "anything/at/all")["status"], "queued");
}

/// dbus-daemon on a socket in `dir` that lets everyone call everyone: the bus policy is not what
/// these tests check, uplinkd's ACL is.
class OpenBus {
  public:
    explicit OpenBus(const TempDir& dir) : path_(dir.file("bus")) {
        writeFile(dir.file("bus.conf"), systemBusConfig(path_, true));
        process_ = std::make_unique<Process>(
            std::vector<std::string>{"dbus-daemon", "--nofork",
                                     "--config-file=" + dir.file("bus.conf")},
            dir.file("dbus-daemon.log"));
        if (!waitUntil([&] { return std::filesystem::exists(path_); }, 10s)) {
            ADD_FAILURE() << "dbus-daemon did not start (is it installed?):\n" << process_->log();
        }
    }
    std::string address() const { return "unix:path=" + path_; }

  private:
    std::string path_;
    std::unique_ptr<Process> process_;
};

/// dbus-send as `uid`/`gid` (no supplementary groups); its output (reply or error).
std::string dbusCall(const TempDir& dir, const OpenBus& bus, uid_t uid, gid_t gid,
                     const std::string& method, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"setpriv",
                                  "--reuid=" + std::to_string(uid),
                                  "--regid=" + std::to_string(gid),
                                  "--clear-groups",
                                  "dbus-send",
                                  "--bus=" + bus.address(),
                                  "--print-reply",
                                  "--dest=io.uplinkd.Uplink1",
                                  "/io/uplinkd/Uplink1",
                                  "io.uplinkd.Uplink1." + method};
    argv.insert(argv.end(), args.begin(), args.end());
    static int n = 0;
    Process p(argv, dir.file("dbus-send-" + std::to_string(++n) + ".log"));
    EXPECT_TRUE(p.waitExit(20s).has_value()) << "dbus-send did not finish";
    return p.log();
}

TEST_F(ApiHardening, TheAclAppliesOnDbusAsOnTheSocket) {
    ASSERT_EQ(::getuid(), 0u) << "this test calls as other users: run it as root";
    // dbus-daemon wants callers it finds in the user database: Debian's system users daemon (1),
    // bin (2) and sys (3) stand in for applications.
    OpenBus bus(dir);
    const std::string acl = R"(
[api.acl.app1]
user = "daemon"
publish = ["sensors/#"]
subscribe = ["cmd/app1/#"]
ops = []
[api.acl.vendors]
group = "sys"
publish = ["vendor/+/data"]
)";
    Daemon d(dir, acl + genericRoute("r1", freePort(), ""), {"--dbus=" + bus.address()});
    auto publishAs = [&](uid_t uid, const std::string& topic) {
        return dbusCall(dir, bus, uid, uid, "Publish",
                        {"string:r1", "string:" + topic, "array:byte:104,105", "byte:1",
                         "dict:string:string:k,v"});
    };
    const std::string granted = publishAs(1, "sensors/t1");
    EXPECT_NE(granted.find("uint64"), std::string::npos) << granted;
    const std::string refused = publishAs(1, "x/y");
    EXPECT_NE(refused.find("io.uplinkd.Error.Forbidden: user 1 (daemon) may not publish to route "
                           "r1 topic x/y: rule [api.acl.app1] allows only sensors/#"),
              std::string::npos)
        << refused;
    const std::string by_group = publishAs(3, "vendor/acme/data");
    EXPECT_NE(by_group.find("uint64"), std::string::npos) << by_group;
    const std::string group_refused = publishAs(3, "sensors/t1");
    EXPECT_NE(group_refused.find("user 3 (sys) may not publish to route r1 topic sensors/t1: rule "
                                 "[api.acl.vendors] allows only vendor/+/data"),
              std::string::npos)
        << group_refused;
    const std::string stranger = publishAs(2, "sensors/t1");
    EXPECT_NE(stranger.find("io.uplinkd.Error.Forbidden: user 2 (bin) may not publish to route r1 "
                            "topic sensors/t1: no rule of [api.acl]"),
              std::string::npos)
        << stranger;
    const std::string sub = dbusCall(dir, bus, 1, 1, "Subscribe", {"string:r1", "string:cmd/#"});
    EXPECT_NE(sub.find("io.uplinkd.Error.Forbidden: user 1 (daemon) may not subscribe to route r1 "
                       "filter cmd/#: rule [api.acl.app1] allows only cmd/app1/#"),
              std::string::npos)
        << sub;
    const std::string narrow =
        dbusCall(dir, bus, 1, 1, "Subscribe", {"string:r1", "string:cmd/app1/+"});
    EXPECT_EQ(narrow.find("Error"), std::string::npos) << narrow;
    // root is not limited.
    const std::string admin = publishAs(0, "anything");
    EXPECT_NE(admin.find("uint64"), std::string::npos) << admin;
}

/// A D-Bus client in the test's process that counts MessageReceived signals.
class SignalCounter {
  public:
    explicit SignalCounter(const OpenBus& bus)
        : connection_(sdbus::createSessionBusConnectionWithAddress(bus.address())),
          proxy_(sdbus::createProxy(*connection_, "io.uplinkd.Uplink1", "/io/uplinkd/Uplink1")) {
        proxy_->uponSignal("MessageReceived")
            .onInterface("io.uplinkd.Uplink1")
            .call([this](const std::string&, const std::string& topic, const std::vector<uint8_t>&,
                         const std::map<std::string, std::string>&) { topics.push_back(topic); });
        proxy_->finishRegistration();
    }
    sdbus::IProxy& proxy() { return *proxy_; }
    /// Handles what arrived until `done` holds or 20 s pass.
    bool pumpUntil(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done()) {
            if (connection_->processPendingRequest()) {
                continue;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            const auto poll_data = connection_->getEventLoopPollData();
            pollfd p{poll_data.fd, poll_data.events, 0};
            ::poll(&p, 1, 100);
        }
        return true;
    }
    /// Handles everything already received.
    void drain() {
        while (connection_->processPendingRequest()) {
        }
    }
    std::vector<std::string> topics;

  private:
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> proxy_;
};

TEST_F(ApiHardening, UnderAnAclDbusMessagesGoOnlyToTheirSubscriber) {
    OpenBus bus(dir);
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    Daemon d(dir,
             "[api.acl.app1]\nuser = \"daemon\"\nsubscribe = [\"cmd/#\"]\n" +
                 genericRoute("r1", broker.port(), pki.ca),
             {"--dbus=" + bus.address()});
    ASSERT_TRUE(d.waitRoute(
        "r1", [](const json& st) { return st["state"] == "online"; }, 20s));
    Process pub({"mosquitto_pub", "-h", "localhost", "-p", std::to_string(broker.port()),
                 "--cafile", pki.ca, "-q", "1", "-r", "-t", "cmd/reboot", "-m", "now"},
                dir.file("mosquitto_pub.log"));
    ASSERT_EQ(pub.waitExit(10s), 0) << pub.log();

    SignalCounter subscriber(bus);
    SignalCounter bystander(bus);
    subscriber.proxy()
        .callMethod("Subscribe")
        .onInterface("io.uplinkd.Uplink1")
        .withArguments("r1", "cmd/#");
    ASSERT_TRUE(subscriber.pumpUntil([&] { return !subscriber.topics.empty(); }))
        << "the subscriber got no MessageReceived";
    EXPECT_EQ(subscriber.topics[0], "cmd/reboot");
    // A reply that uplinkd sends after the signal: anything broadcast came before it.
    bystander.proxy().callMethod("Ping").onInterface("org.freedesktop.DBus.Peer");
    bystander.drain();
    EXPECT_TRUE(bystander.topics.empty())
        << "a client that did not subscribe heard " << bystander.topics[0];
}

}  // namespace
}  // namespace uplinkd::testing
