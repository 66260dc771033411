// SPDX-License-Identifier: Apache-2.0
// MetricsServer: the opt-in Prometheus endpoint ([metrics] listen). Accepts on a TCP address or
// a UNIX socket, reads one request head (capped in size and time), answers it through
// http_request.hpp, and closes. Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>

#include "config/config_metrics.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {
class SocketPath;
}

namespace uplinkd::metrics {

class MetricsServer {
  public:
    /// Builds the exposition text; called on the loop thread for each GET /metrics.
    using Scrape = std::function<std::string()>;

    /// How long a client may take to send its request head.
    static constexpr std::chrono::seconds kRequestDeadline{10};
    /// Connections served at once; more are closed at once.
    static constexpr size_t kMaxConnections = 8;

    static Result<std::unique_ptr<MetricsServer>> start(asio::io_context& loop,
                                                        const MetricsSection& config,
                                                        Scrape scrape);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// Where it listens, with the real port ("127.0.0.1:9743", or the socket path).
    const std::string& endpoint() const { return endpoint_; }

    struct Shared;  ///< what connections share with the server (the scrape, the count)

  private:
    explicit MetricsServer(asio::io_context& loop);
    void acceptTcp();
    void acceptLocal();
    /// After a failed accept (out of descriptors): accept again a little later, not in a spin.
    void acceptLater(void (MetricsServer::*accept)());

    asio::io_context& loop_;
    std::shared_ptr<Shared> shared_;
    std::unique_ptr<asio::ip::tcp::acceptor> tcp_;
    std::unique_ptr<asio::local::stream_protocol::acceptor> local_;
    std::unique_ptr<SocketPath> socket_path_;
    std::string endpoint_;
    asio::steady_timer pause_;
};

}  // namespace uplinkd::metrics
