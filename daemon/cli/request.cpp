// SPDX-License-Identifier: Apache-2.0
#include "cli/request.hpp"

#include <iostream>

namespace uplinkd::cli {

using nlohmann::json;

int report(const Error& e) {
    std::cerr << "uplinkctl: " << e.message << "\n";
    return kExitFailure;
}

std::string text(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json request(const char* op, const char* key, const std::string& name) {
    json req{{"op", op}, {"id", 1}};
    if (!name.empty()) {
        req[key] = name;
    }
    return req;
}

std::optional<json> call(ApiClient& c, const json& req, std::chrono::seconds timeout) {
    if (auto st = c.send(req); !st) {
        report(st.error());
        return std::nullopt;
    }
    auto r = c.receive(timeout);
    if (!r) {
        report(r.error());
        return std::nullopt;
    }
    if ((*r)["status"] != "ok") {
        const std::string code = text(*r, "code");
        std::cerr << "uplinkctl: " << (code.empty() ? "" : code + ": ") << text(*r, "message")
                  << "\n";
        return std::nullopt;
    }
    return std::move(*r);
}

}  // namespace uplinkd::cli
