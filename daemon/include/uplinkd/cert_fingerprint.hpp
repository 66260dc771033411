// SPDX-License-Identifier: Apache-2.0
// The SHA-256 fingerprint of a certificate as the doctor and the modem plugins show it. Pure.
// Thread: any.
#pragma once

#include <openssl/x509.h>

#include <string>

namespace uplinkd {

/// How a fingerprint is written: as modules list their stores and the modem plugins compare them
/// (lower-case hex, 64 digits), or as `openssl x509 -fingerprint -sha256` shows it to people
/// ("AB:CD:…", 95 characters).
enum class FingerprintForm { Plain, Colons };

/// The SHA-256 of `cert`'s DER encoding in `form`; empty when OpenSSL cannot compute it.
std::string sha256Fingerprint(const X509* cert, FingerprintForm form = FingerprintForm::Plain);

}  // namespace uplinkd
