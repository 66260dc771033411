// SPDX-License-Identifier: Apache-2.0
#include "common/at_socket_stream.hpp"

#include <algorithm>
#include <cstring>

namespace uplinkd::plugins::modem_common {

namespace {

Error closedError() {
    return makeError("closed", "the stream was closed");
}

Error eofError() {
    return makeError("eof", "the peer closed the connection");
}

}  // namespace

AtSocketStream::AtSocketStream(asio::io_context& loop, std::string description, size_t max_chunk)
    : loop_(loop),
      description_(std::move(description)),
      max_chunk_(std::max<size_t>(1, max_chunk)) {}

AtSocketStream::~AtSocketStream() = default;

void AtSocketStream::post(std::function<void()> fn) {
    asio::post(loop_, [alive = std::weak_ptr<int>(alive_), fn = std::move(fn)]() {
        if (alive.expired()) {
            return;
        }
        fn();
    });
}

void AtSocketStream::asyncRead(std::span<uint8_t> buf, ReadHandler handler) {
    if (read_) {
        post([h = std::move(handler)] { h(fail("busy", "a read is already pending")); });
        return;
    }
    if (closed_) {
        post([h = std::move(handler)] { h(Failure{closedError()}); });
        return;
    }
    if (buf.empty()) {
        post([h = std::move(handler)] { h(size_t{0}); });
        return;
    }
    read_ = PendingRead{buf, std::move(handler)};
    deliverRead();
}

void AtSocketStream::deliverRead() {
    if (!read_) {
        maybeFetch();
        return;
    }
    if (!rx_.empty()) {
        const size_t n = std::min(rx_.size(), read_->buf.size());
        std::memcpy(read_->buf.data(), rx_.data(), n);
        rx_.erase(0, n);
        auto h = std::move(read_->handler);
        read_.reset();
        post([h = std::move(h), n] { h(n); });
        maybeFetch();
        return;
    }
    if (error_) {
        auto h = std::move(read_->handler);
        read_.reset();
        post([h = std::move(h), e = *error_] { h(Failure{e}); });
        return;
    }
    if (peer_closed_ && !waiting_ && !fetching_) {
        auto h = std::move(read_->handler);
        read_.reset();
        post([h = std::move(h)] { h(Failure{eofError()}); });
        return;
    }
    maybeFetch();
}

void AtSocketStream::maybeFetch() {
    if (fetching_ || !waiting_ || closed_ || error_ || rx_.size() >= kPrefetchLimit) {
        return;
    }
    fetching_ = true;
    fetch([alive = std::weak_ptr<int>(alive_), this](Result<Fetched> r) {
        if (alive.expired()) {
            return;
        }
        fetching_ = false;
        if (closed_) {
            return;
        }
        if (!r) {
            waiting_again_ = false;
            breakWith(r.error());
            return;
        }
        // A URC during the fetch may announce bytes that arrived after the module answered: look
        // again (at worst one fetch finds nothing).
        waiting_ = r->more || waiting_again_;
        waiting_again_ = false;
        rx_ += r->bytes;
        deliverRead();
    });
}

void AtSocketStream::dataWaiting() {
    if (closed_) {
        return;
    }
    waiting_ = true;
    if (fetching_) {
        waiting_again_ = true;
    }
    deliverRead();
}

void AtSocketStream::pushData(std::string_view bytes) {
    if (closed_ || bytes.empty()) {
        return;
    }
    rx_.append(bytes);
    deliverRead();
}

void AtSocketStream::peerClosed() {
    if (closed_) {
        return;
    }
    peer_closed_ = true;
    deliverRead();
}

void AtSocketStream::breakWith(Error e) {
    if (error_ || closed_) {
        return;
    }
    error_ = std::move(e);
    if (read_) {
        // Bytes already fetched are still delivered first.
        deliverRead();
    }
    if (write_) {
        auto h = std::move(write_->handler);
        write_.reset();
        post([h = std::move(h), e = *error_] { h(Failure{e}); });
    }
}

void AtSocketStream::asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) {
    Error refusal;
    if (write_) {
        refusal = makeError("busy", "a write is already pending");
    } else if (closed_) {
        refusal = closedError();
    } else if (error_) {
        refusal = *error_;
    } else if (peer_closed_) {
        refusal = eofError();
    } else if (buf.empty()) {
        post([h = std::move(handler)] { h(okStatus()); });
        return;
    } else {
        write_ = PendingWrite{buf, 0, std::move(handler)};
        sendNext();
        return;
    }
    post([h = std::move(handler), e = std::move(refusal)] { h(Failure{e}); });
}

size_t AtSocketStream::sendLength(std::span<const uint8_t> rest) const {
    return std::min(rest.size(), max_chunk_);
}

void AtSocketStream::sendNext() {
    const auto rest = write_->buf.subspan(write_->sent);
    const size_t n = std::clamp<size_t>(sendLength(rest), 1, rest.size());
    sendChunk(rest.first(n), [alive = std::weak_ptr<int>(alive_), this, n](Result<size_t> r) {
        if (alive.expired() || !write_ || closed_) {
            return;
        }
        if (!r) {
            auto h = std::move(write_->handler);
            write_.reset();
            post([h = std::move(h), e = r.error()] { h(Failure{e}); });
            return;
        }
        write_->sent += std::min(*r, n);
        if (write_->sent >= write_->buf.size()) {
            auto h = std::move(write_->handler);
            write_.reset();
            post([h = std::move(h)] { h(okStatus()); });
            return;
        }
        sendNext();
    });
}

void AtSocketStream::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    if (read_) {
        auto h = std::move(read_->handler);
        read_.reset();
        post([h = std::move(h)] { h(Failure{closedError()}); });
    }
    if (write_) {
        auto h = std::move(write_->handler);
        write_.reset();
        post([h = std::move(h)] { h(Failure{closedError()}); });
    }
    closeSocket();
}

}  // namespace uplinkd::plugins::modem_common
