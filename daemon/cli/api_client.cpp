// SPDX-License-Identifier: Apache-2.0
#include "cli/api_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uplinkd {

ApiClient::~ApiClient() {
    close();
}

void ApiClient::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

Status ApiClient::connect(const std::string& socket_path) {
    close();
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        return fail("io", std::string("socket: ") + std::strerror(errno));
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) {
        return fail("io", "socket path too long: " + socket_path);
    }
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        close();
        std::string hint;
        if (err == ENOENT || err == ECONNREFUSED) {
            hint = " (is uplinkd running?)";
        } else if (err == EACCES) {
            hint = " (join the group that owns the socket, e.g. uplinkd-clients)";
        }
        return fail("io", "cannot connect to " + socket_path + ": " + std::strerror(err) + hint);
    }
    return {};
}

Status ApiClient::sendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("io", std::string("send: ") + std::strerror(errno));
        }
        off += static_cast<size_t>(n);
    }
    return {};
}

Status ApiClient::send(const nlohmann::json& request) {
    return sendRaw(request.dump() + "\n");
}

Result<nlohmann::json> ApiClient::receive(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded()) {
                return fail("bad_reply", "the server sent a line that is not JSON: " + line);
            }
            return j;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return fail("timeout", "no answer from uplinkd in time");
        }
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno != EINTR) {
            return fail("io", std::string("poll: ") + std::strerror(errno));
        }
        if (r <= 0) {
            continue;
        }
        char tmp[65536];
        const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n == 0) {
            return fail("eof", "uplinkd closed the connection");
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("io", std::string("recv: ") + std::strerror(errno));
        }
        buf_.append(tmp, static_cast<size_t>(n));
    }
}

}  // namespace uplinkd
