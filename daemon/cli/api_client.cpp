// SPDX-License-Identifier: Apache-2.0
#include "cli/api_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
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
    return sendBytes(bytes.data(), bytes.size());
}

Status ApiClient::sendWithPayload(nlohmann::json request, std::string_view payload) {
    request["payload_length"] = payload.size();
    if (auto st = send(request); !st) {
        return st;
    }
    return sendBytes(payload.data(), payload.size());
}

Status ApiClient::sendWithFile(nlohmann::json request, const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail("io", "cannot open " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail("io", path + " is not a regular file (its size must be known before sending)");
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    request["payload_length"] = size;
    Status sent = send(request);
    std::string chunk(64 * 1024, '\0');
    uint64_t done = 0;
    while (sent.ok() && done < size) {
        const ssize_t n = ::read(
            fd, chunk.data(), static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - done)));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            sent = fail("io", path + " changed while it was sent (" + std::to_string(done) +
                                  " of " + std::to_string(size) + " bytes read)");
            break;
        }
        sent = sendBytes(chunk.data(), static_cast<size_t>(n));
        done += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return sent;
}

Status ApiClient::sendBytes(const char* data, size_t size) {
    size_t off = 0;
    while (off < size) {
        const ssize_t n = ::send(fd_, data + off, size - off, MSG_NOSIGNAL);
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
