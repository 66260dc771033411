// SPDX-License-Identifier: Apache-2.0
// uplinkctl: the command-line client of uplinkd's local API (publish, subscribe, status,
// modem), configuration checks and SAS tokens for checking by hand.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>

#include "api/protocol.hpp"
#include "cli/api_client.hpp"
#include "cli/certs_cmd.hpp"
#include "cli/doctor_cmd.hpp"
#include "cli/health.hpp"
#include "cli/modem_cmd.hpp"
#include "cli/request.hpp"
#include "cli/status_watch.hpp"
#include "cli/traffic_view.hpp"
#include "config/config.hpp"
#include "plugin/plugin_registry.hpp"
#include "uplinkd/base64.hpp"

namespace {

using nlohmann::json;
using uplinkd::ApiClient;
using uplinkd::cli::call;
using uplinkd::cli::kExitFailure;
using uplinkd::cli::report;
using uplinkd::cli::request;
using uplinkd::cli::runModemAt;
using uplinkd::cli::runModemInfo;
using uplinkd::cli::text;

constexpr int kExitConfig = 78;

std::string formatAge(int64_t ms) {
    if (ms < 1000)
        return std::to_string(ms) + " ms";
    if (ms < 120000)
        return std::to_string(ms / 1000) + " s";
    if (ms < 7200000)
        return std::to_string(ms / 60000) + " min";
    return std::to_string(ms / 3600000) + " h";
}

// ---- failover: the route's uplinks and its last switches (status) ----
void printUplinks(const json& rt) {
    if (!rt.contains("uplinks") || rt["uplinks"].size() < 2) {
        return;
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    for (const auto& u : rt["uplinks"]) {
        std::cout << "  - " << u["name"].get<std::string>()
                  << (u.value("metered", false) ? " (metered)" : "") << ": "
                  << u["state"].get<std::string>();
        if (!u["reason"].get<std::string>().empty()) {
            std::cout << " (" << u["reason"].get<std::string>() << ")";
        }
        if (u["last_probe_ms"].get<int64_t>() > 0) {
            std::cout << ", probed " << formatAge(now - u["last_probe_ms"].get<int64_t>())
                      << " ago";
        }
        std::cout << ", " << u["bytes_sent"] << " bytes sent, " << u["bytes_received"]
                  << " received\n";
    }
    const auto& f = rt["failovers"];
    for (size_t i = f.size() > 3 ? f.size() - 3 : 0; i < f.size(); ++i) {
        std::cout << "  switched " << formatAge(now - f[i]["at_ms"].get<int64_t>())
                  << " ago: " << f[i]["from"].get<std::string>() << " -> "
                  << f[i]["to"].get<std::string>() << " (" << f[i]["reason"].get<std::string>()
                  << ")\n";
    }
}

int runStatus(ApiClient& c, const std::string& route, bool as_json) {
    auto r = call(c, request("status", "route", route), std::chrono::seconds(10));
    if (!r)
        return kExitFailure;
    if (as_json) {
        std::cout << (*r)["routes"].dump(2) << "\n";
        return 0;
    }
    for (const auto& rt : (*r)["routes"]) {
        std::cout << "route " << rt["route"].get<std::string>() << " ("
                  << rt["cloud"].get<std::string>() << "): " << rt["state"].get<std::string>()
                  << "\n";
        std::cout << "  broker      " << rt["broker"].get<std::string>() << "\n";
        std::cout << "  uplink      " << rt["uplink"].get<std::string>() << "\n";
        if (!rt["stream"].get<std::string>().empty()) {
            std::cout << "  connection  " << rt["stream"].get<std::string>() << "\n";
        }
        if (rt.value("mqtt", std::string("uplinkd")) == "modem") {
            std::cout << "  mqtt        by the module's own client\n";
        }
        if (!rt.value("delivery_note", std::string()).empty()) {
            std::cout << "  delivered   " << rt["delivery_note"].get<std::string>() << "\n";
        }
        if (!rt["last_error"].get<std::string>().empty()) {
            std::cout << "  last error  " << rt["last_error"].get<std::string>() << "\n";
        }
        if (const std::string problem = rt.value("spool_problem", std::string());
            !problem.empty()) {
            std::cout << "  spool       " << problem << "\n";
        }
        if (rt["state"] == "backoff") {
            std::cout << "  next try in " << formatAge(rt["next_retry_ms"].get<int64_t>()) << "\n";
        }
        std::cout << "  queued      " << rt["queued"] << " message(s), " << rt["queued_bytes"]
                  << " bytes";
        if (rt["queued"].get<uint64_t>() > 0) {
            std::cout << ", oldest " << formatAge(rt["oldest_age_ms"].get<int64_t>());
        }
        if (rt.value("held_metered", uint64_t{0}) > 0) {
            std::cout << "\n  held back   " << rt["held_metered"]
                      << " message(s) not in metered_topics, until an unmetered uplink is back";
        }
        std::cout << "\n  in flight   " << rt["in_flight"] << "\n";
        if (rt.value("dead_lettered", uint64_t{0}) > 0) {
            std::cout << "  dead letters " << rt["dead_lettered"]
                      << " (the broker kept refusing them: uplinkctl deadletter list)\n";
        }
        std::cout << "  sent " << rt["sent"] << ", delivered " << rt["delivered"] << ", received "
                  << rt["received"] << ", dropped " << rt["dropped"] << ", expired "
                  << rt["expired"] << ", rejected " << rt["rejected"] << "\n";
        std::cout << "  connections " << rt["connects"] << " made, " << rt["failures"]
                  << " failed\n";
        printUplinks(rt);
        for (const auto& u : rt.value("uplinks", json::array())) {
            if (const std::string line = uplinkd::cli::trafficLine(u); !line.empty()) {
                std::cout << "  data " << line << "\n";
            }
        }
    }
    return 0;
}

/// `send` puts the request on the wire (with its payload, however it is framed).
int runPublish(ApiClient& c, json req, const std::function<uplinkd::Status(json)>& send,
               bool wait_delivered, int timeout_s) {
    if (wait_delivered)
        req["report_delivered"] = true;
    if (auto st = send(std::move(req)); !st)
        return report(st.error());
    const auto timeout = std::chrono::seconds(timeout_s);
    while (true) {
        auto r = c.receive(timeout);
        if (!r)
            return report(r.error());
        const std::string status = (*r)["status"];
        if (status == "error") {
            std::cerr << "uplinkctl: " << (*r)["code"].get<std::string>() << ": "
                      << (*r)["message"].get<std::string>() << "\n";
            return kExitFailure;
        }
        if (status == "queued") {
            std::cout << "queued as #" << (*r)["seq"] << "\n";
            if (!wait_delivered)
                return 0;
        } else if (status == "delivered") {
            std::cout << "delivered #" << (*r)["seq"] << "\n";
            return 0;
        }
    }
}

int runSubscribe(ApiClient& c, const std::string& route, const std::string& filter, int qos,
                 int count, bool as_json) {
    if (auto st = c.send(
            {{"op", "subscribe"}, {"id", 1}, {"route", route}, {"filter", filter}, {"qos", qos}});
        !st) {
        return report(st.error());
    }
    int seen = 0;
    while (count <= 0 || seen < count) {
        auto r = c.receive(std::chrono::hours(24 * 365));
        if (!r)
            return report(r.error());
        if (r->contains("status")) {
            if ((*r)["status"] == "error") {
                std::cerr << "uplinkctl: " << (*r)["message"].get<std::string>() << "\n";
                return kExitFailure;
            }
            continue;
        }
        ++seen;
        if (as_json) {
            std::cout << r->dump() << std::endl;
        } else {
            std::cout << (*r)["topic"].get<std::string>() << " "
                      << (r->contains("payload")
                              ? (*r)["payload"].get<std::string>()
                              : "(base64) " + (*r)["payload_b64"].get<std::string>())
                      << std::endl;
        }
    }
    return 0;
}

/// Prints a SAS token for an Azure route of the configuration, signed now, for checking by
/// hand (mosquitto_pub -P, the hub's tools). The token goes to stdout and nowhere else.
int runSasToken(const uplinkd::ConfigSource& source, const std::string& route) {
    uplinkd::PluginRegistry plugins;
    auto cfg = uplinkd::loadConfig(source, plugins);
    if (!cfg) {
        std::cerr << cfg.error().message;
        return kExitConfig;
    }
    const uplinkd::RouteConfig* r = cfg->route(route);
    if (r == nullptr || !r->cloud) {
        std::string known;
        for (const auto& rt : cfg->routes) {
            known += (known.empty() ? "" : ", ") + rt.name;
        }
        std::cerr << "uplinkctl: no route \"" << route << "\" in " << source.main_file
                  << " (configured: " << known << ")\n";
        return kExitFailure;
    }
    auto creds = r->cloud->credentials(std::chrono::system_clock::now());
    if (!creds) {
        return report(creds.error().withContext("route " + route));
    }
    if (!creds->valid_until || !creds->password.starts_with("SharedAccessSignature ")) {
        std::cerr << "uplinkctl: route \"" << route << "\" (" << r->cloud_type
                  << ") does not authenticate with a SAS token; sas-token works for "
                     "azure-iot-hub routes with auth = \"sas\"\n";
        return kExitFailure;
    }
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
                          *creds->valid_until - std::chrono::system_clock::now())
                          .count();
    std::cout << creds->password << std::endl;
    std::cerr << "uplinkctl: valid for " << left << " s; client id \"" << creds->client_id
              << "\", user name \"" << creds->username << "\"\n";
    return 0;
}

int runDeadLetter(ApiClient& c, const std::string& action, const std::string& route, uint64_t seq,
                  bool all, bool as_json) {
    if (action != "list" && (seq != 0) == all) {
        std::cerr << "uplinkctl: deadletter " << action << ": give --seq N or --all\n";
        return kExitFailure;
    }
    json req = request("deadletter", "route", route);
    req["action"] = action;
    if (seq != 0)
        req["seq"] = seq;
    if (all)
        req["all"] = true;
    auto r = call(c, req, std::chrono::seconds(60));
    if (!r)
        return kExitFailure;
    if (as_json) {
        r->erase("id");
        r->erase("status");
        std::cout << r->dump(2) << "\n";
        return 0;
    }
    if (action == "list") {
        const json& list = (*r)["dead_letters"];
        if (list.empty()) {
            std::cout << "no dead letters" << (route.empty() ? "" : " on route " + route) << "\n";
        }
        const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        for (const auto& d : list) {
            std::cout << "seq " << d.value("seq", uint64_t{0}) << "  route " << text(d, "route")
                      << "  topic \"" << text(d, "topic") << "\"  " << d.value("bytes", uint64_t{0})
                      << " bytes, qos " << d.value("qos", 0) << "\n    " << d.value("attempts", 0)
                      << " attempt(s), moved " << formatAge(now - d.value("dead_ms", int64_t{0}))
                      << " ago: " << text(d, "reason") << "\n";
        }
        return 0;
    }
    if (action == "retry") {
        for (const auto& x : (*r)["retried"]) {
            std::cout << "seq " << x.value("seq", uint64_t{0}) << " queued again as seq "
                      << x.value("new_seq", uint64_t{0}) << "\n";
        }
        for (const auto& x : (*r)["failed"]) {
            std::cerr << "uplinkctl: seq " << x.value("seq", uint64_t{0}) << ": "
                      << text(x, "message") << "\n";
        }
        return (*r)["failed"].empty() ? 0 : kExitFailure;
    }
    for (const auto& x : (*r)["dropped"]) {
        std::cout << "seq " << x.get<uint64_t>() << " dropped\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"uplinkctl: talk to uplinkd"};
    app.require_subcommand(1);
    std::string socket =
        std::getenv("UPLINKD_SOCKET") ? std::getenv("UPLINKD_SOCKET") : "/run/uplinkd/uplinkd.sock";
    app.add_option("-s,--socket", socket, "uplinkd's API socket (env UPLINKD_SOCKET)")
        ->capture_default_str();
    app.set_version_flag("--version", std::string("uplinkctl ") + UPLINKD_VERSION);

    auto* status = app.add_subcommand("status", "show each route: state, broker, errors, counts");
    std::string status_route;
    bool status_json = false;
    status->add_option("route", status_route, "only this route");
    status->add_flag("--json", status_json, "print JSON");
    // Observability (issue 16): status --watch and health.
    bool status_watch = false;
    status->add_flag("-w,--watch", status_watch,
                     "live view, redrawn every second: rates, queues, drain progress (q quits)");
    auto* health = app.add_subcommand(
        "health", "exit 0 when every route is online or offline for less than --grace, else 1");
    int64_t health_grace_s = 60;
    bool health_json = false;
    health->add_option("--grace", health_grace_s, "seconds a route may be offline")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{0}, int64_t{86400 * 365}));
    health->add_flag("--json", health_json, "print JSON");

    auto* publish =
        app.add_subcommand("publish", "publish a message (payload from the argument or stdin)");
    std::string route, topic, payload;
    int qos = 1;
    bool retain = false, wait_delivered = false;
    int timeout_s = 30;
    std::vector<std::string> props;
    publish->add_option("-r,--route", route, "route name")->required();
    publish->add_option("-t,--topic", topic, "topic")->required();
    publish->add_option("-q,--qos", qos, "QoS 0, 1 or 2")->check(CLI::Range(0, 2));
    publish->add_flag("--retain", retain, "ask the broker to retain it");
    publish->add_option("-p,--property", props, "user property KEY=VALUE (repeatable)");
    publish->add_flag("-w,--wait-delivered", wait_delivered,
                      "wait until the broker has acknowledged it");
    publish->add_option("--timeout", timeout_s, "seconds to wait for an answer")
        ->capture_default_str();
    auto* payload_opt =
        publish->add_option("payload", payload, "the payload (default: read stdin)");
    std::string payload_file;
    publish
        ->add_option("-f,--file", payload_file,
                     "send this file's bytes as the payload, streamed (any size up to the "
                     "daemon's api.max_message_bytes)")
        ->excludes(payload_opt);

    auto* subscribe = app.add_subcommand("subscribe", "print messages that arrive from the cloud");
    std::string sub_route, filter;
    int sub_qos = 1, count = 0;
    bool sub_json = false;
    subscribe->add_option("-r,--route", sub_route, "route name")->required();
    subscribe->add_option("-t,--filter", filter, "topic filter (+ and # allowed)")->required();
    subscribe->add_option("-q,--qos", sub_qos, "QoS 0 or 1")->check(CLI::Range(0, 2));
    subscribe->add_option("-n,--count", count, "exit after this many messages");
    subscribe->add_flag("--json", sub_json, "print each event as JSON");

    auto* modem = app.add_subcommand("modem", "look at a modem uplink");
    modem->require_subcommand(1);
    std::string modem_uplink;
    bool modem_json = false;
    auto* modem_info = modem->add_subcommand("info", "module, SIM, network, supervisor state");
    modem_info->add_option("-u,--uplink", modem_uplink, "the modem uplink (default: the only one)");
    modem_info->add_flag("--json", modem_json, "print JSON");
    auto* modem_at = modem->add_subcommand(
        "at", "send one AT command and print the answer (root or uplinkd's user only)");
    std::string at_command;
    int at_timeout_s = 10;
    modem_at->add_option("-u,--uplink", modem_uplink, "the modem uplink (default: the only one)");
    modem_at->add_option("--timeout", at_timeout_s, "seconds to wait for the final result")
        ->capture_default_str()
        ->check(CLI::Range(1, 300));
    modem_at->add_option("command", at_command, "the command, e.g. 'AT+CSQ'")->required();

    auto* check = app.add_subcommand("check-config", "validate a configuration file");
    uplinkd::ConfigSource source;
    source.main_file = "/etc/uplinkd/uplinkd.toml";
    check->add_option("file", source.main_file, "configuration file")->capture_default_str();
    check->add_option("--plugin-dir", source.plugin_dir_override, "plugin directory");

    auto* sas = app.add_subcommand(
        "sas-token",
        "print a SAS token for an Azure IoT Hub route (signed now, for checking by hand)");
    uplinkd::ConfigSource sas_source;
    sas_source.main_file = "/etc/uplinkd/uplinkd.toml";
    std::string sas_route;
    sas->add_option("-r,--route", sas_route, "route name")->required();
    sas->add_option("-c,--config", sas_source.main_file, "configuration file")
        ->capture_default_str();
    sas->add_option("--plugin-dir", sas_source.plugin_dir_override, "plugin directory");

    auto* dead = app.add_subcommand(
        "deadletter", "messages the broker kept refusing, moved out of their route's queue");
    dead->require_subcommand(1);
    std::string dead_route;
    uint64_t dead_seq = 0;
    bool dead_all = false;
    bool dead_json = false;
    auto* dead_list = dead->add_subcommand("list", "show them (not their payloads)");
    auto* dead_retry =
        dead->add_subcommand("retry", "queue them again, at the end of their route's queue");
    auto* dead_drop = dead->add_subcommand("drop", "delete them for good");
    for (auto* sub : {dead_list, dead_retry, dead_drop}) {
        sub->add_option("-r,--route", dead_route, "only this route");
        sub->add_flag("--json", dead_json, "print JSON");
    }
    for (auto* sub : {dead_retry, dead_drop}) {
        auto* one = sub->add_option("--seq", dead_seq, "the message's seq (from deadletter list)");
        auto* every = sub->add_flag("--all", dead_all, "all of them (of --route when given)");
        one->excludes(every);
    }

    uplinkd::cli::DoctorOptions doctor_options;
    auto* doctor = uplinkd::cli::addDoctorCommand(app, doctor_options);
    uplinkd::cli::CertsOptions certs_options;
    CLI::App* certs_check = nullptr;
    auto* certs = uplinkd::cli::addCertsCommand(app, certs_options, certs_check);

    CLI11_PARSE(app, argc, argv);

    if (doctor->parsed()) {
        return uplinkd::cli::runDoctor(doctor_options, socket);
    }
    if (certs->parsed()) {
        return uplinkd::cli::runCerts(certs_options, certs_check->parsed());
    }

    if (sas->parsed()) {
        return runSasToken(sas_source, sas_route);
    }

    if (check->parsed()) {
        uplinkd::PluginRegistry plugins;
        auto cfg = uplinkd::loadConfig(source, plugins);
        if (!cfg) {
            std::cerr << cfg.error().message;
            return kExitConfig;
        }
        std::cout << "configuration OK: " << cfg->routes.size() << " route(s)\n";
        return 0;
    }

    ApiClient client;
    if (auto st = client.connect(socket); !st) {
        return report(st.error());
    }
    if (status->parsed() && status_watch) {
        return uplinkd::cli::runStatusWatch(client, status_route);
    }
    if (health->parsed()) {
        return uplinkd::cli::runHealth(client, health_grace_s, health_json);
    }
    if (status->parsed()) {
        return runStatus(client, status_route, status_json);
    }
    if (publish->parsed()) {
        json req{{"op", "publish"}, {"id", 1},    {"route", route},
                 {"topic", topic},  {"qos", qos}, {"retain", retain}};
        // A file or stdin goes byte-counted after the line (no base64, no JSON string); an
        // argument goes in the line.
        std::function<uplinkd::Status(json)> send;
        if (!payload_file.empty()) {
            send = [&](json r) { return client.sendWithFile(std::move(r), payload_file); };
        } else if (payload_opt->count() == 0) {
            payload.assign(std::istreambuf_iterator<char>(std::cin),
                           std::istreambuf_iterator<char>());
            send = [&](json r) { return client.sendWithPayload(std::move(r), payload); };
        } else {
            if (uplinkd::api::isPrintableUtf8(payload)) {
                req["payload"] = payload;
            } else {
                req["payload_b64"] = uplinkd::base64Encode(payload);
            }
            send = [&](json r) { return client.send(r); };
        }
        if (!props.empty()) {
            json p = json::object();
            for (const auto& kv : props) {
                const auto eq = kv.find('=');
                if (eq == std::string::npos) {
                    std::cerr << "uplinkctl: --property needs KEY=VALUE, got \"" << kv << "\"\n";
                    return kExitFailure;
                }
                p[kv.substr(0, eq)] = kv.substr(eq + 1);
            }
            req["properties"] = p;
        }
        return runPublish(client, req, send, wait_delivered, timeout_s);
    }
    if (subscribe->parsed()) {
        return runSubscribe(client, sub_route, filter, sub_qos, count, sub_json);
    }
    if (modem_info->parsed()) {
        return runModemInfo(client, modem_uplink, modem_json);
    }
    if (modem_at->parsed()) {
        return runModemAt(client, modem_uplink, at_command, at_timeout_s);
    }
    if (dead->parsed()) {
        const std::string action = dead_list->parsed()    ? "list"
                                   : dead_retry->parsed() ? "retry"
                                                          : "drop";
        return runDeadLetter(client, action, dead_route, dead_seq, dead_all, dead_json);
    }
    return 0;
}
