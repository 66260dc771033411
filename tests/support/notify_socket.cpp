// SPDX-License-Identifier: Apache-2.0
#include "notify_socket.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sstream>

namespace uplinkd::testing {

NotifySocket::NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (!bound_) {
        ADD_FAILURE() << "cannot bind the notification socket " << path_;
    }
}

NotifySocket::~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
}

std::optional<std::string> NotifySocket::next(std::chrono::milliseconds timeout) {
    if (lines_.empty()) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
            return std::nullopt;
        }
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            return std::nullopt;
        }
        std::istringstream in(std::string(buf, static_cast<size_t>(n)));
        for (std::string line; std::getline(in, line);) {
            if (!line.empty()) {
                lines_.push_back(line);
            }
        }
    }
    if (lines_.empty()) {
        return std::nullopt;
    }
    std::string line = lines_.front();
    lines_.erase(lines_.begin());
    seen_.push_back(line);
    return line;
}

bool NotifySocket::waitFor(const std::string& wanted, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return false;
        }
        auto line = next(left);
        if (!line) {
            return false;
        }
        if (*line == wanted) {
            return true;
        }
    }
}

std::string NotifySocket::seen() const {
    std::string all;
    for (const auto& l : seen_) {
        all += "  " + l + "\n";
    }
    return all;
}

}  // namespace uplinkd::testing
