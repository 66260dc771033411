// SPDX-License-Identifier: Apache-2.0
#include "api/publish_server.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <utility>

#include "api/protocol.hpp"
#include "api/publish_client.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd::api {

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
