// PidLock: an exclusive flock(2) on a small file that holds the owner's pid, kept for as long as
// the object lives (normally the process lifetime), so that a second uplinkd on the same
// resource can refuse to start and say who has it. The file is never deleted (deleting a lock
// file lets two processes hold "the" lock on different inodes). Thread: any (not shared).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "uplinkd/result.hpp"

namespace uplinkd {

class PidLock {
  public:
    /// Creates `path` if needed (mode 0644, no symlinks followed), locks it without waiting and
    /// writes this process's pid into it. Error code "locked" when another process holds it:
    /// the message is "pid N" (or "pid unknown" when the holder wrote no pid yet);
    /// code "lock" for anything else (with the system's reason).
    static Result<std::unique_ptr<PidLock>> acquire(const std::string& path);
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
