// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics_server.hpp"

#include "core/socket_path.hpp"
#include "metrics/http_request.hpp"

namespace uplinkd::metrics {

struct MetricsServer::Shared {
    Scrape scrape;  ///< emptied when the server goes away
    size_t connections = 0;
};

namespace {

/// One connection: read the head, answer, close. Keeps itself alive through its handlers.
template <typename Socket>
class Connection : public std::enable_shared_from_this<Connection<Socket>> {
  public:
    Connection(Socket socket, std::shared_ptr<MetricsServer::Shared> shared)
        : socket_(std::move(socket)),
          deadline_(socket_.get_executor()),
          head_(kMaxRequestHeadBytes),
          shared_(std::move(shared)) {
        ++shared_->connections;
    }
    ~Connection() { --shared_->connections; }

    void start() {
        auto self = this->shared_from_this();
        deadline_.expires_after(MetricsServer::kRequestDeadline);
        deadline_.async_wait([self](asio::error_code ec) {
            if (!ec) {
                asio::error_code ignored;
                self->socket_.close(ignored);  // a client that never finishes its request
            }
        });
        asio::async_read_until(socket_, head_, "\r\n\r\n",
                               [self](asio::error_code ec, size_t n) { self->onHead(ec, n); });
    }

  private:
    void onHead(asio::error_code ec, size_t n) {
        HttpResponse response;
        if (ec == asio::error::not_found) {
            response = errorResponse(431);  // the head did not fit
        } else if (ec) {
            deadline_.cancel();
            return;  // closed or timed out: nobody to answer
        } else {
            const auto begin = asio::buffers_begin(head_.data());
            const std::string head(begin, begin + static_cast<std::ptrdiff_t>(n));
            response = answerRequest(head, shared_->scrape);
        }
        out_ = serialize(response);
        auto self = this->shared_from_this();
        asio::async_write(socket_, asio::buffer(out_), [self](asio::error_code, size_t) {
            asio::error_code ignored;
            self->socket_.shutdown(Socket::shutdown_both, ignored);
            self->socket_.close(ignored);
            self->deadline_.cancel();
        });
    }

    Socket socket_;
    asio::steady_timer deadline_;
    asio::streambuf head_;
    std::shared_ptr<MetricsServer::Shared> shared_;
    std::string out_;
};

template <typename Socket>
void serve(Socket socket, const std::shared_ptr<MetricsServer::Shared>& shared) {
    if (shared->connections >= MetricsServer::kMaxConnections) {
        asio::error_code ignored;
        socket.close(ignored);
        return;
    }
    std::make_shared<Connection<Socket>>(std::move(socket), shared)->start();
}

}  // namespace

MetricsServer::MetricsServer(asio::io_context& loop)
    : loop_(loop), shared_(std::make_shared<Shared>()), pause_(loop) {}

MetricsServer::~MetricsServer() {
    shared_->scrape = nullptr;
    asio::error_code ignored;
    if (tcp_) {
        tcp_->close(ignored);
    }
    if (local_) {
        local_->close(ignored);
    }
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(asio::io_context& loop,
                                                            const MetricsSection& config,
                                                            Scrape scrape) {
    auto where = parseListen(config.listen);
    if (!where) {
        return where.failure("metrics.listen");
    }
    std::unique_ptr<MetricsServer> server(new MetricsServer(loop));
    server->shared_->scrape = std::move(scrape);
    if (!where->path.empty()) {
        server->local_ = std::make_unique<asio::local::stream_protocol::acceptor>(loop);
        auto bound = SocketPath::bind(*server->local_, where->path, config.socket_mode, "");
        if (!bound) {
            return fail("metrics", "metrics: " + bound.error().message);
        }
        server->socket_path_ = std::move(bound.value());
        server->endpoint_ = where->path;
        server->acceptLocal();
        return server;
    }
    asio::error_code ec;
    const auto address = asio::ip::make_address(where->host, ec);
    if (ec) {
        return fail("metrics", "metrics: \"" + where->host + "\" is not an IP address");
    }
    const asio::ip::tcp::endpoint ep(address, where->port);
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(loop);
    if (acceptor->open(ep.protocol(), ec); !ec) {
        acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        acceptor->bind(ep, ec);
    }
    if (!ec) {
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return fail("metrics", "metrics: cannot listen on " + config.listen + ": " + ec.message());
    }
    const auto local = acceptor->local_endpoint(ec);
    server->endpoint_ = (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                                 : local.address().to_string()) +
                        ":" + std::to_string(local.port());
    server->tcp_ = std::move(acceptor);
    server->acceptTcp();
    return server;
}

void MetricsServer::acceptLater(void (MetricsServer::*accept)()) {
    pause_.expires_after(std::chrono::milliseconds(200));
    pause_.async_wait([this, accept, shared = shared_](asio::error_code ec) {
        if (!ec && shared->scrape) {
            (this->*accept)();
        }
    });
}

void MetricsServer::acceptTcp() {
    tcp_->async_accept([this, shared = shared_](asio::error_code ec, asio::ip::tcp::socket s) {
        if (ec == asio::error::operation_aborted || !shared->scrape) {
            return;  // the server is gone
        }
        if (ec) {
            acceptLater(&MetricsServer::acceptTcp);
            return;
        }
        serve(std::move(s), shared);
        acceptTcp();
    });
}

void MetricsServer::acceptLocal() {
    local_->async_accept(
        [this, shared = shared_](asio::error_code ec, asio::local::stream_protocol::socket s) {
            if (ec == asio::error::operation_aborted || !shared->scrape) {
                return;
            }
            if (ec) {
                acceptLater(&MetricsServer::acceptLocal);
                return;
            }
            serve(std::move(s), shared);
            acceptLocal();
        });
}

}  // namespace uplinkd::metrics
