// SPDX-License-Identifier: Apache-2.0
// What the Quectel BG9x error and result codes mean, in plain words with the fix: the TCP/IP
// +CME ERROR 5xx codes (also the <err> of +QIOPEN / +QSSLOPEN), the MQTT client's +QMTOPEN,
// +QMTCONN (result and CONNACK code) and +QMTSTAT codes, and explainLine() for any error or
// result line. Tables, no I/O. Thread: any (pure functions).
#pragma once

#include <string>
#include <string_view>

namespace uplinkd::plugins::quectel_bg9x {

/// Plain words and the fix for a TCP/IP error 550-574 (+CME ERROR, +QIOPEN / +QSSLOPEN <err>);
/// empty for others.
std::string socketErrorWords(int code);
/// Plain words for a +QMTOPEN <result> (-1..5); empty for others.
std::string mqttOpenWords(int result);
/// Plain words for a +QMTCONN <result> (0..2); empty for others.
std::string mqttConnResultWords(int result);
/// Plain words for a CONNACK return code (0..5) as +QMTCONN reports it; empty for others.
std::string connackWords(int code);
/// Plain words for a +QMTSTAT <err> (1..7); empty for others.
std::string mqttStatWords(int err);
/// Plain words for a +QMTPUB / +QMTSUB / +QMTUNS <result> (0..2); empty for others.
std::string mqttAckWords(int result);
/// Plain words for any BG9x error or result line ("+CME ERROR: 566", "+QSSLOPEN: 0,566",
/// "+QMTCONN: 0,0,5", "+QMTSTAT: 0,2", "SEND FAIL", ...).
std::string explainLine(std::string_view line);

}  // namespace uplinkd::plugins::quectel_bg9x
