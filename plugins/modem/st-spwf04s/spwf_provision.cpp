// SPDX-License-Identifier: Apache-2.0
// SpwfCore::provision(): local checks of the credentials with OpenSSL, then the module's TLS
// store written with AT+S.TLSCERT=<ca|cert|key>,<len> and the exact PEM bytes, and listed back.
// Thread: loop (provision), any (the checks).
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <vector>

#include "common/pem.hpp"
#include "spwf_core.hpp"
#include "spwf_credentials.hpp"
#include "spwf_parsers.hpp"
#include "uplinkd/openssl_ptr.hpp"

namespace uplinkd::plugins::st_spwf04s {

using modem_common::commandError;
using modem_common::PemWant;

namespace {

/// No passphrase prompt, ever: an encrypted key simply does not load.
int noPassphrase(char*, int, int, void*) {
    return -1;
}

std::string nameText(const X509_NAME* name) {
    BioPtr mem(BIO_new(BIO_s_mem()));
    if (!mem || name == nullptr) {
        return {};
    }
    X509_NAME_print_ex(mem.get(), name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(mem.get(), &data);
    return std::string(data, static_cast<size_t>(n));
}

Result<std::vector<X509Ptr>> readCerts(std::string_view pem, std::string_view what) {
    auto blocks = modem_common::pemBlocks(pem, what, PemWant::Certificates);
    if (!blocks) {
        return blocks.failure();
    }
    std::vector<X509Ptr> out;
    for (size_t i = 0; i < blocks->size(); ++i) {
        const std::string text = modem_common::joinLines((*blocks)[i].lines, "\n");
        auto bio = memBio(text);
        X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
        if (!cert) {
            return fail("bad_pem", std::string(what) + ": certificate #" + std::to_string(i + 1) +
                                       " does not parse");
        }
        out.push_back(std::move(cert));
    }
    return out;
}

}  // namespace

Status checkRootCas(std::string_view ca_pem) {
    auto certs = readCerts(ca_pem, "tls.ca_file");
    if (!certs) {
        return certs.failure();
    }
    for (const auto& cert : *certs) {
        if (X509_check_issued(cert.get(), cert.get()) == X509_V_OK) {
            continue;  // self-signed: a root
        }
        bool issuer_in_file = false;
        for (const auto& other : *certs) {
            if (other != cert && X509_check_issued(other.get(), cert.get()) == X509_V_OK) {
                issuer_in_file = true;
            }
        }
        if (issuer_in_file) {
            continue;
        }
        const std::string subject = nameText(X509_get_subject_name(cert.get()));
        const std::string issuer = nameText(X509_get_issuer_name(cert.get()));
        return fail("tls_not_root",
                    "tls.ca_file holds \"" + subject +
                        "\", which is not a root CA (it is issued by "
                        "\"" +
                        issuer +
                        "\"): the module checks the broker's chain up to a root CA in "
                        "its store, so it needs the root CA \"" +
                        issuer +
                        "\": put that certificate "
                        "in tls.ca_file (nothing was written to the module)");
    }
    return okStatus();
}

Status checkKeyMatches(std::string_view cert_pem, std::string_view key_pem) {
    auto certs = readCerts(cert_pem, "tls.cert_file");
    if (!certs) {
        return certs.failure();
    }
    auto blocks = modem_common::pemBlocks(key_pem, "tls.key_file", PemWant::PrivateKey);
    if (!blocks) {
        return blocks.failure();
    }
    const std::string text = modem_common::joinBlocks(*blocks, "\n");
    auto bio = memBio(text);
    PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
    if (!key) {
        return fail("bad_pem",
                    "tls.key_file: the private key does not load (an encrypted key needs its "
                    "passphrase removed: the module cannot take one)");
    }
    if (X509_check_private_key(certs->front().get(), key.get()) != 1) {
        return fail("tls_key_mismatch",
                    "tls.key_file does not belong to the certificate in tls.cert_file (\"" +
                        nameText(X509_get_subject_name(certs->front().get())) +
                        "\"): give the key that was made with that certificate");
    }
    return okStatus();
}

void SpwfCore::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) { failLater(done, e.withContext("provision")); };
    auto roots = modem_common::pemBlocks(creds.ca_pem, "tls.ca_file", PemWant::Certificates);
    if (!roots) {
        refuse(roots.error());
        return;
    }
    if (auto st = checkRootCas(creds.ca_pem); !st) {
        refuse(st.error());
        return;
    }
    auto client_pem = modem_common::clientPem(creds.cert_pem, creds.key_pem);
    if (!client_pem) {
        refuse(client_pem.error());
        return;
    }
    std::vector<modem_common::AtDataStep> writes;
    auto write = [&](std::string_view type, std::string payload, std::string what) {
        AtDataWrite w;
        w.immediate = true;
        w.payload = std::move(payload);
        writes.push_back({tlscertCommand(type, w.payload.size()), std::move(w), timing.cert_store,
                          std::move(what)});
    };
    write("ca", modem_common::joinBlocks(*roots, "\n"), "the root CA (tls.ca_file)");
    const bool client = client_pem->has_value();
    if (client) {
        if (auto st = checkKeyMatches(creds.cert_pem, creds.key_pem); !st) {
            refuse(st.error());
            return;
        }
        write("cert", modem_common::joinBlocks((*client_pem)->cert, "\n"),
              "the client certificate (tls.cert_file)");
        write("key", modem_common::joinBlocks((*client_pem)->key, "\n"),
              "the private key (tls.key_file)");
    }
    auto list = whenOk("provision", done, [client, done](const CorePtr& c) {
        c->at.command(
            std::string(kTlsListStore), c->timing.command, [client, done](Result<AtResponse> r) {
                if (!r) {
                    done(Failure{commandError(kTlsListStore, r.error(), explainLine)
                                     .withContext("provision: listing the store")});
                    return;
                }
                const auto listed = parseStoreListing(r->lines);
                if (listed.empty()) {
                    done(okStatus());  // a listing without type names: nothing to check
                    return;
                }
                for (const char* type : {"ca", "cert", "key"}) {
                    if (!client && type != std::string_view("ca")) {
                        continue;
                    }
                    const bool found =
                        std::any_of(listed.begin(), listed.end(),
                                    [&](const StoredCredential& e) { return e.type == type; });
                    if (!found) {
                        done(fail("provision_mismatch",
                                  std::string("provision: the module does not list the ") + type +
                                      " credential after it was written"));
                        return;
                    }
                }
                done(okStatus());
            });
    });
    // The store is emptied first, so that no old client certificate is presented when none is
    // configured now (the option is UNCONFIRMED: a module that refuses it keeps going).
    at.command(std::string(kTlsCleanStore.command), kTlsCleanStore.timeout,
               withCore([writes = std::move(writes), list](const CorePtr& c, Result<AtResponse>) {
                   modem_common::runDataSteps(c->at, writes, c->explain, c->alive(), list);
               }));
}

}  // namespace uplinkd::plugins::st_spwf04s
