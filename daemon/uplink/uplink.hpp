// Uplink: a way out of the gateway that gives a ByteStream to host:port — the board's own
// network (LocalNetwork) or a modem socket. Thread: loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "uplinkd/byte_stream.hpp"

namespace uplinkd {

class Uplink {
  public:
    virtual ~Uplink() = default;
    using ConnectHandler = std::function<void(Result<ByteStreamPtr>)>;

    /// Opens a plain byte stream to host:port. The handler runs exactly once, on the loop,
    /// unless the Uplink is destroyed first.
    virtual void connect(const std::string& host, uint16_t port, ConnectHandler handler) = 0;
    virtual const std::string& name() const = 0;
    /// One line for status, e.g. "network (eth0)".
    virtual std::string describe() const = 0;
};

using UplinkPtr = std::unique_ptr<Uplink>;

}  // namespace uplinkd
