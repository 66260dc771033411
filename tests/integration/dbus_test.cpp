// SPDX-License-Identifier: Apache-2.0
// The D-Bus API (io.uplinkd.Uplink1, docs/dbus.md) on a private dbus-daemon whose policy is the
// packaged one (dbus/io.uplinkd.Uplink1.conf) with the test's user as the service user: a
// publish over D-Bus reaches the broker, a subscribed message arrives as MessageReceived, and a
// caller the policy refuses cannot publish.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sdbus-c++/sdbus-c++.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "system_bus.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

constexpr const char* kBusName = "io.uplinkd.Uplink1";
constexpr const char* kPath = "/io/uplinkd/Uplink1";
constexpr const char* kInterface = "io.uplinkd.Uplink1";

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
    for (size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
        text.replace(pos, from.size(), to);
    }
    return text;
}

/// dbus-daemon with the system bus's default policy plus uplinkd's, on a socket in `dir`.
class PrivateBus {
  public:
    explicit PrivateBus(const TempDir& dir) {
        const passwd* me = ::getpwuid(::getuid());
        const std::string policy =
            replaceAll(readFile(sourceDir() + "/dbus/io.uplinkd.Uplink1.conf"), "user=\"uplinkd\"",
                       "user=\"" + std::string(me != nullptr ? me->pw_name : "root") + "\"");
        writeFile(dir.file("uplinkd-policy.conf"), policy);
        // The <policy context="default"> of Debian's /usr/share/dbus-1/system.conf.
        writeFile(
            dir.file("bus.conf"),
            systemBusConfig(dir.file("bus"), false,
                            R"(    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
)",
                            "  <include>" + dir.file("uplinkd-policy.conf") + "</include>\n"));
        log_ = dir.file("dbus-daemon.log");
        const std::string config_arg = "--config-file=" + dir.file("bus.conf");
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) {
            ADD_FAILURE() << "pipe2 failed";
            return;
        }
        const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            ::dup2(log_fd, 2);
            ::setpgid(0, 0);
            ::execlp("dbus-daemon", "dbus-daemon", "--nofork", "--print-address=1",
                     config_arg.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(out[1]);
        ::close(log_fd);
        // The address is the first line dbus-daemon prints, once it listens.
        std::string line;
        pollfd p{out[0], POLLIN, 0};
        while (line.find('\n') == std::string::npos && ::poll(&p, 1, 10000) > 0) {
            char buf[512];
            const ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            line.append(buf, static_cast<size_t>(n));
        }
        ::close(out[0]);
        if (line.find('\n') == std::string::npos) {
            ADD_FAILURE() << "dbus-daemon printed no address (is it installed?):\n"
                          << readFile(log_);
            return;
        }
        address_ = line.substr(0, line.find('\n'));
    }
    ~PrivateBus() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
    }
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    const std::string& address() const { return address_; }

  private:
    pid_t pid_ = -1;
    std::string address_;
    std::string log_;
};

/// A D-Bus client of uplinkd, run by the test thread (no event-loop thread).
class Client {
  public:
    explicit Client(const std::string& address)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address)),
          proxy_(sdbus::createProxy(*connection_, kBusName, kPath)) {}

    sdbus::IProxy& proxy() { return *proxy_; }

    /// Processes incoming messages (signals) until `done` holds or `timeout` passes.
    bool pumpUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (connection_->processPendingRequest()) {
                continue;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return false;
            }
            const auto poll_data = connection_->getEventLoopPollData();
            int wait_ms = static_cast<int>(left.count());
            if (const int t = poll_data.getPollTimeout(); t >= 0 && t < wait_ms) {
                wait_ms = t;
            }
            pollfd p{poll_data.fd, poll_data.events, 0};
            ::poll(&p, 1, wait_ms);
        }
        return true;
    }

    uint64_t publish(const std::string& route, const std::string& topic, const std::string& payload,
                     uint8_t qos, const std::map<std::string, std::string>& properties = {}) {
        uint64_t seq = 0;
        proxy_->callMethod("Publish")
            .onInterface(kInterface)
            .withArguments(route, topic, std::vector<uint8_t>(payload.begin(), payload.end()), qos,
                           properties)
            .storeResultsTo(seq);
        return seq;
    }

    /// Subscribe / Unsubscribe(route, filter).
    void subscribe(const std::string& route, const std::string& filter) {
        proxy_->callMethod("Subscribe").onInterface(kInterface).withArguments(route, filter);
    }
    void unsubscribe(const std::string& route, const std::string& filter) {
        proxy_->callMethod("Unsubscribe").onInterface(kInterface).withArguments(route, filter);
    }

    /// The D-Bus error name of a failing call, or "" when it succeeds.
    template <typename Call>
    static std::string errorOf(Call&& call) {
        try {
            call();
        } catch (const sdbus::Error& e) {
            return e.getName() + ": " + e.getMessage();
        }
        return "";
    }

  private:
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> proxy_;
};

class Dbus : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    PrivateBus bus{dir};
};

TEST_F(Dbus, APublishArrivesAtTheBrokerAndItsDeliveryIsSignalled) {
    ASSERT_FALSE(bus.address().empty());
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "dbus/#");
    Daemon d(dir, genericRoute("r1", broker.port(), pki.ca), {"--dbus=" + bus.address()});
    ASSERT_TRUE(d.waitRoute(
        "r1", [](const nlohmann::json& s) { return s["state"] == "online"; }, 20s));

    Client client(bus.address());
    std::map<uint64_t, std::string> delivery;
    client.proxy()
        .uponSignal("DeliveryStatus")
        .onInterface(kInterface)
        .call([&](const std::string& route, uint64_t seq, const std::string& status) {
            if (route == "r1") {
                delivery[seq] = status;
            }
        });
    client.proxy().finishRegistration();

    const std::string payload("bin\0ary", 7);
    const uint64_t seq = client.publish("r1", "dbus/t1", payload, 1, {{"source", "test"}});
    EXPECT_GT(seq, 0u);
    ASSERT_TRUE(sub.waitFor(1, 20s));
    EXPECT_EQ(sub.messages()[0].topic, "dbus/t1");
    EXPECT_EQ(sub.messages()[0].payload, payload);
    ASSERT_TRUE(client.pumpUntil([&] { return delivery.count(seq) > 0; }, 20s))
        << "no DeliveryStatus for sequence " << seq;
    EXPECT_EQ(delivery[seq], "delivered");

    // The status property: the socket API's route objects, as JSON.
    sdbus::Variant status = client.proxy().getProperty("StatusJson").onInterface(kInterface);
    const auto routes = nlohmann::json::parse(status.get<std::string>());
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_EQ(routes[0]["route"], "r1");
    EXPECT_EQ(routes[0]["state"], "online");

    // Errors: io.uplinkd.Error.<Code> with plain words.
    EXPECT_EQ(Client::errorOf([&] { client.publish("nope", "t", "x", 1); }),
              "io.uplinkd.Error.UnknownRoute: no route \"nope\" (configured: r1)");
    EXPECT_EQ(Client::errorOf([&] { client.publish("r1", "t", "x", 3); }),
              "io.uplinkd.Error.BadRequest: qos must be 0, 1 or 2, not 3");
}

TEST_F(Dbus, AMessageOnASubscribedTopicArrivesAsMessageReceived) {
    ASSERT_FALSE(bus.address().empty());
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("r1", broker.port(), pki.ca), {"--dbus=" + bus.address()});
    ASSERT_TRUE(d.waitRoute(
        "r1", [](const nlohmann::json& s) { return s["state"] == "online"; }, 20s));
    // A retained message: the broker sends it as soon as the route subscribes.
    Process pub({"mosquitto_pub", "-h", "localhost", "-p", std::to_string(broker.port()),
                 "--cafile", pki.ca, "-q", "1", "-r", "-t", "cmd/reboot", "-m", "now"},
                dir.file("mosquitto_pub.log"));
    ASSERT_EQ(pub.waitExit(10s), 0) << pub.log();

    Client client(bus.address());
    struct Received {
        std::string route, topic, payload;
    };
    std::vector<Received> received;
    client.proxy()
        .uponSignal("MessageReceived")
        .onInterface(kInterface)
        .call([&](const std::string& route, const std::string& topic,
                  const std::vector<uint8_t>& payload, const std::map<std::string, std::string>&) {
            received.push_back({route, topic, std::string(payload.begin(), payload.end())});
        });
    client.proxy().finishRegistration();

    client.subscribe("r1", "cmd/#");
    ASSERT_TRUE(client.pumpUntil([&] { return !received.empty(); }, 20s))
        << "no MessageReceived for the retained message on cmd/reboot";
    EXPECT_EQ(received[0].route, "r1");
    EXPECT_EQ(received[0].topic, "cmd/reboot");
    EXPECT_EQ(received[0].payload, "now");

    EXPECT_EQ(Client::errorOf([&] { client.subscribe("nope", "cmd/#"); }),
              "io.uplinkd.Error.UnknownRoute: no route \"nope\"");
    EXPECT_EQ(Client::errorOf([&] { client.unsubscribe("r1", "cmd/#"); }), "");
}

TEST_F(Dbus, ACallerThePolicyRefusesCannotPublish) {
    ASSERT_FALSE(bus.address().empty());
    ASSERT_EQ(::getuid(), 0u) << "this test switches to user nobody: run it as root";
    Daemon d(dir, "", {"--dbus=" + bus.address()});  // no route: the name is enough
    const std::vector<std::string> call{"dbus-send",
                                        "--bus=" + bus.address(),
                                        "--print-reply",
                                        std::string("--dest=") + kBusName,
                                        kPath,
                                        std::string(kInterface) + ".Publish",
                                        "string:r1",
                                        "string:t",
                                        "array:byte:104,105",
                                        "byte:1",
                                        "dict:string:string:k,v"};

    // The test's own user is let through to uplinkd (which answers: no such route).
    Process allowed(call, dir.file("allowed.log"));
    allowed.waitExit(10s);
    EXPECT_NE(allowed.log().find("io.uplinkd.Error.UnknownRoute"), std::string::npos)
        << allowed.log();

    // nobody is stopped by the bus before uplinkd sees the call.
    std::vector<std::string> as_nobody{"setpriv", "--reuid=nobody", "--regid=nogroup",
                                       "--clear-groups"};
    as_nobody.insert(as_nobody.end(), call.begin(), call.end());
    Process denied(as_nobody, dir.file("denied.log"));
    EXPECT_NE(denied.waitExit(10s).value_or(0), 0);
    EXPECT_NE(denied.log().find("org.freedesktop.DBus.Error.AccessDenied"), std::string::npos)
        << denied.log();
    EXPECT_EQ(d.log().find("D-Bus: Publish from"), d.log().rfind("D-Bus: Publish from"))
        << "uplinkd saw more than the allowed call:\n"
        << d.log();
}

// The socket API's check of topics and user properties, on D-Bus too (one check for both).
TEST_F(Dbus, ControlCharactersAndNoncharactersAreRefusedLikeOnTheSocket) {
    ASSERT_FALSE(bus.address().empty());
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("r1", broker.port(), pki.ca), {"--dbus=" + bus.address()});
    Client client(bus.address());
    const std::string topic = Client::errorOf([&] { client.publish("r1", "a/\x01/b", "x", 1); });
    EXPECT_EQ(topic.rfind("io.uplinkd.Error.BadTopic: ", 0), 0u) << topic;
    EXPECT_NE(topic.find("U+0001 (a control character) at character 3"), std::string::npos)
        << topic;
    const std::string property = Client::errorOf([&] {
        client.publish("r1", "a/b", "x", 1, {{"unit", "\xc2\x85"}});
    });
    EXPECT_EQ(property.rfind("io.uplinkd.Error.BadProperty: ", 0), 0u) << property;
    EXPECT_NE(property.find("U+0085"), std::string::npos) << property;
    EXPECT_GT(client.publish("r1", "a/b", "x", 1,
                             {{"unit",
                               "\xc2\xb0"
                               "C"}}),
              0u);

    // The dead letters, as on the socket (op "deadletter"): none here.
    const auto deadLetters = [&](const std::string& action, uint64_t seq, bool all) {
        std::string answer;
        client.proxy()
            .callMethod("DeadLetters")
            .onInterface(kInterface)
            .withArguments(action, std::string("r1"), seq, all)
            .storeResultsTo(answer);
        return answer;
    };
    EXPECT_EQ(nlohmann::json::parse(deadLetters("list", 0, false))["dead_letters"],
              nlohmann::json::array());
    EXPECT_EQ(nlohmann::json::parse(deadLetters("drop", 0, true))["dropped"],
              nlohmann::json::array());
    EXPECT_EQ(Client::errorOf([&] {
                  deadLetters("retry", 0, false);
              }).rfind("io.uplinkd.Error.BadRequest: ", 0),
              0u);
    EXPECT_EQ(Client::errorOf([&] { deadLetters("drop", 4242, false); }),
              "io.uplinkd.Error.NotFound: no dead letter with seq 4242 on route r1");
}

// ---- failover (issue 15): RouteStateChanged names the uplink that carries the route ----
TEST_F(Dbus, RouteStateChangedNamesTheUplinkThatCarriesTheRoute) {
    ASSERT_FALSE(bus.address().empty());
    Mosquitto broker(dir, pki);
    // "gone" is preferred but bound to an interface that does not exist: "net" carries it.
    const std::string uplinks =
        "[uplinks.gone]\ntype = \"network\"\ninterface = \"nosuch0\"\n[uplinks.net]\ntype = "
        "\"network\"\n[routes.r1]\n"
        "uplinks = [\"gone\", \"net\"]\n";
    Daemon d(dir, uplinks + genericRoute("r1", broker.port(), pki.ca), {"--dbus=" + bus.address()});
    ASSERT_TRUE(d.waitRoute(
        "r1", [](const nlohmann::json& s) { return s["state"] == "online"; }, 20s));
    const auto st = d.routeStatus("r1");
    EXPECT_EQ(st["active_uplink"], "net") << st.dump();
    ASSERT_EQ(st["uplinks"].size(), 2u) << st.dump();
    EXPECT_EQ(st["uplinks"][0]["state"], "failing");
    EXPECT_NE(st["uplinks"][0]["reason"].get<std::string>().find("nosuch0"), std::string::npos)
        << st.dump();

    Client client(bus.address());
    std::vector<std::pair<std::string, std::string>> seen;  // state, uplink
    client.proxy()
        .uponSignal("RouteStateChanged")
        .onInterface(kInterface)
        .call([&](const std::string& route, const std::string& state, const std::string&,
                  const std::string& uplink) {
            if (route == "r1") {
                seen.emplace_back(state, uplink);
            }
        });
    client.proxy().finishRegistration();
    broker.stop();
    ASSERT_TRUE(
        client.pumpUntil([&] { return !seen.empty() && seen.back().first != "online"; }, 20s));
    EXPECT_EQ(seen.back().second, "") << "not online: no uplink carries the route";
    broker.restart();
    ASSERT_TRUE(
        client.pumpUntil([&] { return !seen.empty() && seen.back().first == "online"; }, 30s));
    EXPECT_EQ(seen.back().second, "net");
}

// doctor (issue 12): Doctor(route) answers the report as JSON, schema "uplinkd.doctor/1".
TEST_F(Dbus, DoctorReturnsTheReportOfARoute) {
    ASSERT_FALSE(bus.address().empty());
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("r1", broker.port(), pki.ca), {"--dbus=" + bus.address()});
    Client client(bus.address());
    std::string answer;
    client.proxy()
        .callMethod("Doctor")
        .onInterface(kInterface)
        .withTimeout(std::chrono::seconds(150))
        .withArguments(std::string("r1"))
        .storeResultsTo(answer);
    const auto report = nlohmann::json::parse(answer);
    EXPECT_EQ(report["schema"], "uplinkd.doctor/1");
    ASSERT_EQ(report["routes"].size(), 1u);
    EXPECT_EQ(report["routes"][0]["route"], "r1");
    bool ca_root_ok = false;
    for (const auto& c : report["routes"][0]["checks"]) {
        ca_root_ok |= c["id"] == "files.ca_root" && c["outcome"] == "ok";
    }
    EXPECT_TRUE(ca_root_ok) << report.dump(2);
    EXPECT_EQ(Client::errorOf([&] {
                  client.proxy()
                      .callMethod("Doctor")
                      .onInterface(kInterface)
                      .withArguments(std::string("nope"))
                      .storeResultsTo(answer);
              }),
              "io.uplinkd.Error.UnknownRoute: no route \"nope\" (configured: r1)");
}

}  // namespace
}  // namespace uplinkd::testing
