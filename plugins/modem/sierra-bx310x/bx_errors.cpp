// SPDX-License-Identifier: Apache-2.0
#include "bx_errors.hpp"

#include <algorithm>
#include <span>

#include "bx_parsers.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::sierra_bx310x {

namespace {

// +CME ERROR codes of the K commands [LEG, SW-BX] (reference §2.5).
constexpr CodeWords kCme[] = {
    {902, "no more sockets available in the module", "close sockets that are not used"},
    {903, "the module ran out of memory",
     "send smaller payloads or certificates; restart the module if it persists"},
    {904, "DNS error: the module could not resolve the host name",
     "check the broker host name and that the Wi-Fi network has a DNS server"},
    {905, "the remote host closed the connection", "check the broker's logs"},
    {906, "TCP connection error (refused or unreachable)",
     "check the broker host and port and that the network lets the module reach it"},
    {907, "generic error", "try again; restart the module if it persists"},
    {908, "the module failed to accept a client request", "try again"},
    {909, "the data mode does not match the command", "restart the module"},
    {910, "bad session ID: the module holds no such session",
     "the module lost its session (a restart?): connect again"},
    {911, "the session is already running", "close it first (uplinkd does on reconnect)"},
    {912, "all sessions are in use", "close sessions that are not used, or restart the module"},
    {913, "socket connection timeout", "check that the broker is reachable from the Wi-Fi network"},
    {914, "control socket connection timeout",
     "check that the broker is reachable from the Wi-Fi network"},
    {915, "a parameter was not expected (extra parameter)",
     "the firmware takes another form of this command: check its version"},
    {916, "a parameter is out of range",
     "check the value (e.g. a certificate over 3000 bytes, an index over 2, a QoS over 2)"},
    {917, "a parameter is missing", "the firmware takes another form of this command"},
    {918, "feature not supported by this firmware",
     "update the module's firmware or do this in uplinkd instead"},
    {919, "feature not available", "update the module's firmware"},
    {920, "protocol not supported", "update the module's firmware"},
    {921, "invalid bearer state: the module has no network connection",
     "check that the module is associated with the Wi-Fi network"},
    {922, "invalid session state", "close the session and connect again"},
    {923, "invalid terminate-data-mode state", "restart the module"},
    {924, "the session is busy", "try again after the current transfer"},
    {925, "invalid HTTP header name", "-"},
    {926, "invalid HTTP header value", "-"},
    {927, "empty HTTP header name", "-"},
    {928, "empty HTTP header value", "-"},
    {929, "invalid input data format", "check the certificate or payload sent"},
    {930, "invalid content: not a certificate or key the module can parse",
     "check that tls.ca_file / tls.cert_file / tls.key_file hold PEM text"},
    {931, "invalid parameter length",
     "a certificate needs CR+LF line ends and its exact byte count (uplinkd sends both)"},
    {932, "invalid parameter format", "check for quotes or control characters in the values"},
};

// +KMQTT_IND: <id>,<code> [Z-HL78M, LIB-BX] (reference §2.7, §3.2; beyond 1 and 4 UNCONFIRMED
// for the BX).
constexpr CodeWords kMqttInd[] = {
    {0, "the MQTT connection was closed or could not be made",
     "see the probable causes uplinkd lists with the connect error; the route reconnects"},
    {1, "connected: the broker accepted the connection (CONNACK)", "-"},
    {2, "the broker acknowledged a subscription (SUBACK)", "-"},
    {3, "the broker acknowledged an unsubscription (UNSUBACK)", "-"},
    {4, "the broker acknowledged a publish (PUBACK)", "-"},
    {5, "the module's MQTT client reported an error",
     "check the broker address, port and credentials; the route reconnects"},
};

// +SRWSTASTATUS: 0,<reason>: IEEE 802.11 reason codes (Std 802.11-2020 table 9-49) and the
// module's own 2xx codes (UNCONFIRMED: see the plugin README).
constexpr CodeWords kStaReasons[] = {
    {1, "unspecified reason", "check the access point's log"},
    {2, "the authentication is no longer valid",
     "the access point dropped the station: check its log"},
    {3, "the station left the network (deauthenticated)", "-"},
    {4, "disassociated for inactivity", "the module reconnects; check the signal if it repeats"},
    {5, "the access point cannot handle all its stations",
     "use another access point or free a slot"},
    {6, "frame from a station that is not authenticated", "reconnect"},
    {7, "frame from a station that is not associated", "reconnect"},
    {8, "the station left the network (disassociated)", "-"},
    {13, "invalid information element", "check the access point's security settings"},
    {14, "message integrity failure", "check the passphrase (psk_file) and the access point"},
    {15, "the 4-way handshake timed out: most likely a wrong passphrase",
     "check psk_file (the WPA passphrase) and the access point's security mode (WPA2-PSK)"},
    {16, "the group key handshake timed out", "check the access point's security settings"},
    {17, "the security settings differ in the handshake", "check the access point's security mode"},
    {18, "invalid group cipher", "set the access point to WPA2-PSK with AES (CCMP)"},
    {19, "invalid pairwise cipher", "set the access point to WPA2-PSK with AES (CCMP)"},
    {20, "invalid key management (AKM)", "set the access point to WPA2-PSK"},
    {21, "unsupported RSN version", "set the access point to WPA2-PSK"},
    {22, "invalid RSN capabilities", "set the access point to WPA2-PSK"},
    {23, "IEEE 802.1X authentication failed", "the module joins WPA2-PSK (personal) networks only"},
    {24, "cipher suite rejected", "set the access point to WPA2-PSK with AES (CCMP)"},
    {200, "the access point's beacons were lost (out of range or switched off)",
     "move the gateway closer or check the access point; the module reconnects"},
    {201, "no access point with this SSID was found",
     "check ssid and that the network is on 2.4 GHz"},
    {202, "authentication failed: most likely a wrong passphrase", "check psk_file"},
    {203, "association failed", "check the access point's limits and MAC filter"},
    {204, "the handshake timed out: most likely a wrong passphrase", "check psk_file"},
    {205, "the connection failed", "check the access point; the module retries"},
};

// +KTCP_NOTIF: <id>,<code> [Z-HL78H, Z-HL7800] (reference §2.4).
constexpr CodeWords kNotif[] = {
    {0, "network error: the module has no network connection",
     "check that the module is associated with the Wi-Fi network"},
    {1, "no more sockets available in the module", "close sockets that are not used"},
    {2, "the module ran out of memory", "restart the module if it persists"},
    {3, "DNS error: the module could not resolve the host name",
     "check the host name and the network's DNS server"},
    {4, "the server closed the connection", "the route reconnects; check the broker's logs"},
    {5, "TCP connection error (refused or unreachable)", "check the host and port"},
    {6, "generic error", "try again"},
    {7, "the module failed to accept a client request", "try again"},
    {8, "the module got a different number of bytes than announced", "restart the module"},
    {9, "bad session ID", "connect again"},
    {10, "the session is already running", "close it first"},
    {11, "all sessions are in use", "close sessions that are not used"},
    {12, "the connection timed out", "check that the host is reachable"},
    {13, "TLS connection error: the handshake failed in the module",
     "the broker may want a client certificate, or TLS versions or ciphers the module lacks"},
    {14, "TLS initialisation error: the module could not load its certificate or key",
     "provision tls.cert_file and tls.key_file again"},
    {15, "TLS certificate error: the module does not trust the broker's certificate",
     "tls.ca_file must hold the broker's root CA (not an intermediate), provisioned to the "
     "module"},
};

const CodeWords* findCode(std::span<const CodeWords> table, int code) {
    const auto it = std::find_if(table.begin(), table.end(),
                                 [&](const CodeWords& c) { return c.code == code; });
    return it == table.end() ? nullptr : &*it;
}

std::string withFix(const CodeWords& c) {
    std::string s(c.words);
    if (c.fix != "-") {
        s += ": ";
        s += c.fix;
    }
    return s;
}

}  // namespace

const CodeWords* cmeErrorEntry(int code) {
    return findCode(kCme, code);
}
const CodeWords* kmqttIndEntry(int code) {
    return findCode(kMqttInd, code);
}
const CodeWords* staReasonEntry(int reason) {
    return findCode(kStaReasons, reason);
}
const CodeWords* ktcpNotifEntry(int code) {
    return findCode(kNotif, code);
}

std::string staReasonWords(int reason) {
    if (const auto* e = staReasonEntry(reason)) {
        return withFix(*e);
    }
    return "disconnection reason " + std::to_string(reason) +
           ": check ssid, psk_file and the access point";
}

std::string explainLine(std::string_view raw) {
    const std::string_view line = modem_common::trimLine(raw);
    const std::string shown = modem_common::printable(line, 120);
    if (const auto code = modem_common::parseCmeErrorCode(line)) {
        if (const auto* e = cmeErrorEntry(*code)) {
            return withFix(*e) + " (" + shown + ")";
        }
        std::string general = modem_common::cmeGeneralWords(*code);
        return (general.empty() ? "module error " + std::to_string(*code) : general) + " (" +
               shown + ")";
    }
    if (line.starts_with("+KMQTT_IND:")) {
        const auto ind = parseKmqttInd(line);
        const auto* e = ind ? kmqttIndEntry(ind->code) : nullptr;
        return (e ? withFix(*e) : "MQTT client state " + shown) + " (" + shown + ")";
    }
    if (line.starts_with("+SRWSTASTATUS:")) {
        const auto st = parseStaStatus(line);
        if (!st) {
            return shown;
        }
        if (st->associated) {
            return "associated with the Wi-Fi network (" + shown + ")";
        }
        return "not associated with the Wi-Fi network" +
               (st->reason >= 0 ? ": " + staReasonWords(st->reason) : std::string()) + " (" +
               shown + ")";
    }
    if (line.starts_with("+KTCP_NOTIF:")) {
        const auto f = modem_common::intField(line, "+KTCP_NOTIF:", 1, 0, 255);
        const auto* e = f ? ktcpNotifEntry(static_cast<int>(*f)) : nullptr;
        return (e ? withFix(*e) : "socket error") + " (" + shown + ")";
    }
    if (line == "READY") {
        return "the module restarted (READY): its Wi-Fi connection and MQTT session are gone; "
               "uplinkd starts it again";
    }
    if (line == "ERROR") {
        return "the module refused the command (ERROR): the firmware may not know it, or a "
               "quoted value was malformed";
    }
    return shown;
}

}  // namespace uplinkd::plugins::sierra_bx310x
