// SPDX-License-Identifier: Apache-2.0
#include "core/acl.hpp"

#include <algorithm>

#include "uplinkd/mqtt_names.hpp"

namespace uplinkd::api {

namespace {

std::vector<std::string_view> levels(std::string_view filter) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        const size_t slash = filter.find('/', start);
        out.push_back(
            filter.substr(start, slash == std::string_view::npos ? slash : slash - start));
        if (slash == std::string_view::npos) {
            return out;
        }
        start = slash + 1;
    }
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) {
        out += (out.empty() ? "" : ", ") + i;
    }
    return out;
}

bool coversRoute(const AclRule& rule, std::string_view route) {
    return rule.routes.empty() ||
           std::find(rule.routes.begin(), rule.routes.end(), route) != rule.routes.end();
}

std::string ruleName(const AclRule& rule) {
    return "rule [api.acl." + rule.name + "]";
}

/// Why `rule` does not allow `verb` on `route`, given that no filter of it fits.
std::string refusal(const AclRule& rule, std::string_view route,
                    const std::vector<std::string>& filters, const char* verb) {
    if (!coversRoute(rule, route)) {
        return ruleName(rule) + " covers only route" + (rule.routes.size() > 1 ? "s " : " ") +
               joined(rule.routes);
    }
    if (filters.empty()) {
        return ruleName(rule) + " allows no " + verb;
    }
    return ruleName(rule) + " allows only " + joined(filters);
}

}  // namespace

std::string Peer::describe() const {
    return "user " + std::to_string(uid) + (name.empty() ? "" : " (" + name + ")");
}

Acl::Acl(std::vector<AclRule> rules, uint32_t service_uid)
    : rules_(std::move(rules)), service_uid_(service_uid) {}

const std::vector<std::string>& Acl::grantableOps() {
    static const std::vector<std::string> ops{"status", "modem_info", "deadletter"};
    return ops;
}

const std::set<std::string>& Acl::defaultOps() {
    static const std::set<std::string> ops{"status"};
    return ops;
}

bool Acl::exempt(const Peer& peer) const {
    return rules_.empty() || peer.uid == 0 || peer.uid == service_uid_;
}

std::vector<const AclRule*> Acl::matching(const Peer& peer) const {
    std::vector<const AclRule*> out;
    for (const auto& rule : rules_) {
        const bool by_user = rule.uid && *rule.uid == peer.uid;
        const bool by_group =
            rule.gid && (*rule.gid == peer.gid || std::find(peer.groups.begin(), peer.groups.end(),
                                                            *rule.gid) != peer.groups.end());
        if (by_user || by_group) {
            out.push_back(&rule);
        }
    }
    return out;
}

Failure Acl::noRule(const Peer& peer, std::string_view what) const {
    return fail("forbidden", peer.describe() + " may not " + std::string(what) +
                                 ": no rule of [api.acl] names this user or one of its groups");
}

Status Acl::mayAccess(const Peer& peer, std::string_view route, const std::string& what,
                      std::vector<std::string> AclRule::*granted, const char* doing,
                      bool (*covers)(std::string_view grant, std::string_view asked),
                      std::string_view asked) const {
    if (exempt(peer)) {
        return {};
    }
    const auto rules = matching(peer);
    if (rules.empty()) {
        return noRule(peer, what);
    }
    std::string why;
    for (const AclRule* rule : rules) {
        if (coversRoute(*rule, route)) {
            for (const auto& grant : rule->*granted) {
                if (covers(grant, asked)) {
                    return {};
                }
            }
        }
        why += (why.empty() ? "" : "; ") + refusal(*rule, route, rule->*granted, doing);
    }
    return fail("forbidden", peer.describe() + " may not " + what + ": " + why);
}

Status Acl::mayPublish(const Peer& peer, std::string_view route, std::string_view topic) const {
    return mayAccess(
        peer, route, "publish to route " + std::string(route) + " topic " + std::string(topic),
        &AclRule::publish, "publishing",
        [](std::string_view grant, std::string_view t) { return mqtt::topicMatches(grant, t); },
        topic);
}

Status Acl::maySubscribe(const Peer& peer, std::string_view route, std::string_view filter) const {
    return mayAccess(
        peer, route, "subscribe to route " + std::string(route) + " filter " + std::string(filter),
        &AclRule::subscribe, "subscribing",
        [](std::string_view grant, std::string_view f) { return filterWithin(f, grant); }, filter);
}

Status Acl::mayUse(const Peer& peer, std::string_view op) const {
    if (exempt(peer)) {
        return {};
    }
    const std::string what = "use " + std::string(op);
    const auto rules = matching(peer);
    if (rules.empty()) {
        return noRule(peer, what);
    }
    std::string names;
    for (const AclRule* rule : rules) {
        if (rule->ops.count(std::string(op)) > 0) {
            return {};
        }
        names += (names.empty() ? "" : ", ") + ruleName(*rule).substr(5);
    }
    return fail("forbidden", peer.describe() + " may not " + what + ": " +
                                 (rules.size() > 1 ? "rules " : "rule ") + names +
                                 (rules.size() > 1 ? " do" : " does") + " not grant it in ops");
}

bool filterWithin(std::string_view requested, std::string_view allowed) {
    const auto req = levels(requested);
    const auto al = levels(allowed);
    // A leading wildcard does not match "$" topics (MQTT 3.1.1 §4.7.2), so it cannot grant them.
    if (!req[0].empty() && req[0].front() == '$' && (al[0] == "+" || al[0] == "#")) {
        return false;
    }
    for (size_t i = 0;; ++i) {
        if (i < al.size() && al[i] == "#") {
            return true;
        }
        if (i == req.size()) {
            // "a" lies within "a/#" (the filter "a/#" matches its parent "a").
            return i == al.size() || (i + 1 == al.size() && al[i] == "#");
        }
        if (i == al.size() || req[i] == "#") {
            return false;
        }
        if (al[i] != "+" && (req[i] == "+" || req[i] != al[i])) {
            return false;
        }
    }
}

}  // namespace uplinkd::api
