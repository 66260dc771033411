// SPDX-License-Identifier: Apache-2.0
// PublishServer::Client: one connected local application. A private header of the local API's
// server (not installed). Its connection's I/O and limits (reading, framing, writing, deadlines)
// are in publish_client_io.cpp; what each request does (permissions, publish, subscriptions, the
// backend's queries) in publish_client_requests.cpp. Thread: loop.
#pragma once

#include <sys/types.h>

#include <array>
#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/protocol.hpp"
#include "api/publish_server.hpp"
#include "api/request_framer.hpp"
#include "core/acl.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::api {

/// One connected local application.
class PublishServer::Client : public std::enable_shared_from_this<Client> {
  public:
    Client(PublishServer& server, asio::local::stream_protocol::socket socket);
    void start();
    /// Tells the client why, then closes (at the latest a few seconds later if it does not read).
    void finish(const std::string& code, const std::string& message);
    /// Sends `reply`, then closes (at the latest a few seconds later if the client does not read).
    void closeAfter(std::string reply);
    void send(std::string data);
    void close();

    const std::set<std::pair<std::string, std::string>>& subscriptions() const { return subs_; }
    const std::string& peer() const { return peer_; }

  private:
    bool throttled() const;
    /// Forgets the unfinished line or payload (and the line's share of the server's buffered
    /// input).
    void dropPartial();
    /// The payload being received is complete or dropped: its bytes leave the server's count.
    void releaseKept();
    /// After input arrived: account for the unfinished line, enforce the global cap and the
    /// deadline for finishing a line.
    void afterInput(bool line_ended);
    void disarmLineTimer();
    /// The unfinished line must end within partial_line_timeout_ms.
    void armLineTimer();
    void read();
    void writeNext();

    /// Answers one request line; says what follows it on the wire.
    RequestFramer::After handleLine(std::string_view line);
    /// Carries out one permitted request.
    void dispatch(Request&& req);
    /// The ACL's answer for this client and request (always yes without an ACL).
    Status permitted(const Request& req);
    void modemAt(const Request& req);
    /// What sends a backend's later answer to request `id`: its fields as they are (`field`
    /// empty) or under `field`, or its error; nothing once the server is gone.
    std::function<void(Result<nlohmann::json>)> answer(nlohmann::json id, std::string field);
    void publish(Request req);
    void subscribe(const Request& req);
    void unsubscribe(const Request& req);

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

}  // namespace uplinkd::api
