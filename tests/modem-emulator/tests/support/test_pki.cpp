// SPDX-License-Identifier: Apache-2.0
#include "support/test_pki.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace emutest {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr newKey() {
    return KeyPtr(EVP_EC_gen("P-256"), &EVP_PKEY_free);
}

bool addExt(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) {
        return false;
    }
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

CertPtr makeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                 long serial, bool is_ca) {
    CertPtr cert(X509_new(), &X509_free);
    X509* c = cert.get();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 7 * 24 * 3600);
    X509_set_pubkey(c, key);
    X509_NAME* name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("uplinkd tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer : c;
    X509_set_issuer_name(c, X509_get_subject_name(signer));
    bool ok = true;
    if (is_ca) {
        ok = ok && addExt(c, signer, NID_basic_constraints, "critical,CA:TRUE");
        ok = ok && addExt(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        ok = ok && addExt(c, signer, NID_subject_key_identifier, "hash");
    } else {
        ok = ok && addExt(c, signer, NID_basic_constraints, "critical,CA:FALSE");
        ok = ok && addExt(c, signer, NID_key_usage, "critical,digitalSignature");
        ok = ok && addExt(c, signer, NID_ext_key_usage, "serverAuth,clientAuth");
        ok = ok && addExt(c, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        ok = ok && addExt(c, signer, NID_authority_key_identifier, "keyid:always");
    }
    if (!ok || X509_sign(c, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
        return CertPtr(nullptr, &X509_free);
    }
    return cert;
}

std::string certPem(X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
}

std::string keyPem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
}

}  // namespace

TestPki TestPki::make(const std::string& ca_name) {
    TestPki pki;
    KeyPtr ca_key = newKey();
    KeyPtr srv_key = newKey();
    if (!ca_key || !srv_key) {
        return pki;
    }
    CertPtr ca = makeCert(ca_key.get(), ca_name, nullptr, nullptr, 1, true);
    if (!ca) {
        return pki;
    }
    CertPtr srv = makeCert(srv_key.get(), "localhost", ca.get(), ca_key.get(), 2, false);
    if (!srv) {
        return pki;
    }
    pki.ca = {certPem(ca.get()), keyPem(ca_key.get())};
    pki.server = {certPem(srv.get()), keyPem(srv_key.get())};
    pki.ok = true;
    return pki;
}

std::string toCrlf(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\n') {
            out += '\r';
        }
        out += c;
    }
    return out;
}

}  // namespace emutest
