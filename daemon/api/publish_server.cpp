#include "api/publish_server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>

#include "api/line_framer.hpp"
#include "api/protocol.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd::api {

using nlohmann::json;

/// One connected local application.
class PublishServer::Client : public std::enable_shared_from_this<Client> {
  public:
    Client(PublishServer& server, asio::local::stream_protocol::socket socket)
        : server_(server),
          socket_(std::move(socket)),
          framer_(server.options_.max_line_bytes),
          alive_(server.alive_) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            peer_ = "pid " + std::to_string(cred.pid) + " uid " + std::to_string(cred.uid);
            uid_ = cred.uid;
        }
    }

    void start() { read(); }

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
        server_.removeClient(this);
    }

    const std::set<std::pair<std::string, std::string>>& subscriptions() const { return subs_; }
    const std::string& peer() const { return peer_; }

  private:
    bool throttled() const {
        return pending_ >= server_.options_.max_pending_per_client ||
               out_bytes_ >= server_.options_.max_output_bytes;
    }

    void read() {
        if (reading_ || closed_ || throttled()) {
            return;
        }
        reading_ = true;
        socket_.async_read_some(
            asio::buffer(buf_), [self = shared_from_this()](asio::error_code ec, size_t n) {
                self->reading_ = false;
                if (self->alive_.expired() || self->closed_) {
                    return;
                }
                if (ec) {
                    self->close();
                    return;
                }
                self->framer_.feed(
                    std::string_view(self->buf_.data(), n),
                    [&](std::string_view line) { self->handleLine(line); },
                    [&] {
                        self->send(errorReply(
                            nullptr,
                            makeError("line_too_long",
                                      "request longer than " +
                                          std::to_string(self->server_.options_.max_line_bytes) +
                                          " bytes; skipped up to its newline")));
                    });
                self->read();
            });
    }

    void writeNext() {
        if (out_.empty() || closed_) {
            writing_ = false;
            return;
        }
        writing_ = true;
        asio::async_write(socket_, asio::buffer(out_.front()),
                          [self = shared_from_this()](asio::error_code ec, size_t n) {
                              if (self->alive_.expired() || self->closed_) {
                                  return;
                              }
                              if (ec) {
                                  self->close();
                                  return;
                              }
                              self->out_bytes_ -= n;
                              self->out_.pop_front();
                              self->writeNext();
                              self->read();  // output drained: may resume reading
                          });
    }

    void handleLine(std::string_view line) {
        json id;
        auto req = parseRequest(line, id);
        if (!req) {
            send(errorReply(id, req.error()));
            return;
        }
        switch (req->op) {
            case Op::Publish:
                publish(std::move(*req));
                break;
            case Op::Subscribe:
                subscribe(*req);
                break;
            case Op::Unsubscribe:
                unsubscribe(*req);
                break;
            case Op::Status: {
                auto st = server_.backend_.status(req->route);
                send(st ? okReply(req->id, json{{"routes", *st}})
                        : errorReply(req->id, st.error()));
                break;
            }
            case Op::Ping:
                send(okReply(req->id));
                break;
            case Op::Hello:
                send(okReply(req->id, json{{"server", "uplinkd"}, {"protocol", kProtocolVersion}}));
                break;
            case Op::ModemInfo:
                server_.backend_.modemInfo(
                    req->uplink, [self = shared_from_this(), id = req->id](Result<json> r) {
                        if (!self->alive_.expired()) {
                            self->send(r ? okReply(id, json{{"modem", *r}})
                                         : errorReply(id, r.error()));
                        }
                    });
                break;
            case Op::ModemAt:
                modemAt(*req);
                break;
            case Op::DeadLetter:
                server_.backend_.deadLetters(
                    req->action, req->route, req->seq, req->all,
                    [self = shared_from_this(), id = req->id](Result<json> r) {
                        if (!self->alive_.expired()) {
                            self->send(r ? okReply(id, *r) : errorReply(id, r.error()));
                        }
                    });
                break;
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
    LineFramer framer_;
    std::weak_ptr<bool> alive_;
    std::array<char, 64 * 1024> buf_{};
    std::deque<std::string> out_;
    size_t out_bytes_ = 0;
    size_t pending_ = 0;
    bool reading_ = false;
    bool writing_ = false;
    bool closed_ = false;
    std::string peer_;
    uid_t uid_ = static_cast<uid_t>(-1);
    std::set<std::pair<std::string, std::string>> subs_;

    friend class PublishServer;
};

PublishServer::PublishServer(asio::io_context& loop, ServerOptions options, ApiBackend& backend)
    : loop_(loop), options_(std::move(options)), backend_(backend), acceptor_(loop) {}

PublishServer::~PublishServer() {
    alive_.reset();
    asio::error_code ignored;
    acceptor_.close(ignored);
    for (auto& [raw, c] : clients_) {
        c->closed_ = true;
        c->socket_.close(ignored);
    }
    clients_.clear();
    ::unlink(options_.path.c_str());
}

Result<std::unique_ptr<PublishServer>> PublishServer::start(asio::io_context& loop,
                                                            ServerOptions options,
                                                            ApiBackend& backend) {
    std::unique_ptr<PublishServer> s(new PublishServer(loop, std::move(options), backend));
    const std::string& path = s->options_.path;
    std::error_code fec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), fec);
    // A socket file left by a previous run is replaced; anything else is not ours to delete.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return fail("api", path + " exists and is not a socket; not replacing it");
        }
        ::unlink(path.c_str());
    }
    asio::error_code ec;
    asio::local::stream_protocol::endpoint ep(path);
    s->acceptor_.open(ep.protocol(), ec);
    if (!ec)
        s->acceptor_.bind(ep, ec);
    if (!ec)
        s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return fail("api", "cannot listen on " + path + ": " + ec.message());
    }
    if (::chmod(path.c_str(), s->options_.mode) != 0) {
        return fail("api", "cannot set the mode of " + path + ": " + std::strerror(errno));
    }
    if (!s->options_.group.empty()) {
        group* g = ::getgrnam(s->options_.group.c_str());
        if (g == nullptr) {
            return fail("api", "api.socket_group: no group \"" + s->options_.group + "\"");
        }
        if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
            return fail("api", "cannot give " + path + " to group \"" + s->options_.group +
                                   "\": " + std::strerror(errno));
        }
    }
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
            if (!ec) {
                auto c = std::make_shared<Client>(*this, std::move(socket));
                clients_[c.get()] = c;
                logDebug("api: client connected (" + c->peer() + ")");
                c->start();
            }
            accept();
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
