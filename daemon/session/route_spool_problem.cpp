// SPDX-License-Identifier: Apache-2.0
// RouteSession: a message the spool cannot hand out (a large payload it cannot read) holds the
// route in order; the route says so once in the log, reads it again every few seconds, and says
// once more when it goes on. Thread: loop.
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "session/route_session.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {
/// How often a message the spool could not read is read again while nothing else pumps.
constexpr std::chrono::seconds kSpoolRetry{5};
}  // namespace

void RouteSession::noteSpoolProblem() {
    std::string now = spool_.stats(config_.name).stuck;
    if (!now.empty() && !spool_retry_armed_) {
        spool_retry_armed_ = true;
        spool_retry_timer_.expires_after(kSpoolRetry);
        std::weak_ptr<bool> alive = alive_;
        spool_retry_timer_.async_wait([this, alive](asio::error_code ec) {
            if (ec || alive.expired()) {
                return;
            }
            spool_retry_armed_ = false;
            pump();
        });
    }
    if (now == spool_problem_) {
        return;  // already told: not once per pump
    }
    if (!now.empty()) {
        logWarning("route " + config_.name + ": " + now);
    } else {
        logInfo("route " + config_.name +
                ": the message the spool could not read was handed out or left the queue; the "
                "route goes on");
    }
    spool_problem_ = std::move(now);
}

}  // namespace uplinkd
