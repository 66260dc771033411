// SPDX-License-Identifier: Apache-2.0
// Resolving who a local client is, for the ACL: the user name and supplementary groups of a uid
// from the user database (NSS). Both front-ends use this, so a user has the same groups on the
// socket and on D-Bus. Thread: loop (a lookup reads /etc/passwd and /etc/group).
#pragma once

#include <sys/types.h>

#include "core/acl.hpp"

namespace uplinkd::api {

/// The peer with uid `uid` and primary gid `gid` as the kernel reported them; its name and
/// supplementary groups are looked up (none when the uid has no passwd entry). A gid of -1
/// (not known) becomes the user's primary group.
Peer resolvePeer(uid_t uid, gid_t gid);

}  // namespace uplinkd::api
