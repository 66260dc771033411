// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uplinkd {

namespace {

/// The problem with a file of mode `st` at `path`, if any (the part of the rules that fstat of
/// an open file can check too).
std::optional<std::string> modeProblem(const std::string& path, const struct stat& st) {
    if (S_ISLNK(st.st_mode)) {
        return "\"" + path +
               "\" is a symbolic link; name the file itself (secrets are not read through "
               "links, so that a link cannot lead uplinkd to a file the configuration did not "
               "name)";
    }
    if (!S_ISREG(st.st_mode)) {
        return "\"" + path + "\" is not a regular file";
    }
    if ((st.st_mode & S_IROTH) != 0) {
        return "\"" + path + "\" is readable by every user; a secret must not be (chmod o-r)";
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> secretFileProblem(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return "cannot read \"" + path + "\": " + std::strerror(errno);
    }
    return modeProblem(path, st);
}

std::optional<std::string> readSecretFile(ConfigTable& table, std::string_view key, bool required) {
    auto path = table.string(key, required);
    if (!path) {
        return std::nullopt;
    }
    if (auto problem = secretFileProblem(*path)) {
        table.error(key, *problem);
        return std::nullopt;
    }
    // O_NOFOLLOW and a second look at the open file: a link swapped in after the check above
    // is refused too.
    const int fd = ::open(path->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        table.error(key, err == ELOOP ? "\"" + *path + "\" is a symbolic link; name the file itself"
                                      : "cannot open \"" + *path + "\": " + std::strerror(err));
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || modeProblem(*path, st)) {
        table.error(key, modeProblem(*path, st).value_or("cannot read \"" + *path + "\""));
        ::close(fd);
        return std::nullopt;
    }
    std::string content;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            table.error(key, "cannot read \"" + *path + "\": " + std::strerror(errno));
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        content.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
        content.pop_back();
    }
    if (content.empty()) {
        table.error(key, "\"" + *path + "\" is empty");
        return std::nullopt;
    }
    return content;
}

}  // namespace uplinkd
