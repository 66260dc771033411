// SPDX-License-Identifier: Apache-2.0
// What the doctor's TLS handshakes mean, as findings of layer tls (ids tls.handshake, tls.chain,
// tls.sni, tls.alpn, tls.client_cert) with the fix naming the route's setting. Pure: from the
// probes' outcomes to words. Thread: any.
#pragma once

#include <string>
#include <vector>

#include "doctor/doctor.hpp"
#include "doctor/probe.hpp"

namespace uplinkd::doctor {

/// A handshake that worked: version and cipher, chain, SNI, ALPN, client certificate.
std::vector<Finding> handshakeFindings(const RouteUnderTest& r, const TlsOptions& options,
                                       const TlsProbe& p, const std::string& uplink);
/// A handshake that failed with something said: a verify error, an alert, non-TLS bytes, or
/// no answer at all within the timeout.
Finding failureFinding(const RouteUnderTest& r, const BrokerEndpoint& ep, const TlsOptions& options,
                       const TlsProbe& p);
/// Closed right after a ClientHello without SNI (an IP address as host, or no server name).
Finding sniMissing(const RouteUnderTest& r, const BrokerEndpoint& ep, const TlsProbe& p);
/// Closed right after the ClientHello with SNI, while one without SNI got an answer.
Finding sniRefused(const RouteUnderTest& r, const TlsOptions& options, const TlsProbe& p);
/// Closed right after the ClientHello without ALPN, answered with ALPN `alpn`.
Finding alpnNeeded(const RouteUnderTest& r, const BrokerEndpoint& ep, const std::string& alpn);
/// Closed right after every ClientHello tried (with and without SNI, with ALPN).
Finding closedAfterHello(const RouteUnderTest& r, const BrokerEndpoint& ep,
                         const TlsOptions& options, const TlsProbe& p);

}  // namespace uplinkd::doctor
