// SPDX-License-Identifier: Apache-2.0
#include "spool/disk_reserve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace uplinkd {

namespace {

std::string directoryOf(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool makeReserve(const std::string& path, uint64_t bytes, bool need_headroom) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= bytes) {
        return true;
    }
    if (need_headroom) {
        struct statvfs vfs {};
        if (::statvfs(directoryOf(path).c_str(), &vfs) != 0 ||
            static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < 2 * bytes) {
            return false;
        }
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return false;
    }
    const bool ok = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)) == 0 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
    }
    return ok;
}

}  // namespace uplinkd
