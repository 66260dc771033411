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
    const size_t known_problems = problems_.size();
    loadWholeDirectory();
    return {problems_.begin() + static_cast<std::ptrdiff_t>(known_problems), problems_.end()};
}

void PluginRegistry::loadWholeDirectory() const {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
        if (entry.path().extension() == ".so") {
            files.push_back(entry.path());
        }
    }
    if (ec) {
        problems_.push_back("cannot read plugin directory \"" + dir_ + "\": " + ec.message());
        return;
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        loadFile(path.string());
    }
    whole_directory_loaded_ = true;
}

void PluginRegistry::useDirectory(const std::string& dir) {
    dir_ = dir;
    whole_directory_loaded_ = false;  // modules may have been added since it was last read
}

void PluginRegistry::loadFile(const std::string& p) const {
    if (std::find(tried_paths_.begin(), tried_paths_.end(), p) != tried_paths_.end()) {
        return;
    }
    tried_paths_.push_back(p);
    void* handle = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        problems_.push_back("plugin " + p + ": cannot load: " + ::dlerror());
        return;
    }
    auto entry = reinterpret_cast<UplinkdPluginEntry>(::dlsym(handle, "uplinkd_plugin"));
    if (entry == nullptr) {
        problems_.push_back("plugin " + p + ": not an uplinkd plugin (no uplinkd_plugin symbol)");
        ::dlclose(handle);
        return;
    }
    const PluginDescriptor* d = entry();
    if (d == nullptr || d->abi_version != kPluginAbiVersion) {
        problems_.push_back("plugin " + p + ": built for plugin ABI " +
                            std::to_string(d ? d->abi_version : 0) + ", this uplinkd needs " +
                            std::to_string(kPluginAbiVersion) + "; rebuild or reinstall it");
        ::dlclose(handle);
        return;
    }
    handles_.push_back(handle);
    plugins_[d->name] = d;
}

const PluginDescriptor* PluginRegistry::find(const std::string& name, PluginKind kind) const {
    auto it = plugins_.find(name);
    if (it == plugins_.end() && !dir_.empty()) {
        // The module named after the plugin; else the plugin may be in a module named otherwise.
        const char* kind_name = kind == PluginKind::Cloud ? "cloud" : "modem";
        const std::string file = dir_ + "/uplinkd-" + kind_name + "-" + name + ".so";
        std::error_code ec;
        if (name.find('/') == std::string::npos && std::filesystem::is_regular_file(file, ec)) {
            loadFile(file);
        }
        it = plugins_.find(name);
        if (it == plugins_.end() && !whole_directory_loaded_) {
            loadWholeDirectory();
            it = plugins_.find(name);
        }
    }
    if (it == plugins_.end() || it->second->kind != kind) {
        return nullptr;
    }
    return it->second;
}

void PluginRegistry::add(const PluginDescriptor* descriptor) {
    plugins_[descriptor->name] = descriptor;
}

const CloudPluginApi* PluginRegistry::cloud(const std::string& name) const {
    const PluginDescriptor* d = find(name, PluginKind::Cloud);
    return d == nullptr ? nullptr : static_cast<const CloudPluginApi*>(d->api);
}

const ModemPluginApi* PluginRegistry::modem(const std::string& name) const {
    const PluginDescriptor* d = find(name, PluginKind::Modem);
    return d == nullptr ? nullptr : static_cast<const ModemPluginApi*>(d->api);
}

std::vector<std::string> PluginRegistry::names(PluginKind kind) const {
    if (!dir_.empty() && !whole_directory_loaded_) {
        loadWholeDirectory();
    }
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
