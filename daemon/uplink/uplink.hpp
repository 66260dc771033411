// SPDX-License-Identifier: Apache-2.0
// Uplink: a way out of the gateway that gives a ByteStream to host:port — the board's own
// network (LocalNetwork) or a modem socket. Thread: loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/tls_options.hpp"
#include "uplinkd/byte_stream.hpp"
#include "uplinkd/modem_mqtt.hpp"

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
    /// The MQTT keep-alive (s) a route uses over this uplink; 0: the cloud's keepalive_seconds.
    virtual int keepAliveSeconds() const { return 0; }
    /// True when every byte costs (a cellular module): TLS over it resumes by session ID with a
    /// trimmed ClientHello, and MQTT keeps a persistent session (no resubscribing).
    virtual bool frugal() const { return false; }
    /// Opens a stream on which the uplink has done TLS with `tls` (server name, ALPN, CA,
    /// client certificate). Only called when offloadsTls().
    virtual void connectTls(const std::string& host, uint16_t port, const TlsOptions& tls,
                            ConnectHandler handler) {
        (void)host;
        (void)port;
        (void)tls;
        handler(fail("unsupported", "this uplink does not do TLS itself"));
    }
    /// mqtt = "modem": hands over the module's own MQTT client once the module is up and, when
    /// `tls` is given, holds that CA and client certificate (written into its store when they
    /// changed); or says why not. The handler runs once, on the loop.
    virtual void openMqtt(const std::optional<TlsOptions>& tls,
                          std::function<void(Result<ModemMqtt*>)> handler) {
        (void)tls;
        handler(fail("unsupported", "uplink " + name() + " has no MQTT client of its own"));
    }
    /// The module's MQTT client (for its limits), or nullptr when the uplink has none.
    virtual const ModemMqtt* moduleMqtt() const { return nullptr; }
    virtual const std::string& name() const = 0;
    /// The network interface this uplink is bound to (for link state), or empty.
    virtual std::string interfaceName() const { return {}; }
    /// One line for status, e.g. "network (eth0)".
    virtual std::string describe() const = 0;
};

using UplinkPtr = std::unique_ptr<Uplink>;

}  // namespace uplinkd
