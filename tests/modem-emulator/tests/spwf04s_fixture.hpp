// SPDX-License-Identifier: Apache-2.0
// Spwf04sTest: the fixture of the SPWF04S model tests: an emulator with --model spwf04s, the
// pty, and helpers that speak the console (AT-S results, counted SOCKW/SOCKR/TLSCERT/MQTTPUB).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_helpers.hpp"

namespace emutest {

inline const std::string kOk = "\r\nAT-S.OK\r\n";
inline const std::string kBootWinds =
    "\r\n+WIND:0:Console active\r\n\r\n+WIND:32:WiFi Hardware Started\r\n";
inline const std::string kWifiUp = "\r\n+WIND:24:WiFi Up:0:192.168.1.50\r\n";

class Spwf04sTest : public EmulatorTest {
  protected:
    Spwf04sTest() { ok_ = kOk; }

    void boot() {
        std::string winds;
        ASSERT_NO_FATAL_FAILURE(
            launch("spwf04s", "+WIND:32:WiFi Hardware Started\r\n", {}, &winds));
        EXPECT_EQ(winds, kBootWinds);
        auto r = command("AT+S.SCFG=console_echo,0");
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, "AT+S.SCFG=console_echo,0\r" + kOk);  // echo is on until turned off
    }

    /// Sends a command line, reads up to AT-S.OK or a whole AT-S.ERROR line.
    std::optional<std::string> command(const std::string& cmd) override {
        if (!tty_->write(cmd + "\r")) {
            return std::nullopt;
        }
        auto got = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        if (got && got->size() >= 11 && got->compare(got->size() - 11, 11, "AT-S.ERROR:") == 0) {
            auto rest = tty_->readUntil("\r\n");
            if (!rest) {
                return std::nullopt;
            }
            *got += *rest;
        }
        return got;
    }

    void expectError(const std::string& cmd, int code) {
        auto r = command(cmd);
        ASSERT_TRUE(r) << cmd << ": no final result";
        EXPECT_NE(r->find("\r\nAT-S.ERROR:" + std::to_string(code) + ":"), std::string::npos)
            << cmd << " -> " << *r;
    }

    /// The network settings of the emulated access point, then AT+S.WIFI=1 and WiFi Up.
    void join() {
        expectOk("AT+S.SCFG=wifi_mode,1");
        expectOk("AT+S.SCFG=wifi_priv_mode,2");
        expectOk("AT+S.SCFG=wifi_wpa_psk_text,emulator-pass");
        expectOk("AT+S.SSIDTXT=uplinkd-emu");
        expectOk("AT+S.WIFI=1");
        ASSERT_TRUE(tty_->readUntil(kWifiUp)) << "no WiFi Up";
    }

    /// AT+S.SOCKON; returns the socket id.
    int open(const std::string& host, uint16_t port, const std::string& domain = "NULL",
             const std::string& type = "t") {
        auto r =
            command("AT+S.SOCKON=" + host + "," + std::to_string(port) + "," + domain + "," + type);
        EXPECT_TRUE(r);
        if (!r) {
            return -1;
        }
        auto at = r->find("\r\nAT-S.On:");
        EXPECT_NE(at, std::string::npos) << *r;
        EXPECT_NE(r->find(kOk), std::string::npos) << *r;
        if (at == std::string::npos) {
            return -1;
        }
        std::string line = r->substr(at + 2, r->find("\r\n", at + 2) - at - 2);
        return std::stoi(line.substr(line.rfind(':') + 1));
    }

    /// AT+S.SOCKW with the bytes right after the command line's CR.
    void write(int id, const std::string& data) {
        ASSERT_TRUE(tty_->write("AT+S.SOCKW=" + std::to_string(id) + "," +
                                std::to_string(data.size()) + "\r" + data));
        auto r = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        ASSERT_TRUE(r);
        ASSERT_EQ(*r, kOk);
    }

    /// Follows +WIND:55 and reads with AT+S.SOCKR by count until `n` bytes came.
    std::string receive(int id, size_t n) {
        std::string got;
        while (got.size() < n) {
            auto w = numbersAfter(*tty_, "+WIND:55:Pending Data:");
            EXPECT_TRUE(w && w->size() == 3);
            if (!w || w->size() != 3) {
                break;
            }
            EXPECT_EQ(w->at(0), id);
            size_t pending = static_cast<size_t>(w->at(2));
            if (pending < n - got.size()) {
                continue;  // more is on its way
            }
            EXPECT_TRUE(tty_->write("AT+S.SOCKR=" + std::to_string(id) + "," +
                                    std::to_string(pending) + "\r"));
            auto hdr = numbersAfter(*tty_, "\r\nAT-S.Reading:");
            EXPECT_TRUE(hdr && hdr->size() == 2);
            if (!hdr || hdr->size() != 2) {
                break;
            }
            EXPECT_EQ(hdr->at(0), static_cast<long>(pending));
            auto data = tty_->readExactly(static_cast<size_t>(hdr->at(0)));
            auto ok = tty_->readExactly(kOk.size());
            EXPECT_TRUE(data && ok);
            if (!data || !ok) {
                break;
            }
            EXPECT_EQ(*ok, kOk);
            got += *data;
        }
        return got;
    }

    void storeCredential(const std::string& type, const std::string& pem) {
        ASSERT_TRUE(
            tty_->write("AT+S.TLSCERT=" + type + "," + std::to_string(pem.size()) + "\r" + pem));
        auto r = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        ASSERT_TRUE(r);
        ASSERT_EQ(*r, kOk) << type;
    }

    /// AT+S.MQTTCONN with the chosen order: host, port, path, TLS, user, password, client id,
    /// keepalive, retry, LWT QoS, LWT topic, LWT message.
    std::optional<std::string> mqttConnect(const std::string& host, uint16_t port,
                                           const std::string& tls = "0",
                                           const std::string& path = "",
                                           const std::string& client_id = "spwf-test") {
        return command("AT+S.MQTTCONN=" + host + "," + std::to_string(port) + "," + path + "," +
                       tls + ",,," + client_id + ",30,,,,");
    }

    /// AT+S.MQTTPUB with the payload right after the command line.
    std::optional<std::string> publish(int id, const std::string& topic, int qos,
                                       const std::string& payload) {
        if (!tty_->write("AT+S.MQTTPUB=" + std::to_string(id) + "," + topic + "," +
                         std::to_string(qos) + ",0," + std::to_string(payload.size()) + "\r" +
                         payload)) {
            return std::nullopt;
        }
        auto got = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        if (got && got->find("AT-S.ERROR:") != std::string::npos) {
            auto rest = tty_->readUntil("\r\n");
            *got += rest.value_or("");
        }
        return got;
    }

    /// Reads one +WIND:86 and the payload bytes after it.
    std::optional<std::string> incoming(int id, const std::string& topic) {
        auto len = numbersAfter(
            *tty_, "+WIND:86:MQTT Published:" + std::to_string(id) + ":" + topic + ":");
        if (!len || len->size() != 1) {
            return std::nullopt;
        }
        return tty_->readExactly(static_cast<size_t>(len->at(0)));
    }
};

}  // namespace emutest
