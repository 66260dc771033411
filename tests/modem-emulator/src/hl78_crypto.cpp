// SPDX-License-Identifier: Apache-2.0
#include "hl78_crypto.hpp"

#include <openssl/ssl.h>

#include <array>

namespace uplinkd::emulator {
namespace {

constexpr int kExtraParameter = 915;
constexpr int kOutOfRange = 916;
constexpr int kMissing = 917;

/// One AT+KSSLCRYPTO field: where it is stored and its allowed range.
struct Field {
    int CryptoProfile::*member;
    int min;
    int max;
    bool required;
};

constexpr std::array<Field, 8> kFields = {{
    {&CryptoProfile::index, 0, CryptoProfile::kMaxIndex, true},
    {&CryptoProfile::key_exchange, 1, 65535, true},
    {&CryptoProfile::cipher, 1, 65535, true},
    {&CryptoProfile::hash, 1, 65535, true},
    {&CryptoProfile::tls_versions, 1, 15, true},
    {&CryptoProfile::field6, 0, 255, true},
    {&CryptoProfile::auth, 0, 3, true},
    {&CryptoProfile::root_ca, 0, 3, false},
}};

/// Bit of the tls_versions mask -> OpenSSL protocol version.
constexpr std::array<int, 4> kVersions = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
                                          TLS1_3_VERSION};

}  // namespace

int CryptoProfile::minVersion() const {
    for (size_t bit = 0; bit < kVersions.size(); ++bit) {
        if ((tls_versions & (1 << bit)) != 0) {
            return kVersions[bit];
        }
    }
    return 0;
}

int CryptoProfile::maxVersion() const {
    for (size_t bit = kVersions.size(); bit-- > 0;) {
        if ((tls_versions & (1 << bit)) != 0) {
            return kVersions[bit];
        }
    }
    return 0;
}

std::string CryptoProfile::fields() const {
    std::string out;
    for (const Field& f : kFields) {
        out += (out.empty() ? "" : ",") + std::to_string(this->*f.member);
    }
    return out;
}

std::variant<CryptoProfile, int> parseCryptoProfile(const AtCommand& c) {
    if (c.argc() > kFields.size()) {
        return kExtraParameter;
    }
    CryptoProfile p;
    for (size_t i = 0; i < kFields.size(); ++i) {
        const Field& f = kFields[i];
        if (!c.has(i)) {
            if (f.required) {
                return kMissing;
            }
            continue;
        }
        auto v = c.quoted(i) ? std::nullopt : c.intArg(i);
        if (!v || *v < f.min || *v > f.max) {
            return kOutOfRange;
        }
        p.*f.member = static_cast<int>(*v);
    }
    return p;
}

std::string cryptoProfileRanges() {
    std::string out;
    for (const Field& f : kFields) {
        out +=
            (out.empty() ? "(" : ",(") + std::to_string(f.min) + "-" + std::to_string(f.max) + ")";
    }
    return out;
}

std::optional<int> parseProfileIndex(const AtCommand& c, size_t field) {
    if (!c.has(field)) {
        return std::nullopt;
    }
    auto v = c.intArg(field);
    if (!v || *v < 0 || *v > CryptoProfile::kMaxIndex) {
        return -1;
    }
    return static_cast<int>(*v);
}

}  // namespace uplinkd::emulator
