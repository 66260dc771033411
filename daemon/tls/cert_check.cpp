#include "tls/cert_check.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

namespace uplinkd {

namespace {

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::vector<X509Ptr> readCertificates(const std::string& pem) {
    std::vector<X509Ptr> out;
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    while (bio) {
        X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
        if (x == nullptr) {
            break;
        }
        out.emplace_back(x);
    }
    ERR_clear_error();  // the end of the file reads as an error
    return out;
}

std::string nameText(const X509_NAME* name) {
    std::string out;
    BioPtr mem(BIO_new(BIO_s_mem()));
    if (mem && X509_NAME_print_ex(mem.get(), name, 0, XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        const long n = BIO_get_mem_data(mem.get(), &data);
        out.assign(data, static_cast<size_t>(n));
    }
    return out;
}

bool selfSigned(X509* x) {
    if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) {
        return false;
    }
    EVP_PKEY* key = X509_get0_pubkey(x);
    const bool ok = key != nullptr && X509_verify(x, key) == 1;
    ERR_clear_error();
    return ok;
}

}  // namespace

std::string certificateSubject(const std::string& pem) {
    auto certs = readCertificates(pem);
    return certs.empty() ? std::string() : nameText(X509_get_subject_name(certs.front().get()));
}

Status checkRootCa(const std::string& ca_pem, const std::string& ca_file) {
    auto certs = readCertificates(ca_pem);
    if (certs.empty()) {
        return fail("tls_files", "tls.ca_file \"" + ca_file + "\" holds no PEM certificate");
    }
    for (const auto& c : certs) {
        if (selfSigned(c.get())) {
            return {};
        }
    }
    X509* last = certs.back().get();
    return fail("tls_ca_not_root",
                "tls.ca_file \"" + ca_file + "\" holds \"" + nameText(X509_get_subject_name(last)) +
                    "\", an intermediate CA, and no root; a module checks the broker against "
                    "a root only: put the root CA \"" +
                    nameText(X509_get_issuer_name(last)) + "\" in tls.ca_file");
}

Status checkKeyMatches(const std::string& cert_pem, const std::string& key_pem,
                       const std::string& cert_file, const std::string& key_file) {
    auto certs = readCertificates(cert_pem);
    if (certs.empty()) {
        return fail("tls_files", "tls.cert_file \"" + cert_file + "\" holds no PEM certificate");
    }
    BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(
        bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    if (!key) {
        return fail("tls_files", "tls.key_file \"" + key_file +
                                     "\" holds no PEM private key (or one with a passphrase)");
    }
    const bool match = X509_check_private_key(certs.front().get(), key.get()) == 1;
    ERR_clear_error();
    if (!match) {
        return fail("tls_key_mismatch",
                    "tls.key_file \"" + key_file + "\" is not the key of tls.cert_file \"" +
                        cert_file + "\" (" + nameText(X509_get_subject_name(certs.front().get())) +
                        "): the broker would refuse the TLS handshake; use the key that was "
                        "created with this certificate");
    }
    return {};
}

}  // namespace uplinkd
