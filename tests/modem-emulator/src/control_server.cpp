// SPDX-License-Identifier: Apache-2.0
#include "control_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

namespace uplinkd::emulator {

ControlLine splitControlLine(const std::string& line) {
    std::istringstream in(line);
    ControlLine out;
    in >> out.cmd >> out.arg;
    std::getline(in, out.rest);
    return out;
}

/// One connected control client, replies in order; loop-bound (single thread).
class ControlServer::Client : public std::enable_shared_from_this<Client> {
  public:
    Client(asio::local::stream_protocol::socket socket, Handler& handler, std::weak_ptr<bool> alive)
        : socket_(std::move(socket)), handler_(handler), alive_(std::move(alive)) {}

    void readNext() {
        auto self = shared_from_this();
        asio::async_read_until(socket_, asio::dynamic_buffer(in_, 4096), '\n',
                               [self](std::error_code ec, size_t n) {
                                   if (ec || self->alive_.expired()) {
                                       return;
                                   }
                                   std::string line = self->in_.substr(0, n - 1);
                                   self->in_.erase(0, n);
                                   if (!line.empty() && line.back() == '\r') {
                                       line.pop_back();
                                   }
                                   std::string reply = self->handler_(line) + "\n";
                                   self->reply(std::move(reply));
                               });
    }

  private:
    void reply(std::string text) {
        auto self = shared_from_this();
        out_ = std::move(text);
        asio::async_write(socket_, asio::buffer(out_), [self](std::error_code ec, size_t) {
            if (!ec) {
                self->readNext();
            }
        });
    }

    asio::local::stream_protocol::socket socket_;
    Handler& handler_;
    std::weak_ptr<bool> alive_;
    std::string in_;
    std::string out_;
};

ControlServer::ControlServer(asio::io_context& io, Handler handler)
    : io_(io), acceptor_(io), handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
    close();
}

std::string ControlServer::listen(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return "refusing to replace " + path + ": it exists and is not a socket";
        }
        ::unlink(path.c_str());
    }
    std::error_code ec;
    asio::local::stream_protocol::endpoint ep(path);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
        acceptor_.bind(ep, ec);
    }
    if (!ec) {
        acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return "control socket " + path + ": " + ec.message();
    }
    path_ = path;
    acceptNext();
    return {};
}

void ControlServer::acceptNext() {
    std::weak_ptr<bool> alive = alive_;
    acceptor_.async_accept(
        [this, alive](std::error_code ec, asio::local::stream_protocol::socket socket) {
            if (alive.expired() || ec == asio::error::operation_aborted || !acceptor_.is_open()) {
                return;
            }
            if (!ec) {
                std::make_shared<Client>(std::move(socket), handler_, alive)->readNext();
            }
            acceptNext();
        });
}

void ControlServer::close() {
    alive_.reset();
    if (acceptor_.is_open()) {
        std::error_code ec;
        acceptor_.close(ec);
    }
    if (!path_.empty()) {
        ::unlink(path_.c_str());
        path_.clear();
    }
}

}  // namespace uplinkd::emulator
