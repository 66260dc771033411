// SPDX-License-Identifier: Apache-2.0
#include "doctor/report.hpp"

#include <array>
#include <utility>

namespace uplinkd::doctor {

namespace {

constexpr std::array<std::pair<CheckLayer, const char*>, 9> kLayers{{
    {CheckLayer::Config, "config"},
    {CheckLayer::Files, "files"},
    {CheckLayer::Clock, "clock"},
    {CheckLayer::Credentials, "credentials"},
    {CheckLayer::Spool, "spool"},
    {CheckLayer::Modem, "modem"},
    {CheckLayer::Network, "network"},
    {CheckLayer::Tls, "tls"},
    {CheckLayer::Mqtt, "mqtt"},
}};

constexpr std::array<std::pair<CheckOutcome, const char*>, 4> kOutcomes{{
    {CheckOutcome::Ok, "ok"},
    {CheckOutcome::Warn, "warn"},
    {CheckOutcome::Fail, "FAIL"},
    {CheckOutcome::Skipped, "skipped"},
}};

template <typename Table, typename Value>
const char* nameIn(const Table& table, Value v) {
    for (const auto& [value, name] : table) {
        if (value == v) {
            return name;
        }
    }
    return "?";
}

template <typename Table, typename Value>
bool valueIn(const Table& table, const std::string& name, Value& out) {
    for (const auto& [value, n] : table) {
        if (name == n) {
            out = value;
            return true;
        }
    }
    return false;
}

}  // namespace

const char* layerName(CheckLayer layer) {
    return nameIn(kLayers, layer);
}
const char* outcomeName(CheckOutcome outcome) {
    return nameIn(kOutcomes, outcome);
}

bool RouteReport::ready() const {
    for (const auto& f : findings) {
        if (f.outcome == CheckOutcome::Fail) {
            return false;
        }
    }
    return true;
}

std::string RouteReport::verdict() const {
    for (const auto& f : findings) {
        if (f.outcome == CheckOutcome::Fail) {
            return "route " + route + ": will not connect: " + f.found;
        }
    }
    return "route " + route + ": ready";
}

std::string toText(const RouteReport& report) {
    std::string out;
    for (const auto& f : report.findings) {
        std::string outcome = outcomeName(f.outcome);
        outcome.resize(8, ' ');
        std::string id = f.id;
        if (id.size() < 24) {
            id.resize(24, ' ');
        }
        out += outcome + id + " " + f.found + "\n";
        if (!f.fix.empty() &&
            (f.outcome == CheckOutcome::Warn || f.outcome == CheckOutcome::Fail)) {
            out += std::string(8, ' ') + "fix: " + f.fix + "\n";
        }
    }
    out += report.verdict() + "\n";
    return out;
}

nlohmann::json toJson(const std::vector<RouteReport>& reports) {
    nlohmann::json routes = nlohmann::json::array();
    bool all_ready = true;
    for (const auto& r : reports) {
        nlohmann::json checks = nlohmann::json::array();
        for (const auto& f : r.findings) {
            checks.push_back({{"layer", layerName(f.layer)},
                              {"id", f.id},
                              {"outcome", outcomeName(f.outcome)},
                              {"found", f.found},
                              {"fix", f.fix}});
        }
        all_ready = all_ready && r.ready();
        routes.push_back({{"route", r.route},
                          {"ready", r.ready()},
                          {"verdict", r.verdict()},
                          {"checks", checks}});
    }
    return {{"schema", kReportSchema}, {"ready", all_ready}, {"routes", routes}};
}

Result<std::vector<RouteReport>> fromJson(const nlohmann::json& json) {
    auto bad = [](const std::string& what) {
        return fail("bad_report", "the doctor's report is malformed: " + what);
    };
    if (!json.is_object() || !json.contains("schema") || !json["schema"].is_string() ||
        json["schema"].get<std::string>() != kReportSchema) {
        return bad("schema is not " + std::string(kReportSchema));
    }
    if (!json.contains("routes") || !json["routes"].is_array()) {
        return bad("no routes array");
    }
    std::vector<RouteReport> out;
    for (const auto& r : json["routes"]) {
        if (!r.is_object() || !r.contains("route") || !r["route"].is_string() ||
            !r.contains("checks") || !r["checks"].is_array()) {
            return bad("a route without route or checks");
        }
        RouteReport report;
        report.route = r["route"].get<std::string>();
        for (const auto& c : r["checks"]) {
            Finding f;
            if (!c.is_object()) {
                return bad("a check that is not an object");
            }
            for (const char* key : {"layer", "id", "outcome", "found", "fix"}) {
                if (!c.contains(key) || !c[key].is_string()) {
                    return bad(std::string("a check without ") + key);
                }
            }
            if (!valueIn(kLayers, c["layer"].get<std::string>(), f.layer)) {
                return bad("unknown layer " + c["layer"].get<std::string>());
            }
            if (!valueIn(kOutcomes, c["outcome"].get<std::string>(), f.outcome)) {
                return bad("unknown outcome " + c["outcome"].get<std::string>());
            }
            f.id = c["id"].get<std::string>();
            f.found = c["found"].get<std::string>();
            f.fix = c["fix"].get<std::string>();
            report.findings.push_back(std::move(f));
        }
        out.push_back(std::move(report));
    }
    return out;
}

}  // namespace uplinkd::doctor
