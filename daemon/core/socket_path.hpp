// SPDX-License-Identifier: Apache-2.0
// SocketPath: the API socket's place in the file system. Takes an exclusive lock next to it
// ("<socket>.lock", holding our pid) so that a second uplinkd cannot take the path over,
// replaces only a stale socket (never another kind of file), binds and listens, sets the mode
// and group, and on destruction unlinks the path only if it is still the socket this process
// bound (same device and inode). Thread: loop.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <memory>
#include <string>

#include "core/pid_lock.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

class SocketPath {
  public:
    /// Binds `acceptor` to `path` and makes it listen. Error code "api" with plain words.
    static Result<std::unique_ptr<SocketPath>> bind(
        asio::local::stream_protocol::acceptor& acceptor, const std::string& path, uint32_t mode,
        const std::string& group_name);
    ~SocketPath();
    SocketPath(const SocketPath&) = delete;
    SocketPath& operator=(const SocketPath&) = delete;

  private:
    explicit SocketPath(std::string path) : path_(std::move(path)) {}

    std::string path_;
    std::unique_ptr<PidLock> lock_;  ///< released after the socket is gone
    bool bound_ = false;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
};

}  // namespace uplinkd
