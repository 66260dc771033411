// SPDX-License-Identifier: Apache-2.0
// Acl: the per-user access control of the local API ([api.acl], docs/api.md#access-control):
// which routes and topic filters a Unix user or group may publish to and subscribe to, and which
// other operations it may use. One decision for both front-ends (socket and D-Bus). Pure: the
// peer's identity is resolved by the caller (api/peer.hpp). Thread: any (immutable once built).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd::api {

/// Who sent a request: uid and primary gid from the kernel (SO_PEERCRED, D-Bus credentials),
/// supplementary groups of that uid from the user database.
struct Peer {
    uint32_t uid = UINT32_MAX;
    uint32_t gid = UINT32_MAX;
    std::vector<uint32_t> groups;  ///< supplementary groups (the primary gid may repeat here)
    std::string name;              ///< user name; empty when the uid has no entry

    /// "user 1001 (app1)", or "user 1001" without a name.
    std::string describe() const;
};

/// One [api.acl.<name>] table.
struct AclRule {
    std::string name;                    ///< <name> of [api.acl.<name>]
    std::optional<uint32_t> uid;         ///< user = "..."
    std::optional<uint32_t> gid;         ///< group = "..."
    std::vector<std::string> routes;     ///< empty: every route
    std::vector<std::string> publish;    ///< topic filters that may be published to
    std::vector<std::string> subscribe;  ///< topic filters that may be subscribed to (or within)
    std::set<std::string> ops;           ///< more operations: see Acl::grantableOps()
    bool operator==(const AclRule&) const = default;
};

class Acl {
  public:
    /// Without rules every peer may do everything (the API as it was before ACLs). With rules, a
    /// peer may do what the rules naming its uid, primary gid or one of its groups grant (their
    /// union); uid 0 and `service_uid` (the user uplinkd runs as) may always do everything.
    Acl(std::vector<AclRule> rules, uint32_t service_uid);
    Acl() = default;

    bool enabled() const { return !rules_.empty(); }
    const std::vector<AclRule>& rules() const { return rules_; }

    /// Error code "forbidden", naming the peer and the rules that refused.
    Status mayPublish(const Peer& peer, std::string_view route, std::string_view topic) const;
    /// `filter` must lie within one of the granted filters ("a/b/#" within "a/#").
    Status maySubscribe(const Peer& peer, std::string_view route, std::string_view filter) const;
    /// `op`: one of grantableOps().
    Status mayUse(const Peer& peer, std::string_view op) const;

    /// Operations a rule can grant in `ops`: "status", "modem_info", "deadletter". publish and
    /// subscribe have their own keys; ping, hello and unsubscribe are always allowed; modem_at
    /// is only ever for root and uplinkd's own user.
    static const std::vector<std::string>& grantableOps();
    /// What a rule grants when it has no `ops` key.
    static const std::set<std::string>& defaultOps();

  private:
    bool exempt(const Peer& peer) const;
    std::vector<const AclRule*> matching(const Peer& peer) const;
    Failure noRule(const Peer& peer, std::string_view what) const;
    /// Publish and subscribe alike: a matching rule that covers `route` and whose `granted` list
    /// `covers` what is `asked` allows it; otherwise the refusal names each rule's reason.
    Status mayAccess(const Peer& peer, std::string_view route, const std::string& what,
                     std::vector<std::string> AclRule::*granted, const char* doing,
                     bool (*covers)(std::string_view grant, std::string_view asked),
                     std::string_view asked) const;

    std::vector<AclRule> rules_;
    uint32_t service_uid_ = 0;
};

/// True when every topic that `requested` matches is matched by `allowed` (MQTT filters).
bool filterWithin(std::string_view requested, std::string_view allowed);

}  // namespace uplinkd::api
