// SPDX-License-Identifier: Apache-2.0
// Names of the values of a small enum, from a table written in the enum's order. Thread: any.
#pragma once

#include <cstddef>

namespace uplinkd {

/// The name of `value` in `names` (one per value, in declaration order, the enum counting from 0);
/// `outside` for a value past the table. Next to each table, a static_assert ties its size to the
/// enum's last value.
template <typename Enum, size_t N>
constexpr const char* enumName(Enum value, const char* const (&names)[N],
                               const char* outside = "?") {
    const auto i = static_cast<size_t>(value);
    return i < N ? names[i] : outside;
}

}  // namespace uplinkd
