// SPDX-License-Identifier: Apache-2.0
// Bx310xModel's certificate store: AT+KCERTSTORE / AT+KPRIVKSTORE (CONNECT, exactly the bytes,
// then a `+++` that stands alone between guard-time silences), AT+KCERTSTORE?, AT+KCERTDELETE,
// and the TLS options of the module's own secure connections.
#include "k_errors.hpp"
#include "model_bx310x.hpp"

namespace uplinkd::emulator {
namespace {

constexpr long kMaxCert = 3000;  ///< NbData 1..3000 (reference 3.3)
constexpr long kMaxIndex = 2;    ///< index 0..2
constexpr size_t kPhaseCap = 16384;

const char* const kKinds[] = {"root_cert", "local_cert", "private_key"};

}  // namespace

Final Bx310xModel::storeCredential(const AtCommand& c, bool key) {
    // KCERTSTORE=<type 0|1>,<NbData>[,<index>]; KPRIVKSTORE=<0>,<NbData>[,<index>].
    if (!c.has(0)) {
        return Final::cme(kerr::kMissing);
    }
    if (c.argc() > 3) {
        return Final::cme(kerr::kUnexpected);
    }
    auto type = c.intArg(0);
    if (!type || *type < 0 || *type > (key ? 0 : 1)) {
        return Final::cme(kerr::kOutOfRange);
    }
    // "AT+KCERTSTORE=1,,<idx>" is accepted: the length is then what comes before the +++.
    std::optional<long> len;
    if (c.has(1)) {
        len = c.intArg(1);
        if (!len || *len < 1 || *len > kMaxCert) {
            return Final::cme(kerr::kOutOfRange);
        }
    } else if (c.argc() < 3) {
        return Final::cme(kerr::kMissing);
    }
    auto index = c.has(2) ? c.intArg(2) : std::optional<long>(0);
    if (!index || *index < 0 || *index > kMaxIndex) {
        return Final::cme(kerr::kOutOfRange);
    }
    std::string name = std::string(kKinds[key ? 2 : *type]) + "/" + std::to_string(*index);
    startDataPhase(DataPhase::escape(kPhaseCap, cert_guard_, DataPhase::Clock::now()),
                   "\r\nCONNECT\r\n", [this, name, key, len](const DataPhase& p) {
                       if (p.outcome() != DataPhase::Outcome::Complete) {
                           misuse("AT+KCERTSTORE/KPRIVKSTORE: more than " +
                                  std::to_string(kPhaseCap) + " bytes without a +++ escape");
                           return Final::cme(kerr::kLengthInvalid);
                       }
                       const std::string& pem = p.data();
                       if (len && pem.size() != static_cast<size_t>(*len)) {
                           misuse("store of " + name + ": announced " + std::to_string(*len) +
                                  " bytes, got " + std::to_string(pem.size()) + " before the +++");
                           return Final::cme(kerr::kLengthInvalid);
                       }
                       if (pem.empty() || pem.size() > static_cast<size_t>(kMaxCert)) {
                           return Final::cme(kerr::kLengthInvalid);
                       }
                       bool valid = key ? pemHasPrivateKey(pem) : countPemCertificates(pem) > 0;
                       if (!valid) {
                           log_.note("store of " + name + " refused: not a PEM " +
                                     (key ? "private key" : "certificate"));
                           return Final::cme(kerr::kContentInvalid);
                       }
                       certs_.put(name, pem);
                       log_.note("stored " + name + " (" + std::to_string(pem.size()) + " bytes)");
                       return Final::ok();
                   });
    return Final::pending();
}

void Bx310xModel::addCertCommands() {
    addCommand("+KCERTSTORE", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const char* kind : kKinds) {
                for (const auto& name : certs_.namesWithPrefix(std::string(kind) + "/")) {
                    respond("+KCERTSTORE: " + std::string(kind) + "," +
                            name.substr(name.find('/') + 1) + "," +
                            std::to_string(certs_.get(name)->size()));
                }
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        return storeCredential(c, false);
    });
    addCommand("+KPRIVKSTORE", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            return Final::cme(kerr::kNotSupported);  // keys cannot be read back
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        return storeCredential(c, true);
    });
    addCommand("+KCERTDELETE", [this](const AtCommand& c) {
        if (auto err = checkSet(c, 2)) {
            return *err;
        }
        auto type = c.intArg(0);
        auto index = c.has(1) ? c.intArg(1) : std::optional<long>(0);
        if (!type || *type < 0 || *type > 2 || !index || *index < 0 || *index > kMaxIndex) {
            return Final::cme(kerr::kOutOfRange);
        }
        std::string name = std::string(kKinds[*type]) + "/" + std::to_string(*index);
        if (certs_.erase(name)) {
            log_.note("deleted " + name);
        }
        return Final::ok();
    });
}

std::optional<TlsOptions> Bx310xModel::moduleTls(const std::string& host, std::string& why) const {
    TlsOptions t;
    t.enabled = true;
    if (!isIpLiteral(host)) {
        t.sni = host;
    }
    t.verify_server = true;
    t.check_host = host;
    t.check_time = static_cast<int64_t>(moduleTime());
    if (auto root = certs_.get("root_cert/0")) {
        t.ca_pems.push_back(*root);  // none stored: the verification fails
    }
    auto cert = certs_.get("local_cert/0");
    auto key = certs_.get("private_key/0");
    if (cert.has_value() != key.has_value()) {
        why = cert ? "a local certificate is stored but no private key"
                   : "a private key is stored but no local certificate";
        return std::nullopt;
    }
    if (cert) {
        t.client_cert_pem = *cert;
        t.client_key_pem = *key;
    }
    return t;
}

}  // namespace uplinkd::emulator
