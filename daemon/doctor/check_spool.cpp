// SPDX-License-Identifier: Apache-2.0
// The doctor's spool checks (layer spool): the state directory is writable and has room, and
// what waits in the route's queue (count, oldest age) and among its dead letters. Thread: loop.
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "doctor/doctor.hpp"

namespace uplinkd::doctor {

namespace {

constexpr double kLowSpaceFraction = 0.10;
constexpr int64_t kOldMs = 3600 * 1000;

std::string megabytes(uint64_t bytes) {
    return std::to_string(bytes / (1024 * 1024)) + " MiB";
}

std::string age(int64_t ms) {
    if (ms < 120000) {
        return std::to_string(ms / 1000) + " s";
    }
    if (ms < 7200000) {
        return std::to_string(ms / 60000) + " min";
    }
    return std::to_string(ms / 3600000) + " h";
}

}  // namespace

void checkSpool(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                std::function<void(std::vector<Finding>)> done) {
    (void)so_far;
    std::vector<Finding> out;
    auto add = [&out](const char* id, CheckOutcome outcome, std::string found,
                      std::string fix = "") {
        out.push_back({CheckLayer::Spool, id, outcome, std::move(found), std::move(fix)});
    };
    const std::string& dir = route.config->daemon.state_dir;
    const std::string setting = "[daemon] state_dir";
    if (route.config->daemon.spool == "memory") {
        add("spool.state_dir", CheckOutcome::Warn,
            "daemon.spool = \"memory\": queued messages are lost when uplinkd stops",
            "set [daemon] spool = \"sqlite\" to keep messages across restarts");
    } else if (::access(dir.c_str(), F_OK) != 0) {
        const bool inside = route.inside_daemon;
        add("spool.state_dir", inside ? CheckOutcome::Fail : CheckOutcome::Ok,
            "the state directory " + dir + " does not exist" +
                (inside ? "" : " yet (uplinkd creates it when it starts)"),
            inside ? "create " + dir + " or name a writable directory in " + setting : "");
    } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        add("spool.state_dir", CheckOutcome::Fail,
            "the state directory " + dir + " is not writable by this user: " + std::strerror(errno),
            "give uplinkd's user write access to " + dir + " or name another directory in " +
                setting);
    } else {
        add("spool.state_dir", CheckOutcome::Ok, "the state directory " + dir + " is writable");
        struct statvfs fs {};
        if (::statvfs(dir.c_str(), &fs) == 0 && fs.f_blocks > 0) {
            const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
            const uint64_t total = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
            const double fraction =
                static_cast<double>(fs.f_bavail) / static_cast<double>(fs.f_blocks);
            const std::string found = megabytes(free_bytes) + " free of " + megabytes(total) +
                                      " (" + std::to_string(static_cast<int>(fraction * 100)) +
                                      " %) on the file system of " + dir;
            if (fraction < kLowSpaceFraction) {
                add("spool.free_space", CheckOutcome::Warn, found,
                    "free space on that file system, or name a larger one in " + setting +
                        " (new messages are refused when it is full)");
            } else {
                add("spool.free_space", CheckOutcome::Ok, found);
            }
        }
    }

    if (route.spool == nullptr) {
        if (!route.spool_note.empty() && route.config->daemon.spool != "memory") {
            add("spool.queue", CheckOutcome::Skipped, "skipped: " + route.spool_note);
        }
        done(std::move(out));
        return;
    }
    const std::string& name = route.route->name;
    const SpoolStats st = route.spool->stats(name);
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(route.now.time_since_epoch()).count();
    if (st.depth == 0) {
        add("spool.queue", CheckOutcome::Ok, "no message waits on route " + name);
    } else {
        const int64_t oldest = st.oldest_created_ms > 0 ? now_ms - st.oldest_created_ms : 0;
        const std::string found = std::to_string(st.depth) + " message(s), " +
                                  std::to_string(st.bytes) + " bytes wait on route " + name +
                                  ", the oldest for " + age(oldest);
        if (oldest > kOldMs) {
            add("spool.queue", CheckOutcome::Warn, found + ": the route has not delivered for long",
                "make the route connect (see the failures below); messages older than [routes." +
                    name + ".spool] max_age_seconds are dropped");
        } else {
            add("spool.queue", CheckOutcome::Ok, found);
        }
    }
    if (st.dead_lettered > 0) {
        add("spool.dead_letters", CheckOutcome::Warn,
            std::to_string(st.dead_lettered) + " message(s) of route " + name +
                " are dead letters: the broker kept refusing them",
            "look at them with uplinkctl deadletter list --route " + name +
                ", then retry or drop them");
    } else {
        add("spool.dead_letters", CheckOutcome::Ok, "no dead letters on route " + name);
    }
    done(std::move(out));
}

}  // namespace uplinkd::doctor
