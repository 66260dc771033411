#include "core/pid_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace uplinkd {

namespace {

/// The pid written in the lock file by its holder, or "" when none can be read.
std::string holderPid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string pid;
    for (ssize_t i = 0; i < n && std::isdigit(static_cast<unsigned char>(buf[i])) != 0; ++i) {
        pid += buf[i];
    }
    return pid;
}

}  // namespace

Result<std::unique_ptr<PidLock>> PidLock::acquire(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return fail("lock", "cannot open the lock file " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail("lock", "the lock file " + path + " is not a regular file");
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err == EWOULDBLOCK) {
            const std::string pid = holderPid(fd);
            ::close(fd);
            return fail("locked", "pid " + (pid.empty() ? std::string("unknown") : pid));
        }
        ::close(fd);
        return fail("lock", "cannot lock " + path + ": " + std::strerror(err));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int err = errno;
        ::close(fd);
        return fail("lock", "cannot write the pid into " + path + ": " + std::strerror(err));
    }
    return std::unique_ptr<PidLock>(new PidLock(fd, path));
}

PidLock::~PidLock() {
    ::close(fd_);
}

}  // namespace uplinkd
