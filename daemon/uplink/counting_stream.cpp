// SPDX-License-Identifier: Apache-2.0
#include "uplink/counting_stream.hpp"

namespace uplinkd {

CountingStream::CountingStream(ByteStreamPtr inner, TrafficSink sink)
    : inner_(std::move(inner)), sink_(std::make_shared<TrafficSink>(std::move(sink))) {}

CountingStream::~CountingStream() {
    // Handlers that run after this are still answered, but count nothing more.
    sink_->sent = nullptr;
    sink_->received = nullptr;
}

void CountingStream::asyncRead(std::span<uint8_t> buf, ReadHandler handler) {
    inner_->asyncRead(buf, [sink = sink_, h = std::move(handler)](Result<size_t> r) {
        if (r && sink->received) {
            sink->received(*r);
        }
        h(std::move(r));
    });
}

void CountingStream::asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) {
    const size_t n = buf.size();
    inner_->asyncWrite(buf, [sink = sink_, n, h = std::move(handler)](Status s) {
        if (s && sink->sent) {
            sink->sent(n);
        }
        h(std::move(s));
    });
}

void CountingStream::close() {
    inner_->close();
}

}  // namespace uplinkd
