// SPDX-License-Identifier: Apache-2.0
// SpwfCore: what the SPWF04S driver shares between its parts (bring-up, sockets, certificate
// store, MQTT client) and with its sockets and event handlers. Internal to the st-spwf04s
// plugin. Thread: loop.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "spwf_commands.hpp"

namespace uplinkd::plugins::st_spwf04s {

class SpwfSocket;

/// What the driver shares with its sockets, its MQTT client and its event handlers.
/// Thread: loop.
struct SpwfCore : modem_common::DriverCore<SpwfCore, SpwfTiming> {
    using DriverCore::DriverCore;

    /// Declares the AT-S.OK / AT-S.ERROR finals, the boot indications and the WIND routing
    /// (once the core is owned by its shared_ptr).
    void registerUrcs() override;

    modem_common::SocketTable<SpwfSocket> sockets;

    // Wi-Fi state, from the WINDs.
    bool wifi_up = false;
    std::string wifi_ip;     ///< from +WIND:24:WiFi Up:<n>:<ip>
    std::string wifi_lost;   ///< the last +WIND:33 line, while down
    uint64_t wifi_wait = 0;  ///< the ResultUrcs wait for +WIND:24 during start, 0: none

    /// The module refused AT+S.SOCKR=<id> (the length left out), or read nothing with it while
    /// bytes were announced: reads give the length from then on (a firmware whose SOCKR needs
    /// it).
    bool sockr_needs_length = false;

    /// Handlers of the MQTT client (set by SpwfMqtt).
    std::function<void(const std::string& line, std::string data)> on_mqtt_message;
    std::function<void(const std::string& line)> on_mqtt_closed;
    std::function<void(const Error& e)> on_module_reset;

    void onWind(const std::string& line);
    void onBoot(const std::string& line);
    void breakAll(const Error& e) override;

    // start(): echo off, WINDs, station mode and credentials, Wi-Fi up
    void start(StatusDone done) override;
    void startStation(uint64_t gen);
    void startWifi(uint64_t gen);
    void waitWifiUp(uint64_t gen);

    // info(): the queries, then association and the store from what the driver knows
    void info(std::span<const modem_common::InfoQuery> queries,
              std::function<void(Result<ModemInfo>)> done) override;

    // open()
    using OpenDone = std::function<void(Result<ByteStreamPtr>)>;
    void open(const ModemSocketRequest& req, OpenDone done) override;
    /// Closes socket `id` (reading what it still holds when the module says so).
    void closeSocket(int id);

    // provision() (spwf_provision.cpp)
    void provision(const ModemCredentials& creds, StatusDone done) override;
};

}  // namespace uplinkd::plugins::st_spwf04s
