// SPDX-License-Identifier: Apache-2.0
// Azure IoT Hub shared access signatures (SAS): URL and base64 coding, making tokens and checking
// them. Pure functions (no I/O, no clock reads, no logging), shared by the azure-iot-hub plugin,
// the doctor and the SAS-checking test broker. Thread: any.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "uplinkd/base64.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::azure_iot_hub {

/// Percent-encodes every byte except the RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~),
/// with upper-case hex digits: "host/devices/d" → "host%2Fdevices%2Fd".
std::string urlEncode(std::string_view text);

/// Decodes %XX escapes (hex in either case). '+' stays '+'. A malformed escape is an error
/// ("bad_encoding").
Result<std::string> urlDecode(std::string_view text);

/// Standard base64 (RFC 4648 alphabet) with '=' padding (the SDK's coder).
using uplinkd::base64Encode;

/// Decodes standard base64 with the SDK's coder, padding optional: padding may be omitted
/// (RFC 4648 §3.2) and unused bits of the last character are ignored, as Node's decoder does
/// (published vector V1 uses the unpadded key "key"). Anything outside the alphabet, misplaced
/// '=' or a length that cannot carry a whole byte is an error ("bad_base64"). Whitespace is not
/// skipped.
Result<std::string> base64Decode(std::string_view text);

/// The resource URI of an identity: "{host}/devices/{device}" or
/// "{host}/devices/{device}/modules/{module}" (no scheme, not encoded).
std::string sasResourceUri(std::string_view host, std::string_view device,
                           std::string_view module = {});

/// The string to sign: the `sr` value exactly as it appears in the token, "\n", the expiry.
std::string sasStringToSign(std::string_view sr_as_sent, std::string_view expiry_text);

/// base64(HMAC-SHA256(base64-decode(base64_key), message)), not URL-encoded. Errors: "sas_key"
/// (the key is not base64), "crypto".
Result<std::string> sasSign(std::string_view base64_key, std::string_view message);

/// "SharedAccessSignature sr={sr}&sig={urlEncode(signature)}&se={expiry}[&skn={policy}]".
std::string formatSasToken(std::string_view sr_as_sent, std::string_view signature_base64,
                           int64_t expiry_unix, std::string_view policy_name = {});

/// Makes a token for `resource_uri` (not encoded; it is URL-encoded here, and the encoded form
/// is both sent as `sr` and signed), valid until `expiry_unix` (seconds since the epoch).
/// `policy_name` is empty for a device's or module's own key.
Result<std::string> makeSasToken(std::string_view resource_uri, std::string_view base64_key,
                                 int64_t expiry_unix, std::string_view policy_name = {});

/// The parts of a token as found in the text.
struct SasToken {
    std::string sr_as_sent;    ///< the `sr` value byte for byte (what was signed)
    std::string resource_uri;  ///< `sr` URL-decoded
    std::string signature;     ///< `sig` URL-decoded: base64 text
    std::string expiry_text;   ///< `se` as sent
    int64_t expiry_unix = 0;
    std::string policy_name;  ///< `skn` URL-decoded, empty when absent
};

/// Parses "SharedAccessSignature sr=...&sig=...&se=...[&skn=...]" (fields in any order). Errors
/// ("sas_malformed") say what is wrong without repeating the token.
Result<SasToken> parseSasToken(std::string_view token);

/// Parses the token, recomputes the HMAC over `sr` as sent + "\n" + `se` with `base64_key` and
/// checks that `se` is after `now_unix`. Errors: "sas_malformed", "sas_key", "sas_bad_signature",
/// "sas_expired".
Result<SasToken> parseAndVerifySasToken(std::string_view token, std::string_view base64_key,
                                        int64_t now_unix);

/// Whether a token for `granted` (a decoded `sr`) is valid for `resource_uri`: equal, or a prefix
/// that ends at a path segment ("h/devices/a" covers "h/devices/a/modules/m", not
/// "h/devices/ab"). The host part compares case-insensitively, the rest exactly.
bool sasResourceCovers(std::string_view granted, std::string_view resource_uri);

}  // namespace uplinkd::plugins::azure_iot_hub
