// SPDX-License-Identifier: Apache-2.0
// CertStore: the module's certificate/key storage ("flash"): survives resets and power cycles.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace uplinkd::emulator {

/// The module's flash for certificates and keys; loop-bound (single thread).
/// Named blobs kept for the emulator's lifetime, whatever happens to the emulated module. Names
/// are model-specific ("root_cert/0", "ca.pem").
class CertStore {
  public:
    void put(const std::string& name, std::string data) { items_[name] = std::move(data); }
    std::optional<std::string> get(const std::string& name) const;
    bool erase(const std::string& name) { return items_.erase(name) > 0; }
    bool contains(const std::string& name) const { return items_.count(name) > 0; }
    /// All names, sorted.
    std::vector<std::string> names() const;
    /// All names that start with `prefix`, sorted.
    std::vector<std::string> namesWithPrefix(const std::string& prefix) const;
    size_t size() const { return items_.size(); }

  private:
    std::map<std::string, std::string> items_;
};

/// Counts the X.509 certificates that parse in a PEM text (0 when none does).
int countPemCertificates(const std::string& pem);
/// True when the PEM text holds a private key that parses.
bool pemHasPrivateKey(const std::string& pem);

}  // namespace uplinkd::emulator
