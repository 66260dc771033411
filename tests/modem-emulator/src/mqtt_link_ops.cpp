// SPDX-License-Identifier: Apache-2.0
// MqttLink's operations: publish, (un)subscribe, disconnect, close, teardown, status; loop thread.
#include "mqtt_link.hpp"
#include "mqtt_link_paho.hpp"

namespace uplinkd::emulator {

uint64_t MqttLink::addOp(std::function<void(bool, int)> fn) {
    const uint64_t id = next_op_++;
    ops_.emplace(id, std::move(fn));
    return id;
}

void MqttLink::completeOp(uint64_t conn, uint64_t id, bool ok, int code) {
    if (conn != conn_) {
        return;
    }
    auto it = ops_.find(id);
    if (it == ops_.end()) {
        return;
    }
    auto fn = std::move(it->second);
    ops_.erase(it);
    fn(ok, code);
}

void MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                       Done done) {
    if (state_ != State::Connected) {
        asio::post(io_, [done] { done(false, "not connected"); });
        return;
    }
    const uint64_t id = addOp([this, done](bool ok, int code) {
        if (ok) {
            ++published_;
        }
        done(ok, ok ? std::string() : "publish failed (code " + std::to_string(code) + ")");
    });
    pahoWorker().post([p = paho_, b = bridge_, conn = conn_, id, topic, payload, qos, retain] {
        try {
            p->client->publish(topic, payload.data(), payload.size(), qos, retain,
                               reinterpret_cast<void*>(static_cast<uintptr_t>(id)), *p->listener);
        } catch (const mqtt::exception& e) {
            b->post([conn, id](MqttLink& l) { l.completeOp(conn, id, false, -1); });
        }
    });
}

void MqttLink::subscribe(const std::string& filter, int qos, SubscribeDone done) {
    if (state_ != State::Connected) {
        asio::post(io_, [done] { done(-1); });
        return;
    }
    const uint64_t id = addOp([done](bool, int code) { done(code); });
    pahoWorker().post([p = paho_, b = bridge_, conn = conn_, id, filter, qos] {
        try {
            p->client->subscribe(filter, qos, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                                 *p->listener);
        } catch (const mqtt::exception&) {
            b->post([conn, id](MqttLink& l) { l.completeOp(conn, id, false, -1); });
        }
    });
}

void MqttLink::unsubscribe(const std::string& filter, Done done) {
    if (state_ != State::Connected) {
        asio::post(io_, [done] { done(false, "not connected"); });
        return;
    }
    const uint64_t id =
        addOp([done](bool ok, int) { done(ok, ok ? std::string() : "unsubscribe failed"); });
    pahoWorker().post([p = paho_, b = bridge_, conn = conn_, id, filter] {
        try {
            p->client->unsubscribe(filter, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                                   *p->listener);
        } catch (const mqtt::exception&) {
            b->post([conn, id](MqttLink& l) { l.completeOp(conn, id, false, -1); });
        }
    });
}

void MqttLink::disconnect(Done done) {
    if (state_ != State::Connected) {
        teardown(false);
        asio::post(io_, [done] { done(true, {}); });
        return;
    }
    state_ = State::Disconnecting;
    disconnect_done_ = std::move(done);
    std::weak_ptr<MqttLink> weak = weak_from_this();
    const uint64_t conn = conn_;
    // Paho closes its socket after the DISCONNECT: the end of the loopback stream (all bytes
    // piped) finishes; the token itself may complete before the bytes were read.
    const uint64_t id = addOp([](bool, int) {});
    timer_.expires_after(kDrainTime);
    timer_.async_wait([weak, conn](std::error_code e) {
        auto self = weak.lock();
        if (!e && self && self->conn_ == conn) {
            self->finishDisconnect();
        }
    });
    pahoWorker().post([p = paho_, b = bridge_, conn, id] {
        try {
            p->client->disconnect(0, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                                  *p->listener);
        } catch (const mqtt::exception&) {
            b->post([conn, id](MqttLink& l) { l.completeOp(conn, id, false, -1); });
        }
    });
}

void MqttLink::finishDisconnect() {
    if (state_ != State::Disconnecting) {
        return;
    }
    auto done = std::move(disconnect_done_);
    disconnect_done_ = nullptr;
    if (host_) {
        // The DISCONNECT may still be queued: it must reach the broker (no will message).
        host_->closeWhenSent();
        host_.reset();
    }
    teardown(false);
    if (done) {
        done(true, {});
    }
}

void MqttLink::close() {
    open_done_ = nullptr;
    connect_done_ = nullptr;
    disconnect_done_ = nullptr;
    teardown(false);
}

void MqttLink::dropAsRemote() {
    if (host_) {
        host_->dropAsRemote();
    }
}

void MqttLink::teardown(bool fail_ops) {
    ++conn_;  // events of this connection are stale from now on
    state_ = State::Idle;
    timer_.cancel();
    if (bridge_) {
        bridge_->cut();
        bridge_.reset();
    }
    std::error_code ignore;
    if (acceptor_) {
        acceptor_->close(ignore);
        acceptor_.reset();
    }
    if (loop_) {
        loop_->close(ignore);
        loop_.reset();
    }
    if (host_) {
        host_->close();
        host_.reset();
    }
    writing_down_ = false;
    reading_up_ = false;
    down_.clear();
    to_paho_.clear();
    if (paho_) {
        // Destroyed on the worker, never on the loop or under a Paho callback.
        pahoWorker().post([p = std::move(paho_)]() mutable { p.reset(); });
    }
    auto ops = std::move(ops_);
    ops_.clear();
    if (fail_ops) {
        for (auto& [id, fn] : ops) {
            fn(false, -1);
        }
    }
}

nlohmann::json MqttLink::status() const {
    nlohmann::json j;
    j["state"] = toString(state_);
    j["host"] = host_name_;
    j["port"] = host_port_;
    j["connect_protocol"] = sent_protocol_name_;
    j["connect_level"] = sent_protocol_level_;
    j["published"] = published_;
    j["received"] = received_;
    if (host_) {
        j["bytes_sent"] = host_->bytesSent();
        j["bytes_received"] = host_->bytesReceived();
    }
    return j;
}

}  // namespace uplinkd::emulator
