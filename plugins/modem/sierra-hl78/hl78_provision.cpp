// SPDX-License-Identifier: Apache-2.0
// Hl78Core::provision(): the module's certificate store (root CAs, client certificate and key)
// written with AT+KCERTSTORE / AT+KPRIVKSTORE and read back to compare. Thread: loop.
#include <optional>
#include <vector>

#include "common/pem.hpp"
#include "hl78_core.hpp"
#include "hl78_parsers.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::findStored;
using modem_common::PemBlock;

void Hl78Core::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) { failLater(done, e.withContext("provision")); };
    auto roots = modem_common::rootCaBlocks(creds.ca_pem, kMaxRootCas);
    if (!roots) {
        refuse(roots.error());
        return;
    }
    auto client = modem_common::clientPem(creds.cert_pem, creds.key_pem);
    if (!client) {
        refuse(client.error());
        return;
    }

    std::vector<modem_common::AtDataStep> writes;
    auto write = [&](std::string command, std::string payload, std::string what) {
        AtDataWrite w{"CONNECT", std::move(payload), std::string(kEofPattern)};
        writes.push_back({std::move(command), std::move(w), timing.cert_store, std::move(what)});
    };
    const bool indexed = roots->size() > 1;
    for (size_t i = 0; i < roots->size(); ++i) {
        std::string payload =
            modem_common::joinLines((*roots)[i].lines, modem_common::kKcertLineEnd);
        std::string command =
            kcertstoreCommand(0, payload.size(), indexed ? static_cast<int>(i) : -1);
        write(std::move(command), std::move(payload),
              "the root CA" + (indexed ? " #" + std::to_string(i) : std::string()) +
                  " (tls.ca_file)");
    }
    std::optional<std::vector<PemBlock>> local;
    if (*client) {
        local = (*client)->cert;
        std::string cert = modem_common::joinBlocks((*client)->cert, modem_common::kKcertLineEnd);
        std::string command = kcertstoreCommand(1, cert.size(), -1);
        write(std::move(command), std::move(cert), "the client certificate (tls.cert_file)");
        std::string k = modem_common::joinBlocks((*client)->key, modem_common::kKcertLineEnd);
        command = kprivkstoreCommand(k.size());
        write(std::move(command), std::move(k), "the private key (tls.key_file)");
    }

    auto expected_roots = std::make_shared<std::vector<PemBlock>>(std::move(*roots));
    auto expected_local = std::make_shared<std::optional<std::vector<PemBlock>>>(std::move(local));
    modem_common::runDataSteps(
        at, std::move(writes), explain, alive(),
        whenOk("provision", done, [expected_roots, expected_local, done](const CorePtr& c) {
            c->client_cert = expected_local->has_value();
            auto verify = c->withCore([expected_roots, expected_local, done](const CorePtr& core) {
                core->at.command(
                    std::string(kCertStoreRead.command), kCertStoreRead.timeout,
                    [expected_roots, expected_local, done](Result<AtResponse> r) {
                        const auto stored =
                            modem_common::readBackListing(kCertStoreRead.command, r, explainLine,
                                                          modem_common::KeyEntries::NotListed);
                        if (!stored) {
                            done(stored.failure());
                            return;
                        }
                        const bool multiple = expected_roots->size() > 1;
                        for (size_t i = 0; i < expected_roots->size(); ++i) {
                            const int index = multiple ? static_cast<int>(i) : 0;
                            const auto* found = findStored(*stored, StoredCert::Kind::Root, index);
                            const std::string which =
                                "the root CA at index " + std::to_string(index);
                            if (found == nullptr) {
                                done(fail("provision_mismatch", "provision: the module lists no " +
                                                                    which +
                                                                    " after it was written"));
                                return;
                            }
                            if (found->lines != (*expected_roots)[i].lines) {
                                done(fail("provision_mismatch",
                                          "provision: " + which +
                                              " that the module holds differs from tls.ca_file "
                                              "after writing it"));
                                return;
                            }
                        }
                        if (*expected_local) {
                            std::vector<std::string> want;
                            for (const auto& b : **expected_local) {
                                want.insert(want.end(), b.lines.begin(), b.lines.end());
                            }
                            const auto* found = findStored(*stored, StoredCert::Kind::Local, 0);
                            if (found == nullptr || found->lines != want) {
                                done(fail("provision_mismatch",
                                          "provision: the client certificate that the module holds "
                                          "differs from tls.cert_file after writing it"));
                                return;
                            }
                        }
                        done(okStatus());
                    });
            });
            if (*expected_local) {
                verify();
                return;
            }
            // No client certificate configured: remove an old one so that it is not presented.
            c->at.command(std::string(kDeleteLocalCert.command), kDeleteLocalCert.timeout,
                          [verify](Result<AtResponse>) { verify(); });
        }));
}

}  // namespace uplinkd::plugins::sierra_hl78
