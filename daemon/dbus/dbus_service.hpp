// SPDX-License-Identifier: Apache-2.0
// DbusService: the local API on D-Bus (io.uplinkd.Uplink1 at /io/uplinkd/Uplink1, docs/dbus.md).
// Publish, Subscribe and Unsubscribe call the same ApiBackend as the socket API; received
// messages, delivery reports and route states become signals. The bus connection is driven by
// the daemon's asio loop through sdbus-c++'s external event loop (its fd and timeout), so no
// thread of its own touches state. Calls are checked against the same ACL as the socket API,
// with the caller's uid from the bus. Thread: loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "api/publish_server.hpp"
#include "core/acl.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/result.hpp"

namespace sdbus {
class IConnection;
class Message;
}  // namespace sdbus

namespace uplinkd::dbus {

inline constexpr const char* kBusName = "io.uplinkd.Uplink1";
inline constexpr const char* kObjectPath = "/io/uplinkd/Uplink1";

/// "io.uplinkd.Error.<Code>" for an error code of the API ("unknown_route" → "UnknownRoute").
std::string errorName(const std::string& code);

class DbusService {
  public:
    /// Connects to `bus` ("system", "session" or a D-Bus address such as
    /// "unix:path=/run/x/bus") and owns the name. Fails, saying why, when the bus cannot be
    /// reached or the name is refused.
    static Result<std::unique_ptr<DbusService>> start(
        asio::io_context& loop, const std::string& bus, api::ApiBackend& backend,
        std::shared_ptr<const api::Acl> acl = nullptr);
    ~DbusService();
    DbusService(const DbusService&) = delete;
    DbusService& operator=(const DbusService&) = delete;

    /// The broker has message `seq` of `route`: DeliveryStatus, if it came over D-Bus.
    void delivered(const std::string& route, uint64_t seq);
    /// A message from the cloud: MessageReceived, if a D-Bus client subscribed to it.
    void incoming(const IncomingMessage& msg);
    /// RouteStateChanged; `uplink`: the uplink that carries the route, empty when none.
    void routeStateChanged(const std::string& route, const std::string& state,
                           const std::string& last_error, const std::string& uplink);

    /// A reloaded configuration's ACL, for calls from now on.
    void setAcl(std::shared_ptr<const api::Acl> acl) { acl_ = std::move(acl); }

    /// What `--dbus` said, for logs ("the system bus", "unix:path=...").
    const std::string& busDescription() const { return bus_description_; }

  private:
    class Adaptor;
    using Key = std::pair<std::string, std::string>;  ///< (route, filter)

    DbusService(asio::io_context& loop, api::ApiBackend& backend);
    Status connect(const std::string& bus);
    void publish(const std::string& sender, uint64_t call_id, Message msg);
    void finishPublish(uint64_t call_id, const std::string& route, Result<uint64_t> result);
    void deadLetters(uint64_t call_id, const std::string& action, const std::string& route,
                     uint64_t seq, bool all);
    /// Answers a pending DeadLetters or Doctor call (the JSON string or an error).
    void finishAnswer(uint64_t call_id, Result<std::string> answer);
    void doctor(uint64_t call_id, const std::string& route);
    /// The backend's callback for a pending DeadLetters or Doctor call: finishAnswer() with
    /// the JSON as a string, unless this service is gone by then.
    std::function<void(Result<nlohmann::json>)> answerLater(uint64_t call_id);
    Status subscribe(const std::string& sender, const std::string& route,
                     const std::string& filter);
    void unsubscribe(const std::string& sender, const std::string& route,
                     const std::string& filter);
    void dropSender(const std::string& sender);
    Result<std::string> statusJson();
    /// Who sent the call being processed, for the ACL (cached per unique name). Error
    /// "forbidden" when the bus does not say.
    Result<api::Peer> peerOf(const sdbus::Message& call);

    // Event-loop integration: run sd-bus until it has nothing to do, then wait on its fd (and
    // its timeout) again with fresh poll data.
    void process();
    void rearm();
    void kick();
    void connectionLost(const std::string& why);

    asio::io_context& loop_;
    api::ApiBackend& backend_;
    std::string bus_description_;
    // Declared first: destroyed last, after everything that refers to the connection.
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<Adaptor> adaptor_;
    std::shared_ptr<void> name_owner_watch_;  ///< sdbus::Slot of the NameOwnerChanged match
    asio::posix::stream_descriptor fd_;
    asio::steady_timer timeout_;
    uint64_t wait_generation_ = 0;
    bool kick_pending_ = false;
    bool lost_ = false;

    uint64_t next_call_id_ = 0;  ///< numbers Publish calls whose reply is pending (in adaptor_)
    std::map<std::string, std::set<uint64_t>> published_;  ///< route → seqs published over D-Bus
    std::map<std::string, std::set<Key>> subscriptions_;   ///< sender → what it subscribed to
    std::map<Key, int> key_counts_;                        ///< (route, filter) → senders
    std::shared_ptr<const api::Acl> acl_;                  ///< null: no ACL
    std::map<std::string, api::Peer> peers_;               ///< sender → who it is (ACL only)
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd::dbus
