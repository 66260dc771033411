// SPDX-License-Identifier: Apache-2.0
// The daemon's configuration: typed sections read from TOML files with toml++. Every problem is
// reported as "file:line:col: message"; unknown keys and wrong types are errors. Cloud sections
// are validated by the cloud plugin named in them. Thread: loop (or main before the loop runs).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config_metrics.hpp"
#include "core/acl.hpp"
#include "uplinkd/cloud_profile.hpp"
#include "uplinkd/config_table.hpp"
#include "uplinkd/log.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {

class PluginRegistry;

struct DaemonSection {
    std::string state_dir = "/var/lib/uplinkd";
    std::string plugin_dir;        ///< empty: the compiled-in default
    std::string spool = "sqlite";  ///< "sqlite" (durable, in state_dir) or "memory"
    LogLevel log_level = LogLevel::Info;
};

struct ApiSection {
    std::string socket = "/run/uplinkd/uplinkd.sock";
    uint32_t socket_mode = 0660;
    std::string socket_group;            ///< empty: leave the group as created
    bool socket_world_writable = false;  ///< opt-in for a socket_mode that lets every user in
    size_t max_line_bytes = 1024 * 1024;
    /// Largest byte-counted payload ("payload_length"); SQLite stores up to 10^9 bytes a row.
    uint64_t max_message_bytes = 256 * 1024 * 1024;
    size_t max_connections_per_uid = 64;
    size_t max_buffered_input_bytes = 16 * 1024 * 1024;
    int partial_line_timeout_ms = 60000;
    std::vector<api::AclRule> acl;  ///< [api.acl.<name>]; empty: everyone may do everything
};

/// [uplinks.<name>.power] of a modem uplink: how uplinkd can reset or power-cycle the module.
struct ModemPowerConfig {
    std::string backend = "none";  ///< "none", "gpiod" or "emulator" (tests)
    std::string chip;              ///< gpiod: chip name, path, label or number
    std::optional<unsigned> power_line, reset_line, status_line;  ///< gpiod line offsets
    bool active_low = false;  ///< the power and reset lines are asserted low
    /// Pulse lengths and the boot wait; unset: the driver's defaults.
    std::optional<int> power_pulse_ms, reset_pulse_ms, boot_wait_ms;
    std::string control_socket;  ///< emulator: its control socket
    bool operator==(const ModemPowerConfig&) const = default;
};

/// Defaults of a modem uplink, chosen so that an idle route over it costs at most 2 KB of line
/// bytes per hour (bench/modem_bench, "idle hour"; docs/modem.md "Cellular data budget").
inline constexpr int kModemKeepAliveSeconds = 600;
inline constexpr int kModemHealthCheckMs = 300'000;

struct UplinkConfig {
    std::string name;
    std::string type = "network";  ///< "network" or "modem"
    std::string interface;         ///< network: bind to this interface (SO_BINDTODEVICE)

    // type = "modem"
    std::string driver;  ///< modem plugin name
    std::string device;  ///< serial device of the module's AT port
    unsigned baud = 115200;
    bool flow_control = true;   ///< RTS/CTS
    std::string tls = "local";  ///< "local": uplinkd does TLS; "modem": the module does
    std::string apn;
    std::string apn_user;
    std::string apn_password;  ///< secret, from apn_password_file
    std::string pin;           ///< secret, from pin_file
    std::string ssid;          ///< Wi-Fi modules: the network to join
    std::string psk;           ///< secret, from psk_file (WPA passphrase); empty: open network
    /// Set when a route of this uplink has mqtt = "modem" (derived, not a key).
    bool mqtt_offload = false;
    int health_check_ms = kModemHealthCheckMs;  ///< probe an idle module this often
    /// MQTT keep-alive (s) of the routes over this modem uplink, instead of the cloud's
    /// keepalive_seconds: the cellular data budget (docs/modem.md). 0 for network uplinks.
    int keepalive_seconds = 0;
    ModemPowerConfig power;
    /// Costs per byte (cellular): routes with metered_topics send only those over it.
    bool metered = false;

    bool operator==(const UplinkConfig&) const = default;
};

struct TlsConfig {
    std::string ca_file;    ///< empty: the system trust store
    std::string cert_file;  ///< client certificate (mutual TLS)
    std::string key_file;
    std::string server_name;        ///< overrides the SNI / certificate name
    std::vector<std::string> alpn;  ///< overrides the cloud's ALPN list
    std::string ciphers_tls12;      ///< TLS 1.2 suites (OpenSSL syntax); empty: ECDHE + AEAD
};

struct DeliveryConfig {
    int inflight_window = 32;
    int backoff_min_ms = 1000;
    int backoff_max_ms = 60000;
    int refused_backoff_ms = 60000;  ///< after a refused CONNECT (bad credentials)
    int connect_timeout_ms = 30000;
    /// Deliveries the broker may refuse before the message goes to the dead letters.
    int max_attempts = 5;
};

/// How a route with several uplinks notices a dead one and comes back to a preferred one.
struct FailoverConfig {
    int failover_after_ms = 30000;  ///< nothing received this long on the active uplink: dead
    int failback_hold_ms = 60000;   ///< a preferred uplink healthy this long: move back to it
    int probe_interval_ms = 10000;  ///< probe a preferred uplink this often (doubling on failure)
    int probe_max_ms = 300000;      ///< up to this
};

struct RouteConfig {
    std::string name;
    std::string cloud_type;
    std::shared_ptr<CloudProfile> cloud;
    std::vector<std::string> uplinks;  ///< in order of preference
    /// "uplinkd": uplinkd speaks MQTT (Paho); "modem": the module's own MQTT client does.
    std::string mqtt = "uplinkd";
    TlsConfig tls;
    SpoolLimits spool;
    DeliveryConfig delivery;
    FailoverConfig failover;
    /// While a metered uplink carries the route, only messages whose local topic matches one of
    /// these filters are sent; the rest wait in the spool. Empty: everything is sent.
    std::vector<std::string> metered_topics;
    /// Whether each of `uplinks` is metered, in the same order (derived, not a key).
    std::vector<bool> metered_uplinks;
    /// tls = false with a password or SAS key is refused unless this is set (then a warning).
    bool allow_plaintext_credentials = false;
    /// The route's configuration as text, to tell whether a reload changed it.
    std::string fingerprint;
};

struct Config {
    std::vector<std::string> files;  ///< what was read, in order
    DaemonSection daemon;
    ApiSection api;
    MetricsSection metrics;  ///< [metrics] (config_metrics.hpp)
    std::map<std::string, UplinkConfig> uplinks;
    std::vector<RouteConfig> routes;
    /// "daemon.state_dir", "api.socket", "api.socket_group" → "file:line:col" where they were
    /// set (absent: the default), for the start-up checks against the host (config_checks.hpp).
    std::map<std::string, std::string> positions;

    const RouteConfig* route(std::string_view name) const;
};

/// Where the configuration comes from: a main file, an optional drop-in directory read in
/// lexical order, and command-line overrides "dotted.key=<TOML value>".
struct ConfigSource {
    std::string main_file;
    std::string dropin_dir;  ///< empty: "<dir of main_file>/conf.d" if it exists
    std::vector<std::string> overrides;
    std::string plugin_dir_override;  ///< from the command line; wins over daemon.plugin_dir
};

/// Reads and validates everything. Plugins are loaded through `plugins` (from the configured
/// plugin directory) to validate cloud sections. On failure the error message holds every
/// diagnostic, one per line.
Result<Config> loadConfig(const ConfigSource& source, PluginRegistry& plugins);

/// Reads configuration text (tests, `uplinkctl check-config -`): `name` is used in diagnostics,
/// plugins come from `plugin_dir`.
Result<Config> loadConfigFromString(const std::string& text, const std::string& name,
                                    PluginRegistry& plugins, const std::string& plugin_dir);

}  // namespace uplinkd
