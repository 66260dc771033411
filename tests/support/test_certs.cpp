// SPDX-License-Identifier: Apache-2.0
#include "test_certs.hpp"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace uplinkd::testing {

namespace {

struct Free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
    void operator()(X509* x) const { X509_free(x); }
};

/// The first object `read` (PEM_read_PrivateKey, PEM_read_X509) finds in the PEM file `path`;
/// null when the file cannot be opened or holds none.
template <class T>
std::unique_ptr<T, Free> readPem(const std::string& path,
                                 T* (*read)(FILE*, T**, pem_password_cb*, void*)) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
        return nullptr;
    }
    std::unique_ptr<T, Free> object(read(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return object;
}

void addExtension(X509* x, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

}  // namespace

TestCert makeCert(const std::string& dir, const std::string& name, const std::string& cn,
                  const std::string& ca_cert, const std::string& ca_key, int from_days, int to_days,
                  bool ca) {
    TestCert out{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
    std::unique_ptr<EVP_PKEY, Free> key(EVP_EC_gen("P-256"));
    EXPECT_NE(key, nullptr);
    std::unique_ptr<X509, Free> x(X509_new());
    X509_set_version(x.get(), 2);
    static long serial = 1000;
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), ++serial);
    X509_time_adj_ex(X509_getm_notBefore(x.get()), from_days, 0, nullptr);
    X509_time_adj_ex(X509_getm_notAfter(x.get()), to_days, 0, nullptr);
    X509_set_pubkey(x.get(), key.get());
    X509_NAME* subject = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    std::unique_ptr<X509, Free> issuer;
    std::unique_ptr<EVP_PKEY, Free> issuer_key;
    if (!ca_cert.empty()) {
        issuer = readPem(ca_cert, &PEM_read_X509);
        issuer_key = readPem(ca_key, &PEM_read_PrivateKey);
        EXPECT_TRUE(issuer && issuer_key) << "cannot read " << ca_cert << " / " << ca_key;
        X509_set_issuer_name(x.get(), X509_get_subject_name(issuer.get()));
    } else {
        X509_set_issuer_name(x.get(), subject);
    }
    X509* signer = issuer ? issuer.get() : x.get();
    addExtension(x.get(), signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    addExtension(x.get(), signer, NID_subject_key_identifier, "hash");
    if (ca) {
        addExtension(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        addExtension(x.get(), signer, NID_ext_key_usage, "clientAuth,serverAuth");
        addExtension(x.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    }
    EXPECT_GT(X509_sign(x.get(), issuer_key ? issuer_key.get() : key.get(), EVP_sha256()), 0);
    FILE* f = std::fopen(out.cert.c_str(), "w");
    EXPECT_NE(f, nullptr);
    PEM_write_X509(f, x.get());
    std::fclose(f);
    f = std::fopen(out.key.c_str(), "w");
    EXPECT_NE(f, nullptr);
    PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    ::chmod(out.key.c_str(), 0600);
    ::chmod(out.cert.c_str(), 0644);
    return out;
}

}  // namespace uplinkd::testing
