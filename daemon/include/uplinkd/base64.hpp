// SPDX-License-Identifier: Apache-2.0
// Base64 (RFC 4648 standard alphabet, '=' padding) for the daemon and the plugins: the local
// API's binary payloads, the tunnel's proxy credentials, Azure SAS keys and signatures. OpenSSL's
// EVP block coder does the work; the checks it lacks are made here first. Pure. Thread: any.
#pragma once

#include <string>
#include <string_view>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// Standard base64 with '=' padding; no line breaks.
std::string base64Encode(std::string_view bytes);

/// Whether a decoder insists on the '=' padding that makes the length a multiple of 4.
enum class Base64Padding {
    required,  ///< "Zg==" only (the API's payload_b64, HTTP Basic credentials)
    optional,  ///< "Zg" as well (RFC 4648 §3.2), as Azure's own SDKs accept keys
};

/// Decodes standard base64. Errors ("bad_base64", the message says which rule and where): a
/// character outside the alphabet (whitespace included; it is never skipped), '=' other than
/// one or two at the end of a whole quantum, a length that cannot carry a whole byte, and a
/// length that is not a multiple of 4 when padding is required. Unused low bits of the last
/// character are ignored.
Result<std::string> base64Decode(std::string_view text,
                                 Base64Padding padding = Base64Padding::required);

}  // namespace uplinkd
