// SPDX-License-Identifier: Apache-2.0
#include "bx_certs.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "uplinkd/cert_fingerprint.hpp"
#include "uplinkd/openssl_ptr.hpp"

namespace uplinkd::plugins::sierra_bx310x {

namespace {

X509Ptr readCert(std::string_view pem) {
    auto bio = memBio(pem);
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    return cert;
}

std::string nameText(const X509_NAME* name) {
    BioPtr out(BIO_new(BIO_s_mem()));
    if (!out || X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) < 0) {
        ERR_clear_error();
        return "?";
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(out.get(), &data);
    return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

int64_t asnTime(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return 0;
    }
    return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

Result<CertFacts> certFacts(std::string_view pem, std::string_view what) {
    auto cert = readCert(pem);
    if (!cert) {
        return fail("bad_pem", std::string(what) + ": no certificate OpenSSL can read");
    }
    CertFacts f;
    f.subject = nameText(X509_get_subject_name(cert.get()));
    f.issuer = nameText(X509_get_issuer_name(cert.get()));
    f.not_before = asnTime(X509_get0_notBefore(cert.get()));
    f.not_after = asnTime(X509_get0_notAfter(cert.get()));
    EVP_PKEY* own = X509_get0_pubkey(cert.get());
    f.self_signed = X509_check_issued(cert.get(), cert.get()) == X509_V_OK && own != nullptr &&
                    X509_verify(cert.get(), own) == 1;
    f.sha256 = sha256Fingerprint(cert.get());
    ERR_clear_error();
    return f;
}

Status checkRootCa(std::string_view pem, std::string_view what) {
    auto f = certFacts(pem, what);
    if (!f) {
        return f.failure();
    }
    if (f->self_signed) {
        return okStatus();
    }
    return fail("ca_not_root",
                std::string(what) + " holds \"" + f->subject +
                    "\", which is not a root CA: it was issued by \"" + f->issuer +
                    "\". The module checks the broker's chain only up to the CA it stores and "
                    "needs the root: put the root CA \"" +
                    f->issuer + "\" (self-signed) in " + std::string(what) + " instead");
}

Status checkKeyMatches(std::string_view cert_pem, std::string_view key_pem) {
    auto cert = readCert(cert_pem);
    if (!cert) {
        return fail("bad_pem", "tls.cert_file: no certificate OpenSSL can read");
    }
    auto bio = memBio(key_pem);
    PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    if (!key) {
        return fail("bad_pem",
                    "tls.key_file: no private key OpenSSL can read (an encrypted key needs its "
                    "passphrase removed before it goes into the module)");
    }
    const bool match = X509_check_private_key(cert.get(), key.get()) == 1;
    ERR_clear_error();
    if (match) {
        return okStatus();
    }
    return fail("key_mismatch",
                "tls.key_file is not the private key of the certificate in tls.cert_file (\"" +
                    nameText(X509_get_subject_name(cert.get())) +
                    "\"): the broker would refuse the TLS connection. Use the key that was made "
                    "with this certificate (e.g. the AWS IoT \"private.pem.key\" downloaded with "
                    "it)");
}

std::string isoTime(int64_t t) {
    const auto tt = static_cast<std::time_t>(t);
    struct tm tm {};
    if (gmtime_r(&tt, &tm) == nullptr) {
        return "?";
    }
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace uplinkd::plugins::sierra_bx310x
