// SPDX-License-Identifier: Apache-2.0
// Doctor: examines one route layer by layer (configuration, files, clock, credentials, spool,
// modem, network, TLS, MQTT) and reports what it found with the fix for each problem. Runs
// inside the daemon (API op "doctor", D-Bus Doctor) or in uplinkctl (`doctor --config FILE`).
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "doctor/report.hpp"
#include "uplink/uplink.hpp"
#include "uplinkd/cloud_profile.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {
class Tunnel;
class PahoWorker;
}  // namespace uplinkd

namespace uplinkd::doctor {

/// What the checks of one route may use. Everything is owned by the caller and outlives the run.
struct RouteUnderTest {
    asio::io_context* loop = nullptr;
    const Config* config = nullptr;
    const RouteConfig* route = nullptr;
    const CloudProfile* cloud = nullptr;
    std::vector<Uplink*> uplinks;  ///< the route's uplinks, in order of preference
    Spool* spool = nullptr;        ///< null when the spool could not be opened
    /// Why `spool` is null (offline: a running daemon holds it, no spool file yet, …).
    std::string spool_note;
    Tunnel* tunnel = nullptr;  ///< the loopback tunnel Paho dials, for the MQTT checks
    PahoWorker* paho = nullptr;
    SystemTime now;              ///< the system clock when the run started
    bool inside_daemon = false;  ///< true: the daemon runs the checks and owns the uplinks
};

/// Receives a group's findings.
using FindingsDone = std::function<void(std::vector<Finding>)>;
/// One group of checks (one layer, usually). Calls `done` exactly once, on the loop, with its
/// findings; it may look at what earlier groups found (no TLS check when nothing answered).
using CheckGroupFn = void(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                          FindingsDone done);
using CheckGroup = std::function<CheckGroupFn>;

/// Runs `groups` in order and hands the report to `done`, on the loop.
void run(const RouteUnderTest& route, std::vector<CheckGroup> groups,
         std::function<void(RouteReport)> done);

/// Every group, in layer order.
std::vector<CheckGroup> standardGroups();

/// True when an earlier finding of `layer` failed (later layers then say why they were skipped).
bool failedAt(const std::vector<Finding>& so_far, CheckLayer layer);

/// Offline: the configuration in `main_file` does not load; one FAIL finding ("config.load")
/// carrying the loader's diagnostics (file:line:col). The run stops there.
Finding configLoadFailure(const std::string& main_file, const std::string& diagnostics);

// The groups, one file each (doctor/check_<layer>.cpp), in the order of standardGroups().
CheckGroupFn checkConfig, checkFiles, checkClock, checkCredentials, checkSpool, checkModem,
    checkNetwork, checkTls, checkMqtt;

}  // namespace uplinkd::doctor
