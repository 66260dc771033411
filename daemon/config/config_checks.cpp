// SPDX-License-Identifier: Apache-2.0
#include "config/config_checks.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <tuple>

#include "tls/tls_session.hpp"

namespace uplinkd {

namespace {

/// The node at `path` below `root`, or the deepest table on the way that exists.
const toml::node* nodeAt(const toml::table& root, std::initializer_list<std::string_view> path) {
    const toml::node* at = &root;
    for (std::string_view key : path) {
        const toml::table* t = at->as_table();
        const toml::node* next = t != nullptr ? t->get(key) : nullptr;
        if (next == nullptr) {
            break;
        }
        at = next;
    }
    return at;
}

std::string positionText(const toml::source_region& where) {
    if (where.path && where.path->rfind("--set ", 0) == 0) {
        return *where.path;  // as Diagnostics writes it
    }
    return (where.path ? *where.path : std::string("<config>")) + ":" +
           std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column);
}

std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

void checkRoute(const toml::table& root, const RouteConfig& r, Diagnostics& diags) {
    const BrokerEndpoint ep = r.cloud->endpoint();
    const std::string& n = r.name;
    if (ep.host.find("://") != std::string::npos) {
        diags.add(nodeAt(root, {"routes", n, "cloud", "host"})->source(),
                  "routes." + n + ".cloud.host: \"" + ep.host +
                      "\" is a URL; give the host name only (e.g. \"broker.example.com\"): the "
                      "port goes in port, and TLS is on unless tls = false");
    }
    if (!ep.tls && sendsCredentialsInClear(r) && !r.allow_plaintext_credentials) {
        diags.add(nodeAt(root, {"routes", n, "cloud", "tls"})->source(),
                  "routes." + n +
                      ".cloud.tls: tls = false would send the route's password (or SAS token) "
                      "in clear text to " +
                      ep.host + ":" + std::to_string(ep.port) +
                      "; use TLS, or, only on a network you trust, set routes." + n +
                      ".allow_plaintext_credentials = true");
    }
    if (!r.tls.ciphers_tls12.empty()) {
        if (auto st = checkCipherList(r.tls.ciphers_tls12); !st) {
            diags.add(nodeAt(root, {"routes", n, "tls", "ciphers_tls12"})->source(),
                      "routes." + n + ".tls.ciphers_tls12: " + st.error().message);
        }
    }
    if (!r.tls.cert_file.empty() && !r.tls.key_file.empty()) {
        if (auto st = checkKeyPair(r.tls.cert_file, r.tls.key_file); !st) {
            diags.add(nodeAt(root, {"routes", n, "tls", "key_file"})->source(),
                      "routes." + n + "." + st.error().message);
        }
    }
}

/// The nearest existing directory at or above `path`, and the problem with creating or
/// writing `path` there; empty when there is none.
std::string directoryProblem(const std::string& path) {
    namespace fs = std::filesystem;
    fs::path p = fs::path(path).lexically_normal();
    if (p.empty()) {
        return "is empty";
    }
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return "\"" + p.string() + "\" exists and is not a directory";
        }
        if (::access(p.c_str(), W_OK | X_OK) != 0) {
            return "directory \"" + p.string() + "\" is not writable by this user (uid " +
                   std::to_string(::geteuid()) + "): " + std::strerror(errno);
        }
        return "";
    }
    // Missing: the first ancestor that exists must be a directory uplinkd can create it in.
    for (fs::path up = p.parent_path(); !up.empty(); up = up.parent_path()) {
        if (::stat(up.c_str(), &st) != 0) {
            if (up == up.parent_path()) {
                break;
            }
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            return "cannot be created: \"" + up.string() + "\" is not a directory";
        }
        if (::access(up.c_str(), W_OK | X_OK) != 0) {
            return "cannot be created: directory \"" + up.string() +
                   "\" is not writable by this user (uid " + std::to_string(::geteuid()) +
                   "): " + std::strerror(errno);
        }
        return "";
    }
    return "";
}

std::string where(const Config& cfg, const std::string& key) {
    auto it = cfg.positions.find(key);
    return it != cfg.positions.end() ? it->second + ": " + key : key + " (default)";
}

}  // namespace

bool sendsCredentialsInClear(const RouteConfig& route) {
    if (!route.cloud || route.cloud->endpoint().tls) {
        return false;
    }
    auto creds = route.cloud->credentials(std::chrono::system_clock::now());
    return creds && !creds->password.empty();
}

void checkConfigRules(const toml::table& root, Config& cfg, Diagnostics& diags) {
    for (const auto& [section, key] : {std::pair{"daemon", "state_dir"}, std::pair{"api", "socket"},
                                       std::pair{"api", "socket_group"}}) {
        const toml::node* node = nodeAt(root, {section, key});
        if (const toml::table* t = root[section].as_table(); t != nullptr && t->get(key)) {
            cfg.positions[std::string(section) + "." + key] = positionText(node->source());
        }
    }
    if ((cfg.api.socket_mode & 0002) != 0 && !cfg.api.socket_world_writable) {
        diags.add(nodeAt(root, {"api", "socket_mode"})->source(),
                  "api.socket_mode: lets every user of the system connect to uplinkd and "
                  "publish (others may write); use \"0660\" with socket_group, or, if that is "
                  "really wanted, set api.socket_world_writable = true");
    }
    // (host, port, client id) → the first route using it.
    std::map<std::tuple<std::string, uint16_t, std::string>, std::string> clients;
    const auto now = std::chrono::system_clock::now();
    for (const auto& r : cfg.routes) {
        if (!r.cloud) {
            continue;
        }
        checkRoute(root, r, diags);
        const BrokerEndpoint ep = r.cloud->endpoint();
        auto creds = r.cloud->credentials(now);
        if (!creds || creds->client_id.empty()) {
            continue;
        }
        const auto key = std::make_tuple(lower(ep.host), ep.port, creds->client_id);
        auto [it, added] = clients.emplace(key, r.name);
        if (!added) {
            diags.add(nodeAt(root, {"routes", r.name, "cloud"})->source(),
                      "routes." + r.name + ".cloud: routes \"" + it->second + "\" and \"" + r.name +
                          "\" both connect to " + ep.host + ":" + std::to_string(ep.port) +
                          " as client id \"" + creds->client_id +
                          "\"; a broker keeps one connection per client id, so they would keep "
                          "disconnecting each other: give each route its own client id");
        }
    }
}

Status checkHost(const Config& cfg) {
    std::string problems;
    if (auto p = directoryProblem(cfg.daemon.state_dir); !p.empty()) {
        problems += where(cfg, "daemon.state_dir") + " \"" + cfg.daemon.state_dir + "\": " + p +
                    " (uplinkd keeps its spool and lock there)\n";
    }
    const std::string& sock = cfg.api.socket;
    const std::string sock_dir = std::filesystem::path(sock).parent_path().string();
    if (auto p = directoryProblem(sock_dir.empty() ? "." : sock_dir); !p.empty()) {
        problems += where(cfg, "api.socket") + " \"" + sock +
                    "\": " + (p.rfind("cannot", 0) == 0 ? "its directory " + p : p) + "\n";
    }
    struct stat st {};
    if (::lstat(sock.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
        problems += where(cfg, "api.socket") + ": " + sock +
                    " exists and is not a socket; not replacing it (move it away or name "
                    "another path)\n";
    }
    if (!cfg.api.socket_group.empty() && ::getgrnam(cfg.api.socket_group.c_str()) == nullptr) {
        problems += where(cfg, "api.socket_group") + ": there is no group \"" +
                    cfg.api.socket_group +
                    "\" on this system (create it with addgroup --system, or leave socket_group "
                    "out to keep the socket in uplinkd's own group)\n";
    }
    if (!problems.empty()) {
        return fail("config", problems);
    }
    return okStatus();
}

}  // namespace uplinkd
