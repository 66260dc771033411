// SPDX-License-Identifier: Apache-2.0
// PublishServer::Client: what each request does (the ACL's check, publish, subscriptions, the
// backend's queries and the modem's AT commands).
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "api/peer.hpp"
#include "api/protocol.hpp"
#include "api/publish_client.hpp"

namespace uplinkd::api {

using nlohmann::json;

RequestFramer::After PublishServer::Client::handleLine(std::string_view line) {
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
            send(errorReply(req->id,
                            makeError("busy",
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

void PublishServer::Client::dispatch(Request&& req) {
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
            server_.backend_.modemInfo(req.uplink, answer(req.id, "modem"));
            break;
        case Op::ModemAt:
            modemAt(req);
            break;
        case Op::Doctor:
            server_.backend_.doctor(req.route, answer(req.id, "report"));
            break;
        case Op::DeadLetter:
            server_.backend_.deadLetters(req.action, req.route, req.seq, req.all,
                                         answer(req.id, ""));
            break;
    }
}

Status PublishServer::Client::permitted(const Request& req) {
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

void PublishServer::Client::modemAt(const Request& req) {
    // Raw AT commands can change the module's settings: root and uplinkd's own user only.
    if (uid_ != 0 && uid_ != ::geteuid()) {
        send(errorReply(req.id, makeError("forbidden",
                                          "modem_at is only for root and the user uplinkd "
                                          "runs as (it can change the module's settings)")));
        return;
    }
    server_.backend_.modemAt(req.uplink, req.command, req.timeout_ms, answer(req.id, ""));
}

std::function<void(Result<json>)> PublishServer::Client::answer(json id, std::string field) {
    return [self = shared_from_this(), id = std::move(id),
            field = std::move(field)](Result<json> r) {
        if (self->alive_.expired()) {
            return;
        }
        if (!r) {
            self->send(errorReply(id, r.error()));
        } else {
            self->send(okReply(id, field.empty() ? std::move(*r) : json{{field, std::move(*r)}}));
        }
    };
}

void PublishServer::Client::publish(Request req) {
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

void PublishServer::Client::subscribe(const Request& req) {
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

void PublishServer::Client::unsubscribe(const Request& req) {
    const auto key = std::make_pair(req.route, req.filter);
    if (subs_.erase(key) > 0) {
        server_.dropSubscription(key);
    }
    send(okReply(req.id));
}

}  // namespace uplinkd::api
