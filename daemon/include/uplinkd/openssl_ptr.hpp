// SPDX-License-Identifier: Apache-2.0
// Owning pointers for the OpenSSL objects that the daemon and the plugins read certificates and
// keys with (each freed with its OpenSSL free function), and a memory BIO over a text.
// Thread: any.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string_view>

namespace uplinkd {

/// Frees an OpenSSL object with the function OpenSSL has for its type.
struct OpenSslFree {
    void operator()(BIO* b) const { BIO_free(b); }
    void operator()(X509* x) const { X509_free(x); }
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

using BioPtr = std::unique_ptr<BIO, OpenSslFree>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;

/// A read-only memory BIO over `text`, which must outlive it; null when OpenSSL fails.
inline BioPtr memBio(std::string_view text) {
    return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace uplinkd
