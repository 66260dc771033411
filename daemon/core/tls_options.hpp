// SPDX-License-Identifier: Apache-2.0
// TlsOptions: what a TLS connection to a broker needs (server name, ALPN, CA, client
// certificate, ciphers), a value type shared by the TLS session, the uplinks that do TLS
// themselves (a modem with tls = "modem") and the routes. Thread: any (a plain value).
#pragma once

#include <string>
#include <vector>

namespace uplinkd {

struct TlsOptions {
    std::string server_name;        ///< SNI and the name the certificate must match
    std::vector<std::string> alpn;  ///< offered ALPN protocols (empty: none)
    std::string ca_file;            ///< empty: the system trust store
    std::string cert_file;          ///< client certificate chain (PEM)
    std::string key_file;           ///< its private key (PEM)
    /// TLS 1.2 cipher suites in OpenSSL's syntax; empty: kDefaultCiphersTls12. TLS 1.3 keeps
    /// OpenSSL's defaults (all of them have forward secrecy and AEAD).
    std::string ciphers_tls12;
};

/// What uplinkd offers on TLS 1.2 unless a route says otherwise: ECDHE key exchange (forward
/// secrecy) with AEAD ciphers only.
inline constexpr const char* kDefaultCiphersTls12 = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";

}  // namespace uplinkd
