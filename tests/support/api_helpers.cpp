// SPDX-License-Identifier: Apache-2.0
// What tests ask a running uplinkd over its API and status: publishing, awaiting replies, and
// waiting for a route's state (declared in test_env.hpp), and the checks of api_helpers.hpp.
#include "api_helpers.hpp"

#include <gtest/gtest.h>

#include <set>

#include "cli/api_client.hpp"

namespace uplinkd::testing {

int queueMessages(const std::string& socket, int n, const std::string& topic) {
    ApiClient c;
    if (!c.connect(socket)) {
        return 0;
    }
    int sent = 0, answered = 0, queued = 0;
    while (answered < n) {
        while (sent < n && sent - answered < 256) {
            if (!c.send({{"op", "publish"},
                         {"id", sent},
                         {"route", "cloud"},
                         {"topic", topic},
                         {"qos", 1},
                         {"payload", std::string(200, 'x')}})) {
                return queued;
            }
            ++sent;
        }
        auto r = c.receive(30s);
        if (!r) {
            return queued;
        }
        ++answered;
        if (r->value("status", "") == "queued") {
            ++queued;
        }
    }
    return queued;
}

nlohmann::json awaitApiReply(ApiClient& c, const nlohmann::json& id, const std::string& status,
                             std::chrono::milliseconds timeout) {
    while (true) {
        auto r = c.receive(timeout);
        if (!r) {
            ADD_FAILURE() << "no \"" << status << "\" reply for id " << id << ": "
                          << r.error().message;
            return {};
        }
        if (r->contains("id") && (*r)["id"] == id &&
            ((*r)["status"] == status || (*r)["status"] == "error")) {
            return *r;
        }
    }
}

::testing::AssertionResult awaitQueued(ApiClient& c, size_t count,
                                       std::chrono::milliseconds timeout) {
    std::set<int> queued;
    while (queued.size() < count) {
        auto r = c.receive(timeout);
        if (!r) {
            return ::testing::AssertionFailure()
                   << r.error().message << " after " << queued.size() << " replies";
        }
        if ((*r)["status"] != "queued") {
            return ::testing::AssertionFailure() << "not queued: " << r->dump();
        }
        queued.insert((*r)["id"].get<int>());
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult publishDelivered(ApiClient& c, nlohmann::json request) {
    request["report_delivered"] = true;
    if (auto st = c.send(request); !st) {
        return ::testing::AssertionFailure() << "cannot send: " << st.error().message;
    }
    const nlohmann::json reply = awaitApiReply(c, request["id"], "delivered");
    if (!reply.contains("status") || reply.at("status") != "delivered") {
        return ::testing::AssertionFailure() << "not delivered: " << reply.dump();
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult routeReaches(Daemon& d, const std::string& route,
                                        const std::function<bool(const nlohmann::json&)>& pred,
                                        std::chrono::milliseconds timeout, nlohmann::json* status) {
    const bool reached = d.waitRoute(
        route,
        [&](const nlohmann::json& s) {
            *status = s;
            return pred(s);
        },
        timeout);
    if (reached) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "route " << route << ": " << status->dump();
}

::testing::AssertionResult routeOnline(Daemon& d, const std::string& route,
                                       std::chrono::milliseconds timeout) {
    nlohmann::json status;
    return routeReaches(
        d, route, [](const nlohmann::json& s) { return s["state"] == "online"; }, timeout, &status);
}

nlohmann::json uplinkIn(const nlohmann::json& route_status, const std::string& uplink) {
    for (const auto& u : route_status["uplinks"]) {
        if (u["name"] == uplink) {
            return u;
        }
    }
    return {};
}

::testing::AssertionResult routeFailed(Daemon& d, const std::string& route,
                                       std::chrono::milliseconds timeout, nlohmann::json* status) {
    return routeReaches(
        d, route,
        [](const nlohmann::json& s) { return !s["last_error"].get<std::string>().empty(); },
        timeout, status);
}

::testing::AssertionResult received(Subscriber& sub, size_t index, const std::string& topic,
                                    const std::string& payload, std::chrono::milliseconds timeout) {
    if (!sub.waitFor(index + 1, timeout)) {
        return ::testing::AssertionFailure() << "message " << index << " did not come";
    }
    const Subscriber::Received m = sub.messages()[index];
    if (m.topic != topic || m.payload != payload) {
        return ::testing::AssertionFailure()
               << "message " << index << " is " << m.topic << " \"" << m.payload << "\", not "
               << topic << " \"" << payload << "\"";
    }
    return ::testing::AssertionSuccess();
}

}  // namespace uplinkd::testing
