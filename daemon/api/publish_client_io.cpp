// SPDX-License-Identifier: Apache-2.0
// PublishServer::Client: one connection's I/O and limits (reading and framing the input,
// writing the replies, back-pressure, the line deadline, closing).
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "api/protocol.hpp"
#include "api/publish_client.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd::api {

namespace {
// Replies gathered into one write (the kernel takes up to 1024 buffers per writev).
constexpr size_t kMaxRepliesPerWrite = 256;
}  // namespace

PublishServer::Client::Client(PublishServer& server, asio::local::stream_protocol::socket socket)
    : server_(server),
      socket_(std::move(socket)),
      framer_(server.options_.max_line_bytes),
      alive_(server.alive_),
      line_timer_(server.loop_) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        peer_ = "pid " + std::to_string(cred.pid) + " uid " + std::to_string(cred.uid);
        uid_ = cred.uid;
        gid_ = cred.gid;
    }
}

void PublishServer::Client::start() {
    read();
}

void PublishServer::Client::finish(const std::string& code, const std::string& message) {
    closeAfter(errorReply(nullptr, makeError(code, message)));
}

void PublishServer::Client::closeAfter(std::string reply) {
    if (closed_ || closing_) {
        return;
    }
    closing_ = true;
    dropPartial();
    disarmLineTimer();
    send(std::move(reply));
    line_timer_.expires_after(std::chrono::seconds(5));
    line_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
        if (!ec && !self->alive_.expired()) {
            self->close();
        }
    });
}

void PublishServer::Client::send(std::string data) {
    if (closed_) {
        return;
    }
    out_bytes_ += data.size();
    out_.push_back(std::move(data));
    if (!writing_) {
        writeNext();
    }
}

void PublishServer::Client::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    asio::error_code ignored;
    socket_.close(ignored);
    line_timer_.cancel();
    dropPartial();
    server_.removeClient(this);
}

bool PublishServer::Client::throttled() const {
    return pending_ >= server_.options_.max_pending_per_client ||
           out_bytes_ >= server_.options_.max_output_bytes;
}

void PublishServer::Client::dropPartial() {
    framer_ = RequestFramer(server_.options_.max_line_bytes);
    counted_publish_.reset();
    releaseKept();
    server_.buffered_input_ -= partial_;
    partial_ = 0;
}

void PublishServer::Client::releaseKept() {
    server_.payloads_in_progress_ -= kept_;
    kept_ = 0;
}

void PublishServer::Client::afterInput(bool line_ended) {
    const size_t now = framer_.pendingLine();
    const bool grew = now > partial_;
    server_.buffered_input_ += now;
    server_.buffered_input_ -= partial_;
    partial_ = now;
    const auto& o = server_.options_;
    if (grew && server_.buffered_input_ > o.max_buffered_input_bytes) {
        logWarning("api: client " + peer_ +
                   " closed: unfinished request lines of all clients "
                   "would hold more than " +
                   std::to_string(o.max_buffered_input_bytes) +
                   " bytes (api.max_buffered_input_bytes)");
        finish("input_limit", "unfinished request lines of all clients hold more than " +
                                  std::to_string(o.max_buffered_input_bytes) +
                                  " bytes; closing this connection (send whole lines)");
        return;
    }
    // A payload after its line has the same deadline, counted from the line's end.
    const bool unfinished = partial_ > 0 || framer_.payloadRemaining() > 0;
    if (line_ended || !unfinished) {
        disarmLineTimer();
    }
    if (unfinished && !line_timer_armed_) {
        armLineTimer();
    }
}

void PublishServer::Client::disarmLineTimer() {
    ++line_generation_;
    line_timer_armed_ = false;
    line_timer_.cancel();
}

void PublishServer::Client::armLineTimer() {
    line_timer_armed_ = true;
    const uint64_t generation = ++line_generation_;
    line_timer_.expires_after(std::chrono::milliseconds(server_.options_.partial_line_timeout_ms));
    line_timer_.async_wait([self = shared_from_this(), generation](asio::error_code ec) {
        if (ec || self->alive_.expired() || self->closed_ || self->closing_ ||
            generation != self->line_generation_) {
            return;
        }
        if (self->throttled()) {
            // We stopped reading, not the client: the rest of its line may be waiting.
            self->armLineTimer();
            return;
        }
        {
            self->line_timer_armed_ = false;
            const std::string ms = std::to_string(self->server_.options_.partial_line_timeout_ms);
            const uint64_t missing = self->framer_.payloadRemaining();
            const std::string what =
                missing > 0
                    ? "the payload of a request (" + std::to_string(missing) +
                          " bytes missing) was not finished within " + ms +
                          " ms of the end of its line"
                    : "a request line was not finished within " + ms + " ms of its first byte";
            logInfo("api: client " + self->peer_ + " closed: " + what);
            self->finish("line_timeout", what + "; closing this connection");
        }
    });
}

void PublishServer::Client::read() {
    if (reading_ || closed_ || closing_ || throttled()) {
        return;
    }
    reading_ = true;
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](asio::error_code ec,
                                                                            size_t n) {
        self->reading_ = false;
        if (self->alive_.expired() || self->closed_ || self->closing_) {
            return;
        }
        if (ec) {
            self->close();
            return;
        }
        bool line_ended = false;
        self->framer_.feed(
            std::string_view(self->buf_.data(), n),
            [&](std::string_view line) {
                line_ended = true;
                return self->handleLine(line);
            },
            [&] {
                line_ended = true;
                self->send(errorReply(
                    nullptr, makeError("line_too_long",
                                       "request longer than " +
                                           std::to_string(self->server_.options_.max_line_bytes) +
                                           " bytes; skipped up to its newline")));
            },
            [&](std::string&& payload) {
                line_ended = true;
                self->releaseKept();
                self->counted_publish_->message.payload = std::move(payload);
                Request req = std::move(*self->counted_publish_);
                self->counted_publish_.reset();
                self->publish(std::move(req));
            },
            [&](uint64_t) { line_ended = true; });
        if (self->framer_.stopped()) {
            self->closeAfter(std::move(self->stop_reply_));
        }
        if (self->closed_ || self->closing_) {
            return;
        }
        self->afterInput(line_ended);
        self->read();
    });
}

void PublishServer::Client::writeNext() {
    if (out_.empty() || closed_) {
        writing_ = false;
        if (closing_) {
            close();
        }
        return;
    }
    writing_ = true;
    // Every reply queued so far goes in one write: a burst of "queued" answers (one per
    // group commit) costs one system call, not one each. The strings stay put in the deque
    // (only appended to) until the write completes.
    const size_t count = std::min(out_.size(), kMaxRepliesPerWrite);
    write_buffers_.clear();
    for (size_t i = 0; i < count; ++i) {
        write_buffers_.push_back(asio::buffer(out_[i]));
    }
    asio::async_write(socket_, write_buffers_,
                      [self = shared_from_this(), count](asio::error_code ec, size_t n) {
                          if (self->alive_.expired() || self->closed_) {
                              return;
                          }
                          if (ec) {
                              self->close();
                              return;
                          }
                          self->out_bytes_ -= n;
                          self->out_.erase(self->out_.begin(),
                                           self->out_.begin() + static_cast<ptrdiff_t>(count));
                          self->writeNext();
                          self->read();  // output drained: may resume reading
                      });
}

}  // namespace uplinkd::api
