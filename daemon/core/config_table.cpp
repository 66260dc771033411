// SPDX-License-Identifier: Apache-2.0
// This translation unit also compiles toml++ itself (see daemon/CMakeLists.txt).
#define TOML_IMPLEMENTATION
#include "uplinkd/config_table.hpp"

#include <cstdlib>
#include <sstream>

#include "uplinkd/code_text.hpp"

namespace uplinkd {

namespace {

std::string position(const toml::source_region& where) {
    // Command-line overrides are named by their key ("--set routes.demo.cloud.port"); a line
    // and column of the one-line text would only confuse.
    if (where.path && where.path->rfind("--set ", 0) == 0) {
        return *where.path;
    }
    std::ostringstream out;
    out << (where.path ? *where.path : std::string("<config>")) << ':' << where.begin.line << ':'
        << where.begin.column;
    return out.str();
}

/// What a value is, in the words of the errors ("expected an integer, got a string").
constexpr CodeText<toml::node_type> kTypeNames[] = {
    {toml::node_type::string, "a string"},
    {toml::node_type::integer, "an integer"},
    {toml::node_type::floating_point, "a number with a fraction"},
    {toml::node_type::boolean, "a boolean"},
    {toml::node_type::date, "a date"},
    {toml::node_type::time, "a time"},
    {toml::node_type::date_time, "a date-time"},
    {toml::node_type::array, "an array"},
    {toml::node_type::table, "a table"},
};

const char* typeName(const toml::node& node) {
    const char* name = codeText(node.type(), kTypeNames);
    return name != nullptr ? name : "nothing";
}

}  // namespace

void Diagnostics::add(const toml::source_region& where, const std::string& message) {
    items_.push_back(position(where) + ": " + message);
}

std::string Diagnostics::text() const {
    std::string out;
    for (const auto& item : items_) {
        out += item;
        out += '\n';
    }
    return out;
}

ConfigTable::ConfigTable(const toml::table* table, std::string path, toml::source_region where,
                         Diagnostics& diags)
    : table_(table), path_(std::move(path)), where_(std::move(where)), diags_(diags) {}

bool ConfigTable::has(std::string_view key) const {
    return table_ != nullptr && table_->get(key) != nullptr;
}

std::string ConfigTable::keyPath(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const toml::node* ConfigTable::lookup(std::string_view key) {
    seen_.insert(std::string(key));
    return table_ ? table_->get(key) : nullptr;
}

void ConfigTable::typeError(std::string_view key, const toml::node& node, const char* expected) {
    diags_.add(node.source(), keyPath(key) + ": expected " + expected + ", got " + typeName(node));
}

void ConfigTable::error(std::string_view key, const std::string& message) {
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    const std::string subject = key.empty() ? path_ : keyPath(key);
    diags_.add(node ? node->source() : where_, subject + ": " + message);
}

std::optional<std::string> ConfigTable::string(std::string_view key, bool required) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        if (required) {
            error(key, "missing (a string is required)");
        }
        return std::nullopt;
    }
    if (auto v = node->value<std::string>(); v && node->is_string()) {
        return *v;
    }
    typeError(key, *node, "a string");
    return std::nullopt;
}

std::optional<int64_t> ConfigTable::integer(std::string_view key, int64_t min, int64_t max,
                                            bool required) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        if (required) {
            error(key, "missing (an integer is required)");
        }
        return std::nullopt;
    }
    if (!node->is_integer()) {
        typeError(key, *node, "an integer");
        return std::nullopt;
    }
    const int64_t v = *node->value<int64_t>();
    if (v < min || v > max) {
        diags_.add(node->source(), keyPath(key) + ": " + std::to_string(v) + " is out of range (" +
                                       std::to_string(min) + " to " + std::to_string(max) + ")");
        return std::nullopt;
    }
    return v;
}

std::optional<bool> ConfigTable::boolean(std::string_view key, bool required) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        if (required) {
            error(key, "missing (true or false is required)");
        }
        return std::nullopt;
    }
    if (!node->is_boolean()) {
        typeError(key, *node, "a boolean (true or false)");
        return std::nullopt;
    }
    return *node->value<bool>();
}

std::optional<std::vector<std::string>> ConfigTable::stringArray(std::string_view key,
                                                                 bool required) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        if (required) {
            error(key, "missing (an array of strings is required)");
        }
        return std::nullopt;
    }
    const toml::array* arr = node->as_array();
    if (arr == nullptr) {
        typeError(key, *node, "an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool good = true;
    for (const toml::node& item : *arr) {
        if (!item.is_string()) {
            diags_.add(item.source(),
                       keyPath(key) + ": every element must be a string, got " + typeName(item));
            good = false;
            continue;
        }
        out.push_back(*item.value<std::string>());
    }
    if (!good) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> ConfigTable::choice(std::string_view key,
                                               const std::vector<std::string>& choices,
                                               bool required) {
    auto v = string(key, required);
    if (!v) {
        return std::nullopt;
    }
    for (const auto& c : choices) {
        if (*v == c) {
            return v;
        }
    }
    std::string list;
    for (const auto& c : choices) {
        list += list.empty() ? "\"" + c + "\"" : ", \"" + c + "\"";
    }
    error(key, "\"" + *v + "\" is not one of " + list);
    return std::nullopt;
}

std::optional<uint32_t> ConfigTable::fileMode(std::string_view key) {
    auto mode = string(key);
    if (!mode) {
        return std::nullopt;
    }
    char* end = nullptr;
    const unsigned long v = std::strtoul(mode->c_str(), &end, 8);
    if (mode->empty() || *end != '\0' || v > 0777) {
        error(key, "expected an octal mode such as \"0660\", got \"" + *mode + "\"");
        return std::nullopt;
    }
    return static_cast<uint32_t>(v);
}

ConfigTable ConfigTable::table(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        return ConfigTable(nullptr, keyPath(key), where_, diags_);
    }
    if (const toml::table* t = node->as_table()) {
        return ConfigTable(t, keyPath(key), t->source(), diags_);
    }
    typeError(key, *node, "a table");
    return ConfigTable(nullptr, keyPath(key), node->source(), diags_);
}

std::vector<std::string> ConfigTable::tableKeys() {
    std::vector<std::string> out;
    if (table_ == nullptr) {
        return out;
    }
    for (const auto& [k, v] : *table_) {
        if (v.is_table()) {
            out.emplace_back(k.str());
        }
    }
    return out;
}

void ConfigTable::finish() {
    if (table_ == nullptr) {
        return;
    }
    for (const auto& [k, v] : *table_) {
        if (seen_.find(k.str()) == seen_.end()) {
            diags_.add(k.source(), keyPath(k.str()) + ": unknown key");
        }
    }
}

}  // namespace uplinkd
