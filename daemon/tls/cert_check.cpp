// SPDX-License-Identifier: Apache-2.0
#include "tls/cert_check.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>
#include <vector>

#include "core/enum_names.hpp"
#include "uplinkd/cert_fingerprint.hpp"
#include "uplinkd/openssl_ptr.hpp"

namespace uplinkd {

namespace {

std::vector<X509Ptr> readCertificates(const std::string& pem) {
    std::vector<X509Ptr> out;
    BioPtr bio = memBio(pem);
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

/// Refuses to ask for a passphrase (the default callback would prompt on the terminal).
int noPassphrase(char*, int, int, void*) {
    return 0;
}

PkeyPtr readPrivateKey(const std::string& pem) {
    BioPtr bio = memBio(pem);
    PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
    ERR_clear_error();
    return key;
}

std::string keyTypeName(const EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            return "RSA";
        case EVP_PKEY_EC:
            return "EC";
        case EVP_PKEY_ED25519:
            return "Ed25519";
        case EVP_PKEY_ED448:
            return "Ed448";
        default: {
            const char* name = EVP_PKEY_get0_type_name(key);
            return name != nullptr ? name : "unknown";
        }
    }
}

int64_t unixTime(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return static_cast<int64_t>(timegm(&tm));
}

std::string lastCn(const X509_NAME* name) {
    std::string out;
    int at = -1;
    while ((at = X509_NAME_get_index_by_NID(name, NID_commonName, at)) >= 0) {
        const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
        unsigned char* utf8 = nullptr;
        const int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n >= 0) {
            out.assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
            OPENSSL_free(utf8);
        }
    }
    return out;
}

}  // namespace

std::string x509Name(X509_NAME* name) {
    if (name == nullptr) {
        return {};
    }
    char buf[512];
    X509_NAME_oneline(name, buf, sizeof buf);
    return buf;
}

std::vector<CertificateInfo> describeCertificates(const std::string& pem) {
    std::vector<CertificateInfo> out;
    for (const auto& c : readCertificates(pem)) {
        X509* x = c.get();
        CertificateInfo info;
        info.subject = nameText(X509_get_subject_name(x));
        info.issuer = nameText(X509_get_issuer_name(x));
        info.subject_cn = lastCn(X509_get_subject_name(x));
        info.not_before = unixTime(X509_get0_notBefore(x));
        info.not_after = unixTime(X509_get0_notAfter(x));
        if (EVP_PKEY* key = X509_get0_pubkey(x)) {
            info.key_type = keyTypeName(key);
            info.key_bits = EVP_PKEY_get_bits(key);
        }
        info.sha256 = sha256Fingerprint(x, FingerprintForm::Colons);
        if (selfSigned(x)) {
            info.role = CertificateRole::Root;
        } else if (X509_check_ca(x) != 0) {
            info.role = CertificateRole::Intermediate;
        }
        unsigned char* der = nullptr;
        const int n = i2d_X509(x, &der);
        if (n > 0) {
            info.der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(n));
            OPENSSL_free(der);
        }
        out.push_back(std::move(info));
    }
    ERR_clear_error();
    return out;
}

std::optional<PrivateKeyInfo> describePrivateKey(const std::string& pem) {
    auto key = readPrivateKey(pem);
    if (!key) {
        return std::nullopt;
    }
    return PrivateKeyInfo{keyTypeName(key.get()), EVP_PKEY_get_bits(key.get())};
}

bool keyMatchesCertificate(const CertificateInfo& cert, const std::string& key_pem) {
    const auto* p = reinterpret_cast<const unsigned char*>(cert.der.data());
    X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(cert.der.size())));
    auto key = readPrivateKey(key_pem);
    const bool match = x && key && X509_check_private_key(x.get(), key.get()) == 1;
    ERR_clear_error();
    return match;
}

const char* roleName(CertificateRole role) {
    static constexpr const char* kNames[] = {"root CA", "intermediate CA", "certificate"};
    static_assert(std::size(kNames) == static_cast<size_t>(CertificateRole::Leaf) + 1);
    return enumName(role, kNames, "certificate");
}

CertificateSet examinePemFiles(const std::vector<PemFile>& files, int64_t now) {
    constexpr int64_t kDay = 24 * 3600;
    CertificateSet set;
    for (const auto& f : files) {
        auto infos = describeCertificates(f.content);
        auto key = describePrivateKey(f.content);
        if (infos.empty() && !key) {
            set.problems.push_back(f.path +
                                   " holds no PEM certificate and no unencrypted PEM "
                                   "private key");
        }
        for (size_t i = 0; i < infos.size(); ++i) {
            set.certs.push_back({f.path, i + 1, std::move(infos[i])});
        }
        if (key) {
            set.keys.push_back({f.path, *key, std::nullopt});
        }
    }
    for (const auto& c : set.certs) {
        const std::string what =
            c.file + " #" + std::to_string(c.index) + " \"" + c.info.subject + "\"";
        if (c.info.not_after <= now) {
            set.problems.push_back(what + " expired on " + formatUtc(c.info.not_after));
        } else if (c.info.not_before > now) {
            set.problems.push_back(what + " is not valid before " + formatUtc(c.info.not_before));
        } else if (c.info.not_after - now < 30 * kDay) {
            set.warnings.push_back(what + " expires in " +
                                   std::to_string((c.info.not_after - now) / kDay) + " day(s)");
        }
    }
    for (const auto& f : files) {
        for (auto& k : set.keys) {
            if (k.file != f.path || k.matches) {
                continue;
            }
            for (size_t i = 0; i < set.certs.size(); ++i) {
                if (keyMatchesCertificate(set.certs[i].info, f.content)) {
                    k.matches = i;
                    break;
                }
            }
            if (!k.matches) {
                set.problems.push_back("the key in " + k.file +
                                       " matches none of the certificates given");
            }
        }
    }
    bool root = false;
    const CertificateSet::Cert* intermediate = nullptr;
    for (const auto& c : set.certs) {
        root = root || c.info.role == CertificateRole::Root;
        if (c.info.role == CertificateRole::Intermediate && intermediate == nullptr) {
            intermediate = &c;
        }
    }
    if (intermediate != nullptr && !root) {
        set.problems.push_back(intermediate->file + " holds \"" + intermediate->info.subject +
                               "\", an intermediate CA, and no file holds a root: the root CA \"" +
                               intermediate->info.issuer +
                               "\" is missing (a module or ca_file needs the root)");
    }
    return set;
}

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
    BioPtr bio = memBio(key_pem);
    PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
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
