// SPDX-License-Identifier: Apache-2.0
// Checks of TLS credentials before they go into the module, with OpenSSL: the CA file must hold
// root CAs (an intermediate given as the root is refused, naming the root that is needed), and
// the private key must belong to the client certificate. Pure (no I/O). Thread: any.
#pragma once

#include <string_view>

#include "uplinkd/result.hpp"

namespace uplinkd::plugins::st_spwf04s {

/// OK when every certificate of `ca_pem` is a self-signed root, or is issued by another
/// certificate of the file (a chain up to its root). Else "tls_not_root": the message names the
/// certificate given and the subject of the root CA that is needed (its issuer). "bad_pem" when
/// a certificate does not parse.
Status checkRootCas(std::string_view ca_pem);

/// OK when the first private key of `key_pem` belongs to the first certificate of `cert_pem`;
/// else "tls_key_mismatch" (or "bad_pem"). The key is never shown.
Status checkKeyMatches(std::string_view cert_pem, std::string_view key_pem);

}  // namespace uplinkd::plugins::st_spwf04s
