// SPDX-License-Identifier: Apache-2.0
// Local checks of the credentials before they go into the module (OpenSSL, no I/O): the CA file
// must hold root CAs (self-signed), the key must belong to the client certificate; and the
// facts `modem info` and the connect errors name (subject, issuer, validity).
// Thread: any (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "uplinkd/result.hpp"

namespace uplinkd::plugins::sierra_bx310x {

/// What a certificate says about itself.
struct CertFacts {
    std::string subject;  ///< one line, RFC 2253 ("CN=Root CA,O=Example")
    std::string issuer;
    int64_t not_before = 0;  ///< seconds since 1970, UTC
    int64_t not_after = 0;
    bool self_signed = false;  ///< issued by itself and signed with its own key
    std::string sha256;        ///< fingerprint: lower-case hex SHA-256 of the DER
};

/// The first certificate of `pem`. Error "bad_pem" naming `what`.
Result<CertFacts> certFacts(std::string_view pem, std::string_view what);

/// OK when `pem` (one certificate) is a root CA; else "ca_not_root", naming the subject of the
/// root that is needed (the certificate's issuer). `what` names the setting ("tls.ca_file").
Status checkRootCa(std::string_view pem, std::string_view what);

/// OK when the private key `key_pem` belongs to the certificate `cert_pem`; else
/// "key_mismatch" naming the certificate's subject (never anything of the key).
Status checkKeyMatches(std::string_view cert_pem, std::string_view key_pem);

/// "2030-01-01T00:00:00Z".
std::string isoTime(int64_t t);

}  // namespace uplinkd::plugins::sierra_bx310x
