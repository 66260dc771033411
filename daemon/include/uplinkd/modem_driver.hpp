// SPDX-License-Identifier: Apache-2.0
// ModemDriver: one module family's AT dialect (plugin): bring-up, registration, sockets (plain
// or TLS by the module), certificate store, and what its error codes mean. Drivers do their I/O
// only through the AtChannel they are given. Thread: loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uplinkd/at_channel.hpp"
#include "uplinkd/byte_stream.hpp"
#include "uplinkd/modem_mqtt.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

/// What `uplinkctl modem info` shows.
struct ModemInfo {
    std::string manufacturer;
    std::string model;
    std::string firmware;
    std::string imei;
    std::string iccid;
    std::string sim;           ///< "ready", "PIN required", "not inserted", ...
    std::string registration;  ///< "registered (home)", "searching", "denied", ...
    int signal_dbm = 0;        ///< 0 when unknown
    // Cellular extras (empty when the module does not say).
    std::string operator_name;      ///< "Vodafone", "26201", ...
    std::string access_technology;  ///< "LTE-M", "NB-IoT", "GSM", "LTE", ...
    std::string band;               ///< "LTE BAND 20", ...
    // Wi-Fi modules (empty for cellular ones).
    std::string ssid;
    std::string association;  ///< "associated", "not associated", "connecting", ...
    std::string ip_address;
    int wifi_rssi_dbm = 0;  ///< 0 when unknown
    /// The module's clock, Unix seconds (UTC); empty when the driver does not read it.
    std::optional<int64_t> clock_unix;
    /// Whether the module's TLS sends SNI: "sent", "not sent: <why>"; empty when unknown.
    std::string tls_sni;
    /// One entry of the module's certificate store, as far as the module lets it be read.
    struct StoreEntry {
        std::string slot;       ///< "root 0", "UFS:uplinkd_ca.pem", "ca", ...
        std::string kind;       ///< "root CA", "client certificate", "private key"
        std::string subject;    ///< empty when the module cannot show it
        std::string not_after;  ///< "2030-01-01T00:00:00Z", empty when unknown
        std::string note;       ///< e.g. "keys cannot be read back (+CME ERROR: 918)"
        int64_t size = -1;      ///< bytes as stored, -1 when the module does not say
        /// SHA-256 fingerprint (lower-case hex of the DER) of the certificate read back from
        /// the module; empty when the module cannot show the content.
        std::string sha256;
    };
    std::vector<StoreEntry> store;
    /// The driver read the store: an empty `store` then means an empty store, not "not read".
    bool store_read = false;
};

/// Settings common to every modem, from [uplinks.<name>] (the driver reads its own extras).
struct ModemSettings {
    std::string apn;
    std::string apn_user;
    std::string apn_password;  ///< secret
    std::string pin;           ///< secret; empty: no PIN
    // Wi-Fi modules.
    std::string ssid;
    std::string psk;  ///< secret: the WPA passphrase; empty: an open network
    /// A route of this uplink has mqtt = "modem": start() also checks that the module's MQTT
    /// client is there (firmware without it is reported at start-up, naming mqtt = "uplinkd").
    bool mqtt_offload = false;
};

/// A connection the module should open.
struct ModemSocketRequest {
    std::string host;
    uint16_t port = 0;
    bool tls = false;         ///< the module does TLS (certificates provisioned before)
    std::string server_name;  ///< SNI / certificate name when tls
};

/// Certificates for TLS by the module (PEM text; the key is a secret).
struct ModemCredentials {
    std::string ca_pem;
    std::string cert_pem;
    std::string key_pem;
};

class ModemDriver {
  public:
    virtual ~ModemDriver() = default;
    using StatusDone = std::function<void(Status)>;

    /// From a module that answers "AT" to a usable data bearer: echo off, errors as codes, SIM,
    /// registration, PDP context / network open. Runs again after a module reset.
    virtual void start(StatusDone done) = 0;
    virtual void info(std::function<void(Result<ModemInfo>)> done) = 0;
    /// Writes the certificates into the module's store and reads them back to compare.
    virtual void provision(const ModemCredentials& creds, StatusDone done) = 0;
    /// Opens a socket through the module. The stream sends and receives with AT commands.
    virtual void open(const ModemSocketRequest& request,
                      std::function<void(Result<ByteStreamPtr>)> done) = 0;
    /// Plain words for a module error line ("+CME ERROR: 913", "+CCHOPEN: 0,15", ...).
    virtual std::string explain(const std::string& error_line) const = 0;
    /// The largest payload one send command takes.
    virtual size_t maxSendChunk() const = 0;
    /// The module's own MQTT client (owned by the driver), or nullptr when the family has none.
    virtual ModemMqtt* mqtt() { return nullptr; }
};

using ModemDriverPtr = std::unique_ptr<ModemDriver>;

/// How a modem plugin recognises its module (apart from how it drives it).
struct ModemMatch {
    std::vector<std::string> model_patterns;  ///< substrings of ATI / AT+CGMM answers
    bool supports_tls_offload = false;
    bool supports_mqtt_offload = false;  ///< the family has an MQTT client (ModemDriver::mqtt)
    bool wifi = false;                   ///< a Wi-Fi module: ssid / psk_file instead of an APN
};

/// Entry points of a modem plugin (PluginDescriptor::api for PluginKind::Modem).
struct ModemPluginApi {
    const ModemMatch* match;
    /// Makes a driver that talks through `at` (which outlives it).
    Result<ModemDriverPtr> (*create)(asio::io_context& loop, AtChannel& at,
                                     const ModemSettings& settings);
};

}  // namespace uplinkd
