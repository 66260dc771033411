// SPDX-License-Identifier: Apache-2.0
// The BG9x certificate store (AT+QFDEL / AT+QFUPL / AT+QFLST), the SSL context (AT+QSSLCFG,
// SNI always on) and the check of the module's clock against the certificates' validity.
// Thread: loop.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "bg9x_core.hpp"
#include "bg9x_errors.hpp"
#include "bg9x_parsers.hpp"
#include "common/pem.hpp"
#include "uplinkd/openssl_ptr.hpp"

namespace uplinkd::plugins::quectel_bg9x {

namespace {

/// Exactly what a firmware without the "sni" setting makes start-up / provisioning say.
constexpr std::string_view kNoSni = "this firmware cannot send SNI: use tls = \"local\"";

using File = modem_common::StoreFile;

/// Uploads files[i..] one after the other; `done` once: OK or the first failure.
void uploadEach(std::weak_ptr<Bg9xCore> w, std::shared_ptr<std::vector<File>> files, size_t i,
                std::function<void(Status)> done) {
    auto c = w.lock();
    if (!c) {
        return;
    }
    if (i == files->size()) {
        done(okStatus());
        return;
    }
    const File& f = (*files)[i];
    c->uploadFile(f.name, f.content, f.what, [w, files, i, done](Status s) {
        if (!s) {
            done(std::move(s));
            return;
        }
        uploadEach(w, files, i + 1, done);
    });
}

std::optional<std::time_t> asn1Time(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return std::nullopt;
    }
    return timegm(&tm);
}

/// The validity of every certificate in `pem` (OpenSSL; no I/O).
std::vector<Validity> validities(const std::string& pem, const std::string& what) {
    std::vector<Validity> out;
    BioPtr bio = memBio(pem);
    if (!bio) {
        return out;
    }
    while (true) {
        X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) {
            break;
        }
        const auto from = asn1Time(X509_get0_notBefore(cert.get()));
        const auto to = asn1Time(X509_get0_notAfter(cert.get()));
        if (from && to) {
            out.push_back({what, *from, *to});
        }
    }
    return out;
}

}  // namespace

void Bg9xCore::provision(const ModemCredentials& creds, StatusDone done) {
    auto stored =
        modem_common::storeFiles(creds.ca_pem, creds.cert_pem, creds.key_pem, kMaxCertFile,
                                 "uplinkd writes at most {max} into the module");
    if (!stored) {
        failLater(done, stored.error().withContext("provision"));
        return;
    }
    auto files = std::make_shared<std::vector<File>>(std::move(*stored));
    auto valid = std::make_shared<std::vector<Validity>>(
        validities((*files)[0].content, "the root CA from tls.ca_file"));
    const bool client = files->size() > 1;
    if (client) {
        for (auto& v :
             validities((*files)[1].content, "the client certificate from tls.cert_file")) {
            valid->push_back(std::move(v));
        }
    }
    // Then: stale client files go (seclevel 1 without them), the SSL context, the clock.
    auto finish = whenOk("provision", done, [client, valid, done](const CorePtr& c) {
        auto after_cleanup = c->withCore([client, valid, done](const CorePtr& c2) {
            c2->certs = Certs{true, client, client};
            c2->ssl_ready = false;
            c2->ensureSsl(c2->withCore([valid, done](const CorePtr& c3, Status ssl) {
                if (!ssl) {
                    // The exact SNI words stand alone.
                    done(ssl.error().code == "tls_no_sni" ? ssl : Status(ssl.failure("provision")));
                    return;
                }
                c3->at.command(std::string(kClock.command), kClock.timeout,
                               [valid, done](Result<AtResponse> r) {
                                   if (!r) {
                                       done(okStatus());  // no clock to check against
                                       return;
                                   }
                                   for (const auto& line : r->lines) {
                                       if (auto now = parseCclk(line)) {
                                           const std::string p = clockProblem(*now, *valid);
                                           if (!p.empty()) {
                                               done(fail("module_clock", p));
                                               return;
                                           }
                                       }
                                   }
                                   done(okStatus());
                               });
            }));
        });
        if (client) {
            after_cleanup();
            return;
        }
        // Deleting a file that is not there fails: fine.
        c->at.command(qfdelCommand(kCertFile), c->timing.command,
                      c->withCore([after_cleanup](const CorePtr& c2, Result<AtResponse>) {
                          c2->at.command(qfdelCommand(kKeyFile), c2->timing.command,
                                         [after_cleanup](Result<AtResponse>) { after_cleanup(); });
                      }));
    });
    uploadEach(weak_from_this(), files, 0, finish);
}

void Bg9xCore::uploadFile(std::string_view name, std::string content, std::string what,
                          std::function<void(Status)> done) {
    // AT+QFUPL refuses a name that exists: delete it first (an error just means it was not there).
    at.command(
        qfdelCommand(name), timing.command,
        [w = weak_from_this(), name = std::string(name), content = std::move(content),
         what = std::move(what), done = std::move(done)](Result<AtResponse>) mutable {
            auto c = w.lock();
            if (!c) {
                return;
            }
            const int timeout_s = static_cast<int>(
                std::chrono::ceil<std::chrono::seconds>(c->timing.file_upload).count());
            const std::string cmd = qfuplCommand(name, content.size(), timeout_s);
            AtDataWrite wr;
            wr.prompt = "CONNECT";
            wr.payload = content;
            c->at.commandWithData(
                cmd, wr, c->timing.file_upload,
                [content = std::move(content), what = std::move(what),
                 done = std::move(done)](Result<AtResponse> r) {
                    if (!r) {
                        done(Failure{modem_common::commandError("AT+QFUPL", r.error(), explainLine)
                                         .withContext("writing " + what)});
                        return;
                    }
                    std::optional<Upload> up;
                    for (const auto& line : r->lines) {
                        if (auto u = parseQfupl(line)) {
                            up = *u;
                        }
                    }
                    if (!up) {
                        done(fail("provision_mismatch",
                                  "writing " + what +
                                      ": the module did not say how many bytes it "
                                      "stored (no +QFUPL line)"));
                        return;
                    }
                    if (up->size != content.size()) {
                        done(fail("provision_mismatch", "writing " + what + ": the module stored " +
                                                            std::to_string(up->size) +
                                                            " bytes of " +
                                                            std::to_string(content.size())));
                        return;
                    }
                    if (up->checksum && *up->checksum != xorChecksum(content) &&
                        *up->checksum != xorChecksum(content, true)) {
                        done(fail("provision_mismatch",
                                  "writing " + what +
                                      ": the module's checksum of the file does "
                                      "not match the bytes sent (the checksum, a "
                                      "16-bit XOR, is UNCONFIRMED; the sizes "
                                      "match)"));
                        return;
                    }
                    done(okStatus());
                });
        });
}

void Bg9xCore::listFiles(std::function<void(Status)> done) {
    at.command(std::string(kFileList.command), kFileList.timeout,
               [w = weak_from_this(), done](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       done(modem_common::commandStatus(kFileList.command, r, c->explain));
                       return;
                   }
                   Certs have;
                   for (const auto& f : parseFileList(r->lines)) {
                       have.ca = have.ca || f.name == "UFS:" + std::string(kCaFile);
                       have.cert = have.cert || f.name == "UFS:" + std::string(kCertFile);
                       have.key = have.key || f.name == "UFS:" + std::string(kKeyFile);
                   }
                   c->certs = have;
                   done(okStatus());
               });
}

void Bg9xCore::ensureSsl(std::function<void(Status)> done) {
    if (ssl_ready) {
        done(okStatus());
        return;
    }
    auto configure = withCore([done](const CorePtr& c) {
        if (!c->certs->ca) {
            done(fail("tls_no_ca", "the module's store holds no " + std::string(kCaFile) +
                                       ": provision tls.ca_file (the root CA of the broker) "
                                       "first"));
            return;
        }
        auto steps = sslContextSteps(c->certs->cert && c->certs->key, c->timing.command);
        modem_common::runSteps(
            c->at, std::move(steps), c->explain,
            c->whenOk("SSL context", done, [done](const CorePtr& c2) {
                c2->at.command(sniCommand(), c2->timing.command,
                               c2->withCore([done](const CorePtr& c3, Result<AtResponse> r) {
                                   if (!r) {
                                       if (r.error().code == "at_error") {
                                           done(fail("tls_no_sni", std::string(kNoSni)));
                                       } else {
                                           done(r.failure("SSL context"));
                                       }
                                       return;
                                   }
                                   c3->ssl_ready = true;
                                   done(okStatus());
                               }));
            }));
    });
    if (certs) {
        configure();
        return;
    }
    listFiles([configure, done](Status s) {
        if (!s) {
            done(s.failure("the module's file list"));
            return;
        }
        configure();
    });
}

}  // namespace uplinkd::plugins::quectel_bg9x
