// SPDX-License-Identifier: Apache-2.0
// Tunnel: the loopback HTTP CONNECT endpoint through which Paho reaches a stream that uplinkd
// has already prepared (dialled over an uplink, TLS done). Listens on 127.0.0.1, ephemeral port;
// accepts a CONNECT only with the per-start secret and only for a route that has a stream on
// offer; answers 200 at once and splices bytes both ways. Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "uplinkd/byte_stream.hpp"

namespace uplinkd {

class Tunnel {
  public:
    /// Why a splice ended: the error from the broker side, or "client_closed" when Paho
    /// closed its end.
    using ClosedHandler = std::function<void(const Error& reason)>;

    static Result<std::unique_ptr<Tunnel>> start(asio::io_context& loop);
    ~Tunnel();

    uint16_t port() const { return port_; }
    /// The proxy URI for Paho's connect options.
    std::string proxyUri(const std::string& route) const;
    /// Puts a prepared stream on offer for the next CONNECT of `route`; replaces any earlier one.
    void offer(const std::string& route, ByteStreamPtr stream, ClosedHandler closed);
    /// Ends the offer or the splice of `route` (closing both ends); its ClosedHandler won't run.
    void withdraw(const std::string& route);
    /// How many CONNECT requests were refused (bad secret, nothing on offer) since start.
    uint64_t refusedCount() const { return refused_; }

  private:
    struct Splice;
    explicit Tunnel(asio::io_context& loop);
    void accept();
    void handleClient(std::shared_ptr<asio::ip::tcp::socket> socket);

    asio::io_context& loop_;
    asio::ip::tcp::acceptor acceptor_;
    uint16_t port_ = 0;
    std::string secret_;
    std::map<std::string, std::shared_ptr<Splice>> routes_;
    uint64_t refused_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
