// SPDX-License-Identifier: Apache-2.0
// The event loop never waits for Paho: while one route keeps reconnecting to a broker that
// accepts and never answers, and another route keeps publishing, every API request is answered
// promptly. (Paho's receive thread holds its process-wide mutex while it waits for the tunnel's
// answer to its CONNECT; the tunnel answers from the loop, so a loop thread that called into
// Paho at that moment waited for Paho's 10 s proxy timeout.)
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// A TCP server on 127.0.0.1 that accepts every connection and never sends or reads a byte: a
/// broker that hangs in the middle of the MQTT handshake.
class SilentServer {
  public:
    SilentServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
            ::listen(fd_, 64) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            ADD_FAILURE() << "cannot listen on 127.0.0.1";
            return;
        }
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~SilentServer() {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
        for (int c : clients_) {
            ::close(c);
        }
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    uint16_t port() const { return port_; }
    size_t accepted() const { return accepted_; }

  private:
    void run() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) == 1) {
                const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) {
                    clients_.push_back(c);  // kept open, never read
                    ++accepted_;
                }
            }
        }
    }
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<size_t> accepted_{0};
    std::vector<int> clients_;
    std::thread thread_;
};

std::string silentRoute(const std::string& route, uint16_t port) {
    return "[routes." + route + ".cloud]\ntype = \"generic-mqtt\"\nhost = \"localhost\"\nport = " +
           std::to_string(port) + "\ntls = false\nclient_id = \"uplinkd-" + route + "\"\n" +
           "[routes." + route + ".delivery]\nconnect_timeout_ms = 1000\nbackoff_min_ms = 50\n" +
           "backoff_max_ms = 200\nrefused_backoff_ms = 200\n";
}

TEST(LoopStall, ApiAnswersWhileARouteReconnectsToAHungBrokerAndAnotherPublishes) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    SilentServer silent;
    ASSERT_NE(silent.port(), 0);
    Daemon d(dir, genericRoute("good", broker.port(), pki.ca) +
                      silentRoute("hung1", silent.port()) + silentRoute("hung2", silent.port()));
    ASSERT_TRUE(routeOnline(d, "good", 20s));

    // A local app publishes at QoS 1 to the healthy route as fast as it gets answers: each
    // message is handed to Paho, which takes Paho's mutex for a QoS 1 packet id.
    std::atomic<bool> stop{false};
    std::atomic<int> queued{0};
    std::thread publisher_thread([&] {
        ApiClient c;
        if (!c.connect(d.socket())) {
            return;
        }
        for (int id = 0; !stop; ++id) {
            if (!c.send(json{{"op", "publish"},
                             {"id", id},
                             {"route", "good"},
                             {"topic", "stall/data"},
                             {"qos", 1},
                             {"payload", "m" + std::to_string(id)}})) {
                return;
            }
            auto r = c.receive(30s);
            if (!r) {
                return;
            }
            if ((*r)["status"] == "queued") {
                ++queued;
            }
        }
    });
    struct Joiner {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~Joiner() {
            stop = true;
            thread.join();
        }
    } publisher{stop, publisher_thread};

    // Meanwhile another app pings, and asks for the status now and then. A stalled loop
    // answers nothing for 10 s; a reply that takes 3 s is already far more than a loop that
    // only runs its own work needs, even on a loaded CI machine.
    constexpr auto kBound = 3s;
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    int answered = 0;
    uint64_t hung_failures = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    // Until both hung routes went through several reconnect cycles (each one a Paho connect
    // through the tunnel), and at least 20 replies.
    while (answered < 20 || hung_failures < 8) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << "the hung routes did not cycle: " << hung_failures << " failures";
        const bool ask_status = answered % 5 == 4;
        json req = ask_status ? json{{"op", "status"}, {"id", answered}}
                              : json{{"op", "ping"}, {"id", answered}};
        ASSERT_TRUE(c.send(req));
        auto r = c.receive(kBound);
        ASSERT_TRUE(r) << "request " << answered << " (" << req["op"]
                       << ") got no answer within 3 s: the loop thread is stalled ("
                       << r.error().message << "); " << answered << " answered before";
        ASSERT_EQ((*r)["id"], answered) << r->dump();
        if (ask_status) {
            hung_failures = 0;
            for (const auto& route : (*r)["routes"]) {
                if (route["route"] != "good") {
                    hung_failures += route["failures"].get<uint64_t>();
                }
            }
        }
        ++answered;
    }
    EXPECT_GT(queued, 0);
    EXPECT_GT(silent.accepted(), 4u);
    // The healthy route kept delivering all along.
    auto good = d.routeStatus("good");
    EXPECT_EQ(good["state"], "online") << good.dump();
    EXPECT_GT(good["delivered"].get<uint64_t>(), 0u) << good.dump();
}

}  // namespace
}  // namespace uplinkd::testing
