// SPDX-License-Identifier: Apache-2.0
#include "cli/doctor_cmd.hpp"

#include <unistd.h>

#include <asio.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/api_client.hpp"
#include "cli/request.hpp"
#include "core/pid_lock.hpp"
#include "doctor/doctor.hpp"
#include "modem/modem_uplink.hpp"
#include "plugin/plugin_registry.hpp"
#include "session/paho_worker.hpp"
#include "spool/sqlite_spool.hpp"
#include "tunnel/tunnel.hpp"
#include "uplink/local_network.hpp"

namespace uplinkd::cli {

namespace {

constexpr int kExitNotReady = 1;
constexpr int kExitUsage = 2;
/// The whole offline run; every probe has its own, shorter timeout.
constexpr auto kOfflineDeadline = std::chrono::seconds(150);

int print(const std::vector<doctor::RouteReport>& reports, bool as_json) {
    bool ready = true;
    for (const auto& r : reports) {
        ready = ready && r.ready();
    }
    if (as_json) {
        std::cout << doctor::toJson(reports).dump(2) << "\n";
    } else {
        for (size_t i = 0; i < reports.size(); ++i) {
            std::cout << (i > 0 ? "\n" : "") << doctor::toText(reports[i]);
        }
    }
    return ready ? 0 : kExitNotReady;
}

int askDaemon(const DoctorOptions& options, const std::string& socket) {
    ApiClient client;
    if (auto st = client.connect(socket); !st) {
        std::cerr << "uplinkctl: " << st.error().message
                  << "\nuplinkctl: is uplinkd running? Without it, run the checks here: "
                     "uplinkctl doctor --config /etc/uplinkd/uplinkd.toml\n";
        return kExitNotReady;
    }
    if (auto st = client.send(request("doctor", "route", options.route)); !st) {
        std::cerr << "uplinkctl: " << st.error().message << "\n";
        return kExitNotReady;
    }
    auto r = client.receive(std::chrono::seconds(180));
    if (!r) {
        std::cerr << "uplinkctl: " << r.error().message << "\n";
        return kExitNotReady;
    }
    if (r->value("status", "") != "ok" || !r->contains("report")) {
        const std::string code = r->contains("code") && (*r)["code"].is_string()
                                     ? (*r)["code"].get<std::string>()
                                     : "error";
        const std::string message = r->contains("message") && (*r)["message"].is_string()
                                        ? (*r)["message"].get<std::string>()
                                        : r->dump();
        std::cerr << "uplinkctl: " << code << ": " << message << "\n";
        return code == "unknown_route" ? kExitUsage : kExitNotReady;
    }
    auto reports = doctor::fromJson((*r)["report"]);
    if (!reports) {
        std::cerr << "uplinkctl: " << reports.error().message << "\n";
        return kExitNotReady;
    }
    return print(*reports, options.json);
}

/// What the offline run owns; destroyed in reverse order of declaration after the loop stops.
struct OfflineParts {
    std::unique_ptr<PidLock> lock;
    std::unique_ptr<Spool> spool;
    std::string spool_note;
    PahoWorker paho;
    std::unique_ptr<Tunnel> tunnel;
    std::map<std::string, std::unique_ptr<Uplink>> uplinks;
};

/// Takes the state directory's lock and opens the spool, or says in `parts.spool_note` why not.
/// Error "locked" when a running daemon holds it.
Status openSpool(asio::io_context& loop, const Config& cfg, OfflineParts& parts) {
    const std::string& dir = cfg.daemon.state_dir;
    if (cfg.daemon.spool == "memory") {
        parts.spool_note = "daemon.spool = \"memory\": nothing is kept on disk";
        return {};
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        parts.spool_note = "the state directory " + dir +
                           " does not exist yet (uplinkd creates it when it starts)";
        return {};
    }
    auto lock = PidLock::acquire(dir + "/lock", "using " + dir);
    if (!lock) {
        if (lock.error().code == "locked") {
            return lock.failure();
        }
        parts.spool_note = "cannot lock the state directory: " + lock.error().message +
                           " (run as root or as uplinkd's user)";
        return {};
    }
    parts.lock = std::move(lock.value());
    const std::string path = dir + "/spool.db";
    if (!std::filesystem::exists(path, ec)) {
        parts.spool_note = "no spool yet at " + path + " (uplinkd creates it when it starts)";
        return {};
    }
    std::string note;
    auto sq = SqliteSpool::open(loop, path, &note);
    if (!sq) {
        parts.spool_note = "cannot open " + path + ": " + sq.error().message;
        return {};
    }
    parts.spool = std::move(sq.value());
    return {};
}

int runOffline(const DoctorOptions& options) {
    PluginRegistry plugins;
    auto cfg = loadConfig(options.source, plugins);
    if (!cfg) {
        doctor::RouteReport report;
        report.route = options.route.empty() ? "*" : options.route;
        report.findings.push_back(
            doctor::configLoadFailure(options.source.main_file, cfg.error().message));
        return print({report}, options.json);
    }
    std::vector<const RouteConfig*> picked;
    std::string known;
    for (const auto& rc : cfg->routes) {
        known += (known.empty() ? "" : ", ") + rc.name;
        if (options.route.empty() || rc.name == options.route) {
            picked.push_back(&rc);
        }
    }
    if (picked.empty()) {
        std::cerr << "uplinkctl: "
                  << (options.route.empty()
                          ? "no route is configured in " + options.source.main_file
                          : "no route \"" + options.route + "\" in " + options.source.main_file +
                                " (configured: " + (known.empty() ? "none" : known) + ")")
                  << "\n";
        return kExitUsage;
    }

    asio::io_context loop;
    auto parts = std::make_unique<OfflineParts>();
    if (auto st = openSpool(loop, *cfg, *parts); !st) {
        std::cerr << "uplinkctl: " << st.error().message
                  << "\nuplinkctl: the checks must run inside the running daemon (it owns the "
                     "uplinks and the spool): run uplinkctl doctor without --config\n";
        return kExitNotReady;
    }
    auto tunnel = Tunnel::start(loop);
    if (!tunnel) {
        std::cerr << "uplinkctl: " << tunnel.error().message << "\n";
        return kExitNotReady;
    }
    parts->tunnel = std::move(tunnel.value());
    for (const RouteConfig* rc : picked) {
        for (const auto& name : rc->uplinks) {
            auto u = cfg->uplinks.find(name);
            if (u == cfg->uplinks.end() || parts->uplinks.count(name) > 0) {
                continue;
            }
            if (u->second.type == "modem") {
                const ModemPluginApi* api = plugins.modem(u->second.driver);
                if (api == nullptr) {
                    continue;  // the configuration was checked against the plugins
                }
                auto modem = std::make_unique<ModemUplink>(loop, u->second, *api);
                modem->start();
                parts->uplinks[name] = std::move(modem);
            } else {
                parts->uplinks[name] =
                    std::make_unique<LocalNetwork>(loop, name, u->second.interface);
            }
        }
    }

    std::vector<doctor::RouteReport> reports(picked.size());
    size_t left = picked.size();
    asio::steady_timer deadline(loop);
    bool finished = false;
    for (size_t i = 0; i < picked.size(); ++i) {
        const RouteConfig& rc = *picked[i];
        doctor::RouteUnderTest rut;
        rut.loop = &loop;
        rut.config = &*cfg;
        rut.route = &rc;
        rut.cloud = rc.cloud.get();
        for (const auto& name : rc.uplinks) {
            if (auto it = parts->uplinks.find(name); it != parts->uplinks.end()) {
                rut.uplinks.push_back(it->second.get());
            }
        }
        rut.spool = parts->spool.get();
        rut.spool_note = parts->spool_note;
        rut.tunnel = parts->tunnel.get();
        rut.paho = &parts->paho;
        rut.now = std::chrono::system_clock::now();
        rut.inside_daemon = false;
        doctor::run(rut, doctor::standardGroups(),
                    [&reports, &left, &loop, &finished, i](doctor::RouteReport report) {
                        reports[i] = std::move(report);
                        if (--left == 0) {
                            finished = true;
                            loop.stop();
                        }
                    });
    }
    deadline.expires_after(kOfflineDeadline);
    deadline.async_wait([&loop](asio::error_code ec) {
        if (!ec) {
            loop.stop();
        }
    });
    loop.run();
    if (!finished) {
        std::cerr << "uplinkctl: the doctor did not finish within "
                  << std::chrono::duration_cast<std::chrono::seconds>(kOfflineDeadline).count()
                  << " s\n";
        std::_Exit(kExitNotReady);  // a probe still holds a thread or the loop: do not wait
    }
    const int rc = print(reports, options.json);
    std::cout.flush();
    // The uplinks (a modem's supervisor) and the tunnel close while the loop can still run
    // their completions.
    parts->uplinks.clear();
    parts->tunnel.reset();
    loop.restart();
    loop.poll();
    parts.reset();
    return rc;
}

}  // namespace

CLI::App* addDoctorCommand(CLI::App& app, DoctorOptions& options) {
    auto* sub = app.add_subcommand(
        "doctor", "examine a route layer by layer and say what to fix (docs/doctor.md)");
    sub->add_option("-r,--route", options.route, "only this route (default: every route)");
    sub->add_flag("--json", options.json, "print the report as JSON (schema uplinkd.doctor/1)");
    sub->add_option("-c,--config", options.source.main_file,
                    "run the checks here on this configuration instead of inside the running "
                    "daemon");
    sub->add_option("--plugin-dir", options.source.plugin_dir_override, "plugin directory");
    return sub;
}

int runDoctor(const DoctorOptions& options, const std::string& socket) {
    if (options.source.main_file.empty()) {
        if (!options.source.plugin_dir_override.empty()) {
            std::cerr << "uplinkctl: doctor: --plugin-dir goes with --config\n";
            return kExitUsage;
        }
        return askDaemon(options, socket);
    }
    return runOffline(options);
}

}  // namespace uplinkd::cli
