// SPDX-License-Identifier: Apache-2.0
// The words for a protocol's numeric codes (reason codes, HTTP statuses, a library's enum whose
// order is its own), from a table of (code, text) rows. Pure. Thread: any.
#pragma once

#include <cstddef>

namespace uplinkd {

/// One row of a code table.
template <typename Code>
struct CodeText {
    Code code;
    const char* text;
};

/// The text of `code` in `table`, or nullptr when the table does not have it.
template <typename Code, size_t N>
constexpr const char* codeText(Code code, const CodeText<Code> (&table)[N]) {
    for (const CodeText<Code>& row : table) {
        if (row.code == code) {
            return row.text;
        }
    }
    return nullptr;
}

}  // namespace uplinkd
