// SPDX-License-Identifier: Apache-2.0
#include "config/config_acl.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cctype>

#include "uplinkd/mqtt_names.hpp"

namespace uplinkd {

namespace {

/// A user or group name from the user database, or a number.
std::optional<uint32_t> lookupId(const std::string& name, bool user) {
    std::vector<char> buf(16 * 1024);
    if (user) {
        passwd pw{};
        passwd* found = nullptr;
        if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found) {
            return pw.pw_uid;
        }
    } else {
        group gr{};
        group* found = nullptr;
        if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found) {
            return gr.gr_gid;
        }
    }
    if (!name.empty() && name.size() <= 9 && std::all_of(name.begin(), name.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
        return static_cast<uint32_t>(std::stoul(name));
    }
    return std::nullopt;
}

std::vector<std::string> aclFilters(ConfigTable& r, const char* key) {
    auto filters = r.stringArray(key).value_or(std::vector<std::string>{});
    for (const auto& f : filters) {
        if (auto problem = mqtt::topicFilterProblem(f)) {
            r.error(key, "\"" + f + "\" is not a topic filter: " + *problem);
        }
    }
    return filters;
}

}  // namespace

void readAcl(ConfigTable acl, std::vector<api::AclRule>& out) {
    if (!acl.present()) {
        return;
    }
    for (const auto& name : acl.tableKeys()) {
        ConfigTable r = acl.table(name);
        api::AclRule rule;
        rule.name = name;
        auto user = r.string("user");
        auto grp = r.string("group");
        if (user.has_value() == grp.has_value()) {
            r.error("",
                    "give exactly one of user = \"<name or uid>\" and group = "
                    "\"<name or gid>\" (whom this rule grants something)");
        } else if (user) {
            rule.uid = lookupId(*user, true);
            if (!rule.uid) {
                r.error("user", "no user \"" + *user + "\" on this system");
            }
        } else {
            rule.gid = lookupId(*grp, false);
            if (!rule.gid) {
                r.error("group", "no group \"" + *grp + "\" on this system");
            }
        }
        rule.routes = r.stringArray("routes").value_or(std::vector<std::string>{});
        rule.publish = aclFilters(r, "publish");
        rule.subscribe = aclFilters(r, "subscribe");
        if (auto ops = r.stringArray("ops")) {
            const auto& known = api::Acl::grantableOps();
            for (const auto& op : *ops) {
                if (std::find(known.begin(), known.end(), op) == known.end()) {
                    std::string list;
                    for (const auto& k : known) {
                        list += (list.empty() ? "" : ", ") + k;
                    }
                    r.error("ops", "unknown operation \"" + op + "\" (known: " + list +
                                       "; publish and subscribe have their own keys)");
                }
                rule.ops.insert(op);
            }
        } else {
            rule.ops = api::Acl::defaultOps();
        }
        r.finish();
        out.push_back(std::move(rule));
    }
    acl.finish();
}

void checkAclRoutes(ConfigTable api, const Config& cfg) {
    ConfigTable acl = api.table("acl");
    for (const auto& rule : cfg.api.acl) {
        for (const auto& route : rule.routes) {
            if (cfg.route(route) == nullptr) {
                acl.table(rule.name).error("routes", "no route named \"" + route + "\"");
            }
        }
    }
}

}  // namespace uplinkd
