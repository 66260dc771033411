// SPDX-License-Identifier: Apache-2.0
// Names of table-driven (TEST_P) cases from the words that describe them. Thread: the test's.
#pragma once

#include <cctype>
#include <string>

namespace uplinkd::testing {

/// `words` as a gtest parameter name: each character that is not a letter or a digit becomes '_'.
inline std::string paramName(std::string words) {
    for (char& c : words) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
            c = '_';
        }
    }
    return words;
}

}  // namespace uplinkd::testing
