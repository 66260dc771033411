// SPDX-License-Identifier: Apache-2.0
// The loopback CONNECT tunnel: only Paho-style CONNECTs with the per-start secret, and only for
// a route with a prepared stream, get through; the bytes then flow both ways unchanged.
#include "tunnel/tunnel.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "tunnel/connect_request.hpp"
#include "uplink/tcp_stream.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;

int connectTo(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

std::string sendAndRead(int fd, const std::string& out) {
    EXPECT_EQ(::send(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        in.append(buf, static_cast<size_t>(n));
    }
    return in;
}

std::string secretOf(const std::string& proxy_uri) {
    // http://route:secret@127.0.0.1:port
    const auto colon = proxy_uri.find(':', 7);
    const auto at = proxy_uri.find('@');
    return proxy_uri.substr(colon + 1, at - colon - 1);
}

class TunnelTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto t = Tunnel::start(loop_);
        ASSERT_TRUE(t) << t.error().message;
        tunnel_ = std::move(t.value());
        work_.emplace(asio::make_work_guard(loop_));
        thread_ = std::thread([this] { loop_.run(); });
    }
    void TearDown() override {
        onLoop([this] { tunnel_.reset(); });
        work_.reset();
        loop_.stop();
        thread_.join();
    }
    void onLoop(std::function<void()> f) {
        std::promise<void> done;
        asio::post(loop_, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }
    std::string request(const std::string& auth) {
        std::string r = "CONNECT broker.example.com:8883 HTTP/1.1\r\nHost: broker.example.com\r\n";
        if (!auth.empty())
            r += "Proxy-authorization: Basic " + base64Encode(auth) + "\r\n";
        return r + "\r\n";
    }

    asio::io_context loop_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::unique_ptr<Tunnel> tunnel_;
    std::thread thread_;
};

TEST_F(TunnelTest, RefusesAConnectWithoutCredentials) {
    const int fd = connectTo(tunnel_->port());
    EXPECT_TRUE(sendAndRead(fd, request("")).starts_with("HTTP/1.1 407"));
    ::close(fd);
}

TEST_F(TunnelTest, RefusesAWrongSecret) {
    const int fd = connectTo(tunnel_->port());
    EXPECT_TRUE(sendAndRead(fd, request("demo:not-the-secret")).starts_with("HTTP/1.1 407"));
    ::close(fd);
    EXPECT_EQ(tunnel_->refusedCount(), 1u);
}

TEST_F(TunnelTest, RefusesARouteWithNothingPrepared) {
    const std::string secret = secretOf(tunnel_->proxyUri("demo"));
    const int fd = connectTo(tunnel_->port());
    EXPECT_TRUE(sendAndRead(fd, request("demo:" + secret)).starts_with("HTTP/1.1 503"));
    ::close(fd);
}

TEST_F(TunnelTest, RefusesSomethingThatIsNotConnect) {
    const int fd = connectTo(tunnel_->port());
    EXPECT_TRUE(sendAndRead(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 400"));
    ::close(fd);
}

TEST_F(TunnelTest, SplicesAPreparedStreamBothWays) {
    // A "broker": a TCP server on loopback; the prepared stream is a connection to it.
    asio::ip::tcp::acceptor acceptor(loop_, {asio::ip::make_address_v4("127.0.0.1"), 0});
    const uint16_t broker_port = acceptor.local_endpoint().port();
    std::promise<Error> closed;
    onLoop([&] {
        asio::ip::tcp::socket s(loop_);
        s.connect({asio::ip::make_address_v4("127.0.0.1"), broker_port});
        tunnel_->offer("demo", std::make_unique<TcpStream>(std::move(s), "test"),
                       [&](const Error& e) { closed.set_value(e); });
    });
    asio::ip::tcp::socket broker_side(loop_);
    acceptor.accept(broker_side);

    const std::string secret = secretOf(tunnel_->proxyUri("demo"));
    const int fd = connectTo(tunnel_->port());
    EXPECT_TRUE(sendAndRead(fd, request("demo:" + secret)).starts_with("HTTP/1.1 200"));

    // Paho → broker, including bytes that look like HTTP or contain NUL.
    const std::string up("\x10\x0c\x00\x04MQTT\r\n\r\n", 12);
    ASSERT_EQ(::send(fd, up.data(), up.size(), 0), static_cast<ssize_t>(up.size()));
    std::string got(up.size(), '\0');
    asio::read(broker_side, asio::buffer(got));
    EXPECT_EQ(got, up);

    // broker → Paho
    const std::string down("\x20\x02\x00\x00", 4);
    asio::write(broker_side, asio::buffer(down));
    std::string back(down.size(), '\0');
    ASSERT_EQ(::recv(fd, back.data(), back.size(), MSG_WAITALL), static_cast<ssize_t>(down.size()));
    EXPECT_EQ(back, down);

    // A second CONNECT for the same route is refused while the first is spliced.
    const int fd2 = connectTo(tunnel_->port());
    EXPECT_TRUE(sendAndRead(fd2, request("demo:" + secret)).starts_with("HTTP/1.1 503"));
    ::close(fd2);

    // The broker closing ends the splice and reports why.
    broker_side.close();
    auto f = closed.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get().code, "eof");
    char c;
    EXPECT_EQ(::recv(fd, &c, 1, 0), 0);  // Paho sees the close
    ::close(fd);
}

TEST(ConnectRequest, ParsesPahoStyleRequests) {
    auto r = parseConnectRequest(
        "CONNECT h.example:8883 HTTP/1.1\r\nHost: h.example\r\nProxy-authorization: Basic " +
        base64Encode("demo:s3cret") + "\r\n\r\n");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->target, "h.example:8883");
    EXPECT_EQ(r->user, "demo");
    EXPECT_EQ(r->secret, "s3cret");
    EXPECT_EQ(parseConnectRequest("CONNECT h:1 HTTP/1.1\r\nProxy-Authorization: Digest x\r\n\r\n")
                  .error()
                  .code,
              "tunnel_auth");
    EXPECT_EQ(parseConnectRequest("CONNECT h HTTP/1.1\r\n\r\n").error().code, "tunnel_request");
}

}  // namespace
}  // namespace uplinkd
