// SPDX-License-Identifier: Apache-2.0
// DbusService::Adaptor: the generated io.uplinkd.Uplink1 adaptor's methods, checked against the
// ACL and forwarded to the service. Included by dbus_service.cpp only. Thread: loop.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/peer.hpp"
#include "dbus/dbus_service.hpp"
// Generated at build time from io.uplinkd.Uplink1.xml by sdbus-c++-xml2cpp.
#include "io.uplinkd.Uplink1.adaptor.h"

namespace uplinkd::dbus {

inline sdbus::Error toDbusError(const Error& e) {
    return sdbus::Error(errorName(e.code), e.message);
}

// The generated adaptor's methods, forwarded to the service. Throwing sdbus::Error here is how a
// D-Bus error reply is sent; nothing else throws past this class.
class DbusService::Adaptor final : public sdbus::AdaptorInterfaces<::io::uplinkd::Uplink1_adaptor> {
  public:
    Adaptor(sdbus::IConnection& connection, DbusService& service)
        : AdaptorInterfaces(connection, kObjectPath), service_(service) {
        registerAdaptor();
    }
    ~Adaptor() { unregisterAdaptor(); }
    Adaptor(const Adaptor&) = delete;
    Adaptor& operator=(const Adaptor&) = delete;

    std::map<uint64_t, sdbus::Result<uint64_t>> results;  ///< pending Publish replies
    /// Pending DeadLetters and Doctor replies.
    std::map<uint64_t, sdbus::Result<std::string>> answers;

    /// MessageReceived addressed to one client only (a unicast signal).
    void emitMessageReceivedTo(const std::string& destination, const std::string& route,
                               const std::string& topic, const std::vector<uint8_t>& payload,
                               const std::map<std::string, std::string>& properties) {
        sdbus::Signal signal = getObject().createSignal(INTERFACE_NAME, "MessageReceived");
        signal << route << topic << payload << properties;
        signal.setDestination(destination);
        getObject().emitSignal(signal);
    }

  private:
    std::string sender() const {
        const sdbus::Message* m = getObject().getCurrentlyProcessedMessage();
        return m != nullptr ? m->getSender() : std::string();
    }

    /// The ACL's answer for the caller of the method being processed (yes without an ACL).
    template <typename Check>
    Status permitted(Check&& check) {
        if (!service_.acl_ || !service_.acl_->enabled()) {
            return {};
        }
        const sdbus::Message* m = getObject().getCurrentlyProcessedMessage();
        if (m == nullptr) {
            return fail("forbidden", "cannot tell who sent this call");
        }
        auto peer = service_.peerOf(*m);
        if (!peer) {
            return peer.failure();
        }
        return check(*service_.acl_, *peer);
    }

    /// permitted(), or the refusal sent as the method's error reply (then false).
    template <typename Reply, typename Check>
    bool admitted(sdbus::Result<Reply>& result, Check&& check) {
        auto st = permitted(std::forward<Check>(check));
        if (!st) {
            result.returnError(toDbusError(st.error()));
        }
        return static_cast<bool>(st);
    }

    /// Parks a DeadLetters or Doctor reply until the service answers it; the call's id.
    uint64_t awaitAnswer(sdbus::Result<std::string>&& result) {
        const uint64_t id = ++service_.next_call_id_;
        answers.emplace(id, std::move(result));
        return id;
    }

    void Publish(sdbus::Result<uint64_t>&& result, std::string route, std::string topic,
                 std::vector<uint8_t> payload, uint8_t qos,
                 std::map<std::string, std::string> properties) override {
        if (qos > 2) {
            result.returnError(sdbus::Error(errorName("bad_request"),
                                            "qos must be 0, 1 or 2, not " + std::to_string(qos)));
            return;
        }
        if (!admitted(result, [&](const api::Acl& acl, const api::Peer& peer) {
                return acl.mayPublish(peer, route, topic);
            })) {
            return;
        }
        Message msg;
        msg.route = std::move(route);
        msg.topic = std::move(topic);
        msg.payload.assign(payload.begin(), payload.end());
        msg.qos = qos;
        for (auto& [k, v] : properties) {
            msg.properties.emplace_back(k, std::move(v));
        }
        const uint64_t id = ++service_.next_call_id_;
        results.emplace(id, std::move(result));
        service_.publish(sender(), id, std::move(msg));
    }

    void DeadLetters(sdbus::Result<std::string>&& result, std::string action, std::string route,
                     uint64_t sequence, bool all) override {
        if (action != "list" && action != "retry" && action != "drop") {
            result.returnError(sdbus::Error(errorName("bad_request"),
                                            "action must be \"list\", \"retry\" or \"drop\""));
            return;
        }
        if (action != "list" && (sequence != 0) == all) {
            result.returnError(
                sdbus::Error(errorName("bad_request"),
                             action + ": give exactly one of a sequence (not 0) and all = true"));
            return;
        }
        if (!admitted(result, [&](const api::Acl& acl, const api::Peer& peer) {
                return acl.mayUse(peer, "deadletter");
            })) {
            return;
        }
        service_.deadLetters(awaitAnswer(std::move(result)), action, route, sequence, all);
    }

    void Doctor(sdbus::Result<std::string>&& result, std::string route) override {
        if (!admitted(result, [&](const api::Acl& acl, const api::Peer& peer) {
                return acl.mayUse(peer, "status");
            })) {
            return;
        }
        service_.doctor(awaitAnswer(std::move(result)), route);
    }

    void Subscribe(const std::string& route, const std::string& filter) override {
        if (auto st = permitted([&](const api::Acl& acl, const api::Peer& peer) {
                return acl.maySubscribe(peer, route, filter);
            });
            !st) {
            throw toDbusError(st.error());
        }
        if (auto st = service_.subscribe(sender(), route, filter); !st) {
            throw toDbusError(st.error());
        }
    }

    void Unsubscribe(const std::string& route, const std::string& filter) override {
        service_.unsubscribe(sender(), route, filter);
    }

    std::string StatusJson() override {
        if (auto st = permitted([&](const api::Acl& acl, const api::Peer& peer) {
                return acl.mayUse(peer, "status");
            });
            !st) {
            throw toDbusError(st.error());
        }
        auto json = service_.statusJson();
        if (!json) {
            throw toDbusError(json.error());
        }
        return *json;
    }
    std::string Version() override { return UPLINKD_VERSION; }

    DbusService& service_;
};

}  // namespace uplinkd::dbus
