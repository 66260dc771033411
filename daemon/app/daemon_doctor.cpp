// SPDX-License-Identifier: Apache-2.0
// Daemon: the doctor op (API "doctor", D-Bus Doctor). Runs the standard check groups on the
// running daemon's own routes, uplinks, spool, tunnel and Paho worker. Thread: loop.
#include <memory>

#include "app/daemon.hpp"
#include "doctor/doctor.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

void Daemon::doctor(const std::string& route, std::function<void(Result<nlohmann::json>)> done) {
    // A copy of the configuration: a reload during the run must not pull it from under the
    // checks.
    auto cfg = std::make_shared<const Config>(config_);
    std::vector<const RouteConfig*> picked;
    std::string known;
    for (const auto& rc : cfg->routes) {
        known += (known.empty() ? "" : ", ") + rc.name;
        if (route.empty() || rc.name == route) {
            picked.push_back(&rc);
        }
    }
    if (picked.empty()) {
        done(fail("unknown_route", route.empty() ? std::string("no route is configured")
                                                 : "no route \"" + route + "\" (configured: " +
                                                       (known.empty() ? "none" : known) + ")"));
        return;
    }
    for (const RouteConfig* rc : picked) {
        if (doctoring_.count(rc->name) > 0) {
            done(fail("busy", "the doctor is already examining route " + rc->name +
                                  "; ask again when it has answered"));
            return;
        }
    }
    struct Pending {
        std::vector<doctor::RouteReport> reports;
        size_t left = 0;
        std::function<void(Result<nlohmann::json>)> done;
    };
    auto pending = std::make_shared<Pending>();
    pending->reports.resize(picked.size());
    pending->left = picked.size();
    pending->done = std::move(done);
    std::weak_ptr<bool> alive = alive_;
    for (size_t i = 0; i < picked.size(); ++i) {
        const RouteConfig& rc = *picked[i];
        doctoring_.insert(rc.name);
        logInfo("route " + rc.name + ": the doctor examines it (one extra connection)");
        doctor::RouteUnderTest rut;
        rut.loop = &loop_;
        rut.config = cfg.get();
        rut.route = &rc;
        rut.cloud = rc.cloud.get();
        for (const auto& name : rc.uplinks) {
            if (auto it = uplinks_.find(name); it != uplinks_.end()) {
                rut.uplinks.push_back(it->second.get());
            }
        }
        rut.spool = spool_.get();
        rut.tunnel = tunnel_.get();
        rut.paho = &paho_worker_;
        rut.now = std::chrono::system_clock::now();
        rut.inside_daemon = true;
        doctor::run(rut, doctor::standardGroups(),
                    [this, alive, cfg, pending, i, name = rc.name](doctor::RouteReport report) {
                        if (!alive.expired()) {
                            doctoring_.erase(name);
                            logInfo(report.verdict() + " (doctor)");
                        }
                        pending->reports[i] = std::move(report);
                        if (--pending->left == 0) {
                            pending->done(doctor::toJson(pending->reports));
                        }
                    });
    }
}

}  // namespace uplinkd
