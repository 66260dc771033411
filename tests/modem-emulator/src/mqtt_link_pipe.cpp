// SPDX-License-Identifier: Apache-2.0
// MqttLink's loopback pipe: Paho's bytes to the HostSocket and back, CONNECT sniffed; loop thread.
#include "mqtt_link.hpp"

namespace uplinkd::emulator {

void MqttLink::acceptLoopback() {
    loop_ = std::make_unique<asio::ip::tcp::socket>(io_);
    std::weak_ptr<MqttLink> weak = weak_from_this();
    const uint64_t conn = conn_;
    acceptor_->async_accept(*loop_, [weak, conn](std::error_code ec) {
        auto self = weak.lock();
        if (!self || self->conn_ != conn || !self->acceptor_) {
            return;
        }
        std::error_code ignore;
        self->acceptor_->close(ignore);
        if (ec) {
            self->finishConnect({MqttConnectResult::Failed, 0, "loopback accept: " + ec.message()});
            return;
        }
        self->loop_->set_option(asio::ip::tcp::no_delay(true), ignore);
        self->pipeUp();
        self->pipeDown();
    });
}

void MqttLink::pipeUp() {
    if (reading_up_ || !loop_ || !loop_->is_open()) {
        return;
    }
    reading_up_ = true;
    std::weak_ptr<MqttLink> weak = weak_from_this();
    const uint64_t conn = conn_;
    loop_->async_read_some(asio::buffer(rbuf_), [weak, conn](std::error_code ec, size_t n) {
        auto self = weak.lock();
        if (!self || self->conn_ != conn) {
            return;
        }
        self->reading_up_ = false;
        if (ec) {
            self->onLoopbackClosed();
            return;
        }
        std::string bytes(self->rbuf_.data(), n);
        if (!self->sniffed_) {
            self->sniffConnect(bytes);
        }
        if (self->host_) {
            self->host_->send(std::move(bytes));
        }
        self->pipeUp();
    });
}

void MqttLink::pipeDown() {
    if (host_) {
        // Take all the broker sent, whatever Paho is doing: the broker's socket is always read,
        // so its close is seen at once, as a module's TCP stack sees its peer go.
        to_paho_ += host_->take(HostSocket::kMaxBuffered);
    }
    if (writing_down_ || !loop_ || !loop_->is_open()) {
        return;
    }
    down_ = std::move(to_paho_);
    to_paho_.clear();
    if (down_.empty()) {
        if (host_closed_) {
            // Everything the broker sent is with Paho: now it sees the end of the stream.
            std::error_code ignore;
            loop_->shutdown(asio::ip::tcp::socket::shutdown_send, ignore);
        }
        return;
    }
    if (!connack_rc_ && down_.size() >= 4 && static_cast<unsigned char>(down_[0]) == 0x20) {
        connack_rc_ = static_cast<unsigned char>(down_[3]);
    }
    writing_down_ = true;
    std::weak_ptr<MqttLink> weak = weak_from_this();
    const uint64_t conn = conn_;
    asio::async_write(*loop_, asio::buffer(down_), [weak, conn](std::error_code ec, size_t) {
        auto self = weak.lock();
        if (!self || self->conn_ != conn) {
            return;
        }
        self->writing_down_ = false;
        self->down_.clear();
        if (ec) {
            self->onLoopbackClosed();
            return;
        }
        self->pipeDown();
    });
}

void MqttLink::sniffConnect(const std::string& bytes) {
    // CONNECT: 0x10, remaining length (1-4 bytes), protocol name (2-byte length + text), level.
    sniff_ += bytes;
    const auto b = [this](size_t i) { return static_cast<unsigned char>(sniff_[i]); };
    if (sniff_.empty() || b(0) != 0x10) {
        sniffed_ = true;
        return;
    }
    size_t i = 1;
    while (i < sniff_.size() && i < 5 && (b(i) & 0x80) != 0) {
        ++i;
    }
    ++i;  // past the last length byte
    if (sniff_.size() < i + 2) {
        return;
    }
    const size_t name_len = (static_cast<size_t>(b(i)) << 8) | b(i + 1);
    if (sniff_.size() < i + 2 + name_len + 1) {
        return;
    }
    sent_protocol_name_ = sniff_.substr(i + 2, name_len);
    sent_protocol_level_ = b(i + 2 + name_len);
    sniffed_ = true;
    sniff_.clear();
}

}  // namespace uplinkd::emulator
