// SPDX-License-Identifier: Apache-2.0
// st-spwf04s: the modem plugin for ST SPWF04SA / SPWF04SC Wi-Fi modules (the AT+S. command set):
// joining a WPA2 network, `modem info`, the TLS credential store, plain and TLS sockets (TLS done
// by the module), the module's MQTT client (MQTT offload), and plain words for its error and
// event codes. Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>

#include "common/driver_core.hpp"
#include "spwf_commands.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::st_spwf04s {

struct SpwfCore;
class SpwfMqtt;

/// ModemDriver for the SPWF04S: every I/O goes through the AtChannel (whose final results it
/// declares: AT-S.OK / AT-S.ERROR). Sockets it opened keep working until the driver is
/// destroyed, then fail with "closed". Thread: loop.
///  - start(): echo off, WINDs on, station mode, WPA2 passphrase (or an open network), SSID,
///    AT+S.WIFI=0 then =1, and "+WIND:24:WiFi Up". A second start() cancels the first one.
///  - provision(): the root CA, client certificate and key with AT+S.TLSCERT=<type>,<len> and
///    the exact PEM bytes, after local checks with OpenSSL (root CA, key matches certificate).
///  - open(): AT+S.SOCKON (t, or s for TLS by the module); AT+S.SOCKW / AT+S.SOCKR by count.
///  - mqtt(): the module's MQTT client (AT+S.MQTT*).
class SpwfDriver final : public modem_common::DriverFront {
  public:
    SpwfDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
               SpwfTiming timing = kSpwfTiming);
    ~SpwfDriver() override;
    ModemMqtt* mqtt() override;

  private:
    SpwfDriver(std::shared_ptr<SpwfCore> core);
    std::unique_ptr<SpwfMqtt> mqtt_;
};

/// The plugin's ModemPluginApi::create: checks the Wi-Fi settings, then makes a driver.
Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at, const ModemSettings& settings);
/// The modules this plugin drives (answers containing "SPWF04").
const ModemMatch& match();
const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::st_spwf04s
