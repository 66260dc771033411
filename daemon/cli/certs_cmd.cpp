// SPDX-License-Identifier: Apache-2.0
#include "cli/certs_cmd.hpp"

#include <chrono>
#include <iostream>

#include "core/file_text.hpp"
#include "plugin/plugin_registry.hpp"
#include "tls/cert_check.hpp"

namespace uplinkd::cli {

namespace {

constexpr int kExitProblem = 1;
constexpr int kExitConfig = 78;

int64_t nowUnix() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string validity(const CertificateInfo& c, int64_t now) {
    std::string out = formatUtc(c.not_before) + " to " + formatUtc(c.not_after);
    if (c.not_after <= now) {
        return out + " (EXPIRED)";
    }
    if (c.not_before > now) {
        return out + " (NOT YET VALID)";
    }
    return out + " (" + std::to_string((c.not_after - now) / 86400) + " days left)";
}

/// Prints the set and its problems; true when nothing is wrong.
bool print(const CertificateSet& set, int64_t now, const std::string& indent) {
    for (const auto& c : set.certs) {
        std::cout << indent << c.file << " #" << c.index << ": " << roleName(c.info.role) << "\n"
                  << indent << "  subject   " << c.info.subject << "\n"
                  << indent << "  issuer    " << c.info.issuer << "\n"
                  << indent << "  valid     " << validity(c.info, now) << "\n"
                  << indent << "  key       " << c.info.key_type << " " << c.info.key_bits
                  << " bits\n"
                  << indent << "  sha256    " << c.info.sha256 << "\n";
    }
    for (const auto& k : set.keys) {
        std::cout << indent << k.file << ": private key, " << k.info.key_type << " "
                  << k.info.key_bits << " bits, ";
        if (k.matches) {
            const auto& c = set.certs[*k.matches];
            std::cout << "the key of " << c.file << " #" << c.index << " (" << c.info.subject
                      << ")\n";
        } else {
            std::cout << "matches no certificate given\n";
        }
    }
    for (const auto& w : set.warnings) {
        std::cout << indent << "warning: " << w << "\n";
    }
    for (const auto& p : set.problems) {
        std::cout << indent << "PROBLEM: " << p << "\n";
    }
    return set.problems.empty();
}

int checkFiles(const std::vector<std::string>& paths) {
    std::vector<PemFile> files;
    bool ok = true;
    for (const auto& p : paths) {
        auto content = readFileText(p);
        if (!content) {
            std::cout << "PROBLEM: cannot read " << p << "\n";
            ok = false;
            continue;
        }
        files.push_back({p, std::move(*content)});
    }
    ok = print(examinePemFiles(files, nowUnix()), nowUnix(), "") && ok;
    std::cout << (ok ? "no problem found\n" : "problems found\n");
    return ok ? 0 : kExitProblem;
}

int routeFiles(const CertsOptions& options) {
    PluginRegistry plugins;
    auto cfg = loadConfig(options.source, plugins);
    if (!cfg) {
        std::cerr << cfg.error().message;
        return kExitConfig;
    }
    bool ok = true;
    bool any = false;
    for (const auto& rc : cfg->routes) {
        if (!options.route.empty() && rc.name != options.route) {
            continue;
        }
        any = true;
        std::cout << "route " << rc.name << " (" << rc.cloud_type << ")\n";
        std::vector<PemFile> files;
        bool route_ok = true;
        for (const auto& [key, path] :
             {std::pair<const char*, std::string>{"ca_file", rc.tls.ca_file},
              {"cert_file", rc.tls.cert_file},
              {"key_file", rc.tls.key_file}}) {
            if (path.empty()) {
                if (std::string(key) == "ca_file") {
                    std::cout << "  no ca_file: the system's trust store checks the broker\n";
                }
                continue;
            }
            auto content = readFileText(path);
            if (!content) {
                std::cout << "  PROBLEM: cannot read " << key << " " << path << "\n";
                route_ok = false;
                continue;
            }
            if (std::string(key) == "ca_file") {
                if (auto st = checkRootCa(*content, path); !st) {
                    std::cout << "  PROBLEM: " << st.error().message << "\n";
                    route_ok = false;
                }
            }
            files.push_back({path, std::move(*content)});
        }
        route_ok = print(examinePemFiles(files, nowUnix()), nowUnix(), "  ") && route_ok;
        ok = ok && route_ok;
    }
    if (!any) {
        std::cerr << "uplinkctl: no route \"" << options.route << "\" in "
                  << options.source.main_file << "\n";
        return kExitProblem;
    }
    std::cout << (ok ? "no problem found\n" : "problems found\n");
    return ok ? 0 : kExitProblem;
}

}  // namespace

CLI::App* addCertsCommand(CLI::App& app, CertsOptions& options, CLI::App*& check) {
    auto* certs = app.add_subcommand(
        "certs", "show the certificates and keys of the routes (or check PEM files: certs check)");
    options.source.main_file = "/etc/uplinkd/uplinkd.toml";
    certs->add_option("-r,--route", options.route, "only this route");
    certs->add_option("-c,--config", options.source.main_file, "configuration file")
        ->capture_default_str();
    certs->add_option("--plugin-dir", options.source.plugin_dir_override, "plugin directory");
    check = certs->add_subcommand(
        "check", "look at PEM files not yet in a configuration (certificates, chains, keys)");
    check->add_option("files", options.files, "PEM files")->required();
    return certs;
}

int runCerts(const CertsOptions& options, bool check) {
    return check ? checkFiles(options.files) : routeFiles(options);
}

}  // namespace uplinkd::cli
