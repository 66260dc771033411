// SPDX-License-Identifier: Apache-2.0
#include "cert_store.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace uplinkd::emulator {

std::optional<std::string> CertStore::get(const std::string& name) const {
    auto it = items_.find(name);
    if (it == items_.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::vector<std::string> CertStore::names() const {
    std::vector<std::string> out;
    for (const auto& [name, data] : items_) {
        out.push_back(name);
    }
    return out;
}

std::vector<std::string> CertStore::namesWithPrefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& [name, data] : items_) {
        if (name.compare(0, prefix.size(), prefix) == 0) {
            out.push_back(name);
        }
    }
    return out;
}

int countPemCertificates(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (bio == nullptr) {
        return 0;
    }
    int count = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        X509_free(cert);
        ++count;
    }
    BIO_free(bio);
    ERR_clear_error();
    return count;
}

bool pemHasPrivateKey(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (bio == nullptr) {
        return false;
    }
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    bool ok = key != nullptr;
    EVP_PKEY_free(key);
    BIO_free(bio);
    ERR_clear_error();
    return ok;
}

}  // namespace uplinkd::emulator
