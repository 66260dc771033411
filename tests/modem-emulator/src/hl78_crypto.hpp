// SPDX-License-Identifier: Apache-2.0
// The HL78xx TLS crypto profile (AT+KSSLCRYPTO): the emulator's reading of its fields, their
// ranges and what a profile means for the host-side TLS connection. Pure logic, no I/O.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "at_command.hpp"

namespace uplinkd::emulator {

/// One stored crypto profile; a value type (any thread).
/// Field order of AT+KSSLCRYPTO=<index>,<key_exchange>,<cipher>,<hash>,<tls_versions>,
/// <field6>,<auth>[,<root_ca>] (see docs/modem-emulator.md for why this reading).
struct CryptoProfile {
    static constexpr int kMaxIndex = 3;
    static constexpr int kAuthVerifyServer = 1;  ///< auth bit: verify the server's chain
    static constexpr int kAuthClientCert = 2;    ///< auth bit: present the stored client cert

    int index = 0;
    int key_exchange = 0;  ///< mask, stored and listed only
    int cipher = 0;        ///< mask, stored and listed only
    int hash = 0;          ///< mask, stored and listed only
    int tls_versions = 0;  ///< mask: 1 TLS 1.0, 2 TLS 1.1, 4 TLS 1.2, 8 TLS 1.3
    int field6 = 0;        ///< 4 in every known command; meaning unconfirmed, stored only
    int auth = 0;          ///< bit 0 verify the server, bit 1 client certificate
    int root_ca = 0;       ///< KCERTSTORE root slot trusted when verifying

    bool verifyServer() const { return (auth & kAuthVerifyServer) != 0; }
    bool clientCert() const { return (auth & kAuthClientCert) != 0; }
    /// Lowest and highest OpenSSL protocol version the mask allows.
    int minVersion() const;
    int maxVersion() const;
    /// The fields as the read command lists them: "1,8,3,25392,12,4,1,0".
    std::string fields() const;
};

/// Parses AT+KSSLCRYPTO=<...>: the profile, or the +CME ERROR code (915 extra parameter,
/// 916 out of range or not a number, 917 missing parameter).
std::variant<CryptoProfile, int> parseCryptoProfile(const AtCommand& c);

/// The test-command answer: the range of each field.
std::string cryptoProfileRanges();

/// Parses the KTCPCFG cipher_suite_index (field 9): nullopt when absent, -1 when out of range.
std::optional<int> parseProfileIndex(const AtCommand& c, size_t field);

}  // namespace uplinkd::emulator
