// SPDX-License-Identifier: Apache-2.0
// AtSocketStream: the ByteStream side of a socket inside a module, common to the AT dialects.
// It keeps the ByteStream contract (one read and one write outstanding at a time, handlers
// posted to the loop and never run inline, close() fails pending handlers with "closed",
// nothing runs after destruction) and leaves the AT commands to a subclass: send one chunk,
// fetch buffered bytes, close. Thread: loop.
#pragma once

#include <asio.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "uplinkd/byte_stream.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

/// What one fetch brought from the module.
struct Fetched {
    std::string bytes;  ///< may be empty
    bool more = false;  ///< the module still holds bytes for this socket
};

class AtSocketStream : public ByteStream {
  public:
    AtSocketStream(asio::io_context& loop, std::string description, size_t max_chunk);
    /// Subclasses call close() in their own destructor (closeSocket() is virtual).
    ~AtSocketStream() override;
    AtSocketStream(const AtSocketStream&) = delete;
    AtSocketStream& operator=(const AtSocketStream&) = delete;

    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) final;
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) final;
    void close() final;
    std::string describe() const final { return description_; }

    /// The module holds bytes for this socket (a data URC): they are fetched when wanted.
    void dataWaiting();
    /// Bytes the module pushed with a URC (no fetch needed).
    void pushData(std::string_view bytes);
    /// The peer closed: bytes still held by the module are read first, then reads end in "eof"
    /// and writes fail with "eof".
    void peerClosed();
    /// The socket is unusable (module error or reset): pending and later operations fail with `e`.
    void breakWith(Error e);
    bool isClosed() const { return closed_; }
    bool peerHasClosed() const { return peer_closed_; }

  protected:
    /// How many of `rest` (non-empty) the next send command takes: 1..maxChunk().
    virtual size_t sendLength(std::span<const uint8_t> rest) const;
    /// Sends `chunk` with AT commands; `done` gets how many bytes the module took (> 0) or an
    /// error. Not called again before `done` ran.
    virtual void sendChunk(std::span<const uint8_t> chunk,
                           std::function<void(Result<size_t>)> done) = 0;
    /// Reads bytes the module holds; not called again before `done` ran.
    virtual void fetch(std::function<void(Result<Fetched>)> done) = 0;
    /// Sends the close commands (fire and forget); called once, from close().
    virtual void closeSocket() = 0;

    size_t maxChunk() const { return max_chunk_; }
    asio::io_context& loop() const { return loop_; }
    /// Expires when the stream is destroyed: subclasses guard their AT callbacks with it.
    std::weak_ptr<void> token() const { return alive_; }

  private:
    struct PendingRead {
        std::span<uint8_t> buf;
        ReadHandler handler;
    };
    struct PendingWrite {
        std::span<const uint8_t> buf;
        size_t sent = 0;
        WriteHandler handler;
    };

    void deliverRead();
    void maybeFetch();
    void sendNext();
    void post(std::function<void()> fn);

    /// Bytes fetched ahead of reads, at most this many.
    static constexpr size_t kPrefetchLimit = 8192;

    asio::io_context& loop_;
    std::string description_;
    size_t max_chunk_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    std::string rx_;
    std::optional<PendingRead> read_;
    std::optional<PendingWrite> write_;
    std::optional<Error> error_;
    bool waiting_ = false;  // the module holds bytes
    bool fetching_ = false;
    bool waiting_again_ = false;  // a data URC came while fetching: look again afterwards
    bool peer_closed_ = false;
    bool closed_ = false;
};

}  // namespace uplinkd::plugins::modem_common
