// SPDX-License-Identifier: Apache-2.0
#include "uplink/local_network.hpp"

#include <sys/socket.h>

#include <cstring>

#include "uplink/tcp_stream.hpp"

namespace uplinkd {

namespace {

/// One connect attempt: resolve, then try each address in turn.
struct Attempt : std::enable_shared_from_this<Attempt> {
    Attempt(asio::io_context& loop, std::string h, uint16_t p, std::string ifname,
            Uplink::ConnectHandler done, std::weak_ptr<bool> alive)
        : resolver(loop),
          socket(loop),
          host(std::move(h)),
          port(p),
          interface(std::move(ifname)),
          handler(std::move(done)),
          owner(std::move(alive)) {}

    void start() {
        resolver.async_resolve(host, std::to_string(port),
                               [self = shared_from_this()](
                                   asio::error_code ec, asio::ip::tcp::resolver::results_type r) {
                                   self->resolved(ec, std::move(r));
                               });
    }

    void resolved(asio::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (ec) {
            finish(fail("dns", "cannot resolve \"" + host + "\": " + ec.message()));
            return;
        }
        for (const auto& r : results) {
            endpoints.push_back(r.endpoint());
        }
        next();
    }

    void next() {
        if (index >= endpoints.size()) {
            finish(fail("connect", "cannot connect to " + host + ":" + std::to_string(port) + ": " +
                                       last_error));
            return;
        }
        const auto ep = endpoints[index++];
        asio::error_code ec;
        socket.close(ec);
        socket.open(ep.protocol(), ec);
        if (!ec && !interface.empty() &&
            ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
                         static_cast<socklen_t>(interface.size())) != 0) {
            finish(fail("connect",
                        "cannot bind to interface \"" + interface + "\": " + std::strerror(errno)));
            return;
        }
        socket.async_connect(ep, [self = shared_from_this(), ep](asio::error_code cec) {
            if (cec) {
                self->last_error = ep.address().to_string() + ": " + cec.message();
                self->next();
                return;
            }
            std::string desc = "tcp " + self->host + ":" + std::to_string(self->port) + " (" +
                               ep.address().to_string() + ")";
            if (!self->interface.empty()) {
                desc += " via " + self->interface;
            }
            self->finish(ByteStreamPtr(std::make_unique<TcpStream>(std::move(self->socket), desc)));
        });
    }

    void finish(Result<ByteStreamPtr> r) {
        if (owner.expired()) {
            return;
        }
        auto h = std::move(handler);
        h(std::move(r));
    }

    asio::ip::tcp::resolver resolver;
    asio::ip::tcp::socket socket;
    std::string host;
    uint16_t port;
    std::string interface;
    Uplink::ConnectHandler handler;
    std::weak_ptr<bool> owner;
    std::vector<asio::ip::tcp::endpoint> endpoints;
    size_t index = 0;
    std::string last_error = "no address";
};

}  // namespace

LocalNetwork::LocalNetwork(asio::io_context& loop, std::string name, std::string interface)
    : loop_(loop), name_(std::move(name)), interface_(std::move(interface)) {}

LocalNetwork::~LocalNetwork() = default;

void LocalNetwork::connect(const std::string& host, uint16_t port, ConnectHandler handler) {
    std::make_shared<Attempt>(loop_, host, port, interface_, std::move(handler), alive_)->start();
}

std::string LocalNetwork::describe() const {
    return interface_.empty() ? name_ + " (network)" : name_ + " (network, " + interface_ + ")";
}

}  // namespace uplinkd
