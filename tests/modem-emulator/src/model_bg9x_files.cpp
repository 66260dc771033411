// SPDX-License-Identifier: Apache-2.0
// Bg9xModel: the file system (AT+QFUPL/QFDEL/QFLST; UFS files live in the CertStore, so they
// survive resets like flash) and the SSL contexts (AT+QSSLCFG) that name those files.
#include <cstdio>

#include "bg9x_codes.hpp"
#include "model_bg9x.hpp"

namespace uplinkd::emulator {

namespace {

constexpr long kMaxFile = 102400;

/// "UFS:ca.pem", "RAM:x" or a bare name (UFS); nullopt for another storage or an empty name.
std::optional<std::string> storageName(const std::string& name) {
    if (name.rfind("UFS:", 0) == 0 || name.rfind("RAM:", 0) == 0) {
        return name.size() > 4 ? std::optional<std::string>(name) : std::nullopt;
    }
    if (name.empty() || name.find(':') != std::string::npos) {
        return std::nullopt;
    }
    return "UFS:" + name;
}

}  // namespace

std::optional<std::string> Bg9xModel::file(const std::string& name) const {
    auto full = storageName(name);
    if (!full) {
        return std::nullopt;
    }
    if (full->rfind("RAM:", 0) == 0) {
        auto it = ram_files_.find(*full);
        return it == ram_files_.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    return certs_.get(*full);
}

void Bg9xModel::addFileCommands() {
    const std::vector<std::string> qfupl_test = {"+QFUPL: <filename>,(1-102400),(1-65535),(0,1)"};
    addCommand("+QFUPL", qfupl_test, [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || !c.quoted(0)) {
            return Final::error();
        }
        auto name = storageName(c.str(0));
        auto size = c.intArg(1);
        if (!name || !size || *size < 1 || *size > kMaxFile ||
            (c.has(2) && (!c.intArg(2) || *c.intArg(2) < 1)) ||
            (c.has(3) && c.str(3) != "0")) {  // ackmode 1 is not emulated
            return Final::cme(bg9x::kFileInvalidParam);
        }
        if (file(*name)) {
            return Final::cme(bg9x::kFileExists);
        }
        const std::string full = *name;
        startDataPhase(
            DataPhase::count(static_cast<size_t>(*size)), "\r\nCONNECT\r\n",
            [this, full](const DataPhase& p) {
                if (p.outcome() != DataPhase::Outcome::Complete) {
                    return Final::error();
                }
                if (full.rfind("RAM:", 0) == 0) {
                    ram_files_[full] = p.data();
                } else {
                    certs_.put(full, p.data());
                }
                log_.note("stored " + full + " (" + std::to_string(p.data().size()) + " bytes)");
                char sum[8];
                std::snprintf(sum, sizeof(sum), "%x",
                              static_cast<unsigned>(bg9x::qfuplChecksum(p.data())));
                respond("+QFUPL: " + std::to_string(p.data().size()) + "," + sum);
                return Final::ok();
            });
        return Final::pending();
    });
    addCommand("+QFDEL", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || !c.quoted(0)) {
            return c.kind == AtKind::Test ? Final::ok() : Final::error();
        }
        const std::string arg = c.str(0);
        if (arg == "*" || arg == "UFS:*") {
            for (const auto& n : certs_.namesWithPrefix("UFS:")) {
                certs_.erase(n);
            }
            return Final::ok();
        }
        if (arg == "RAM:*") {
            ram_files_.clear();
            return Final::ok();
        }
        auto name = storageName(arg);
        if (!name) {
            return Final::cme(bg9x::kFileInvalidParam);
        }
        const bool gone =
            name->rfind("RAM:", 0) == 0 ? ram_files_.erase(*name) > 0 : certs_.erase(*name);
        return gone ? Final::ok() : Final::cme(bg9x::kFileNotFound);
    });
    addCommand("+QFLST", [this](const AtCommand& c) {
        std::string pattern = c.kind == AtKind::Set ? c.str(0) : "*";
        if (c.kind == AtKind::Test) {
            return Final::ok();
        }
        if (pattern == "RAM:*") {
            for (const auto& [n, data] : ram_files_) {
                respond("+QFLST: \"" + n + "\"," + std::to_string(data.size()));
            }
            return Final::ok();
        }
        std::optional<std::string> only;
        if (pattern != "*" && pattern != "UFS:*") {
            only = storageName(pattern);
            if (!only) {
                return Final::cme(bg9x::kFileInvalidParam);
            }
        }
        for (const auto& n : certs_.namesWithPrefix("UFS:")) {
            if (!only || *only == n) {
                respond("+QFLST: \"" + n + "\"," + std::to_string(certs_.get(n)->size()));
            }
        }
        return Final::ok();
    });
}

std::optional<TlsOptions> Bg9xModel::tlsFor(int ctx, const std::string& host,
                                            std::string& why) const {
    const SslContext& s = ssl_[static_cast<size_t>(ctx)];
    TlsOptions t;
    t.enabled = true;
    const auto [min, max] = bg9x::sslVersionRange(s.sslversion);
    t.min_version = min;
    t.max_version = max;
    if (s.sni == 1 && !isIpLiteral(host)) {
        t.sni = host;
    }
    if (s.seclevel >= 1) {
        auto ca = file(s.cacert);
        if (!ca) {
            why = "SSL context " + std::to_string(ctx) + ": cacert file \"" + s.cacert +
                  "\" is not there";
            return std::nullopt;
        }
        t.verify_server = true;
        t.ca_pems = {*ca};
        t.check_host = host;
        if (s.ignorelocaltime == 1) {
            t.ignore_time = true;
        } else {
            t.check_time = moduleTime();
        }
    }
    if (s.seclevel == 2) {
        auto cert = file(s.clientcert);
        auto key = file(s.clientkey);
        if (!cert || !key) {
            why = "SSL context " + std::to_string(ctx) + ": client certificate or key file missing";
            return std::nullopt;
        }
        t.client_cert_pem = *cert;
        t.client_key_pem = *key;
    }
    return t;
}

void Bg9xModel::addSslConfigCommand() {
    addCommand("+QSSLCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Test) {
            respond("+QSSLCFG: \"sslversion\",(0-5),(0-4)");
            respond("+QSSLCFG: \"ciphersuite\",(0-5),<cipher>");
            respond("+QSSLCFG: \"seclevel\",(0-5),(0-2)");
            respond("+QSSLCFG: \"cacert\",(0-5),<path>");
            respond("+QSSLCFG: \"clientcert\",(0-5),<path>");
            respond("+QSSLCFG: \"clientkey\",(0-5),<path>");
            respond("+QSSLCFG: \"ignorelocaltime\",(0-5),(0,1)");
            respond("+QSSLCFG: \"negotiatetime\",(0-5),(10-300)");
            if (sni_supported_) {
                respond("+QSSLCFG: \"sni\",(0-5),(0,1)");
            }
            return Final::ok();
        }
        auto ctxv = c.intArg(1);
        if (c.kind != AtKind::Set || !c.quoted(0) || !ctxv || *ctxv < 0 || *ctxv >= kSslContexts) {
            return Final::error();
        }
        const int ctx = static_cast<int>(*ctxv);
        SslContext& s = ssl_[static_cast<size_t>(ctx)];
        const std::string key = c.str(0);
        const std::string head = "+QSSLCFG: \"" + key + "\"," + std::to_string(ctx) + ",";
        const bool query = c.argc() == 2;
        auto number = [&](int* field, long lo, long hi) {
            if (query) {
                respond(head + std::to_string(*field));
                return Final::ok();
            }
            auto v = c.intArg(2);
            if (!v || *v < lo || *v > hi || c.argc() != 3) {
                return Final::error();
            }
            *field = static_cast<int>(*v);
            return Final::ok();
        };
        auto path = [&](std::string* field) {
            if (query) {
                respond(head + "\"" + *field + "\"");
                return Final::ok();
            }
            if (!c.quoted(2) || !storageName(c.str(2)) || c.argc() != 3) {
                return Final::error();
            }
            *field = c.str(2);
            return Final::ok();
        };
        if (key == "sslversion") {
            return number(&s.sslversion, 0, 4);
        }
        if (key == "seclevel") {
            return number(&s.seclevel, 0, 2);
        }
        if (key == "ignorelocaltime") {
            return number(&s.ignorelocaltime, 0, 1);
        }
        if (key == "negotiatetime") {
            return number(&s.negotiatetime, 10, 300);
        }
        if (key == "sni") {
            if (!sni_supported_) {
                log_.note("QSSLCFG: this firmware has no \"sni\"");
                return Final::error();
            }
            return number(&s.sni, 0, 1);
        }
        if (key == "cacert") {
            return path(&s.cacert);
        }
        if (key == "clientcert") {
            return path(&s.clientcert);
        }
        if (key == "clientkey") {
            return path(&s.clientkey);
        }
        if (key == "ciphersuite") {
            if (query) {
                char buf[16];
                std::snprintf(buf, sizeof(buf), "0X%04X", static_cast<unsigned>(s.ciphersuite));
                respond(head + buf);
                return Final::ok();
            }
            const std::string v = c.str(2);
            if (v.size() != 6 || (v.rfind("0X", 0) != 0 && v.rfind("0x", 0) != 0) ||
                v.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos) {
                return Final::error();
            }
            s.ciphersuite = static_cast<int>(std::stoul(v.substr(2), nullptr, 16));
            return Final::ok();
        }
        return Final::error();
    });
}

}  // namespace uplinkd::emulator
