// Uplink: a way out of the gateway that gives a ByteStream to host:port — the board's own
// network (LocalNetwork) or a modem socket. Thread: loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tls/tls_session.hpp"
#include "uplinkd/byte_stream.hpp"

namespace uplinkd {

class Uplink {
  public:
    virtual ~Uplink() = default;
    using ConnectHandler = std::function<void(Result<ByteStreamPtr>)>;

    /// Opens a plain byte stream to host:port. The handler runs exactly once, on the loop,
    /// unless the Uplink is destroyed first.
    virtual void connect(const std::string& host, uint16_t port, ConnectHandler handler) = 0;
    /// True when the uplink does TLS itself (a modem with `tls = "modem"`): then the route calls
    /// connectTls() and does no TLS of its own.
    virtual bool offloadsTls() const { return false; }
    /// Opens a stream on which the uplink has done TLS with `tls` (server name, ALPN, CA,
    /// client certificate). Only called when offloadsTls().
    virtual void connectTls(const std::string& host, uint16_t port, const TlsOptions& tls,
                            ConnectHandler handler) {
        (void)host;
        (void)port;
        (void)tls;
        handler(fail("unsupported", "this uplink does not do TLS itself"));
    }
    virtual const std::string& name() const = 0;
    /// One line for status, e.g. "network (eth0)".
    virtual std::string describe() const = 0;
};

using UplinkPtr = std::unique_ptr<Uplink>;

}  // namespace uplinkd
