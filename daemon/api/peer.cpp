// SPDX-License-Identifier: Apache-2.0
#include "api/peer.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace uplinkd::api {

Peer resolvePeer(uid_t uid, gid_t gid) {
    Peer peer;
    peer.uid = uid;
    peer.gid = gid;
    std::vector<char> buf(16 * 1024);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
        return peer;
    }
    peer.name = pw.pw_name;
    if (gid == static_cast<gid_t>(-1)) {
        peer.gid = pw.pw_gid;
    }
    int count = 64;
    std::vector<gid_t> groups(static_cast<size_t>(count));
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) {
        groups.resize(static_cast<size_t>(count));
        if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) {
            count = 0;
        }
    }
    groups.resize(static_cast<size_t>(count));
    peer.groups.assign(groups.begin(), groups.end());
    return peer;
}

}  // namespace uplinkd::api
