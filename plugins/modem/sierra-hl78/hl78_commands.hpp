// SPDX-License-Identifier: Apache-2.0
// The HL78xx command set as data: bring-up steps, the info queries, timeouts and limits, and
// builders for the commands that take arguments. Facts: shared/reference/at-commands.md §1, §2,
// §7 (sources Z-HL78S/C/H, Z-HL7800, SW-T, LEG). Thread: any (constants and pure functions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/at_steps.hpp"
#include "common/generic_info.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using namespace std::chrono_literals;
using modem_common::AtStep;
using modem_common::InfoQuery;
using modem_common::StepPolicy;

/// The module's boot indication: "+KSUP: <n>" (after power-on, a reset or a crash).
inline constexpr std::string_view kBootIndications[] = {"+KSUP:"};
/// The end-of-data pattern of KTCPSND / KTCPRCV / KCERTSTORE (set with AT+KPATTERN). A length
/// announced for a data phase never counts it.
inline constexpr std::string_view kEofPattern = "--EOF--Pattern--";
/// The KCNXCFG bearer profile every socket uses.
inline constexpr int kCnx = 1;
/// KTCPCFG modes.
inline constexpr int kModePlainClient = 0;
inline constexpr int kModeTlsClient = 3;
/// Sockets: one AT+KTCPSND carries at most 1500 bytes (Zephyr's MDM_MAX_DATA_LENGTH), one
/// AT+KTCPRCV asks for at most 1500; host names over 255 characters are refused.
inline constexpr modem_common::SocketLimits kSocketLimits{1500, 1500, 255};
/// Root CA indexes 0-3 in the module's store.
inline constexpr size_t kMaxRootCas = 4;

/// Bring-up, in order: echo off, numeric +CME ERROR codes (the 9xx K-command codes are only
/// numeric), the data-phase end pattern. SIM, registration and bearer follow (see the driver).
inline constexpr auto kInitSteps = modem_common::joinedTable<AtStep>(
    modem_common::kEchoOffNumericErrors,
    {{"AT+KPATTERN=\"--EOF--Pattern--\"", 2s, StepPolicy::Required}});

/// Lists every session the module holds ("+KTCPSTAT: <id>,<status>,..." per session): after
/// any (re)start the driver owns none, so each listed one is closed and deleted (sessions of a
/// hung module are otherwise never freed, and the module refuses new ones with 912).
inline constexpr AtStep kSessionList = {"AT+KTCPSTAT", 5s, StepPolicy::Optional};

/// The TLS crypto profile written before every TLS session and named in its KTCPCFG:
/// AT+KSSLCRYPTO=<profile>,<key exchange>,<authentication>,<encryption>,<mac>,<tls version>,
/// <verification>[,<root CA index>] (field names from Sierra's HL78xx test scripts; values in
/// the plugin README).
struct CryptoProfile {
    int profile;         ///< the index KTCPCFG refers to
    int key_exchange;    ///< 8: ECDHE
    int authentication;  ///< 3: RSA or ECDSA certificates
    int encryption;      ///< bit mask of AES-GCM / AES-CCM ciphers
    int mac;             ///< 12: SHA-256 and SHA-384
    int tls_version;     ///< 4: TLS 1.2
    int verify_server;   ///< the server's chain is checked against the root CA store
    int verify_mutual;   ///< the same, and the stored client certificate is presented
    int root_index;      ///< the root CA slot uplinkd provisions first
};
inline constexpr CryptoProfile kTlsProfile{1, 8, 3, 25392, 12, 4, 1, 3, 0};

/// Registration is read from the EPS status (LTE-M / NB-IoT only).
inline constexpr std::string_view kRegistrationQuery = "AT+CEREG?";
inline constexpr std::string_view kRegistrationPrefix = "+CEREG:";

/// Brings the bearer up; the outcome is "+KCNX_IND: 1,<status>". Older firmware may not know it:
/// the first KTCPCNX then brings the bearer up itself.
inline constexpr AtStep kBearerUp = {"AT+KCNXUP=1", 10s, StepPolicy::Optional};

/// Reads the certificate store back after provisioning.
inline constexpr AtStep kCertStoreRead = {"AT+KCERTSTORE?", 10s, StepPolicy::Required};
/// Removes the client certificate when none is configured (so it is not presented).
inline constexpr AtStep kDeleteLocalCert = {"AT+KCERTDELETE=1", 5s, StepPolicy::Optional};

/// `uplinkctl modem info` after the identity (kIdentityQueries): SIM, registration, signal.
inline constexpr InfoQuery kSimNetworkQueries[] = {
    {"AT+CCID", 5s, &modem_common::applyIccid},
    {"AT+CPIN?", 5s, &modem_common::applySim},
    {"AT+CEREG?", 2s, &modem_common::applyCereg},
    {"AT+CSQ", 2s, &modem_common::applyCsq},
};
/// `uplinkctl modem info`.
inline constexpr auto kInfoQueries =
    modem_common::joinedTable<InfoQuery>(modem_common::kIdentityQueries, kSimNetworkQueries);

/// Timeouts and polling, as data. The defaults are kHl78Timing; tests shorten them.
struct Hl78Timing : modem_common::CellularTiming {
    std::chrono::milliseconds bearer_up = 60s;   ///< AT+KCNXUP → +KCNX_IND
    std::chrono::milliseconds connect = 90s;     ///< AT+KTCPCNX → +KTCP_IND / +KTCP_NOTIF
    std::chrono::milliseconds send = 20s;        ///< one AT+KTCPSND data phase
    std::chrono::milliseconds receive = 20s;     ///< one AT+KTCPRCV data phase
    std::chrono::milliseconds cert_store = 30s;  ///< one AT+KCERTSTORE / KPRIVKSTORE
};
inline constexpr Hl78Timing kHl78Timing{};

// ---- commands with arguments ------------------------------------------------------------------

/// AT+KCNXCFG=1,"GPRS","<apn>"[,"<user>","<password>"] (arguments checked by the driver).
std::string kcnxcfgCommand(const ModemSettings& settings);
/// AT+KTCPCFG=1,<mode>,"<host>",<port>; for a TLS client (mode 3) the crypto profile index
/// follows as the 9th field: AT+KTCPCFG=1,3,"<host>",<port>,,,,,<profile>.
std::string ktcpcfgCommand(int mode, const std::string& host, uint16_t port);
/// AT+KSSLCRYPTO=<profile>,...: `mutual` when a client certificate is provisioned;
/// `with_root_index` adds the 8th field (firmware 4.6 and later).
std::string ksslcryptoCommand(const CryptoProfile& p, bool mutual, bool with_root_index);
std::string ktcpcnxCommand(int session);
/// AT+KTCPSND=<session>,<n>: n counts the payload only, never the EOF pattern.
std::string ktcpsndCommand(int session, size_t n);
std::string ktcprcvCommand(int session, size_t n);
/// AT+KTCPSTAT=<session>: state and the bytes waiting to be read.
std::string ktcpstatCommand(int session);
std::string ktcpcloseCommand(int session);
std::string ktcpdelCommand(int session);
/// AT+KCERTSTORE=<0 root|1 local>,<n>[,<index>] (index only when `index` >= 0).
std::string kcertstoreCommand(int data_type, size_t n, int index);
/// AT+KPRIVKSTORE=0,<n>
std::string kprivkstoreCommand(size_t n);

}  // namespace uplinkd::plugins::sierra_hl78
