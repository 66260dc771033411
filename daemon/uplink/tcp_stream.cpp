// SPDX-License-Identifier: Apache-2.0
#include "uplink/tcp_stream.hpp"

namespace uplinkd {

Error socketError(const asio::error_code& ec, std::string_view what) {
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
        return makeError("eof", std::string(what) + ": the peer closed the connection");
    }
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
        return makeError("closed", std::string(what) + ": closed");
    }
    return makeError("io", std::string(what) + ": " + ec.message());
}

TcpStream::TcpStream(asio::ip::tcp::socket socket, std::string description)
    : socket_(std::make_shared<asio::ip::tcp::socket>(std::move(socket))),
      description_(std::move(description)) {
    asio::error_code ignored;
    socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
}

TcpStream::~TcpStream() {
    close();
}

void TcpStream::asyncRead(std::span<uint8_t> buf, ReadHandler handler) {
    socket_->async_read_some(
        asio::buffer(buf.data(), buf.size()),
        [keep = socket_, h = std::move(handler)](asio::error_code ec, size_t n) {
            if (ec) {
                h(Failure{socketError(ec, "read")});
            } else {
                h(n);
            }
        });
}

void TcpStream::asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) {
    asio::async_write(*socket_, asio::buffer(buf.data(), buf.size()),
                      [keep = socket_, h = std::move(handler)](asio::error_code ec, size_t) {
                          if (ec) {
                              h(Failure{socketError(ec, "write")});
                          } else {
                              h(Status{});
                          }
                      });
}

void TcpStream::close() {
    asio::error_code ignored;
    if (socket_->is_open()) {
        socket_->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket_->close(ignored);
    }
}

}  // namespace uplinkd
