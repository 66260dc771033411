// SPDX-License-Identifier: Apache-2.0
// Probes of the doctor's network, TLS and MQTT checks: one bounded step each (dial over the
// route's uplinks, a plain MQTT CONNECT, a TLS handshake) whose outcome comes back exactly once,
// on the loop, even when the other side never answers. Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "doctor/doctor.hpp"
#include "tls/tls_session.hpp"
#include "uplink/uplink.hpp"

namespace uplinkd::doctor {

/// How long one network or TLS step may take before the doctor gives up on it.
inline constexpr std::chrono::milliseconds kStepTimeout{10000};
/// How long a server that asked for a client certificate has to refuse it after a TLS 1.3
/// handshake (the refusal comes as an alert after the client's Finished).
inline constexpr std::chrono::milliseconds kCertVerdictWait{5000};

/// "[routes.aws.tls] ca_file": how a fix names a setting of the route under test.
std::string setting(const RouteUnderTest& r, const std::string& section, const std::string& key);

/// The cloud setting that names the broker's host ("[routes.aws.cloud] endpoint").
std::string hostSetting(const RouteUnderTest& r);

/// True when `host` is an IPv4 or IPv6 literal.
bool isIpAddress(const std::string& host);

/// A stream to the broker and the uplink it went over.
struct Dialed {
    ByteStreamPtr stream;
    std::string uplink;  ///< Uplink::describe() of the uplink used
};

/// Dials host:port over `uplinks` in order, each attempt bounded by `timeout`; the first stream
/// wins. The error names every uplink tried and what it said.
void dial(asio::io_context& loop, std::vector<Uplink*> uplinks, const std::string& host,
          uint16_t port, std::chrono::milliseconds timeout,
          std::function<void(Result<Dialed>)> done);

/// What a port answered to the first bytes of a protocol.
struct PortAnswer {
    size_t bytes = 0;     ///< bytes received before the close, the timeout or the first read
    int first_byte = -1;  ///< the first byte received, -1 none
    bool closed = false;  ///< the peer closed (or reset) without answering
    bool timed_out = false;
};

/// Sends a plain MQTT 3.1.1 CONNECT without credentials (client id `client_id`) and reads the
/// first answer; a CONNACK starts with 0x20.
void probePlainMqtt(asio::io_context& loop, ByteStreamPtr stream, const std::string& client_id,
                    std::function<void(PortAnswer)> done);

/// What one TLS handshake by the doctor came to.
struct TlsProbe {
    Status status;        ///< ok, or the session's explanation
    TlsFacts facts;       ///< SNI, alerts, verify error, certificate request
    PortAnswer answer;    ///< what the server sent at all (non-TLS bytes, nothing)
    std::string version;  ///< "TLSv1.3"
    std::string cipher;
    std::string alpn_selected;  ///< empty: none agreed
    /// The server's chain as received, leaf first: "subject (issued by issuer)".
    std::vector<std::string> chain;
    /// The leaf's validity (notBefore, notAfter), when a leaf was received.
    std::optional<std::pair<std::time_t, std::time_t>> leaf_validity;
    bool cert_rejected_after_handshake = false;  ///< TLS 1.3: alert after Finished
};

/// Runs a TLS handshake with `options` over `stream`, bounded by kStepTimeout; when the server
/// asked for a client certificate, also waits up to kCertVerdictWait for its refusal. Fails
/// only when the options cannot make a TLS context (a file that does not load).
void probeTls(asio::io_context& loop, const TlsOptions& options, ByteStreamPtr stream,
              std::function<void(Result<TlsProbe>)> done);

}  // namespace uplinkd::doctor
