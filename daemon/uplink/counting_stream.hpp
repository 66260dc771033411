// SPDX-License-Identifier: Apache-2.0
// CountingStream: a ByteStream that counts the bytes of the stream it wraps into an
// UplinkTraffic (per uplink, for status and for noticing a silent uplink). Thread: loop.
#pragma once

#include <functional>
#include <memory>

#include "uplinkd/byte_stream.hpp"

namespace uplinkd {

/// Where a CountingStream adds its bytes: `sent`/`received` get the counts; `received` also
/// tells that bytes came in. Thread: loop.
struct TrafficSink {
    std::function<void(size_t)> sent;
    std::function<void(size_t)> received;
};

class CountingStream final : public ByteStream {
  public:
    CountingStream(ByteStreamPtr inner, TrafficSink sink);
    ~CountingStream() override;

    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) override;
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) override;
    void close() override;
    std::string describe() const override { return inner_->describe(); }

  private:
    ByteStreamPtr inner_;
    // Shared with pending handlers: they may run after this stream is gone.
    std::shared_ptr<TrafficSink> sink_;
};

}  // namespace uplinkd
