// SPDX-License-Identifier: Apache-2.0
// TcpStream: a ByteStream over a connected kernel TCP socket. Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>

#include "uplinkd/byte_stream.hpp"

namespace uplinkd {

class TcpStream final : public ByteStream {
  public:
    TcpStream(asio::ip::tcp::socket socket, std::string description);
    ~TcpStream() override;

    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) override;
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) override;
    void close() override;
    std::string describe() const override { return description_; }

  private:
    // Shared with pending handlers so that they never touch a destroyed stream.
    std::shared_ptr<asio::ip::tcp::socket> socket_;
    std::string description_;
};

/// Turns an Asio error into an Error with plain words ("eof" when the peer closed).
Error socketError(const asio::error_code& ec, std::string_view what);

}  // namespace uplinkd
