// SPDX-License-Identifier: Apache-2.0
// The doctor's config checks (layer config): which files and drop-ins were read, and whether the
// files holding secrets (client key, password, SAS key) are still safe to read. Thread: loop.
#include "doctor/doctor.hpp"
#include "uplinkd/secret_file.hpp"
#include "uplinkd/text_fields.hpp"

namespace uplinkd::doctor {

namespace {

std::string joined(const std::vector<std::string>& items, const char* sep = ", ") {
    std::string out;
    for (const auto& s : items) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

}  // namespace

Finding configLoadFailure(const std::string& main_file, const std::string& diagnostics) {
    // The loader gives one diagnostic per line; the finding keeps them on one line.
    std::vector<std::string> lines;
    for (std::string_view rest = diagnostics; !rest.empty();) {
        if (const std::string_view line = takeField(rest, "\n"); !line.empty()) {
            lines.emplace_back(line);
        }
    }
    Finding f;
    f.layer = CheckLayer::Config;
    f.id = "config.load";
    f.outcome = CheckOutcome::Fail;
    f.found =
        "the configuration does not load: " + (lines.empty() ? diagnostics : joined(lines, "; "));
    // "file:line:col: routes.gen.tls.key_file: message" names the setting: "[routes.gen.tls]
    // key_file at file:line:col".
    std::string where = main_file;
    std::string setting;
    if (!lines.empty()) {
        const std::string& first = lines.front();
        size_t colon = 0;
        for (int i = 0; i < 3 && colon != std::string::npos; ++i) {
            colon = first.find(':', colon == 0 && i == 0 ? 0 : colon + 1);
        }
        if (colon != std::string::npos && first.compare(colon, 2, ": ") == 0) {
            where = first.substr(0, colon);
            // The key is the first word after the position.
            const size_t end = first.find_first_of(" :", colon + 2);
            const std::string dotted = first.substr(
                colon + 2, end == std::string::npos ? std::string::npos : end - colon - 2);
            const size_t dot = dotted.rfind('.');
            if (dot != std::string::npos && dot > 0 && dot + 1 < dotted.size()) {
                setting = "[" + dotted.substr(0, dot) + "] " + dotted.substr(dot + 1);
            }
        }
    }
    f.fix = "correct " + (setting.empty() ? std::string("the configuration") : setting) + " at " +
            where + "; uplinkctl check-config " + main_file + " checks it again";
    return f;
}

void checkConfig(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                 std::function<void(std::vector<Finding>)> done) {
    (void)so_far;
    std::vector<Finding> out;
    const std::string section = "[routes." + route.route->name + "]";
    out.push_back({CheckLayer::Config, "config.load", CheckOutcome::Ok,
                   "loaded " + joined(route.config->files) + "; route " + route.route->name + " (" +
                       route.route->cloud_type + ")",
                   ""});

    // Secret files: loading checked them, but they may have changed since (inside the daemon).
    std::vector<std::pair<std::string, std::string>> secrets;
    if (!route.route->tls.key_file.empty()) {
        secrets.emplace_back(section + ".tls key_file", route.route->tls.key_file);
    }
    if (route.cloud != nullptr) {
        for (const auto& [key, path] : route.cloud->diagnosis().secret_files) {
            secrets.emplace_back(key.starts_with("[") ? key : section + " " + key, path);
        }
    }
    std::vector<std::string> problems;
    std::string fix;
    for (const auto& [key, path] : secrets) {
        if (auto problem = secretFileProblem(path)) {
            problems.push_back(key + ": " + *problem);
            if (fix.empty()) {
                fix = "make " + path + " (" + key +
                      ") a regular file readable by uplinkd's user and not by every user "
                      "(chmod 0640, or 0600)";
            }
        }
    }
    if (secrets.empty()) {
        out.push_back({CheckLayer::Config, "config.secret_files", CheckOutcome::Ok,
                       "the route names no key, password or SAS key file", ""});
    } else if (problems.empty()) {
        std::vector<std::string> names;
        for (const auto& [key, path] : secrets) {
            names.push_back(path);
        }
        out.push_back(
            {CheckLayer::Config, "config.secret_files", CheckOutcome::Ok,
             "secret files are regular files not readable by every user: " + joined(names), ""});
    } else {
        out.push_back(
            {CheckLayer::Config, "config.secret_files", CheckOutcome::Fail, joined(problems), fix});
    }
    done(std::move(out));
}

}  // namespace uplinkd::doctor
