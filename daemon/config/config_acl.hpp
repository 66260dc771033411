// SPDX-License-Identifier: Apache-2.0
// Reading [api.acl.<name>] (docs/api.md, "Access control"): who a rule names (a user or a group,
// resolved in the user database), its routes, topic filters and operations. Part of the
// configuration loader (config.cpp). Thread: loop (or main before the loop runs).
#pragma once

#include <vector>

#include "config/config.hpp"
#include "core/acl.hpp"

namespace uplinkd {

/// [api.acl.<name>] tables into rules; every problem a diagnostic with its position. Route names
/// are checked later, once the routes are read (checkAclRoutes).
void readAcl(ConfigTable acl, std::vector<api::AclRule>& out);

/// Every route an ACL rule names must be configured. `api`: the [api] table.
void checkAclRoutes(ConfigTable api, const Config& cfg);

}  // namespace uplinkd
