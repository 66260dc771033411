// SPDX-License-Identifier: Apache-2.0
#include "mqtt_link.hpp"

#include <mqtt/async_client.h>
#include <openssl/crypto.h>

#include <mutex>

namespace uplinkd::emulator {

namespace {

/// Every Paho call of every link runs on this one thread, so neither the loop nor Paho's own
/// threads create, use or destroy a client under each other. Joined at exit.
class PahoWorker {
  public:
    ~PahoWorker() { pool_.join(); }
    void post(std::function<void()> fn) {
        asio::post(pool_, [fn = std::move(fn)] {
            fn();
            // Paho's client creation initialises OpenSSL, which keeps per-thread state; free
            // it now rather than at exit (after the leak check).
            OPENSSL_thread_stop();
        });
    }

  private:
    asio::thread_pool pool_{1};
};

PahoWorker& worker() {
    static PahoWorker w;
    return w;
}

constexpr uintptr_t kConnectOp = 0;

/// Time to wait, after the broker side closed, for Paho to report what it read before EOF.
constexpr std::chrono::milliseconds kDrainTime{3000};

}  // namespace

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

/// Carries Paho's callbacks (any thread) into the loop, for one connection; cut() (loop) stops
/// it. The posted handler runs on the loop and finds the link only while the cut has not run.
struct MqttLink::Bridge : std::enable_shared_from_this<Bridge> {
    std::mutex mu;
    asio::io_context* io = nullptr;
    MqttLink* link = nullptr;  // read and written on the loop only

    void post(std::function<void(MqttLink&)> fn) {
        std::lock_guard<std::mutex> lock(mu);
        if (io == nullptr) {
            return;
        }
        asio::post(*io, [self = shared_from_this(), fn = std::move(fn)] {
            if (self->link != nullptr) {
                fn(*self->link);
            }
        });
    }
    void cut() {
        std::lock_guard<std::mutex> lock(mu);
        io = nullptr;
        link = nullptr;
    }
};

/// The Paho client of one connection; touched on the worker thread only.
struct MqttLink::Paho {
    class Listener final : public mqtt::iaction_listener {
      public:
        using Fn = std::function<void(const mqtt::token&, bool ok)>;
        explicit Listener(Fn fn) : fn_(std::move(fn)) {}
        void on_success(const mqtt::token& tok) override { fn_(tok, true); }
        void on_failure(const mqtt::token& tok) override { fn_(tok, false); }

      private:
        Fn fn_;
    };

    // Declared before the client: tokens refer to the listener until the client is gone.
    std::unique_ptr<Listener> listener;
    std::unique_ptr<mqtt::connect_options> opts;
    std::unique_ptr<mqtt::async_client> client;
    mqtt::token_ptr connect_token;
};

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

void MqttLink::startPaho(MqttSession session) {
    bridge_ = std::make_shared<Bridge>();
    bridge_->io = &io_;
    bridge_->link = this;
    paho_ = std::make_shared<Paho>();
    const uint64_t conn = conn_;
    const std::string uri = "tcp://127.0.0.1:" + std::to_string(acceptor_->local_endpoint().port());
    worker().post([p = paho_, b = bridge_, conn, uri, s = std::move(session)] {
        p->listener = std::make_unique<Paho::Listener>([b, conn](const mqtt::token& tok, bool ok) {
            const auto op = reinterpret_cast<uintptr_t>(tok.get_user_context());
            if (op == kConnectOp) {
                const int rc = tok.get_return_code();
                b->post([conn, ok, rc](MqttLink& l) { l.pahoConnected(conn, ok, rc); });
                return;
            }
            int code = ok ? 0 : tok.get_return_code();
            if (tok.get_type() == mqtt::token::Type::SUBSCRIBE) {
                code = 0x80;
                if (ok) {
                    const mqtt::subscribe_response rsp = tok.get_subscribe_response();
                    const auto& codes = rsp.get_reason_codes();
                    code = codes.empty() ? 0x80 : static_cast<int>(codes.front());
                }
            }
            b->post([conn, op, ok, code](MqttLink& l) { l.completeOp(conn, op, ok, code); });
        });
        try {
            p->client = std::make_unique<mqtt::async_client>(uri, s.client_id,
                                                             mqtt::create_options(), nullptr);
            // Handlers before the first connect (Paho C++ 1.2 #356).
            p->client->set_connection_lost_handler([b, conn](const std::string& cause) {
                b->post([conn, cause](MqttLink& l) { l.pahoLost(conn, cause); });
            });
            p->client->set_message_callback([b, conn](mqtt::const_message_ptr m) {
                b->post([conn, topic = m->get_topic(), payload = m->get_payload_str(),
                         qos = m->get_qos(), retain = m->is_retained()](MqttLink& l) {
                    l.pahoMessage(conn, topic, payload, qos, retain);
                });
            });
            p->opts = std::make_unique<mqtt::connect_options>();
            mqtt::connect_options& o = *p->opts;
            o.set_mqtt_version(s.version == 3 ? MQTTVERSION_3_1 : MQTTVERSION_3_1_1);
            o.set_keep_alive_interval(s.keep_alive_s);
            o.set_clean_session(s.clean_session);
            o.set_automatic_reconnect(false);
            // The link's own timer decides; Paho's only has to be later.
            o.set_connect_timeout(
                std::chrono::duration_cast<std::chrono::seconds>(s.timeout).count() + 10);
            if (s.username) {
                o.set_user_name(*s.username);
            }
            if (s.password) {
                o.set_password(*s.password);
            }
            if (s.will) {
                o.set_will(mqtt::will_options(s.will->topic, s.will->payload, s.will->qos,
                                              s.will->retain));
            }
            p->connect_token =
                p->client->connect(o, reinterpret_cast<void*>(kConnectOp), *p->listener);
        } catch (const mqtt::exception& e) {
            b->post([conn, what = std::string(e.what())](MqttLink& l) {
                l.pahoStartFailed(conn, what);
            });
        }
    });
}

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

void MqttLink::pahoStartFailed(uint64_t conn, const std::string& what) {
    if (conn == conn_ && state_ == State::Connecting) {
        finishConnect({MqttConnectResult::Failed, 0, "MQTT client: " + what});
    }
}

void MqttLink::pahoConnected(uint64_t conn, bool ok, int rc) {
    if (conn != conn_ || state_ != State::Connecting) {
        return;
    }
    if (ok) {
        finishConnect({MqttConnectResult::Ok, 0, {}});
    } else if (connack_rc_ && *connack_rc_ != 0) {
        finishConnect({MqttConnectResult::ConnackRefused, *connack_rc_,
                       "CONNACK return code " + std::to_string(*connack_rc_)});
    } else if (rc >= 1 && rc <= 5) {
        finishConnect(
            {MqttConnectResult::ConnackRefused, rc, "CONNACK return code " + std::to_string(rc)});
    } else if (host_closed_ && !connack_rc_) {
        finishConnect({MqttConnectResult::ClosedWithoutConnack, 0,
                       "the broker closed the connection before CONNACK"});
    } else {
        finishConnect({MqttConnectResult::Failed, 0,
                       "MQTT connect failed (code " + std::to_string(rc) + ")"});
    }
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

void MqttLink::pahoLost(uint64_t conn, const std::string& cause) {
    if (conn != conn_ || state_ != State::Connected) {
        return;
    }
    if (host_closed_) {
        lose(MqttLostReason::PeerClosed, "the broker closed the connection");
    } else {
        lose(MqttLostReason::ClientClosed,
             cause.empty() ? "the MQTT client closed the connection" : cause);
    }
}

void MqttLink::lose(MqttLostReason reason, const std::string& detail) {
    auto cb = on_lost_;
    teardown(true);
    if (cb) {
        cb(reason, detail);
    }
}

void MqttLink::pahoMessage(uint64_t conn, const std::string& topic, const std::string& payload,
                           int qos, bool retain) {
    if (conn != conn_ || state_ != State::Connected) {
        return;
    }
    ++received_;
    if (on_message_) {
        auto cb = on_message_;
        cb(topic, payload, qos, retain);
    }
}

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
    worker().post([p = paho_, b = bridge_, conn = conn_, id, topic, payload, qos, retain] {
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
    worker().post([p = paho_, b = bridge_, conn = conn_, id, filter, qos] {
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
    worker().post([p = paho_, b = bridge_, conn = conn_, id, filter] {
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
    worker().post([p = paho_, b = bridge_, conn, id] {
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
        worker().post([p = std::move(paho_)]() mutable { p.reset(); });
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
