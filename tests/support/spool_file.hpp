// SPDX-License-Identifier: Apache-2.0
// Writes into a spool file beside the spool or daemon that uses it (a connection of its own), for
// tests that damage a row and mend it again.
#pragma once

#include <cstdint>
#include <string>

namespace uplinkd::testing {

/// Replaces the payload of message `seq` in the spool file at `path`: `payload` as a BLOB, or as
/// TEXT with `as_text`. Adds a test failure when the row could not be written.
void setSpoolPayload(const std::string& path, uint64_t seq, const std::string& payload,
                     bool as_text);

}  // namespace uplinkd::testing
