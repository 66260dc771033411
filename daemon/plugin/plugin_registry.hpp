// SPDX-License-Identifier: Apache-2.0
// PluginRegistry: loads plugin modules (*.so) from a directory, checks their ABI version and
// finds them by name; with useDirectory() a module is loaded only when its plugin is first asked
// for, so the daemon maps only the plugins its configuration names. Modules stay loaded for the
// life of the registry. Thread: loop.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd {

class PluginRegistry {
  public:
    PluginRegistry() = default;
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry&) = delete;
    PluginRegistry& operator=(const PluginRegistry&) = delete;

    /// Loads every "*.so" in `dir` that is not loaded yet. A module that cannot be loaded or has
    /// another ABI version is skipped and explained in the returned list of problems.
    std::vector<std::string> loadDirectory(const std::string& dir);
    /// Where cloud() and modem() find the plugins not loaded yet, loading nothing now: plugin
    /// <name> of a kind comes from <dir>/uplinkd-<kind>-<name>.so when first asked for; a name
    /// without such a file, and names(), load the whole directory.
    void useDirectory(const std::string& dir);
    /// Why modules of the directory could not be used (cannot load, another ABI, an incomplete
    /// descriptor, a name another module gives too), so far.
    const std::vector<std::string>& problems() const { return problems_; }
    /// Registers a plugin compiled into the program (tests), checked as a module's would be.
    void add(const PluginDescriptor* descriptor);

    const CloudPluginApi* cloud(const std::string& name) const;
    const ModemPluginApi* modem(const std::string& name) const;
    /// Names of the loaded plugins of a kind, sorted, for "unknown type" messages.
    std::vector<std::string> names(PluginKind kind) const;
    const std::string& directory() const { return dir_; }

  private:
    const PluginDescriptor* find(const std::string& name, PluginKind kind) const;
    /// Loads every module of dir_ not tried yet; problems go to problems_.
    void loadWholeDirectory() const;
    /// Loads one module unless it was tried before; a problem goes to problems_.
    void loadFile(const std::string& path) const;
    /// Registers `d`, which came from `from`, unless its descriptor is incomplete or another
    /// module gives the same name (then the one in moduleFile() wins); says why in problems_.
    bool accept(const PluginDescriptor* d, const std::string& from) const;
    /// <dir>/uplinkd-<kind>-<name>.so: the module a plugin is looked for in first.
    std::string moduleFile(PluginKind kind, const std::string& name) const;

    /// A registered plugin and the module (or "built into the program") it came from.
    struct Loaded {
        const PluginDescriptor* descriptor;
        std::string from;
    };
    // Lookups load modules on demand: the cache below changes in const lookups.
    mutable std::map<std::string, Loaded> plugins_;
    mutable std::vector<void*> handles_;
    mutable std::vector<std::string> tried_paths_;  ///< loaded, or refused with a problem
    mutable std::vector<std::string> problems_;
    mutable bool whole_directory_loaded_ = false;
    std::string dir_;
};

/// The plugin directory compiled in (install location).
std::string defaultPluginDir();

}  // namespace uplinkd
