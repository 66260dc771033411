// SPDX-License-Identifier: Apache-2.0
#include "core/socket_path.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace uplinkd {

Result<std::unique_ptr<SocketPath>> SocketPath::bind(
    asio::local::stream_protocol::acceptor& acceptor, const std::string& path, uint32_t mode,
    const std::string& group_name) {
    std::unique_ptr<SocketPath> s(new SocketPath(path));
    std::error_code fec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), fec);

    // Whoever holds the lock owns the path; without it we touch nothing there.
    auto lock = PidLock::acquire(path + ".lock", "serving " + path);
    if (!lock) {
        if (lock.error().code == "locked") {
            return fail("api", lock.error().message + "; not taking the socket over");
        }
        return fail("api", lock.error().message);
    }
    s->lock_ = std::move(lock.value());

    // A socket file left by a previous run is replaced; anything else is not ours to delete.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return fail("api", path +
                                   " exists and is not a socket; not replacing it (api.socket "
                                   "must name a path for uplinkd's own socket)");
        }
        ::unlink(path.c_str());
    }
    asio::error_code ec;
    asio::local::stream_protocol::endpoint ep(path);
    acceptor.open(ep.protocol(), ec);
    if (!ec) {
        acceptor.bind(ep, ec);
    }
    if (ec) {
        return fail("api", "cannot listen on " + path + ": " + ec.message());
    }
    if (::lstat(path.c_str(), &st) != 0) {
        return fail("api",
                    "cannot see the socket " + path + " just created: " + std::strerror(errno));
    }
    s->bound_ = true;
    s->dev_ = st.st_dev;
    s->ino_ = st.st_ino;
    // Mode and group before listen(): nobody connects before the permissions are final.
    if (::chmod(path.c_str(), mode) != 0) {
        return fail("api", "cannot set the mode of " + path + ": " + std::strerror(errno));
    }
    if (!group_name.empty()) {
        struct group* g = ::getgrnam(group_name.c_str());
        if (g == nullptr) {
            return fail("api", "api.socket_group: no group \"" + group_name + "\"");
        }
        if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
            return fail("api", "cannot give " + path + " to group \"" + group_name +
                                   "\": " + std::strerror(errno));
        }
    }
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return fail("api", "cannot listen on " + path + ": " + ec.message());
    }
    return s;
}

SocketPath::~SocketPath() {
    if (!bound_) {
        return;
    }
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
        st.st_ino == ino_) {
        ::unlink(path_.c_str());
    }
}

}  // namespace uplinkd
