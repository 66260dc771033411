// SPDX-License-Identifier: Apache-2.0
// The spool's files around SQLite: directory check, modes, moving aside. Thread: any.
#include "spool/sqlite_spool_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace uplinkd::sqlite_spool_detail {

std::string parentDir(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

namespace {

bool pathExists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

void syncDirectory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

namespace {

std::string cleanMarkPath(const std::string& path) {
    return path + "-clean";
}

/// "<size> <mtime ns>" of the database file, or empty when it cannot be read.
std::string fileStamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return {};
    }
    const long long mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL +
                               static_cast<long long>(st.st_mtim.tv_nsec);
    return std::to_string(static_cast<long long>(st.st_size)) + " " + std::to_string(mtime_ns);
}

}  // namespace

void leaveCleanMark(const std::string& path) {
    const std::string stamp = fileStamp(path);
    if (stamp.empty()) {
        return;
    }
    const std::string mark = cleanMarkPath(path);
    const int fd = ::open(mark.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        return;  // the next open runs the integrity check: slower, not wrong
    }
    const bool written =
        ::write(fd, stamp.data(), stamp.size()) == static_cast<ssize_t>(stamp.size());
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!written || !synced) {
        ::unlink(mark.c_str());
        return;
    }
    syncDirectory(parentDir(path));
}

bool takeCleanMark(const std::string& path) {
    const std::string mark = cleanMarkPath(path);
    std::string content;
    const int fd = ::open(mark.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    char buf[64];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n > 0) {
        content.assign(buf, static_cast<size_t>(n));
    }
    ::unlink(mark.c_str());
    syncDirectory(parentDir(path));
    const std::string stamp = fileStamp(path);
    return !stamp.empty() && content == stamp;
}

std::string firstLine(const std::string& text) {
    size_t begin = 0;
    for (;;) {
        const size_t end = text.find('\n', begin);
        const std::string line = text.substr(begin, end == std::string::npos ? end : end - begin);
        if (!line.empty() && line.rfind("***", 0) != 0) {
            return line;
        }
        if (end == std::string::npos) {
            return text.empty() ? "unknown problem" : line;
        }
        begin = end + 1;
    }
}

Failure ioFailure(const std::string& path, const std::string& why) {
    return fail("spool_io", "spool: open \"" + path + "\": " + why);
}

Status checkDirectory(const std::string& path) {
    if (path.empty()) {
        return fail("spool_io", "spool: open: no path given for the spool database");
    }
    const std::string dir = parentDir(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        return ioFailure(path, err == ENOENT ? "directory \"" + dir + "\" does not exist"
                                             : "directory \"" + dir + "\" cannot be read (" +
                                                   std::strerror(err) + ")");
    }
    if (!S_ISDIR(st.st_mode)) {
        return ioFailure(path, "\"" + dir + "\" is not a directory");
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return ioFailure(path, "directory \"" + dir + "\" is not writable (" +
                                   std::strerror(errno) +
                                   "); the spool creates its -wal and -shm files there");
    }
    return okStatus();
}

void restrictFileModes(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd >= 0) {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && (st.st_mode & 0027) != 0) {
            (void)::fchmod(fd, (st.st_mode & 0740) | 0600);
        }
        ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        const std::string file = path + suffix;
        struct stat st {};
        if (::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0027) != 0) {
            (void)::chmod(file.c_str(), (st.st_mode & 0740) | 0600);
        }
    }
}

Result<std::string> moveAside(const std::string& path) {
    const std::string stem =
        path + ".corrupt-" + std::to_string(static_cast<long long>(::time(nullptr)));
    std::string aside = stem;
    for (int i = 1; pathExists(aside); ++i) {
        aside = stem + "-" + std::to_string(i);
    }
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        const std::string from = path + suffix;
        const std::string to = aside + suffix;
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
            return ioFailure(path,
                             "the file is not a usable spool and cannot be moved aside to \"" + to +
                                 "\" (" + std::strerror(errno) + ")");
        }
    }
    syncDirectory(parentDir(path));
    return aside;
}

}  // namespace uplinkd::sqlite_spool_detail
