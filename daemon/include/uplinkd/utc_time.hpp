// SPDX-License-Identifier: Apache-2.0
// Times in messages, for the daemon and the plugins: seconds since the epoch as UTC text. Pure.
// Thread: any.
#pragma once

#include <cstdint>
#include <string>

namespace uplinkd {

/// "2026-12-05 03:07:14 UTC".
std::string formatUtc(int64_t unix_seconds);

}  // namespace uplinkd
