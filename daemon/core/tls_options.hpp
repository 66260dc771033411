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
    /// The uplink's bytes are costly (a modem): TLS 1.2 unless the broker refuses it, resumption
    /// by session ID (tickets only for a broker without a session cache), and a ClientHello
    /// without what the clouds do not need (see kFrugalGroups, kFrugalSigalgs).
    bool frugal = false;
};

/// What uplinkd offers on TLS 1.2 unless a route says otherwise: ECDHE key exchange (forward
/// secrecy) with AEAD ciphers only.
inline constexpr const char* kDefaultCiphersTls12 = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";

/// What a frugal context offers as key-exchange groups: X25519, and the curves of the clouds'
/// ECC roots and ECDHE suites (AWS: P-256; Azure: P-256, P-384). OpenSSL's default list adds
/// x448, P-521 and five FFDHE groups (14 more bytes in every ClientHello).
inline constexpr const char* kFrugalGroups = "X25519:P-256:P-384";
/// ... and as signature algorithms: ECDSA and RSA (PSS and PKCS#1) with SHA-256/384, what the
/// clouds' RSA 2048 and ECC P-256/P-384 chains are signed with (OpenSSL's default offers 23).
inline constexpr const char* kFrugalSigalgs =
    "ECDSA+SHA256:ECDSA+SHA384:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:RSA+SHA256:RSA+SHA384";

}  // namespace uplinkd
