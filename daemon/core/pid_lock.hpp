// SPDX-License-Identifier: Apache-2.0
// PidLock: an exclusive flock(2) on a file that holds the owner's pid, kept for the lifetime of
// the object (the kernel drops it when the process dies, so a crash never leaves it stale).
// Used to make sure one uplinkd at a time uses a state directory and an API socket. The file is
// never deleted (that would let two processes hold "the" lock on different inodes).
// Thread: any (not shared).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "uplinkd/result.hpp"

namespace uplinkd {

class PidLock {
  public:
    /// Creates `path` (mode 0640, no symlink followed) if needed, locks it without waiting and
    /// writes our pid into it. Error code "locked" when another process holds it: the message
    /// names that process's pid (when it wrote one) and what it does with the resource
    /// (`doing` = "using /var/lib/uplinkd" → "another uplinkd (pid 42) is using
    /// /var/lib/uplinkd (it holds the lock …)"); code "lock" for anything else.
    static Result<std::unique_ptr<PidLock>> acquire(const std::string& path,
                                                    const std::string& doing);
    ~PidLock();
    PidLock(const PidLock&) = delete;
    PidLock& operator=(const PidLock&) = delete;

    const std::string& path() const { return path_; }

  private:
    PidLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_;
    std::string path_;
};

}  // namespace uplinkd
