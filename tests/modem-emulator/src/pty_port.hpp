// SPDX-License-Identifier: Apache-2.0
// PtyPort: the emulated UART, a pseudo-terminal master paced to the configured baud rate.
#pragma once

#include <array>
#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "pacer.hpp"

namespace uplinkd::emulator {

/// The emulated UART (a pty master); loop-bound (single thread).
/// Keeps the slave open (raw mode) so a client may come and go; reads and writes at most
/// `baud / 10` bytes per second each way; counts bytes on the line.
class PtyPort {
  public:
    using BytesHandler = std::function<void(std::string_view)>;

    PtyPort(asio::io_context& io, unsigned long baud);
    ~PtyPort();
    PtyPort(const PtyPort&) = delete;
    PtyPort& operator=(const PtyPort&) = delete;

    /// Opens the pty; when `link` is not empty, points a symlink there at the slave.
    /// Returns an empty string on success, else what went wrong.
    std::string open(const std::string& link);
    /// The slave device path, e.g. /dev/pts/7.
    const std::string& slavePath() const { return slave_path_; }
    /// Starts reading; `handler` gets every byte received from the client, paced.
    void start(BytesHandler handler);
    /// Queues bytes for the client.
    void write(std::string_view bytes);
    /// Drops queued output that has not reached the line yet (power off).
    void clearOutput();
    /// Closes the pty and removes the symlink.
    void close();

    uint64_t bytesIn() const { return bytes_in_; }
    uint64_t bytesOut() const { return bytes_out_; }
    void resetStats() { bytes_in_ = bytes_out_ = 0; }
    size_t pendingOutput() const { return out_.size() - out_pos_; }

  private:
    void readSome();
    void writeSome();

    asio::posix::stream_descriptor master_;
    int slave_fd_ = -1;
    std::string slave_path_;
    std::string link_;
    Pacer in_pacer_;
    Pacer out_pacer_;
    asio::steady_timer in_timer_;
    asio::steady_timer out_timer_;
    std::array<char, 4096> in_buf_{};
    std::string out_;
    size_t out_pos_ = 0;
    size_t in_flight_ = 0;
    bool writing_ = false;
    BytesHandler handler_;
    uint64_t bytes_in_ = 0;
    uint64_t bytes_out_ = 0;
};

}  // namespace uplinkd::emulator
