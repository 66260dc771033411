// SPDX-License-Identifier: Apache-2.0
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>

#include "config/config_acl.hpp"
#include "config/config_checks.hpp"
#include "config/config_metered.hpp"
#include "config/config_text.hpp"
#include "core/baud_rates.hpp"
#include "plugin/plugin_registry.hpp"
#include "uplinkd/log.hpp"
#include "uplinkd/secret_file.hpp"

namespace uplinkd {

namespace {

namespace fs = std::filesystem;
using config_text::applyOverride;
using config_text::parseFile;
using config_text::tomlSafeText;

std::optional<LogLevel> parseLogLevel(const std::string& s) {
    if (s == "error")
        return LogLevel::Error;
    if (s == "warning")
        return LogLevel::Warning;
    if (s == "notice")
        return LogLevel::Notice;
    if (s == "info")
        return LogLevel::Info;
    if (s == "debug")
        return LogLevel::Debug;
    return std::nullopt;
}

void readDaemon(ConfigTable t, DaemonSection& out) {
    out.state_dir = t.string("state_dir").value_or(out.state_dir);
    out.plugin_dir = t.string("plugin_dir").value_or(out.plugin_dir);
    out.spool = t.choice("spool", {"sqlite", "memory"}).value_or(out.spool);
    if (auto lvl = t.choice("log_level", {"error", "warning", "notice", "info", "debug"})) {
        out.log_level = *parseLogLevel(*lvl);
    }
    t.finish();
}

void readApi(ConfigTable t, ApiSection& out) {
    out.socket = t.string("socket").value_or(out.socket);
    if (out.socket.size() >= 108) {
        t.error("socket", "path is longer than the 107 bytes a UNIX socket path may have");
    }
    if (auto mode = t.fileMode("socket_mode")) {
        out.socket_mode = *mode;
    }
    out.socket_group = t.string("socket_group").value_or("");
    out.socket_world_writable = t.boolean("socket_world_writable").value_or(false);
    out.max_line_bytes = static_cast<size_t>(
        t.integer("max_line_bytes", 1024, 64 * 1024 * 1024).value_or(1024 * 1024));
    out.max_message_bytes = static_cast<uint64_t>(
        t.integer("max_message_bytes", 0, 1'000'000'000).value_or(256 * 1024 * 1024));
    out.max_connections_per_uid =
        static_cast<size_t>(t.integer("max_connections_per_uid", 1, 65536).value_or(64));
    out.max_buffered_input_bytes = static_cast<size_t>(
        t.integer("max_buffered_input_bytes", 1024, int64_t{4} << 30).value_or(16 * 1024 * 1024));
    out.partial_line_timeout_ms =
        static_cast<int>(t.integer("partial_line_timeout_ms", 100, 3'600'000).value_or(60000));
    readAcl(t.table("acl"), out.acl);
    t.finish();
}

void readPower(ConfigTable p, ModemPowerConfig& out) {
    if (!p.present()) {
        return;
    }
    out.backend = p.choice("backend", {"none", "gpiod", "emulator"}).value_or("none");
    const bool gpiod = out.backend == "gpiod";
    out.chip = p.string("chip", gpiod).value_or("");
    auto line = [&](const char* key) -> std::optional<unsigned> {
        if (auto v = p.integer(key, 0, 65535)) {
            return static_cast<unsigned>(*v);
        }
        return std::nullopt;
    };
    out.power_line = line("power_line");
    out.reset_line = line("reset_line");
    out.status_line = line("status_line");
    out.active_low = p.boolean("active_low").value_or(false);
    if (gpiod && !out.power_line && !out.reset_line && !p.has("power_line") &&
        !p.has("reset_line")) {
        p.error("", "backend \"gpiod\" needs power_line or reset_line (line offsets on the chip)");
    }
    if (!gpiod) {
        for (const char* key : {"chip", "power_line", "reset_line", "status_line", "active_low"}) {
            if (p.has(key)) {
                p.error(key, "only used with backend = \"gpiod\"");
            }
        }
    }
    out.control_socket = p.string("control_socket", out.backend == "emulator").value_or("");
    if (out.backend != "emulator" && p.has("control_socket")) {
        p.error("control_socket", "only used with backend = \"emulator\"");
    }
    auto ms = [&](const char* key, int64_t min, int64_t max) -> std::optional<int> {
        if (auto v = p.integer(key, min, max)) {
            return static_cast<int>(*v);
        }
        return std::nullopt;
    };
    out.power_pulse_ms = ms("power_pulse_ms", 1, 60'000);
    out.reset_pulse_ms = ms("reset_pulse_ms", 1, 60'000);
    out.boot_wait_ms = ms("boot_wait_ms", 0, 600'000);
    p.finish();
}

/// "no modem plugin "x" in DIR (available: a, b)": what a wrong driver or cloud type says.
std::string noPlugin(PluginRegistry& plugins, PluginKind kind, const char* what,
                     const std::string& name) {
    std::string known;
    for (const auto& n : plugins.names(kind)) {
        known += known.empty() ? n : ", " + n;
    }
    std::string out = std::string("no ") + what + " plugin \"" + name + "\" in " +
                      plugins.directory() + " (available: " + (known.empty() ? "none" : known) +
                      ")";
    for (const auto& problem : plugins.problems()) {
        out += "; " + problem;
    }
    return out;
}

void readModemUplink(ConfigTable& t, UplinkConfig& out, PluginRegistry& plugins) {
    const ModemPluginApi* api = nullptr;
    if (auto driver = t.string("driver", true)) {
        out.driver = *driver;
        api = plugins.modem(*driver);
        if (api == nullptr) {
            t.error("driver", noPlugin(plugins, PluginKind::Modem, "modem", *driver));
        }
    }
    out.device = t.string("device", true).value_or("");
    if (auto baud = t.integer("baud", 1, 100'000'000)) {
        if (!termiosSpeed(static_cast<unsigned>(*baud))) {
            std::string rates;
            for (unsigned b : supportedBauds()) {
                rates += (rates.empty() ? "" : ", ") + std::to_string(b);
            }
            t.error("baud",
                    std::to_string(*baud) + " is not a supported baud rate (" + rates + ")");
        } else {
            out.baud = static_cast<unsigned>(*baud);
        }
    }
    out.flow_control = t.boolean("flow_control").value_or(true);
    out.tls = t.choice("tls", {"local", "modem"}).value_or("local");
    if (out.tls == "modem" && api != nullptr && !api->match->supports_tls_offload) {
        t.error("tls",
                "the " + out.driver + " driver cannot have the module do TLS; use tls = \"local\"");
    }
    const bool wifi = api != nullptr && api->match->wifi;
    out.ssid = t.string("ssid").value_or("");
    if (auto psk = readSecretFile(t, "psk_file")) {
        out.psk = *psk;
        if (out.psk.size() < 8 || out.psk.size() > 63) {
            t.error("psk_file", "a WPA passphrase has 8 to 63 characters; the file holds " +
                                    std::to_string(out.psk.size()));
        }
    }
    if (api != nullptr && wifi && out.ssid.empty()) {
        t.error("ssid", "the " + out.driver +
                            " driver drives a Wi-Fi module: set ssid (and "
                            "psk_file unless the network is open)");
    }
    if (api != nullptr && !wifi && (!out.ssid.empty() || !out.psk.empty())) {
        t.error(out.ssid.empty() ? "psk_file" : "ssid",
                "the " + out.driver +
                    " driver drives a cellular module, which joins no Wi-Fi "
                    "network; remove this key");
    }
    if (out.ssid.size() > 32 || out.ssid.find_first_of("\"\r\n") != std::string::npos) {
        t.error("ssid", "an SSID has at most 32 bytes and no quote or line break");
    }
    out.apn = t.string("apn").value_or("");
    out.apn_user = t.string("apn_user").value_or("");
    if (auto pw = readSecretFile(t, "apn_password_file")) {
        out.apn_password = *pw;
        if (out.apn_user.empty()) {
            t.error("apn_password_file", "an APN password needs apn_user");
        }
    }
    if (auto pin = readSecretFile(t, "pin_file")) {
        const bool digits = std::all_of(pin->begin(), pin->end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        });
        if (!digits || pin->size() < 4 || pin->size() > 8) {
            t.error("pin_file", "the file must hold the SIM PIN: 4 to 8 digits");
        } else {
            out.pin = *pin;
        }
    }
    out.health_check_ms = static_cast<int>(
        t.integer("health_check_ms", 1000, 3'600'000).value_or(out.health_check_ms));
    out.keepalive_seconds =
        static_cast<int>(t.integer("keepalive_seconds", 5, 3600).value_or(kModemKeepAliveSeconds));
    readPower(t.table("power"), out.power);
}

void readUplink(ConfigTable t, const std::string& name, UplinkConfig& out,
                PluginRegistry& plugins) {
    out.name = name;
    out.type = t.choice("type", {"network", "modem"}, true).value_or("network");
    out.metered = t.boolean("metered").value_or(false);
    if (out.type == "modem") {
        readModemUplink(t, out, plugins);
    } else {
        out.interface = t.string("interface").value_or("");
    }
    t.finish();
}

void readTls(ConfigTable t, TlsConfig& out) {
    out.ca_file = t.string("ca_file").value_or("");
    out.cert_file = t.string("cert_file").value_or("");
    out.key_file = t.string("key_file").value_or("");
    out.server_name = t.string("server_name").value_or("");
    out.alpn = t.stringArray("alpn").value_or(std::vector<std::string>{});
    out.ciphers_tls12 = t.string("ciphers_tls12").value_or("");
    for (const char* key : {"ca_file", "cert_file"}) {
        const std::string& v = key == std::string_view("ca_file") ? out.ca_file : out.cert_file;
        std::error_code ec;
        if (!v.empty() && !fs::exists(v, ec)) {
            t.error(key, "file \"" + v + "\" does not exist");
        }
    }
    // The private key is a secret like a password file, and follows the same rules.
    if (!out.key_file.empty()) {
        if (auto problem = secretFileProblem(out.key_file)) {
            t.error("key_file", *problem);
        }
    }
    if (out.cert_file.empty() != out.key_file.empty()) {
        t.error(out.cert_file.empty() ? "key_file" : "cert_file",
                "a client certificate needs both cert_file and key_file");
    }
    t.finish();
}

void readSpool(ConfigTable t, SpoolLimits& out) {
    out.max_messages =
        static_cast<uint64_t>(t.integer("max_messages", 0, INT64_MAX).value_or(1'000'000));
    out.max_bytes =
        static_cast<uint64_t>(t.integer("max_bytes", 0, INT64_MAX).value_or(int64_t{1} << 30));
    out.max_age_seconds = t.integer("max_age_seconds", 0, INT64_MAX).value_or(0);
    if (auto wf = t.choice("when_full", {"reject", "drop-oldest"})) {
        out.when_full =
            *wf == "reject" ? SpoolLimits::WhenFull::Reject : SpoolLimits::WhenFull::DropOldest;
    }
    t.finish();
}

void readDelivery(ConfigTable t, DeliveryConfig& out) {
    // Without the key the route chooses its window from the measured round trip (0: automatic,
    // InflightWindow); a DeliveryConfig built in code keeps its fixed default.
    out.inflight_window = static_cast<int>(t.integer("inflight_window", 1, 65535).value_or(0));
    out.backoff_min_ms =
        static_cast<int>(t.integer("backoff_min_ms", 10, 3'600'000).value_or(out.backoff_min_ms));
    out.backoff_max_ms =
        static_cast<int>(t.integer("backoff_max_ms", 10, 3'600'000).value_or(out.backoff_max_ms));
    out.refused_backoff_ms = static_cast<int>(
        t.integer("refused_backoff_ms", 10, 3'600'000).value_or(out.refused_backoff_ms));
    out.connect_timeout_ms = static_cast<int>(
        t.integer("connect_timeout_ms", 100, 600'000).value_or(out.connect_timeout_ms));
    out.max_attempts =
        static_cast<int>(t.integer("max_attempts", 1, 1000).value_or(out.max_attempts));
    if (out.backoff_min_ms > out.backoff_max_ms) {
        t.error("backoff_min_ms", "must not be larger than backoff_max_ms");
    }
    t.finish();
}

void readFailover(ConfigTable& t, FailoverConfig& out) {
    out.failover_after_ms = static_cast<int>(
        t.integer("failover_after_ms", 200, 600'000).value_or(out.failover_after_ms));
    out.failback_hold_ms = static_cast<int>(
        t.integer("failback_hold_ms", 0, 86'400'000).value_or(out.failback_hold_ms));
    out.probe_interval_ms = static_cast<int>(
        t.integer("probe_interval_ms", 100, 3'600'000).value_or(out.probe_interval_ms));
    out.probe_max_ms =
        static_cast<int>(t.integer("probe_max_ms", 100, 86'400'000).value_or(out.probe_max_ms));
    if (out.probe_interval_ms > out.probe_max_ms) {
        t.error("probe_interval_ms", "must not be larger than probe_max_ms");
    }
}

bool validRouteName(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

/// mqtt = "modem": one modem uplink whose family has an MQTT client; marks that uplink.
void checkMqttOffload(ConfigTable& t, const RouteConfig& r, PluginRegistry& plugins, Config& cfg) {
    if (r.uplinks.size() != 1) {
        t.error("mqtt",
                "mqtt = \"modem\" needs exactly one uplink (a module's MQTT client "
                "cannot fail over to another uplink); set uplinks = [\"<modem>\"]");
        return;
    }
    auto it = cfg.uplinks.find(r.uplinks.front());
    if (it == cfg.uplinks.end()) {
        return;  // reported with "uplinks"
    }
    UplinkConfig& u = it->second;
    if (u.type != "modem") {
        t.error("mqtt", "mqtt = \"modem\" needs a modem uplink; uplink \"" + u.name +
                            "\" is the board's network: use mqtt = \"uplinkd\"");
        return;
    }
    const ModemPluginApi* api = plugins.modem(u.driver);
    if (api != nullptr && !api->match->supports_mqtt_offload) {
        t.error("mqtt", "the " + u.driver +
                            " driver has no MQTT client of the module; use "
                            "mqtt = \"uplinkd\"");
        return;
    }
    u.mqtt_offload = true;
}

void readRoute(ConfigTable t, const std::string& name, PluginRegistry& plugins, Config& cfg,
               Diagnostics& diags) {
    RouteConfig r;
    r.name = name;
    if (!validRouteName(name)) {
        t.error("", "a route name may contain only letters, digits, '-' and '_'");
    }
    r.uplinks = t.stringArray("uplinks").value_or(std::vector<std::string>{});
    for (const auto& u : r.uplinks) {
        if (cfg.uplinks.find(u) == cfg.uplinks.end()) {
            t.error("uplinks", "no uplink named \"" + u + "\" (define [uplinks." + u + "])");
        }
    }
    if (r.uplinks.empty()) {
        for (const auto& [uname, u] : cfg.uplinks) {
            r.uplinks.push_back(uname);
        }
    }
    r.mqtt = t.choice("mqtt", {"uplinkd", "modem"}).value_or("uplinkd");
    if (r.mqtt == "modem") {
        checkMqttOffload(t, r, plugins, cfg);
    }
    readTls(t.table("tls"), r.tls);
    readSpool(t.table("spool"), r.spool);
    readDelivery(t.table("delivery"), r.delivery);
    readFailover(t, r.failover);
    readMeteredTopics(t, r, cfg);
    r.allow_plaintext_credentials = t.boolean("allow_plaintext_credentials").value_or(false);

    ConfigTable cloud = t.table("cloud");
    if (!cloud.present()) {
        t.error("", "missing [routes." + name + ".cloud] (which cloud to deliver to)");
    } else if (auto type = cloud.string("type", true)) {
        r.cloud_type = *type;
        const CloudPluginApi* api = plugins.cloud(*type);
        if (api == nullptr) {
            cloud.error("type", noPlugin(plugins, PluginKind::Cloud, "cloud", *type));
        } else {
            auto profile = api->create(cloud);
            if (profile) {
                r.cloud = std::shared_ptr<CloudProfile>(std::move(profile.value()));
            } else if (diags.empty()) {
                cloud.error("", profile.error().message);
            }
        }
    }
    t.finish();
    cfg.routes.push_back(std::move(r));
}

Result<Config> build(toml::table& root, std::vector<std::string> files,
                     const std::string& plugin_dir_override, PluginRegistry& plugins,
                     Diagnostics& diags) {
    Config cfg;
    cfg.files = std::move(files);
    ConfigTable top(&root, "", root.source(), diags);
    readDaemon(top.table("daemon"), cfg.daemon);
    readApi(top.table("api"), cfg.api);
    readMetrics(top.table("metrics"), cfg.metrics);

    // Plugins come from the command line, else the configuration, else the compiled-in path.
    std::string plugin_dir =
        cfg.daemon.plugin_dir.empty() ? defaultPluginDir() : cfg.daemon.plugin_dir;
    if (!plugin_dir_override.empty()) {
        plugin_dir = plugin_dir_override;
    }
    cfg.daemon.plugin_dir = plugin_dir;
    // Only the plugins that the configuration names are loaded (each maps its own pages).
    plugins.useDirectory(plugin_dir);

    ConfigTable uplinks = top.table("uplinks");
    for (const auto& name : uplinks.tableKeys()) {
        UplinkConfig u;
        readUplink(uplinks.table(name), name, u, plugins);
        cfg.uplinks[name] = u;
    }
    uplinks.finish();
    if (cfg.uplinks.empty()) {
        UplinkConfig network;
        network.name = "network";
        cfg.uplinks["network"] = network;
    }

    ConfigTable routes = top.table("routes");
    for (const auto& name : routes.tableKeys()) {
        ConfigTable rt = routes.table(name);
        readRoute(rt, name, plugins, cfg, diags);
        std::ostringstream fp;
        fp << *root["routes"][name].as_table();
        cfg.routes.back().fingerprint = fp.str();
    }
    routes.finish();
    checkAclRoutes(top.table("api"), cfg);
    top.finish();
    if (diags.empty()) {
        checkConfigRules(root, cfg, diags);
    }
    if (!diags.empty()) {
        return fail("config", diags.text());
    }
    if (cfg.routes.empty()) {
        // Valid (the packaged default has none): the APIs run, publishing answers unknown_route.
        logNotice(
            "no route is configured: publishing fails until a [routes.<name>] table with a "
            "[routes.<name>.cloud] section is added");
    }
    return cfg;
}

}  // namespace

const RouteConfig* Config::route(std::string_view name) const {
    for (const auto& r : routes) {
        if (r.name == name) {
            return &r;
        }
    }
    return nullptr;
}

Result<Config> loadConfig(const ConfigSource& source, PluginRegistry& plugins) {
    Diagnostics diags;
    toml::table root;
    std::vector<std::string> files;
    std::error_code ec;
    if (!fs::exists(source.main_file, ec)) {
        return fail("config", source.main_file + ": no such file\n");
    }
    if (fs::is_directory(source.main_file, ec)) {
        return fail("config", source.main_file +
                                  ": is a directory; --config names the main file (drop-in "
                                  "files go in its conf.d directory, or in --conf-dir)\n");
    }
    files.push_back(source.main_file);
    (void)parseFile(source.main_file, root, diags);

    std::string dropins = source.dropin_dir;
    if (dropins.empty()) {
        dropins = (fs::path(source.main_file).parent_path() / "conf.d").string();
    }
    if (fs::is_directory(dropins, ec)) {
        std::vector<fs::path> extra;
        for (const auto& entry : fs::directory_iterator(dropins, ec)) {
            if (entry.path().extension() == ".toml") {
                extra.push_back(entry.path());
            }
        }
        std::sort(extra.begin(), extra.end());
        for (const auto& p : extra) {
            files.push_back(p.string());
            (void)parseFile(p.string(), root, diags);
        }
    }
    for (const auto& spec : source.overrides) {
        (void)applyOverride(spec, root, diags);
    }
    if (!diags.empty()) {
        return fail("config", diags.text());
    }
    return build(root, std::move(files), source.plugin_dir_override, plugins, diags);
}

Result<Config> loadConfigFromString(const std::string& text, const std::string& name,
                                    PluginRegistry& plugins, const std::string& plugin_dir) {
    Diagnostics diags;
    auto safe = tomlSafeText(text, name);
    if (!safe) {
        diags.addPlain(safe.error().message);
        return fail("config", diags.text());
    }
    toml::parse_result parsed = toml::parse(*safe, std::string_view(name));
    if (!parsed) {
        diags.add(parsed.error().source(), std::string(parsed.error().description()));
        return fail("config", diags.text());
    }
    toml::table root = std::move(parsed.table());
    return build(root, {name}, plugin_dir, plugins, diags);
}

}  // namespace uplinkd
