// SPDX-License-Identifier: Apache-2.0
#include "tunnel/tunnel.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

#include "tunnel/connect_request.hpp"
#include "uplink/tcp_stream.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {
constexpr size_t kMaxRequestHead = 8192;
constexpr auto kRequestTimeout = std::chrono::seconds(5);
}  // namespace

/// One route's prepared stream, then the two pumps between it and Paho's loopback socket.
struct Tunnel::Splice : std::enable_shared_from_this<Splice> {
    ByteStreamPtr broker;
    std::shared_ptr<asio::ip::tcp::socket> client;
    ClosedHandler closed;
    bool active = false;
    bool ended = false;
    std::array<uint8_t, 16 * 1024> up{};    // Paho → broker
    std::array<uint8_t, 16 * 1024> down{};  // broker → Paho

    /// `early` holds bytes the client sent right behind its request head (normally none).
    void begin(std::shared_ptr<asio::ip::tcp::socket> socket, std::string early) {
        client = std::move(socket);
        active = true;
        pumpDown();
        if (early.empty()) {
            pumpUp();
            return;
        }
        auto data = std::make_shared<std::string>(std::move(early));
        sendUp(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data->data()), data->size()),
            data);
    }

    /// Writes `bytes` (kept alive by `keep`, if they are not `up`) to the broker, then reads the
    /// client again.
    void sendUp(std::span<const uint8_t> bytes, std::shared_ptr<const void> keep) {
        broker->asyncWrite(bytes, [self = shared_from_this(), keep = std::move(keep)](Status s) {
            if (self->ended)
                return;
            if (!s) {
                self->end(s.error());
                return;
            }
            self->pumpUp();
        });
    }

    void pumpUp() {
        client->async_read_some(
            asio::buffer(up), [self = shared_from_this()](asio::error_code ec, size_t n) {
                if (self->ended)
                    return;
                if (ec) {
                    self->end(makeError("client_closed", "the MQTT client closed the tunnel"));
                    return;
                }
                self->sendUp(std::span<const uint8_t>(self->up.data(), n), nullptr);
            });
    }

    void pumpDown() {
        broker->asyncRead(down, [self = shared_from_this()](Result<size_t> r) {
            if (self->ended)
                return;
            if (!r) {
                self->end(r.error());
                return;
            }
            asio::async_write(
                *self->client, asio::buffer(self->down.data(), *r),
                [self](asio::error_code ec, size_t) {
                    if (self->ended)
                        return;
                    if (ec) {
                        self->end(makeError("client_closed", "the MQTT client closed the tunnel"));
                        return;
                    }
                    self->pumpDown();
                });
        });
    }

    /// Closes both ends once; reports why unless `silent`.
    void end(const Error& reason, bool silent = false) {
        if (ended)
            return;
        ended = true;
        if (client) {
            asio::error_code ignored;
            client->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
            client->close(ignored);
        }
        if (broker) {
            broker->close();
        }
        auto cb = std::move(closed);
        closed = nullptr;
        if (cb && !silent) {
            cb(reason);
        }
    }
};

Tunnel::Tunnel(asio::io_context& loop) : loop_(loop), acceptor_(loop) {}

Tunnel::~Tunnel() {
    alive_.reset();
    for (auto& [route, splice] : routes_) {
        splice->end(makeError("closed", "shutting down"), true);
    }
    asio::error_code ignored;
    acceptor_.close(ignored);
}

Result<std::unique_ptr<Tunnel>> Tunnel::start(asio::io_context& loop) {
    std::unique_ptr<Tunnel> t(new Tunnel(loop));
    asio::error_code ec;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), 0);
    t->acceptor_.open(ep.protocol(), ec);
    if (!ec)
        t->acceptor_.bind(ep, ec);
    if (!ec)
        t->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return fail("tunnel", "cannot listen on 127.0.0.1: " + ec.message());
    }
    t->port_ = t->acceptor_.local_endpoint().port();
    std::array<unsigned char, 24> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        return fail("tunnel", "no random bytes for the tunnel secret");
    }
    static const char* hex = "0123456789abcdef";
    for (unsigned char c : raw) {
        t->secret_ += hex[c >> 4];
        t->secret_ += hex[c & 15];
    }
    t->accept();
    return t;
}

std::string Tunnel::proxyUri(const std::string& route) const {
    return "http://" + route + ":" + secret_ + "@127.0.0.1:" + std::to_string(port_);
}

void Tunnel::offer(const std::string& route, ByteStreamPtr stream, ClosedHandler closed) {
    withdraw(route);
    auto s = std::make_shared<Splice>();
    s->broker = std::move(stream);
    s->closed = std::move(closed);
    routes_[route] = s;
}

void Tunnel::withdraw(const std::string& route) {
    auto it = routes_.find(route);
    if (it == routes_.end()) {
        return;
    }
    auto s = it->second;
    routes_.erase(it);
    s->end(makeError("closed", "withdrawn"), true);
}

void Tunnel::accept() {
    auto socket = std::make_shared<asio::ip::tcp::socket>(loop_);
    std::weak_ptr<bool> alive = alive_;
    acceptor_.async_accept(*socket, [this, alive, socket](asio::error_code ec) {
        if (alive.expired() || ec == asio::error::operation_aborted) {
            return;
        }
        if (!ec) {
            handleClient(socket);
        }
        accept();
    });
}

void Tunnel::handleClient(std::shared_ptr<asio::ip::tcp::socket> socket) {
    auto head = std::make_shared<std::string>();
    auto timer = std::make_shared<asio::steady_timer>(loop_, kRequestTimeout);
    timer->async_wait([socket](asio::error_code ec) {
        if (!ec) {
            asio::error_code ignored;
            socket->close(ignored);
        }
    });
    std::weak_ptr<bool> alive = alive_;
    auto refuse = [this, socket, timer](const char* status, const std::string& why) {
        ++refused_;
        logWarning(std::string("tunnel: refused a CONNECT: ") + why);
        auto reply = std::make_shared<std::string>(std::string("HTTP/1.1 ") + status +
                                                   "\r\nContent-Length: 0\r\n\r\n");
        asio::async_write(*socket, asio::buffer(*reply),
                          [socket, reply, timer](asio::error_code, size_t) {
                              timer->cancel();
                              asio::error_code ignored;
                              socket->close(ignored);
                          });
    };
    asio::async_read_until(
        *socket, asio::dynamic_buffer(*head, kMaxRequestHead), "\r\n\r\n",
        [this, alive, socket, head, timer, refuse](asio::error_code ec, size_t n) {
            if (alive.expired())
                return;
            if (ec) {
                timer->cancel();
                asio::error_code ignored;
                socket->close(ignored);
                return;
            }
            auto req = parseConnectRequest(std::string_view(*head).substr(0, n));
            if (!req) {
                refuse(req.error().code == "tunnel_auth" ? "407 Proxy Authentication Required"
                                                         : "400 Bad Request",
                       req.error().message);
                return;
            }
            if (req->secret.size() != secret_.size() ||
                CRYPTO_memcmp(req->secret.data(), secret_.data(), secret_.size()) != 0) {
                refuse("407 Proxy Authentication Required", "wrong secret");
                return;
            }
            auto it = routes_.find(req->user);
            if (it == routes_.end() || it->second->active || it->second->ended) {
                refuse("503 Service Unavailable",
                       "no prepared stream for route \"" + req->user + "\"");
                return;
            }
            auto splice = it->second;
            timer->cancel();
            static const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
            asio::async_write(*socket, asio::buffer(ok),
                              [splice, socket, head, n](asio::error_code wec, size_t) {
                                  if (splice->ended)
                                      return;
                                  if (wec) {
                                      splice->end(makeError("client_closed", "tunnel client gone"));
                                      return;
                                  }
                                  // Bytes that came with the request head belong to the broker.
                                  splice->begin(socket, head->substr(n));
                              });
        });
}

}  // namespace uplinkd
