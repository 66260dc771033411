// SPDX-License-Identifier: Apache-2.0
#include "bg9x_errors.hpp"

#include "bg9x_parsers.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using modem_common::CodeWords;
using modem_common::codeWords;

namespace {

// [RTT-EC20] at_tcp_ip_errcode_parse; the fixes are uplinkd's.
constexpr CodeWords kSocketErrors[] = {
    {550, "unknown error in the module's TCP/IP stack: retry; if it persists, restart the module"},
    {551, "operation blocked: the module is busy with another socket operation; retry"},
    {552,
     "invalid parameters: the module refused the socket arguments (on some firmware this also "
     "appears after many open/close cycles until the module restarts)"},
    {553, "the module is out of memory: close unused sockets or restart the module"},
    {554, "the module could not create a socket: too many open; close unused ones"},
    {555, "operation not supported by this module or firmware"},
    {556, "socket bind failed in the module: retry"},
    {557, "socket listen failed in the module"},
    {558, "socket write failed: the connection is broken; it is opened again"},
    {559, "socket read failed: the connection is broken; it is opened again"},
    {560, "socket accept failed in the module"},
    {561,
     "the module could not activate its data connection (PDP context): check apn, apn_user and "
     "apn_password_file, the SIM's data plan, and the coverage"},
    {562, "the module could not deactivate its data connection (PDP context)"},
    {563, "the socket id is in use in the module: the old socket is closed first; retry"},
    {564, "the module's DNS is busy: retry"},
    {565,
     "the module could not resolve the host name (DNS failed): check the broker host and that "
     "the data connection works"},
    {566,
     "the connection failed: refused, unreachable, or (for TLS) the handshake or the certificate "
     "check failed; for TLS check that tls.ca_file is the broker's root CA, that the broker "
     "gets SNI, the client certificate, and the module's clock"},
    {567, "the socket was closed"},
    {568, "the module is busy with another operation: retry"},
    {569, "the operation timed out in the module: check the coverage and the broker's address"},
    {570,
     "the data connection (PDP context) broke down: the network dropped it; it is activated "
     "again"},
    {571, "the send was cancelled"},
    {572, "operation not allowed in the module's present state"},
    {573, "no APN is configured: set apn in the uplink"},
    {574, "the port is busy in the module"},
};

// [QMTSTAT] checked QMTOPEN table.
constexpr CodeWords kMqttOpen[] = {
    {-1,
     "the module could not open the network connection to the broker: check the host, port, "
     "coverage and (for TLS) the root CA, SNI and the client certificate"},
    {0, "the network connection to the broker is open"},
    {1, "wrong parameter for AT+QMTOPEN (host or port)"},
    {2, "the module's MQTT client is already in use: it is closed first; retry"},
    {3, "the module could not activate its data connection (PDP context): check the APN"},
    {4, "the module could not resolve the broker's host name: check the broker host"},
    {5, "the network connection broke while opening: retry; check the coverage"},
};

constexpr CodeWords kMqttConnResult[] = {
    {0, "the CONNECT was sent and the broker answered"},
    {1, "the module is sending the CONNECT again (no answer yet)"},
    {2, "sending the CONNECT failed: the broker did not answer"},
};

// MQTT 3.1.1 CONNACK return codes.
constexpr CodeWords kConnack[] = {
    {0, "the broker accepted the connection"},
    {1,
     "the broker refused the MQTT protocol version (the module sends 3.1.1): the broker needs "
     "another version"},
    {2, "the broker refused the client id: check client_id (allowed characters, length, policy)"},
    {3, "the broker is unavailable: retry later"},
    {4, "the broker refused the user name or password: check username and password_file"},
    {5,
     "the broker says the client is not authorised: check its policy (AWS: the thing's policy "
     "and certificate; Azure: the SAS token or device id)"},
};

// [QMTSTAT] +QMTSTAT table.
constexpr CodeWords kMqttStat[] = {
    {1, "the broker or the network closed or reset the connection"},
    {2, "the broker did not answer a keep-alive ping (PINGREQ) in time: the link is lost"},
    {3, "the CONNECT packet timed out"},
    {4, "the broker did not answer the CONNECT (CONNACK timeout)"},
    {5, "the connection was closed (DISCONNECT sent, or the broker closed it actively)"},
    {6,
     "sending a packet failed again and again, so the module closed the connection (check the "
     "coverage; a broker may also drop a client that publishes where it may not)"},
    {7, "the link is not alive or the broker is unavailable"},
};

constexpr CodeWords kMqttAck[] = {
    {0, "sent and acknowledged"},
    {1, "being sent again (no acknowledgement yet)"},
    {2, "sending failed: the broker did not acknowledge it"},
};

std::string withCode(std::string words, std::string_view line) {
    return words + " (" + modem_common::printable(line) + ")";
}

}  // namespace

std::string socketErrorWords(int code) {
    return codeWords(kSocketErrors, code);
}

std::string mqttOpenWords(int result) {
    return codeWords(kMqttOpen, result);
}

std::string mqttConnResultWords(int result) {
    return codeWords(kMqttConnResult, result);
}

std::string connackWords(int code) {
    return codeWords(kConnack, code);
}

std::string mqttStatWords(int err) {
    return codeWords(kMqttStat, err);
}

std::string mqttAckWords(int result) {
    return codeWords(kMqttAck, result);
}

std::string explainLine(std::string_view raw) {
    const std::string_view line = modem_common::trimLine(raw);
    if (auto code = modem_common::parseCmeErrorCode(line)) {
        std::string words = socketErrorWords(*code);
        if (words.empty()) {
            words = modem_common::cmeGeneralWords(*code);
        }
        if (words.empty() && *code >= 400 && *code < 500) {
            words = "file error " + std::to_string(*code) +
                    " in the module's store (e.g. the file exists, is missing, or the store is "
                    "full; the 4xx meanings are UNCONFIRMED)";
        }
        if (words.empty()) {
            words = "module error " + std::to_string(*code);
        }
        return withCode(words, line);
    }
    for (const std::string_view prefix : {"+QIOPEN:", "+QSSLOPEN:"}) {
        if (line.starts_with(prefix)) {
            if (auto r = parseIdResult(line, prefix)) {
                std::string words = r->err == 0 ? "connected" : socketErrorWords(r->err);
                if (words.empty()) {
                    words = "connect error " + std::to_string(r->err);
                }
                return withCode(words, line);
            }
        }
    }
    if (line.starts_with("+QMTOPEN:")) {
        if (auto r = parseIdResult(line, "+QMTOPEN:")) {
            std::string words = mqttOpenWords(r->err);
            return withCode(words.empty() ? "MQTT open error " + std::to_string(r->err) : words,
                            line);
        }
    }
    if (line.starts_with("+QMTCONN:")) {
        if (auto r = parseQmtconn(line)) {
            if (r->result == 0 && r->ret_code && *r->ret_code != 0) {
                std::string words = connackWords(*r->ret_code);
                return withCode("CONNACK " + std::to_string(*r->ret_code) + ": " +
                                    (words.empty() ? "refused by the broker" : words),
                                line);
            }
            std::string words = mqttConnResultWords(r->result);
            return withCode(
                words.empty() ? "MQTT connect result " + std::to_string(r->result) : words, line);
        }
    }
    if (line.starts_with("+QMTSTAT:")) {
        if (auto r = parseIdResult(line, "+QMTSTAT:")) {
            std::string words = mqttStatWords(r->err);
            return withCode(words.empty() ? "MQTT state " + std::to_string(r->err) : words, line);
        }
    }
    for (const std::string_view prefix : {"+QMTPUB:", "+QMTSUB:", "+QMTUNS:"}) {
        if (line.starts_with(prefix)) {
            if (auto r = parseAck(line, prefix)) {
                std::string words = mqttAckWords(r->result);
                if (prefix == "+QMTSUB:" && r->result == 0 && r->value && *r->value == 128) {
                    words =
                        "the broker refused the subscription (granted QoS 128): check the "
                        "topic filter and the client's policy";
                }
                return withCode(words.empty() ? "MQTT result " + std::to_string(r->result) : words,
                                line);
            }
        }
    }
    for (const std::string_view prefix : {"+QIURC:", "+QSSLURC:"}) {
        if (line.starts_with(prefix)) {
            if (auto u = parseSocketUrc(line, prefix)) {
                switch (u->kind) {
                    case SocketUrc::Kind::Closed:
                        return withCode("the server closed the connection", line);
                    case SocketUrc::Kind::PdpDeact:
                        return withCode(
                            "the network dropped the data connection (PDP context deactivated): "
                            "it is activated again",
                            line);
                    case SocketUrc::Kind::Recv:
                        return withCode("data arrived", line);
                }
            }
        }
    }
    if (line == "SEND FAIL") {
        return withCode("the module's send buffer is full: the data is sent again shortly", line);
    }
    if (line == "ERROR") {
        return withCode(
            "the module refused the command (not supported, wrong state or wrong arguments)", line);
    }
    return withCode("module error", line);
}

}  // namespace uplinkd::plugins::quectel_bg9x
