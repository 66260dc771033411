// SPDX-License-Identifier: Apache-2.0
// BxCore::provision(): the credentials checked locally (root CA self-signed, key matching the
// certificate), then written into the module's store with AT+KCERTSTORE / AT+KPRIVKSTORE (data
// mode ended by a guard time and "+++") and read back to compare. Thread: loop.
#include <optional>
#include <vector>

#include "bx_core.hpp"
#include "bx_parsers.hpp"
#include "common/generic_at.hpp"
#include "common/pem.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using modem_common::findStored;
using modem_common::PemBlock;

namespace {

/// What the read-back must show: one certificate text, where.
struct Expected {
    StoredCert::Kind kind;
    int index;
    std::vector<std::string> lines;
    size_t length;  ///< bytes written (CR+LF line ends)
    std::string what;
};

/// Why the listing does not show `want`, or nothing.
std::optional<std::string> mismatch(const std::vector<StoredCert>& stored, const Expected& want) {
    const auto* found = findStored(stored, want.kind, want.index);
    if (found == nullptr) {
        return "the module lists no " + want.what + " after it was written";
    }
    if (!found->lines.empty() ? found->lines != want.lines : found->length != want.length) {
        return want.what + " that the module holds differs from the file after writing it";
    }
    return std::nullopt;
}

AtDataWrite dataMode(std::string payload, std::chrono::milliseconds guard) {
    AtDataWrite w;
    w.prompt = "CONNECT";
    w.payload = std::move(payload);
    w.terminator = std::string(kEscape);
    w.guard = guard;
    return w;
}

}  // namespace

void BxCore::provision(const ModemCredentials& creds, StatusDone done) {
    auto refuse = [&](const Error& e) { failLater(done, e.withContext("provision")); };
    auto roots = modem_common::rootCaBlocks(creds.ca_pem, kMaxRootCas);
    if (!roots) {
        refuse(roots.error());
        return;
    }
    // Local checks first: an intermediate as root, or a key of another certificate, would only
    // show later as a silent close by the broker.
    std::string root_subject;
    std::optional<CertFacts> root_facts;
    for (const auto& block : *roots) {
        const std::string pem = modem_common::joinLines(block.lines, "\n");
        if (auto st = checkRootCa(pem, "tls.ca_file"); !st) {
            refuse(st.error());
            return;
        }
        if (root_subject.empty()) {
            auto f = certFacts(pem, "tls.ca_file");
            root_subject = f ? f->subject : "";
            if (f) {
                root_facts = *f;
            }
        }
    }
    auto client_pem = modem_common::clientPem(creds.cert_pem, creds.key_pem);
    if (!client_pem) {
        refuse(client_pem.error());
        return;
    }
    std::optional<std::vector<PemBlock>> local;
    std::optional<std::vector<PemBlock>> key;
    std::optional<CertFacts> client;
    if (*client_pem) {
        auto& [l, k] = **client_pem;
        const std::string cert_pem = modem_common::joinBlocks(l, "\n");
        if (auto st = checkKeyMatches(cert_pem, modem_common::joinBlocks(k, "\n")); !st) {
            refuse(st.error());
            return;
        }
        auto f = certFacts(cert_pem, "tls.cert_file");
        if (!f) {
            refuse(f.error());
            return;
        }
        client = *f;
        local = std::move(l);
        key = std::move(k);
    }

    std::vector<modem_common::AtDataStep> writes;
    std::vector<Expected> expected;
    auto tooLarge = [&](size_t n, const std::string& what) {
        if (n <= kMaxCertBytes) {
            return false;
        }
        refuse(makeError("bad_pem", what + " has " + std::to_string(n) +
                                        " bytes with CR+LF line ends; the module stores at most " +
                                        std::to_string(kMaxCertBytes)));
        return true;
    };
    const bool indexed = roots->size() > 1;
    for (size_t i = 0; i < roots->size(); ++i) {
        std::string payload =
            modem_common::joinLines((*roots)[i].lines, modem_common::kKcertLineEnd);
        const std::string what =
            "the root CA" + (indexed ? " #" + std::to_string(i) : std::string()) + " (tls.ca_file)";
        if (tooLarge(payload.size(), what)) {
            return;
        }
        const int index = indexed ? static_cast<int>(i) : -1;
        expected.push_back(
            {StoredCert::Kind::Root, indexed ? index : 0, (*roots)[i].lines, payload.size(), what});
        std::string command = kcertstoreRootCommand(payload.size(), index);
        writes.push_back({std::move(command), dataMode(std::move(payload), timing.cert_guard),
                          timing.cert_store, what});
    }
    if (local) {
        std::string cert = modem_common::joinBlocks(*local, modem_common::kKcertLineEnd);
        std::string k = modem_common::joinBlocks(*key, modem_common::kKcertLineEnd);
        if (tooLarge(cert.size(), "tls.cert_file") || tooLarge(k.size(), "tls.key_file")) {
            return;
        }
        std::vector<std::string> lines;
        for (const auto& b : *local) {
            lines.insert(lines.end(), b.lines.begin(), b.lines.end());
        }
        expected.push_back({StoredCert::Kind::Local, kLocalIndex, std::move(lines), cert.size(),
                            "the client certificate (tls.cert_file)"});
        std::string command = kcertstoreLocalCommand(cert.size(), kLocalIndex);
        writes.push_back({std::move(command), dataMode(std::move(cert), timing.cert_guard),
                          timing.cert_store, "the client certificate (tls.cert_file)"});
        command = kprivkstoreCommand(kLocalIndex, k.size());
        writes.push_back({std::move(command), dataMode(std::move(k), timing.cert_guard),
                          timing.cert_store, "the private key (tls.key_file)"});
    }

    auto want = std::make_shared<std::vector<Expected>>(std::move(expected));
    auto facts = std::make_shared<Provisioned>(Provisioned{true, root_subject, root_facts, client});
    provisioned.done = false;
    modem_common::runDataSteps(
        at, std::move(writes), explain, alive(),
        whenOk("provision", done, [want, facts, done](const CorePtr& c) {
            auto verify = c->withCore([want, facts, done](const CorePtr& core) {
                core->at.command(
                    std::string(kCertStoreRead.command), kCertStoreRead.timeout,
                    core->withCore([want, facts, done](const CorePtr& c2, Result<AtResponse> r) {
                        const auto stored =
                            modem_common::readBackListing(kCertStoreRead.command, r, c2->explain,
                                                          modem_common::KeyEntries::Listed);
                        if (!stored) {
                            done(stored.failure());
                            return;
                        }
                        for (const auto& e : *want) {
                            if (auto why = mismatch(*stored, e)) {
                                done(fail("provision_mismatch", "provision: " + *why));
                                return;
                            }
                        }
                        if (!facts->client) {
                            c2->provisioned = *facts;
                            done(okStatus());
                            return;
                        }
                        // The key cannot be read back (+CME ERROR: 918 is the expected
                        // answer): the TLS connect's outcome checks it.
                        c2->at.command(
                            std::string(kKeyStoreRead.command), kKeyStoreRead.timeout,
                            c2->withCore([facts, done](const CorePtr& c3, Result<AtResponse>) {
                                c3->provisioned = *facts;
                                done(okStatus());
                            }));
                    }));
            });
            if (facts->client) {
                verify();
                return;
            }
            // No client certificate configured: an old one is removed so it is not presented.
            c->at.command("AT+KCERTDELETE=1," + std::to_string(kLocalIndex), c->timing.command,
                          [verify](Result<AtResponse>) { verify(); });
        }));
}

}  // namespace uplinkd::plugins::sierra_bx310x
