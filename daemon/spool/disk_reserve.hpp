// SPDX-License-Identifier: Apache-2.0
// The spool's reserve file: room kept free on the spool's disk and given back when the disk is
// full, so that the deletes that free the disk can still be written. Thread: any (plain file
// calls on the path given).
#pragma once

#include <cstdint>
#include <string>

namespace uplinkd {

/// Makes `path` a file of `bytes` allocated bytes (posix_fallocate, then fsync). With
/// `need_headroom`, only when at least twice `bytes` is free on its file system. True when the
/// file is in place with that size; a partial file is removed.
bool makeReserve(const std::string& path, uint64_t bytes, bool need_headroom);

}  // namespace uplinkd
