// SPDX-License-Identifier: Apache-2.0
// ConfigTable: typed, position-aware reading of one TOML table. Every problem becomes a
// diagnostic "file:line:col: message"; keys that nobody asked for are reported by finish().
// Used by the daemon's config loader and by plugins for their own sections. Thread: loop (or any
// single thread; not shared).
#pragma once

#ifndef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#endif
// toml++ 3.3's parser asserts what it then handles as an error (a table header that does not
// start with a key: "[[#", "[="), so a Debug build aborted on such text (found by fuzz_config).
// Without its assertions the parser reports "expected bare key starting character". Every user
// of toml++ comes through this header, so all agree on the definition.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_assert(true)
#endif
#include <toml++/toml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace uplinkd {

/// Collected configuration problems, each already formatted as "file:line:col: message".
class Diagnostics {
  public:
    void add(const toml::source_region& where, const std::string& message);
    void addPlain(std::string message) { items_.push_back(std::move(message)); }
    bool empty() const { return items_.empty(); }
    const std::vector<std::string>& items() const { return items_; }
    /// All diagnostics joined by newlines.
    std::string text() const;

  private:
    std::vector<std::string> items_;
};

/// A view of one table at a dotted path (e.g. "routes.demo.cloud"). Reading a key marks it known.
class ConfigTable {
  public:
    ConfigTable(const toml::table* table, std::string path, toml::source_region where,
                Diagnostics& diags);

    const std::string& path() const { return path_; }
    bool present() const { return table_ != nullptr; }
    bool has(std::string_view key) const;

    std::optional<std::string> string(std::string_view key, bool required = false);
    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max,
                                   bool required = false);
    std::optional<bool> boolean(std::string_view key, bool required = false);
    std::optional<std::vector<std::string>> stringArray(std::string_view key,
                                                        bool required = false);
    /// A string that must be one of `choices`.
    std::optional<std::string> choice(std::string_view key, const std::vector<std::string>& choices,
                                      bool required = false);
    /// A file mode written as an octal string ("0660"), at most 0777.
    std::optional<uint32_t> fileMode(std::string_view key);
    /// A sub-table (absent → a view with present() == false).
    ConfigTable table(std::string_view key);
    /// Names of the sub-tables of this table (sorted), each marked known.
    std::vector<std::string> tableKeys();

    /// Reports a problem at the position of `key` (or of the table when the key is absent).
    void error(std::string_view key, const std::string& message);
    /// Reports every key that was never read as unknown. Call once after reading all keys.
    void finish();

    Diagnostics& diagnostics() { return diags_; }

  private:
    const toml::node* lookup(std::string_view key);
    std::string keyPath(std::string_view key) const;
    void typeError(std::string_view key, const toml::node& node, const char* expected);

    const toml::table* table_;
    std::string path_;
    toml::source_region where_;
    Diagnostics& diags_;
    std::set<std::string, std::less<>> seen_;
};

}  // namespace uplinkd
