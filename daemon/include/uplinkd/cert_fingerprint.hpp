// SPDX-License-Identifier: Apache-2.0
// The SHA-256 fingerprint of a certificate as the doctor and the modem plugins show it. Pure.
// Thread: any.
#pragma once

#include <openssl/x509.h>

#include <string>

namespace uplinkd {

/// The SHA-256 of `cert`'s DER encoding in lower-case hex (64 digits); empty when OpenSSL cannot
/// compute it.
std::string sha256Fingerprint(const X509* cert);

}  // namespace uplinkd
