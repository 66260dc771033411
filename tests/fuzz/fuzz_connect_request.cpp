// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the request head a client sends to the loopback tunnel (parseConnectRequest), and
// the base64 of its proxy credentials; what decodes must encode back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tunnel/connect_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    (void)uplinkd::parseConnectRequest(in);
    if (auto decoded = uplinkd::base64Decode(in)) {
        auto again = uplinkd::base64Decode(uplinkd::base64Encode(*decoded));
        if (!again || *again != *decoded) {
            __builtin_trap();
        }
    }
    auto round = uplinkd::base64Decode(uplinkd::base64Encode(in));
    if (!round || *round != in) {
        __builtin_trap();
    }
    return 0;
}
