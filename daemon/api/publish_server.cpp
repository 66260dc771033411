// SPDX-License-Identifier: Apache-2.0
#include "api/publish_server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <vector>

#include "api/peer.hpp"
#include "api/protocol.hpp"
#include "api/request_framer.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd::api {

using nlohmann::json;

namespace {
// Replies gathered into one write (the kernel takes up to 1024 buffers per writev).
constexpr size_t kMaxRepliesPerWrite = 256;
}  // namespace

/// One connected local application.
class PublishServer::Client : public std::enable_shared_from_this<Client> {
  public:
    Client(PublishServer& server, asio::local::stream_protocol::socket socket)
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

    void start() { read(); }

    /// Tells the client why, then closes (at the latest a few seconds later if it does not read).
    void finish(const std::string& code, const std::string& message) {
        closeAfter(errorReply(nullptr, makeError(code, message)));
    }

    /// Sends `reply`, then closes (at the latest a few seconds later if the client does not read).
    void closeAfter(std::string reply) {
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

    void send(std::string data) {
        if (closed_) {
            return;
        }
        out_bytes_ += data.size();
        out_.push_back(std::move(data));
        if (!writing_) {
            writeNext();
        }
    }

    void close() {
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

    const std::set<std::pair<std::string, std::string>>& subscriptions() const { return subs_; }
    const std::string& peer() const { return peer_; }

  private:
    bool throttled() const {
        return pending_ >= server_.options_.max_pending_per_client ||
               out_bytes_ >= server_.options_.max_output_bytes;
    }

    /// Forgets the unfinished line or payload (and the line's share of the server's buffered
    /// input).
    void dropPartial() {
        framer_ = RequestFramer(server_.options_.max_line_bytes);
        counted_publish_.reset();
        releaseKept();
        server_.buffered_input_ -= partial_;
        partial_ = 0;
    }

    /// The payload being received is complete or dropped: its bytes leave the server's count.
    void releaseKept() {
        server_.payloads_in_progress_ -= kept_;
        kept_ = 0;
    }

    /// After input arrived: account for the unfinished line, enforce the global cap and the
    /// deadline for finishing a line.
    void afterInput(bool line_ended) {
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

    void disarmLineTimer() {
        ++line_generation_;
        line_timer_armed_ = false;
        line_timer_.cancel();
    }

    /// The unfinished line must end within partial_line_timeout_ms.
    void armLineTimer() {
        line_timer_armed_ = true;
        const uint64_t generation = ++line_generation_;
        line_timer_.expires_after(
            std::chrono::milliseconds(server_.options_.partial_line_timeout_ms));
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
                const std::string ms =
                    std::to_string(self->server_.options_.partial_line_timeout_ms);
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

    void read() {
        if (reading_ || closed_ || closing_ || throttled()) {
            return;
        }
        reading_ = true;
        socket_.async_read_some(
            asio::buffer(buf_), [self = shared_from_this()](asio::error_code ec, size_t n) {
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
                            nullptr,
                            makeError("line_too_long",
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

    void writeNext() {
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

    /// Answers one request line; says what follows it on the wire.
    RequestFramer::After handleLine(std::string_view line) {
        json id;
        Framing framing;
        auto req = parseRequest(line, id, server_.options_.max_message_bytes, framing);
        if (!req) {
            if (framing.next == Framing::Next::Unknown) {
                stop_reply_ = errorReply(id, req.error());  // sent, then the connection closes
                return RequestFramer::After::stop();
            }
            send(errorReply(id, req.error()));
            return framing.next == Framing::Next::Skip ? RequestFramer::After::skip(framing.length)
                                                       : RequestFramer::After::line();
        }
        if (auto st = permitted(*req); !st) {
            send(errorReply(req->id, st.error()));
            return framing.next == Framing::Next::Body ? RequestFramer::After::skip(framing.length)
                                                       : RequestFramer::After::line();
        }
        if (framing.next == Framing::Next::Body) {
            // The payloads being received, of all clients together, stay within one message of
            // the largest size: many clients announcing large payloads at once cannot take the
            // gateway's memory. The one over it is skipped by count and may come again.
            const uint64_t budget = server_.options_.max_message_bytes;
            if (framing.length > budget - server_.payloads_in_progress_) {
                send(errorReply(
                    req->id, makeError("busy",
                                       "payloads being received from all clients would hold more "
                                       "than " +
                                           std::to_string(budget) +
                                           " bytes (api.max_message_bytes); this one of " +
                                           std::to_string(framing.length) +
                                           " bytes was skipped: send it again once the other "
                                           "large publishes were answered")));
                return RequestFramer::After::skip(framing.length);
            }
            server_.payloads_in_progress_ += framing.length;
            kept_ = framing.length;
            counted_publish_ = std::move(*req);  // published once its payload is here
            return RequestFramer::After::keep(framing.length);
        }
        dispatch(std::move(*req));
        return RequestFramer::After::line();
    }

    /// Carries out one permitted request.
    void dispatch(Request&& req) {
        switch (req.op) {
            case Op::Publish:
                publish(std::move(req));
                break;
            case Op::Subscribe:
                subscribe(req);
                break;
            case Op::Unsubscribe:
                unsubscribe(req);
                break;
            case Op::Status: {
                auto st = server_.backend_.status(req.route);
                send(st ? okReply(req.id, json{{"routes", *st}}) : errorReply(req.id, st.error()));
                break;
            }
            case Op::Ping:
                send(okReply(req.id));
                break;
            case Op::Hello:
                send(okReply(req.id, json{{"server", "uplinkd"}, {"protocol", kProtocolVersion}}));
                break;
            case Op::ModemInfo:
                server_.backend_.modemInfo(
                    req.uplink, [self = shared_from_this(), id = req.id](Result<json> r) {
                        if (!self->alive_.expired()) {
                            self->send(r ? okReply(id, json{{"modem", *r}})
                                         : errorReply(id, r.error()));
                        }
                    });
                break;
            case Op::ModemAt:
                modemAt(req);
                break;
            case Op::Doctor:
                server_.backend_.doctor(req.route,
                                        [self = shared_from_this(), id = req.id](Result<json> r) {
                                            if (!self->alive_.expired()) {
                                                self->send(r ? okReply(id, json{{"report", *r}})
                                                             : errorReply(id, r.error()));
                                            }
                                        });
                break;
            case Op::DeadLetter:
                server_.backend_.deadLetters(
                    req.action, req.route, req.seq, req.all,
                    [self = shared_from_this(), id = req.id](Result<json> r) {
                        if (!self->alive_.expired()) {
                            self->send(r ? okReply(id, *r) : errorReply(id, r.error()));
                        }
                    });
                break;
        }
    }

    /// The ACL's answer for this client and request (always yes without an ACL).
    Status permitted(const Request& req) {
        const auto& acl = server_.options_.acl;
        if (!acl || !acl->enabled()) {
            return {};
        }
        if (!peer_resolved_) {
            peer_info_ = resolvePeer(uid_, gid_);
            peer_resolved_ = true;
        }
        switch (req.op) {
            case Op::Publish:
                return acl->mayPublish(peer_info_, req.message.route, req.message.topic);
            case Op::Subscribe:
                return acl->maySubscribe(peer_info_, req.route, req.filter);
            case Op::Status:
            case Op::Doctor:  // whoever may read the status may ask why a route is not online
                return acl->mayUse(peer_info_, "status");
            case Op::ModemInfo:
                return acl->mayUse(peer_info_, "modem_info");
            case Op::DeadLetter:
                return acl->mayUse(peer_info_, "deadletter");
            default:  // ping, hello, unsubscribe; modem_at has its own rule
                return {};
        }
    }

    void modemAt(const Request& req) {
        // Raw AT commands can change the module's settings: root and uplinkd's own user only.
        if (uid_ != 0 && uid_ != ::geteuid()) {
            send(errorReply(req.id, makeError("forbidden",
                                              "modem_at is only for root and the user uplinkd "
                                              "runs as (it can change the module's settings)")));
            return;
        }
        server_.backend_.modemAt(
            req.uplink, req.command, req.timeout_ms,
            [self = shared_from_this(), id = req.id](Result<json> r) {
                if (!self->alive_.expired()) {
                    self->send(r ? okReply(id, *r) : errorReply(id, r.error()));
                }
            });
    }

    void publish(Request req) {
        ++pending_;
        const std::string route = req.message.route;
        server_.backend_.publish(std::move(req.message),
                                 [self = shared_from_this(), id = req.id, want = req.want_delivered,
                                  route](Result<uint64_t> r) {
                                     if (self->alive_.expired()) {
                                         return;
                                     }
                                     --self->pending_;
                                     if (!r) {
                                         self->send(errorReply(id, r.error()));
                                     } else {
                                         if (want) {
                                             self->server_.waiting_[route][*r] = {self, id};
                                         }
                                         self->send(queuedReply(id, *r));
                                     }
                                     self->read();
                                 });
    }

    void subscribe(const Request& req) {
        const auto key = std::make_pair(req.route, req.filter);
        if (subs_.count(key) == 0) {
            auto& count = server_.sub_counts_[key];
            if (count == 0) {
                if (auto st = server_.backend_.subscribe(req.route, req.filter, req.qos); !st) {
                    server_.sub_counts_.erase(key);
                    send(errorReply(req.id, st.error()));
                    return;
                }
            }
            ++count;
            subs_.insert(key);
        }
        send(okReply(req.id, json{{"route", req.route}, {"filter", req.filter}}));
    }

    void unsubscribe(const Request& req) {
        const auto key = std::make_pair(req.route, req.filter);
        if (subs_.erase(key) > 0) {
            server_.dropSubscription(key);
        }
        send(okReply(req.id));
    }

    PublishServer& server_;
    asio::local::stream_protocol::socket socket_;
    RequestFramer framer_;
    std::optional<Request> counted_publish_;  ///< a publish whose payload is being received
    uint64_t kept_ = 0;       ///< its announced bytes, counted in server_.payloads_in_progress_
    std::string stop_reply_;  ///< the error before closing, when the input cannot be followed
    std::weak_ptr<bool> alive_;
    std::array<char, 64 * 1024> buf_{};
    std::deque<std::string> out_;
    std::vector<asio::const_buffer> write_buffers_;  ///< the replies of the write under way
    size_t out_bytes_ = 0;
    size_t pending_ = 0;
    bool reading_ = false;
    bool writing_ = false;
    bool closed_ = false;
    bool closing_ = false;  ///< told why, closing once that is written
    bool counted_ = false;  ///< counts in server_.per_uid_
    std::string peer_;
    uid_t uid_ = static_cast<uid_t>(-1);
    gid_t gid_ = static_cast<gid_t>(-1);
    bool peer_resolved_ = false;
    Peer peer_info_;                 ///< for the ACL, resolved on first use
    asio::steady_timer line_timer_;  ///< the unfinished line's deadline, or finish()'s
    bool line_timer_armed_ = false;
    uint64_t line_generation_ = 0;  ///< tells a stale deadline from the current one
    size_t partial_ = 0;  ///< bytes of the unfinished line counted in server_.buffered_input_
    std::set<std::pair<std::string, std::string>> subs_;

    friend class PublishServer;
};

PublishServer::PublishServer(asio::io_context& loop, ServerOptions options, ApiBackend& backend)
    : loop_(loop),
      options_(std::move(options)),
      backend_(backend),
      acceptor_(loop),
      accept_retry_(loop) {}

PublishServer::~PublishServer() {
    alive_.reset();
    asio::error_code ignored;
    accept_retry_.cancel();
    acceptor_.close(ignored);
    for (auto& [raw, c] : clients_) {
        c->closed_ = true;
        c->socket_.close(ignored);
        c->line_timer_.cancel();
    }
    clients_.clear();
    socket_path_.reset();  // unlinks the socket if it is still ours
}

Result<std::unique_ptr<PublishServer>> PublishServer::start(asio::io_context& loop,
                                                            ServerOptions options,
                                                            ApiBackend& backend) {
    std::unique_ptr<PublishServer> s(new PublishServer(loop, std::move(options), backend));
    const ServerOptions& o = s->options_;
    auto bound = SocketPath::bind(s->acceptor_, o.path, o.mode, o.group);
    if (!bound) {
        return bound.failure();
    }
    s->socket_path_ = std::move(bound.value());
    s->accept();
    return s;
}

void PublishServer::accept() {
    std::weak_ptr<bool> alive = alive_;
    acceptor_.async_accept(
        [this, alive](asio::error_code ec, asio::local::stream_protocol::socket socket) {
            if (alive.expired() || ec == asio::error::operation_aborted) {
                return;
            }
            if (ec == asio::error::no_descriptors || ec.value() == ENFILE ||
                ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
                acceptBackoff(ec);
                return;
            }
            if (!ec) {
                if (accept_backoff_ms_ != 0) {
                    accept_backoff_ms_ = 0;
                    logNotice("api: accepting connections again");
                }
                admit(std::make_shared<Client>(*this, std::move(socket)));
            }
            accept();
        });
}

void PublishServer::admit(const std::shared_ptr<Client>& c) {
    clients_[c.get()] = c;
    logDebug("api: client connected (" + c->peer() + ")");
    size_t& count = per_uid_[c->uid_];
    if (count >= options_.max_connections_per_uid) {
        if (uids_at_limit_.insert(c->uid_).second) {
            logWarning("api: uid " + std::to_string(c->uid_) + " has " + std::to_string(count) +
                       " connections, the most api.max_connections_per_uid allows; refusing more "
                       "until some close");
        }
        c->finish("too_many_connections",
                  "uid " + std::to_string(c->uid_) + " already has " + std::to_string(count) +
                      " connections to uplinkd (api.max_connections_per_uid)");
        return;
    }
    ++count;
    c->counted_ = true;
    c->start();
}

void PublishServer::acceptBackoff(const asio::error_code& ec) {
    if (accept_backoff_ms_ == 0) {
        accept_backoff_ms_ = 100;
        logWarning("api: cannot accept connections (" + ec.message() + ", " +
                   std::to_string(clients_.size()) +
                   " clients connected); retrying with a back-off up to 1 s, connected clients "
                   "are still served");
    } else {
        accept_backoff_ms_ = std::min(accept_backoff_ms_ * 2, 1000);
        logDebug("api: accept still failing (" + ec.message() + "); next try in " +
                 std::to_string(accept_backoff_ms_) + " ms");
    }
    std::weak_ptr<bool> alive = alive_;
    accept_retry_.expires_after(std::chrono::milliseconds(accept_backoff_ms_));
    accept_retry_.async_wait([this, alive](asio::error_code wec) {
        if (!wec && !alive.expired()) {
            accept();
        }
    });
}

void PublishServer::dropSubscription(const std::pair<std::string, std::string>& key) {
    auto it = sub_counts_.find(key);
    if (it != sub_counts_.end() && --it->second <= 0) {
        sub_counts_.erase(it);
        backend_.unsubscribe(key.first, key.second);
    }
}

void PublishServer::removeClient(Client* c) {
    auto it = clients_.find(c);
    if (it == clients_.end()) {
        return;
    }
    auto keep = it->second;
    clients_.erase(it);
    if (keep->counted_) {
        keep->counted_ = false;
        size_t left = 0;
        if (auto n = per_uid_.find(keep->uid_); n != per_uid_.end()) {
            left = --n->second;
            if (left == 0) {
                per_uid_.erase(n);
            }
        }
        if (left < options_.max_connections_per_uid) {
            uids_at_limit_.erase(keep->uid_);
        }
    }
    for (const auto& key : keep->subs_) {
        dropSubscription(key);
    }
    keep->subs_.clear();
}

void PublishServer::delivered(const std::string& route, uint64_t seq) {
    auto r = waiting_.find(route);
    if (r == waiting_.end()) {
        return;
    }
    auto it = r->second.find(seq);
    if (it == r->second.end()) {
        return;
    }
    if (auto c = it->second.first.lock()) {
        c->send(deliveredReply(it->second.second, seq));
    }
    r->second.erase(it);
}

void PublishServer::incoming(const IncomingMessage& msg) {
    for (auto& [raw, c] : clients_) {
        for (const auto& [route, filter] : c->subscriptions()) {
            if (route == msg.route && topicMatches(filter, msg.topic)) {
                c->send(messageEvent(msg, filter));
                break;  // one event per client and message
            }
        }
    }
}

}  // namespace uplinkd::api
