// SPDX-License-Identifier: Apache-2.0
// Hl78Model's TLS security: the certificate and key store (AT+KCERTSTORE, AT+KPRIVKSTORE,
// AT+KCERTDELETE), the crypto profiles (AT+KSSLCRYPTO) and the TLS options of a secure session.
#include "k_errors.hpp"
#include "model_hl78.hpp"

namespace uplinkd::emulator {
namespace {

constexpr size_t kMaxCert = 8192;

std::string crlfLines(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
            out += '\r';
        }
        out += text[i];
    }
    while (out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0) {
        out.resize(out.size() - 2);
    }
    return out;
}

}  // namespace

Final Hl78Model::storeCredential(const AtCommand& c, bool key) {
    auto type = c.intArg(0);
    auto len = c.intArg(1);
    auto index = c.has(2) ? c.intArg(2) : std::optional<long>(0);
    if (!c.has(0) || !c.has(1)) {
        return Final::cme(kerr::kMissing);
    }
    if (!type || *type < 0 || *type > (key ? 0 : 1)) {
        return Final::cme(kerr::kOutOfRange);
    }
    if (!len || *len < 1 || *len > static_cast<long>(kMaxCert) || !index || *index < 0 ||
        *index > 3) {
        return Final::cme(kerr::kOutOfRange);
    }
    std::string name = key ? "private_key/" : (*type == 0 ? "root_cert/" : "local_cert/");
    name += std::to_string(*index);
    startDataPhase(
        DataPhase::countOrPattern(static_cast<size_t>(*len), pattern_), "\r\nCONNECT\r\n",
        [this, name, key](const DataPhase& p) {
            const std::string& pem = p.data();
            if (pem.find('\n') == std::string::npos && pem.find('\r') == std::string::npos) {
                return Final::cme(kerr::kLengthInvalid);  // no line ends at all
            }
            bool valid = key ? pemHasPrivateKey(pem) : countPemCertificates(pem) > 0;
            if (!valid) {
                return Final::cme(kerr::kContentInvalid);
            }
            certs_.put(name, pem);
            log_.note("stored " + name + " (" + std::to_string(pem.size()) + " bytes)");
            return Final::ok();
        });
    return Final::pending();
}

std::string Hl78Model::certReadBack() const {
    std::string out = "\r\n+KCERTSTORE:";
    for (const char* kind : {"root_cert", "local_cert"}) {
        for (const auto& name : certs_.namesWithPrefix(std::string(kind) + "/")) {
            std::string data = *certs_.get(name);
            out += "\r\n" + std::string(kind) + "," + name.substr(name.find('/') + 1) + "," +
                   std::to_string(data.size()) + "\r\n" + crlfLines(data);
        }
    }
    out += "\r\n";
    return out;
}

void Hl78Model::addCertCommands() {
    const std::vector<std::string> kcertstore_test = {"+KCERTSTORE: (0-1),(1-" +
                                                      std::to_string(kMaxCert) + "),(0-3)"};
    addCommand("+KCERTSTORE", kcertstore_test, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respondRaw(certReadBack(), "+KCERTSTORE: [stored certificates]");
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::cme(kerr::kMissing);
        }
        return storeCredential(c, false);
    });
    const std::vector<std::string> kprivkstore_test = {"+KPRIVKSTORE: (0),(1-" +
                                                       std::to_string(kMaxCert) + "),(0-3)"};
    addCommand("+KPRIVKSTORE", kprivkstore_test, [this](const AtCommand& c) {
        if (c.kind != AtKind::Set) {
            return Final::cme(kerr::kNotSupported);
        }
        return storeCredential(c, true);
    });
    addCommand("+KCERTDELETE", [this](const AtCommand& c) {
        auto type = c.intArg(0);
        auto index = c.has(1) ? c.intArg(1) : std::optional<long>(0);
        if (!type || *type < 0 || *type > 2 || !index || *index < 0 || *index > 3) {
            return Final::cme(kerr::kOutOfRange);
        }
        const char* kind =
            *type == 0 ? "root_cert/" : (*type == 1 ? "local_cert/" : "private_key/");
        certs_.erase(kind + std::to_string(*index));
        return Final::ok();
    });
}

std::optional<TlsOptions> Hl78Model::tlsFor(const Session& s, std::string& why) {
    auto it = profiles_.find(s.profile);
    if (it == profiles_.end()) {
        misuse("AT+KTCPCNX: secure session to " + s.host + " uses crypto profile " +
               std::to_string(s.profile) + ", which no AT+KSSLCRYPTO defined");
        why = "crypto profile " + std::to_string(s.profile) + " is not defined";
        return std::nullopt;
    }
    const CryptoProfile& p = it->second;
    TlsOptions t;
    t.enabled = true;
    if (!isIpLiteral(s.host)) {
        t.sni = s.host;  // the KTCPCFG host is the SNI name
    }
    t.min_version = p.minVersion();
    t.max_version = p.maxVersion();
    t.verify_server = p.verifyServer();
    if (t.verify_server) {
        t.check_host = s.host;
        // Only the profile's root slot is trusted; an empty slot fails the verification.
        if (auto root = certs_.get("root_cert/" + std::to_string(p.root_ca))) {
            t.ca_pems.push_back(*root);
        }
    }
    if (p.clientCert()) {
        auto locals = certs_.namesWithPrefix("local_cert/");
        auto keys = certs_.namesWithPrefix("private_key/");
        if (locals.empty() || keys.empty()) {
            why = "crypto profile " + std::to_string(p.index) +
                  " asks for a client certificate, but no local certificate and key are stored";
            return std::nullopt;
        }
        t.client_cert_pem = *certs_.get(locals.front());
        t.client_key_pem = *certs_.get(keys.front());
    }
    log_.note("session TLS with crypto profile " + std::to_string(p.index) + " (" + p.fields() +
              ")");
    return t;
}

void Hl78Model::addCryptoCommand() {
    const std::vector<std::string> ksslcrypto_test = {"+KSSLCRYPTO: " + cryptoProfileRanges()};
    addCommand("+KSSLCRYPTO", ksslcrypto_test, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [index, p] : profiles_) {
                respond("+KSSLCRYPTO: " + p.fields());
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::cme(kerr::kMissing);
        }
        auto parsed = parseCryptoProfile(c);
        if (const int* code = std::get_if<int>(&parsed)) {
            log_.note("AT+KSSLCRYPTO rejected (" + std::to_string(*code) + "): " + c.raw_args);
            return Final::cme(*code);
        }
        const auto& p = std::get<CryptoProfile>(parsed);
        profiles_[p.index] = p;
        log_.note("crypto profile " + std::to_string(p.index) + " stored: " + p.fields());
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
