// SPDX-License-Identifier: Apache-2.0
#include "doctor/doctor.hpp"

#include <memory>
#include <utility>

namespace uplinkd::doctor {

namespace {

struct Run {
    RouteUnderTest route;
    std::vector<CheckGroup> groups;
    std::function<void(RouteReport)> done;
    RouteReport report;
    size_t next = 0;
};

void step(const std::shared_ptr<Run>& run) {
    if (run->next == run->groups.size()) {
        auto done = std::move(run->done);
        done(std::move(run->report));
        return;
    }
    const CheckGroup& group = run->groups[run->next++];
    group(run->route, run->report.findings, [run](std::vector<Finding> found) {
        for (auto& f : found) {
            run->report.findings.push_back(std::move(f));
        }
        // The next group starts from the loop, not from inside the previous one's callback.
        asio::post(*run->route.loop, [run] { step(run); });
    });
}

}  // namespace

void run(const RouteUnderTest& route, std::vector<CheckGroup> groups,
         std::function<void(RouteReport)> done) {
    auto r = std::make_shared<Run>();
    r->route = route;
    r->groups = std::move(groups);
    r->done = std::move(done);
    r->report.route = route.route ? route.route->name : std::string();
    asio::post(*route.loop, [r] { step(r); });
}

std::vector<CheckGroup> standardGroups() {
    return {checkConfig, checkFiles,   checkClock, checkCredentials, checkSpool,
            checkModem,  checkNetwork, checkTls,   checkMqtt};
}

bool failedAt(const std::vector<Finding>& so_far, CheckLayer layer) {
    for (const auto& f : so_far) {
        if (f.layer == layer && f.outcome == CheckOutcome::Fail) {
            return true;
        }
    }
    return false;
}

}  // namespace uplinkd::doctor
