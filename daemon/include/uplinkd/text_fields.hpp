// SPDX-License-Identifier: Apache-2.0
// Walking text made of fields with a separator (header lines, "k=v&k=v" tokens). Pure. Thread: any.
#pragma once

#include <string_view>

namespace uplinkd {

/// Takes the field before the first `separator` out of `rest`, with the separator; all of `rest`
/// when there is none (`rest` is then empty).
inline std::string_view takeField(std::string_view& rest, std::string_view separator) {
    const size_t at = rest.find(separator);
    const std::string_view field = rest.substr(0, at);
    rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + separator.size());
    return field;
}

}  // namespace uplinkd
