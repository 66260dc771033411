// SPDX-License-Identifier: Apache-2.0
// MqttLink's connection: open, connect, its outcome and its end (broker, Paho, lost); loop thread.
#include "mqtt_link.hpp"

#include "mqtt_link_paho.hpp"

namespace uplinkd::emulator {

const char* toString(MqttConnectResult r) {
    switch (r) {
        case MqttConnectResult::Ok:
            return "ok";
        case MqttConnectResult::Dns:
            return "dns";
        case MqttConnectResult::Refused:
            return "connection refused";
        case MqttConnectResult::Timeout:
            return "timeout";
        case MqttConnectResult::TlsInit:
            return "tls credentials";
        case MqttConnectResult::TlsHandshake:
            return "tls handshake";
        case MqttConnectResult::TlsVerify:
            return "tls certificate";
        case MqttConnectResult::ConnackRefused:
            return "connack refused";
        case MqttConnectResult::ClosedWithoutConnack:
            return "closed without connack";
        case MqttConnectResult::Failed:
            return "failed";
    }
    return "?";
}

const char* toString(MqttLostReason r) {
    return r == MqttLostReason::PeerClosed ? "peer closed" : "client closed";
}

const char* MqttLink::toString(State s) {
    switch (s) {
        case State::Idle:
            return "idle";
        case State::Opening:
            return "opening";
        case State::Open:
            return "open";
        case State::Connecting:
            return "connecting";
        case State::Connected:
            return "connected";
        case State::Disconnecting:
            return "disconnecting";
    }
    return "?";
}

MqttLink::MqttLink(asio::io_context& io) : io_(io), timer_(io) {}

MqttLink::~MqttLink() {
    close();
}

void MqttLink::open(const std::string& host, uint16_t port, TlsOptions tls,
                    std::chrono::milliseconds timeout, OpenDone done) {
    if (state_ != State::Idle) {
        asio::post(io_, [done] { done(ConnectError::Refused, "the link is already in use"); });
        return;
    }
    ++conn_;
    state_ = State::Opening;
    host_name_ = host;
    host_port_ = port;
    open_done_ = std::move(done);
    host_ = std::make_shared<HostSocket>(io_);
    std::weak_ptr<MqttLink> weak = weak_from_this();
    const uint64_t conn = conn_;
    host_->onData([weak, conn] {
        if (auto self = weak.lock(); self && self->conn_ == conn) {
            self->pipeDown();
        }
    });
    host_->onClosed([weak, conn] {
        if (auto self = weak.lock(); self && self->conn_ == conn) {
            self->onHostClosed();
        }
    });
    host_->connect(host, port, std::move(tls), timeout,
                   [weak, conn](ConnectError e, const std::string& detail) {
                       auto self = weak.lock();
                       if (!self || self->conn_ != conn || self->state_ != State::Opening) {
                           return;
                       }
                       auto cb = std::move(self->open_done_);
                       self->open_done_ = nullptr;
                       if (e == ConnectError::None) {
                           self->state_ = State::Open;
                       } else {
                           self->teardown(false);
                       }
                       if (cb) {
                           cb(e, detail);
                       }
                   });
}

void MqttLink::connect(const std::string& host, uint16_t port, TlsOptions tls, MqttSession session,
                       ConnectDone done) {
    const auto timeout = session.timeout;
    std::weak_ptr<MqttLink> weak = weak_from_this();
    open(host, port, std::move(tls), timeout,
         [weak, session = std::move(session), done](ConnectError e, const std::string& detail) {
             auto self = weak.lock();
             if (!self) {
                 return;
             }
             if (e != ConnectError::None) {
                 MqttConnectOutcome out;
                 switch (e) {
                     case ConnectError::Dns:
                         out.result = MqttConnectResult::Dns;
                         break;
                     case ConnectError::Refused:
                         out.result = MqttConnectResult::Refused;
                         break;
                     case ConnectError::Timeout:
                         out.result = MqttConnectResult::Timeout;
                         break;
                     case ConnectError::TlsInit:
                         out.result = MqttConnectResult::TlsInit;
                         break;
                     case ConnectError::TlsVerify:
                         out.result = MqttConnectResult::TlsVerify;
                         break;
                     case ConnectError::TlsHandshake:
                         out.result = MqttConnectResult::TlsHandshake;
                         break;
                     case ConnectError::None:
                         break;
                 }
                 out.detail = detail;
                 done(out);
                 return;
             }
             self->connect(session, done);
         });
}

void MqttLink::connect(MqttSession session, ConnectDone done) {
    auto fail = [this, &done](const std::string& why) {
        MqttConnectOutcome out{MqttConnectResult::Failed, 0, why};
        asio::post(io_, [done, out] { done(out); });
    };
    if (state_ != State::Open || !host_ || !host_->connected()) {
        fail(std::string("the network connection is ") + toString(state_));
        return;
    }
    std::error_code ec;
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor->open(ep.protocol(), ec);
    if (!ec) {
        acceptor->bind(ep, ec);
    }
    if (!ec) {
        acceptor->listen(1, ec);
    }
    if (ec) {
        fail("no loopback listener: " + ec.message());
        return;
    }
    acceptor_ = std::move(acceptor);
    state_ = State::Connecting;
    connect_done_ = std::move(done);
    connack_rc_.reset();
    host_closed_ = false;
    sniffed_ = false;
    sniff_.clear();
    acceptLoopback();

    std::weak_ptr<MqttLink> weak = weak_from_this();
    const uint64_t conn = conn_;
    timer_.expires_after(session.timeout);
    timer_.async_wait([weak, conn](std::error_code e) {
        auto self = weak.lock();
        if (e || !self || self->conn_ != conn || self->state_ != State::Connecting) {
            return;
        }
        self->finishConnect({MqttConnectResult::Timeout, 0, "no CONNACK in time"});
    });
    startPaho(std::move(session));
}

void MqttLink::finishConnect(MqttConnectOutcome outcome) {
    if (state_ != State::Connecting) {
        return;
    }
    timer_.cancel();
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (outcome.result == MqttConnectResult::Ok) {
        state_ = State::Connected;
        if (host_closed_) {
            // Gone right after CONNACK: the connect worked, the loss follows.
            asio::post(io_, [weak = weak_from_this(), conn = conn_] {
                if (auto self = weak.lock(); self && self->conn_ == conn) {
                    self->onHostClosed();
                }
            });
        }
    } else {
        teardown(false);
    }
    if (done) {
        done(outcome);
    }
}

void MqttLink::onHostClosed() {
    host_closed_ = true;
    switch (state_) {
        case State::Idle:
        case State::Opening:  // the connect handler reports it
            return;
        case State::Open:
            lose(MqttLostReason::PeerClosed, "the broker closed the connection");
            return;
        case State::Disconnecting:
            finishDisconnect();
            return;
        case State::Connecting:
        case State::Connected:
            break;
    }
    // Let Paho read what the broker sent before it closed (a CONNACK, last messages); it
    // then reports the end itself. The timer covers a Paho that does not.
    pipeDown();
    if (!loop_ || !loop_->is_open()) {
        if (state_ == State::Connecting && connack_rc_ && *connack_rc_ != 0) {
            // Paho already hung up on the refusal; its report may still be on its way.
            finishConnect({MqttConnectResult::ConnackRefused, *connack_rc_,
                           "CONNACK return code " + std::to_string(*connack_rc_)});
        } else if (state_ == State::Connecting) {
            finishConnect({MqttConnectResult::ClosedWithoutConnack, 0,
                           "the broker closed the connection before CONNACK"});
        } else {
            lose(MqttLostReason::PeerClosed, "the broker closed the connection");
        }
        return;
    }
    if (state_ == State::Connected) {
        std::weak_ptr<MqttLink> weak = weak_from_this();
        const uint64_t conn = conn_;
        timer_.expires_after(kDrainTime);
        timer_.async_wait([weak, conn](std::error_code e) {
            auto self = weak.lock();
            if (!e && self && self->conn_ == conn && self->state_ == State::Connected) {
                self->lose(MqttLostReason::PeerClosed, "the broker closed the connection");
            }
        });
    }
}

void MqttLink::onLoopbackClosed() {
    // Paho closed its end: after a failed connect, a lost connection or its DISCONNECT.
    std::error_code ignore;
    if (loop_) {
        loop_->close(ignore);
    }
    switch (state_) {
        case State::Connected:
            lose(host_closed_ ? MqttLostReason::PeerClosed : MqttLostReason::ClientClosed,
                 host_closed_ ? "the broker closed the connection"
                              : "the MQTT client closed the connection");
            return;
        case State::Disconnecting:
            finishDisconnect();
            return;
        case State::Connecting:
            // Paho's failure report says why; it follows on its own.
            return;
        default:
            return;
    }
}

void MqttLink::lose(MqttLostReason reason, const std::string& detail) {
    auto cb = on_lost_;
    teardown(true);
    if (cb) {
        cb(reason, detail);
    }
}

}  // namespace uplinkd::emulator
