// SPDX-License-Identifier: Apache-2.0
#include "core/pid_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uplinkd {

namespace {

/// The pid written in the lock file by its holder; 0 when there is none (yet).
long readPid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
        return 0;
    }
    char* end = nullptr;
    const long pid = std::strtol(buf, &end, 10);
    return pid > 0 ? pid : 0;
}

}  // namespace

Result<std::unique_ptr<PidLock>> PidLock::acquire(const std::string& path,
                                                  const std::string& doing) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        return fail("lock", "cannot open the lock file " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail("lock", "the lock file " + path + " is not a regular file");
    }
    // Whatever the umask made of it: the file holds only a pid, but nobody else writes it.
    (void)::fchmod(fd, 0640);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const long holder = err == EWOULDBLOCK ? readPid(fd) : 0;
        ::close(fd);
        if (err != EWOULDBLOCK) {
            return fail("lock", "cannot lock " + path + ": " + std::strerror(err));
        }
        return fail("locked",
                    "another uplinkd " +
                        (holder > 0 ? "(pid " + std::to_string(holder) + ") " : std::string()) +
                        "is " + doing + " (it holds the lock " + path + ")");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int err = errno;
        ::close(fd);
        return fail("lock", "cannot write our pid into " + path + ": " + std::strerror(err));
    }
    return std::unique_ptr<PidLock>(new PidLock(fd, path));
}

PidLock::~PidLock() {
    // The file stays: removing it would race with a daemon that opened it and waits to lock it.
    ::close(fd_);
}

}  // namespace uplinkd
