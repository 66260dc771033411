// SPDX-License-Identifier: Apache-2.0
// SerialPort: the UART of a modem opened for uplinkd alone (TIOCEXCL and flock), raw 8N1 at a
// fixed baud rate with RTS/CTS flow control on or off, as an Asio stream descriptor. Errors say
// what to do (a missing device, the "dialout" group, another program holding the line).
// Thread: loop.
#pragma once

#include <termios.h>

#include <asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd {

class SerialPort {
  public:
    struct Options {
        std::string device;
        unsigned baud = 115200;
        bool flow_control = true;  ///< RTS/CTS
    };

    /// Opens and configures the line. Error code "serial"; the message names the device.
    static Result<std::unique_ptr<SerialPort>> open(asio::io_context& loop, const Options& options);
    ~SerialPort();
    SerialPort(const SerialPort&) = delete;
    SerialPort& operator=(const SerialPort&) = delete;

    asio::posix::stream_descriptor& stream() { return stream_; }
    const Options& options() const { return options_; }
    /// E.g. "/dev/ttyUSB2 115200 8N1 RTS/CTS".
    std::string describe() const;

  private:
    SerialPort(asio::io_context& loop, int fd, Options options);

    asio::posix::stream_descriptor stream_;
    Options options_;
};

}  // namespace uplinkd
