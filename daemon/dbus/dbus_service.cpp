// SPDX-License-Identifier: Apache-2.0
#include "dbus/dbus_service.hpp"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "api/peer.hpp"
#include "api/protocol.hpp"
#include "dbus/dbus_adaptor.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd::dbus {

namespace {

/// Messages handled in one go before the rest of the loop gets a turn.
constexpr int kMaxBatch = 64;
/// DeliveryStatus is remembered for at most this many D-Bus publishes per route.
constexpr size_t kMaxTrackedPerRoute = 100000;

std::string describeBus(const std::string& bus) {
    if (bus == "system") {
        return "the system bus";
    }
    if (bus == "session") {
        return "the session bus";
    }
    return "the bus at " + bus;
}

}  // namespace

std::string errorName(const std::string& code) {
    std::string name;
    bool upper = true;
    for (const char c : code) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
            upper = true;
            continue;
        }
        name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        upper = false;
    }
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) != 0) {
        name = "Failed" + name;
    }
    return "io.uplinkd.Error." + name;
}

DbusService::DbusService(asio::io_context& loop, api::ApiBackend& backend)
    : loop_(loop), backend_(backend), fd_(loop), timeout_(loop) {}

DbusService::~DbusService() {
    alive_.reset();
    asio::error_code ignored;
    timeout_.cancel();
    fd_.close(ignored);
    // Replies still pending die with the connection; they must go before it.
    try {
        if (adaptor_) {
            adaptor_->results.clear();
            adaptor_->answers.clear();
        }
        name_owner_watch_.reset();
        adaptor_.reset();
        connection_.reset();
    } catch (const sdbus::Error& e) {
        logDebug("D-Bus: while closing: " + e.getMessage());
    }
}

Result<std::unique_ptr<DbusService>> DbusService::start(asio::io_context& loop,
                                                        const std::string& bus,
                                                        api::ApiBackend& backend,
                                                        std::shared_ptr<const api::Acl> acl) {
    std::unique_ptr<DbusService> s(new DbusService(loop, backend));
    s->acl_ = std::move(acl);
    if (auto st = s->connect(bus); !st) {
        return st.failure();
    }
    return s;
}

Status DbusService::connect(const std::string& bus) {
    bus_description_ = describeBus(bus);
    try {
        if (bus == "system") {
            connection_ = sdbus::createSystemBusConnection();
        } else if (bus == "session") {
            connection_ = sdbus::createSessionBusConnection();
        } else {
            connection_ = sdbus::createSessionBusConnectionWithAddress(bus);
        }
    } catch (const sdbus::Error& e) {
        return fail("dbus", "cannot connect to " + bus_description_ + ": " + e.getMessage());
    }
    try {
        connection_->requestName(kBusName);
    } catch (const sdbus::Error& e) {
        return fail("dbus", std::string("cannot own the name ") + kBusName + " on " +
                                bus_description_ + " (is another uplinkd running, or does the " +
                                "D-Bus policy not allow this user?): " + e.getMessage());
    }
    try {
        adaptor_ = std::make_unique<Adaptor>(*connection_, *this);
        // Subscriptions of a client end when it leaves the bus.
        sdbus::Slot slot = connection_->addMatch(
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
            "member='NameOwnerChanged',path='/org/freedesktop/DBus'",
            [this](sdbus::Message& m) {
                std::string name, old_owner, new_owner;
                m >> name >> old_owner >> new_owner;
                if (new_owner.empty() && name == old_owner) {
                    dropSender(name);
                }
            });
        name_owner_watch_ = std::shared_ptr<void>(std::move(slot));
        const auto poll = connection_->getEventLoopPollData();
        const int fd = ::dup(poll.fd);
        if (fd < 0) {
            return fail("dbus",
                        std::string("cannot watch the bus connection: ") + std::strerror(errno));
        }
        fd_.assign(fd);
    } catch (const sdbus::Error& e) {
        return fail("dbus", "cannot export " + std::string(kObjectPath) + " on " +
                                bus_description_ + ": " + e.getMessage());
    }
    process();
    return {};
}

// ---------------------------------------------------------------------------------------------
// Event loop

void DbusService::process() {
    if (lost_) {
        return;
    }
    try {
        for (int i = 0; i < kMaxBatch; ++i) {
            if (!connection_->processPendingRequest()) {
                rearm();
                return;
            }
        }
    } catch (const sdbus::Error& e) {
        connectionLost(e.getMessage());
        return;
    }
    // More is pending: let the rest of the loop run first.
    kick();
}

void DbusService::rearm() {
    sdbus::IConnection::PollData poll{};
    try {
        poll = connection_->getEventLoopPollData();
    } catch (const sdbus::Error& e) {
        connectionLost(e.getMessage());
        return;
    }
    const uint64_t generation = ++wait_generation_;
    fd_.cancel();
    timeout_.cancel();
    std::weak_ptr<bool> alive = alive_;
    auto on_ready = [this, alive, generation](asio::error_code ec) {
        if (alive.expired() || ec == asio::error::operation_aborted ||
            generation != wait_generation_) {
            return;
        }
        process();
    };
    fd_.async_wait(asio::posix::stream_descriptor::wait_read, on_ready);
    if ((poll.events & POLLOUT) != 0) {
        fd_.async_wait(asio::posix::stream_descriptor::wait_write, on_ready);
    }
    if (const auto relative = poll.getRelativeTimeout()) {
        timeout_.expires_after(*relative);
        timeout_.async_wait(on_ready);
    }
}

void DbusService::kick() {
    // Something was sent outside process() (a reply, a signal) or more is pending: run sd-bus
    // again soon, which also re-reads whether it needs to wait for the fd to be writable.
    if (kick_pending_ || lost_) {
        return;
    }
    kick_pending_ = true;
    std::weak_ptr<bool> alive = alive_;
    asio::post(loop_, [this, alive] {
        if (alive.expired()) {
            return;
        }
        kick_pending_ = false;
        process();
    });
}

void DbusService::connectionLost(const std::string& why) {
    if (lost_) {
        return;
    }
    lost_ = true;
    asio::error_code ignored;
    fd_.cancel(ignored);
    timeout_.cancel();
    logWarning("D-Bus: the connection to " + bus_description_ + " failed (" + why +
               "); the D-Bus API is off until uplinkd restarts, the socket API keeps working");
}

// ---------------------------------------------------------------------------------------------
// Methods

void DbusService::publish(const std::string& sender, uint64_t call_id, Message msg) {
    logDebug("D-Bus: Publish from " + sender + " to route " + msg.route);
    const std::string route = msg.route;
    std::weak_ptr<bool> alive = alive_;
    backend_.publish(std::move(msg), [this, alive, call_id, route](Result<uint64_t> r) {
        if (!alive.expired()) {
            finishPublish(call_id, route, std::move(r));
        }
    });
}

void DbusService::finishPublish(uint64_t call_id, const std::string& route,
                                Result<uint64_t> result) {
    auto it = adaptor_->results.find(call_id);
    if (it == adaptor_->results.end()) {
        return;
    }
    sdbus::Result<uint64_t> reply = std::move(it->second);
    adaptor_->results.erase(it);
    if (lost_) {
        return;
    }
    try {
        if (result) {
            auto& seqs = published_[route];
            if (seqs.size() >= kMaxTrackedPerRoute) {
                seqs.erase(seqs.begin());
            }
            seqs.insert(*result);
            reply.returnResults(*result);
        } else {
            reply.returnError(toDbusError(result.error()));
        }
    } catch (const sdbus::Error& e) {
        logDebug("D-Bus: cannot answer a Publish call: " + e.getMessage() + ", ignoring");
    }
    kick();
}

void DbusService::deadLetters(uint64_t call_id, const std::string& action, const std::string& route,
                              uint64_t seq, bool all) {
    backend_.deadLetters(action, route, seq, all, answerLater(call_id));
}

void DbusService::doctor(uint64_t call_id, const std::string& route) {
    backend_.doctor(route, answerLater(call_id));
}

std::function<void(Result<nlohmann::json>)> DbusService::answerLater(uint64_t call_id) {
    std::weak_ptr<bool> alive = alive_;
    return [this, alive, call_id](Result<nlohmann::json> r) {
        if (alive.expired()) {
            return;
        }
        if (!r) {
            finishAnswer(call_id, r.failure());
            return;
        }
        finishAnswer(call_id, r->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    };
}

void DbusService::finishAnswer(uint64_t call_id, Result<std::string> answer) {
    auto it = adaptor_->answers.find(call_id);
    if (it == adaptor_->answers.end()) {
        return;
    }
    sdbus::Result<std::string> reply = std::move(it->second);
    adaptor_->answers.erase(it);
    if (lost_) {
        return;
    }
    try {
        if (answer) {
            reply.returnResults(*answer);
        } else {
            reply.returnError(toDbusError(answer.error()));
        }
    } catch (const sdbus::Error& e) {
        logDebug("D-Bus: cannot answer a DeadLetters or Doctor call: " + e.getMessage() +
                 ", ignoring");
    }
    kick();
}

Status DbusService::subscribe(const std::string& sender, const std::string& route,
                              const std::string& filter) {
    const Key key{route, filter};
    auto& mine = subscriptions_[sender];
    if (mine.count(key) > 0) {
        return {};
    }
    if (key_counts_[key] == 0) {
        if (auto st = backend_.subscribe(route, filter, 1); !st) {
            key_counts_.erase(key);
            if (mine.empty()) {
                subscriptions_.erase(sender);
            }
            return st;
        }
    }
    ++key_counts_[key];
    mine.insert(key);
    logDebug("D-Bus: " + sender + " subscribed to \"" + filter + "\" of route " + route);
    return {};
}

void DbusService::unsubscribe(const std::string& sender, const std::string& route,
                              const std::string& filter) {
    auto it = subscriptions_.find(sender);
    const Key key{route, filter};
    if (it == subscriptions_.end() || it->second.erase(key) == 0) {
        return;
    }
    if (it->second.empty()) {
        subscriptions_.erase(it);
    }
    if (auto k = key_counts_.find(key); k != key_counts_.end() && --k->second <= 0) {
        key_counts_.erase(k);
        backend_.unsubscribe(route, filter);
    }
}

void DbusService::dropSender(const std::string& sender) {
    peers_.erase(sender);
    auto it = subscriptions_.find(sender);
    if (it == subscriptions_.end()) {
        return;
    }
    const std::set<Key> keys = it->second;
    for (const auto& [route, filter] : keys) {
        unsubscribe(sender, route, filter);
    }
    logDebug("D-Bus: " + sender + " left the bus; its subscriptions ended");
}

Result<std::string> DbusService::statusJson() {
    auto st = backend_.status("");
    if (!st) {
        return st.failure();
    }
    // Route errors quote brokers and modules: never let their bytes make dump() throw.
    return st->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<api::Peer> DbusService::peerOf(const sdbus::Message& call) {
    const std::string sender = call.getSender();
    if (auto it = peers_.find(sender); it != peers_.end()) {
        return it->second;
    }
    // The bus knows the caller's effective uid (SO_PEERCRED of its connection); sd-bus asks it
    // once per caller. The primary gid, when the bus does not give it, is the user's.
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    try {
        uid = call.getCredsEuid();
    } catch (const sdbus::Error&) {
        try {
            uid = call.getCredsUid();
        } catch (const sdbus::Error& e) {
            return fail("forbidden", "the bus does not say which user " + sender +
                                         " is, so the ACL cannot allow it: " + e.getMessage());
        }
    }
    try {
        gid = call.getCredsEgid();
    } catch (const sdbus::Error&) {
        gid = static_cast<gid_t>(-1);
    }
    api::Peer peer = api::resolvePeer(uid, gid);
    peers_[sender] = peer;
    return peer;
}

// ---------------------------------------------------------------------------------------------
// Signals

void DbusService::delivered(const std::string& route, uint64_t seq) {
    auto it = published_.find(route);
    if (it == published_.end() || it->second.erase(seq) == 0 || lost_) {
        return;
    }
    try {
        adaptor_->emitDeliveryStatus(route, seq, "delivered");
    } catch (const sdbus::Error& e) {
        logDebug("D-Bus: cannot send DeliveryStatus: " + e.getMessage() + ", ignoring");
    }
    kick();
}

void DbusService::incoming(const IncomingMessage& msg) {
    if (lost_) {
        return;
    }
    bool wanted = false;
    for (const auto& [key, count] : key_counts_) {
        if (key.first == msg.route && api::topicMatches(key.second, msg.topic)) {
            wanted = true;
            break;
        }
    }
    if (!wanted) {
        return;
    }
    std::map<std::string, std::string> props(msg.properties.begin(), msg.properties.end());
    const std::vector<uint8_t> payload(msg.payload.begin(), msg.payload.end());
    try {
        if (acl_ && acl_->enabled()) {
            // Under an ACL a broadcast would show every listener what only some were granted:
            // each subscriber gets its own copy, addressed to it.
            for (const auto& [sender, keys] : subscriptions_) {
                const bool match = std::any_of(keys.begin(), keys.end(), [&](const Key& k) {
                    return k.first == msg.route && api::topicMatches(k.second, msg.topic);
                });
                if (match) {
                    adaptor_->emitMessageReceivedTo(sender, msg.route, msg.topic, payload, props);
                }
            }
        } else {
            adaptor_->emitMessageReceived(msg.route, msg.topic, payload, props);
        }
    } catch (const sdbus::Error& e) {
        logDebug("D-Bus: cannot send MessageReceived: " + e.getMessage() + ", ignoring");
    }
    kick();
}

void DbusService::routeStateChanged(const std::string& route, const std::string& state,
                                    const std::string& last_error, const std::string& uplink) {
    if (lost_) {
        return;
    }
    try {
        adaptor_->emitRouteStateChanged(route, state, last_error, uplink);
    } catch (const sdbus::Error& e) {
        logDebug("D-Bus: cannot send RouteStateChanged: " + e.getMessage() + ", ignoring");
    }
    kick();
}

}  // namespace uplinkd::dbus
