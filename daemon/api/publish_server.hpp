// SPDX-License-Identifier: Apache-2.0
// PublishServer: the local API on a UNIX socket (docs/api.md). One JSON request per line,
// pipelined; answers tagged with the request id; subscriptions stream events. A malformed line
// gets an error for that line only. Back-pressure: a client with too many unanswered publishes
// or too much unread output is not read from until it catches up. Limits keep one client (or
// uid) from starving the others: connections per uid, a deadline for finishing a line, a cap on
// partial input buffered across all clients, and a back-off when accept() runs out of file
// descriptors. Requests are checked against the ACL (api/acl.hpp) when one is configured.
// A byte-counted publish is followed by its raw payload, read by count (api/request_framer.hpp).
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/acl.hpp"
#include "core/socket_path.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::api {

/// What the server asks of the rest of the daemon.
class ApiBackend {
  public:
    virtual ~ApiBackend() = default;
    /// Validates and stores a message; `done` gets the seq once it is durable.
    virtual void publish(Message msg, std::function<void(Result<uint64_t>)> done) = 0;
    /// Status of all routes (or one): the "routes" array of the status reply.
    virtual Result<nlohmann::json> status(const std::string& route) = 0;
    /// First local subscriber for (route, filter) appeared / last one left.
    virtual Status subscribe(const std::string& route, const std::string& filter, int qos) = 0;
    virtual void unsubscribe(const std::string& route, const std::string& filter) = 0;
    /// The dead letters (docs/api.md, op "deadletter"): `action` "list", "retry" or "drop", of
    /// `route` (empty: every route), one `seq` or `all`; `done` gets the reply's fields.
    virtual void deadLetters(const std::string& action, const std::string& route, uint64_t seq,
                             bool all, std::function<void(Result<nlohmann::json>)> done) {
        (void)action;
        (void)route;
        (void)seq;
        (void)all;
        done(fail("unsupported", "this server keeps no dead letters"));
    }
    /// Runs the doctor (docs/doctor.md) on `route` (empty: every route); `done` gets the report
    /// in its JSON form (schema "uplinkd.doctor/1"). Error "busy" while one runs on the route.
    virtual void doctor(const std::string& route,
                        std::function<void(Result<nlohmann::json>)> done) {
        (void)route;
        done(fail("unsupported", "this server has no doctor"));
    }
    /// The modem uplink `uplink` (empty: the only one): identity, SIM, network, supervisor.
    virtual void modemInfo(const std::string& uplink,
                           std::function<void(Result<nlohmann::json>)> done) {
        (void)uplink;
        done(fail("unsupported", "this server has no modem uplinks"));
    }
    /// Runs one AT command on the modem uplink `uplink` (empty: the only one).
    virtual void modemAt(const std::string& uplink, const std::string& command, int timeout_ms,
                         std::function<void(Result<nlohmann::json>)> done) {
        (void)uplink;
        (void)command;
        (void)timeout_ms;
        done(fail("unsupported", "this server has no modem uplinks"));
    }
};

struct ServerOptions {
    std::string path;
    uint32_t mode = 0660;
    std::string group;  ///< chgrp the socket to this group if set
    size_t max_line_bytes = 1024 * 1024;
    /// The largest payload a byte-counted publish may announce ("payload_length").
    uint64_t max_message_bytes = 256 * 1024 * 1024;
    size_t max_pending_per_client = 4096;  ///< publishes not yet answered "queued"
    size_t max_output_bytes = 8 * 1024 * 1024;
    size_t max_connections_per_uid = 64;  ///< more are told "too_many_connections" and closed
    /// Partial (unfinished) request lines held for all clients together; the client whose input
    /// goes over it is told "input_limit" and closed.
    size_t max_buffered_input_bytes = 16 * 1024 * 1024;
    /// A line must be finished this long after its first byte arrived, or the client is closed.
    int partial_line_timeout_ms = 60000;
    std::shared_ptr<const Acl> acl;  ///< null or without rules: everything allowed
};

class PublishServer {
  public:
    static Result<std::unique_ptr<PublishServer>> start(asio::io_context& loop,
                                                        ServerOptions options, ApiBackend& backend);
    ~PublishServer();

    /// The broker acknowledged message `seq` of `route`: tell whoever asked.
    void delivered(const std::string& route, uint64_t seq);
    /// A message arrived from a cloud: send it to matching subscribers.
    void incoming(const IncomingMessage& msg);
    size_t clientCount() const { return clients_.size(); }
    /// A reloaded configuration's ACL, for requests from now on.
    void setAcl(std::shared_ptr<const Acl> acl) { options_.acl = std::move(acl); }

  private:
    class Client;
    PublishServer(asio::io_context& loop, ServerOptions options, ApiBackend& backend);
    void accept();
    /// accept() failed for lack of descriptors or memory: wait, longer each time, then retry.
    void acceptBackoff(const asio::error_code& ec);
    /// A new client: served, or told it is over its uid's connection limit.
    void admit(const std::shared_ptr<Client>& c);
    void dropSubscription(const std::pair<std::string, std::string>& key);
    void removeClient(Client* c);

    asio::io_context& loop_;
    ServerOptions options_;
    ApiBackend& backend_;
    asio::local::stream_protocol::acceptor acceptor_;
    std::unique_ptr<SocketPath> socket_path_;
    asio::steady_timer accept_retry_;
    int accept_backoff_ms_ = 0;          ///< 0: accepting normally
    std::map<uid_t, size_t> per_uid_;    ///< connections being served, per uid
    std::set<uid_t> uids_at_limit_;      ///< logged as at the limit (once until one closes)
    size_t buffered_input_ = 0;          ///< partial lines of all clients
    uint64_t payloads_in_progress_ = 0;  ///< announced bytes of the payloads being received
    std::map<Client*, std::shared_ptr<Client>> clients_;
    /// route → seq → (client, request id) for "report_delivered".
    std::map<std::string, std::map<uint64_t, std::pair<std::weak_ptr<Client>, nlohmann::json>>>
        waiting_;
    /// (route, filter) → number of clients subscribed.
    std::map<std::pair<std::string, std::string>, int> sub_counts_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd::api
