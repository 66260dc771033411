// SPDX-License-Identifier: Apache-2.0
// Fuzz target: Azure SAS tokens as the SAS-checking code reads them (parse, verify against a
// key), and the URL and base64 decoders under them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sas_token.hpp"

namespace sas = uplinkd::plugins::azure_iot_hub;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    (void)sas::parseSasToken(in);
    (void)sas::parseAndVerifySasToken(in, "c2VjcmV0LWtleS1mb3ItZnV6emluZw==", 1700000000);
    if (auto decoded = sas::urlDecode(in)) {
        auto again = sas::urlDecode(sas::urlEncode(*decoded));
        if (!again || *again != *decoded) {
            __builtin_trap();
        }
    }
    if (auto decoded = sas::base64Decode(in)) {
        (void)sas::base64Decode(sas::base64Encode(*decoded));
    }
    (void)sas::sasSign(in, "message");
    const size_t nl = in.find('\n');
    if (nl != std::string_view::npos) {
        (void)sas::sasResourceCovers(in.substr(0, nl), in.substr(nl + 1));
    }
    return 0;
}
