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
    if (std::find(handles_.begin(), handles_.end(), handle) != handles_.end()) {
        ::dlclose(handle);  // a module already loaded, by another path (a link to it)
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
    if (!accept(d, p)) {
        ::dlclose(handle);
        return;
    }
    handles_.push_back(handle);
}

std::string PluginRegistry::moduleFile(PluginKind kind, const std::string& name) const {
    return dir_ + "/uplinkd-" + (kind == PluginKind::Cloud ? "cloud" : "modem") + "-" + name +
           ".so";
}

bool PluginRegistry::accept(const PluginDescriptor* d, const std::string& from) const {
    const bool kind_known = d->kind == PluginKind::Cloud || d->kind == PluginKind::Modem;
    if (d->name == nullptr || *d->name == '\0' || !kind_known || d->api == nullptr) {
        problems_.push_back("plugin " + from +
                            ": its descriptor lacks a name, a known kind or its functions; "
                            "rebuild or reinstall it");
        return false;
    }
    const std::string name = d->name;
    const auto held = plugins_.find(name);
    if (held == plugins_.end()) {
        plugins_[name] = Loaded{d, from};
        return true;
    }
    // Two modules give the same plugin name (a renamed copy, a driver of another version): the
    // one in the file named after the plugin is used, else the first loaded, and the other is
    // reported, so the choice never depends on the order the directory is read in.
    const bool take_new = from == moduleFile(d->kind, name) && held->second.from != from;
    const std::string& kept = take_new ? from : held->second.from;
    const std::string& dropped = take_new ? held->second.from : from;
    problems_.push_back("plugin " + dropped + ": ignored, it gives plugin \"" + name + "\" as " +
                        kept + " does, which is used; remove one of the two");
    if (take_new) {
        held->second = Loaded{d, from};
    }
    return take_new;
}

const PluginDescriptor* PluginRegistry::find(const std::string& name, PluginKind kind) const {
    auto it = plugins_.find(name);
    if (it == plugins_.end() && !dir_.empty()) {
        // The module named after the plugin; else the plugin may be in a module named otherwise.
        const std::string file = moduleFile(kind, name);
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
    if (it == plugins_.end() || it->second.descriptor->kind != kind) {
        return nullptr;
    }
    return it->second.descriptor;
}

void PluginRegistry::add(const PluginDescriptor* descriptor) {
    accept(descriptor, "built into the program");
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
    for (const auto& [name, loaded] : plugins_) {
        if (loaded.descriptor->kind == kind) {
            out.push_back(name);
        }
    }
    return out;
}

std::string defaultPluginDir() {
    return UPLINKD_DEFAULT_PLUGIN_DIR;
}

}  // namespace uplinkd
