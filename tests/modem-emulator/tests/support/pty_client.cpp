// SPDX-License-Identifier: Apache-2.0
#include "support/pty_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace emutest {

PtyClient::PtyClient(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
        return;
    }
    termios tio{};
    if (tcgetattr(fd_, &tio) != 0) {
        close(fd_);
        fd_ = -1;
        return;
    }
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    cfsetispeed(&tio, B115200);
    cfsetospeed(&tio, B115200);
    tcsetattr(fd_, TCSANOW, &tio);  // TCSANOW: keep what the module already sent
}

PtyClient::~PtyClient() {
    if (fd_ >= 0) {
        close(fd_);
    }
}

bool PtyClient::write(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n > 0) {
            bytes.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
        pollfd p{fd_, POLLOUT, 0};
        if (poll(&p, 1, 5000) <= 0) {
            return false;
        }
    }
    return true;
}

bool PtyClient::fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left < 0) {
        left = 0;
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) {
        return false;
    }
    char tmp[8192];
    ssize_t n = ::read(fd_, tmp, sizeof(tmp));
    if (n <= 0) {
        return n < 0 && (errno == EAGAIN || errno == EINTR);
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
}

std::optional<std::string> PtyClient::readUntilAny(const std::vector<std::string>& tokens,
                                                   std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        size_t best = std::string::npos;
        size_t best_len = 0;
        for (const auto& t : tokens) {
            size_t at = buf_.find(t);
            if (at != std::string::npos && (best == std::string::npos || at < best)) {
                best = at;
                best_len = t.size();
            }
        }
        if (best != std::string::npos) {
            std::string out = buf_.substr(0, best + best_len);
            buf_.erase(0, best + best_len);
            return out;
        }
        if (std::chrono::steady_clock::now() >= deadline || !fill(deadline)) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return std::nullopt;
            }
        }
    }
}

std::optional<std::string> PtyClient::readUntil(std::string_view token,
                                                std::chrono::milliseconds timeout) {
    return readUntilAny({std::string(token)}, timeout);
}

std::optional<std::string> PtyClient::readExactly(size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.size() < n) {
        if (!fill(deadline) && std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
}

std::string PtyClient::readFor(std::chrono::milliseconds window) {
    auto deadline = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < deadline) {
        fill(deadline);
    }
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
}

std::optional<std::string> PtyClient::command(const std::string& cmd,
                                              std::chrono::milliseconds timeout) {
    if (!write(cmd + "\r")) {
        return std::nullopt;
    }
    auto got = readUntilAny({"\r\nOK\r\n", "\r\nERROR\r\n", "+CME ERROR: "}, timeout);
    if (got && got->size() >= 12 && got->compare(got->size() - 12, 12, "+CME ERROR: ") == 0) {
        auto rest = readUntil("\r\n", timeout);
        if (!rest) {
            return std::nullopt;
        }
        *got += *rest;
    }
    return got;
}

}  // namespace emutest
