// SPDX-License-Identifier: Apache-2.0
#include "plugin/plugin_registry.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>

namespace uplinkd {

PluginRegistry::~PluginRegistry() {
    // Plugins' objects may still be referenced by static destructors elsewhere; modules are
    // deliberately left mapped until the process exits.
}

std::vector<std::string> PluginRegistry::loadDirectory(const std::string& dir) {
    dir_ = dir;
    std::vector<std::string> problems;
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".so") {
            files.push_back(entry.path());
        }
    }
    if (ec) {
        problems.push_back("cannot read plugin directory \"" + dir + "\": " + ec.message());
        return problems;
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        const std::string p = path.string();
        if (std::find(loaded_paths_.begin(), loaded_paths_.end(), p) != loaded_paths_.end()) {
            continue;
        }
        void* handle = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            problems.push_back("plugin " + p + ": cannot load: " + ::dlerror());
            continue;
        }
        auto entry = reinterpret_cast<UplinkdPluginEntry>(::dlsym(handle, "uplinkd_plugin"));
        if (entry == nullptr) {
            problems.push_back("plugin " + p +
                               ": not an uplinkd plugin (no uplinkd_plugin symbol)");
            ::dlclose(handle);
            continue;
        }
        const PluginDescriptor* d = entry();
        if (d == nullptr || d->abi_version != kPluginAbiVersion) {
            problems.push_back("plugin " + p + ": built for plugin ABI " +
                               std::to_string(d ? d->abi_version : 0) + ", this uplinkd needs " +
                               std::to_string(kPluginAbiVersion) + "; rebuild or reinstall it");
            ::dlclose(handle);
            continue;
        }
        handles_.push_back(handle);
        loaded_paths_.push_back(p);
        add(d);
    }
    return problems;
}

void PluginRegistry::add(const PluginDescriptor* descriptor) {
    plugins_[descriptor->name] = descriptor;
}

const CloudPluginApi* PluginRegistry::cloud(const std::string& name) const {
    auto it = plugins_.find(name);
    if (it == plugins_.end() || it->second->kind != PluginKind::Cloud) {
        return nullptr;
    }
    return static_cast<const CloudPluginApi*>(it->second->api);
}

const ModemPluginApi* PluginRegistry::modem(const std::string& name) const {
    auto it = plugins_.find(name);
    if (it == plugins_.end() || it->second->kind != PluginKind::Modem) {
        return nullptr;
    }
    return static_cast<const ModemPluginApi*>(it->second->api);
}

std::vector<std::string> PluginRegistry::names(PluginKind kind) const {
    std::vector<std::string> out;
    for (const auto& [name, d] : plugins_) {
        if (d->kind == kind) {
            out.push_back(name);
        }
    }
    return out;
}

std::string defaultPluginDir() {
    return UPLINKD_DEFAULT_PLUGIN_DIR;
}

}  // namespace uplinkd
