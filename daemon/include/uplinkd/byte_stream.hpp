// SPDX-License-Identifier: Apache-2.0
// ByteStream: an ordered, reliable byte stream to a remote peer (a kernel socket, a modem's AT
// socket, or TLS on top of either). Thread: loop; handlers run on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "uplinkd/result.hpp"

namespace uplinkd {

class ByteStream {
  public:
    virtual ~ByteStream() = default;

    /// Result: bytes read (> 0), or an error; the peer closing is the error code "eof".
    using ReadHandler = std::function<void(Result<size_t>)>;
    using WriteHandler = std::function<void(Status)>;

    /// Reads at least one byte into `buf` (which must stay valid until the handler runs).
    virtual void asyncRead(std::span<uint8_t> buf, ReadHandler handler) = 0;
    /// Writes all of `buf` (which must stay valid until the handler runs).
    virtual void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) = 0;
    /// Closes the stream; pending handlers run with an error ("closed").
    virtual void close() = 0;
    /// One line for logs and status, e.g. "tcp 127.0.0.1:8883 via eth0".
    virtual std::string describe() const = 0;
};

using ByteStreamPtr = std::unique_ptr<ByteStream>;

}  // namespace uplinkd
