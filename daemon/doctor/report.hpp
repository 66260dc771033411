// SPDX-License-Identifier: Apache-2.0
// The doctor's report of one route and its two forms: the text `uplinkctl doctor` prints and the
// JSON of `--json` and the API (schema "uplinkd.doctor/1", docs/doctor.md). Pure. Thread: any.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "uplinkd/diagnosis.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::doctor {

inline constexpr const char* kReportSchema = "uplinkd.doctor/1";

struct RouteReport {
    std::string route;
    std::vector<Finding> findings;  ///< in the order the checks ran

    /// True when no check failed.
    bool ready() const;
    /// "route aws: ready", or "route aws: will not connect: <what the first failure found>".
    std::string verdict() const;
};

const char* layerName(CheckLayer layer);        ///< "config", "files", …
const char* outcomeName(CheckOutcome outcome);  ///< "ok", "warn", "FAIL", "skipped"

/// One line per finding ("  ok    files.ca_root  …", the fix on the next line for warn and
/// FAIL), then the verdict.
std::string toText(const RouteReport& report);
/// {"schema":"uplinkd.doctor/1","ready":bool,"routes":[{"route","ready","verdict",
///  "checks":[{"layer","id","outcome","found","fix"}]}]}
nlohmann::json toJson(const std::vector<RouteReport>& reports);
/// The reverse of toJson, for uplinkctl reading the daemon's answer; an error names the field.
Result<std::vector<RouteReport>> fromJson(const nlohmann::json& json);

}  // namespace uplinkd::doctor
