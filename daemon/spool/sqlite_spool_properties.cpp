// SPDX-License-Identifier: Apache-2.0
// User properties as stored in the spool (JSON text). Thread: any (pure functions).
#include <nlohmann/json.hpp>

#include "spool/sqlite_spool_impl.hpp"

namespace uplinkd::sqlite_spool_detail {

Result<std::string> encodeProperties(const Properties& properties) {
    if (properties.empty()) {
        return std::string();
    }
    nlohmann::json array = nlohmann::json::array();
    for (const auto& [key, value] : properties) {
        array.push_back(nlohmann::json::array({key, value}));
    }
    try {
        return array.dump();
    } catch (const nlohmann::json::exception&) {
        return fail("spool_invalid", "spool: append: a user property is not valid UTF-8");
    }
}

Properties decodeProperties(const unsigned char* text, int size) {
    Properties out;
    if (text == nullptr || size <= 0) {
        return out;
    }
    const char* begin = reinterpret_cast<const char*>(text);
    const auto parsed = nlohmann::json::parse(begin, begin + size, nullptr, false);
    if (!parsed.is_array()) {
        return out;
    }
    for (const auto& pair : parsed) {
        if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
            out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
        }
    }
    return out;
}

}  // namespace uplinkd::sqlite_spool_detail
