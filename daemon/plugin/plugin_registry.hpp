// SPDX-License-Identifier: Apache-2.0
// PluginRegistry: loads plugin modules (*.so) from a directory, checks their ABI version and
// finds them by name. Modules stay loaded for the life of the registry. Thread: loop.
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
    /// Registers a plugin compiled into the program (tests).
    void add(const PluginDescriptor* descriptor);

    const CloudPluginApi* cloud(const std::string& name) const;
    const ModemPluginApi* modem(const std::string& name) const;
    /// Names of the loaded plugins of a kind, sorted, for "unknown type" messages.
    std::vector<std::string> names(PluginKind kind) const;
    const std::string& directory() const { return dir_; }

  private:
    std::map<std::string, const PluginDescriptor*> plugins_;
    std::vector<void*> handles_;
    std::vector<std::string> loaded_paths_;
    std::string dir_;
};

/// The plugin directory compiled in (install location).
std::string defaultPluginDir();

}  // namespace uplinkd
