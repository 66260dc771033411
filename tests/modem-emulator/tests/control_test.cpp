// SPDX-License-Identifier: Apache-2.0
// Control socket, faults, power, byte counters and baud-rate throttling.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "support/emulator_process.hpp"
#include "support/pty_client.hpp"
#include "support/test_pki.hpp"

using namespace emutest;

namespace {

struct Booted {
    std::unique_ptr<EmulatorProcess> emu;
    std::unique_ptr<PtyClient> tty;
};

Booted start(const std::string& model, unsigned long baud, const std::string& boot_urc) {
    Booted b;
    b.emu = std::make_unique<EmulatorProcess>(EmulatorProcess::Options{model, baud, {}});
    EXPECT_EQ(b.emu->startError(), "");
    b.tty = std::make_unique<PtyClient>(b.emu->ttyPath());
    EXPECT_TRUE(b.tty->isOpen());
    EXPECT_TRUE(b.tty->readUntil(boot_urc)) << "no boot URC " << boot_urc;
    return b;
}

/// The module answers nothing: an AT gets no reply within 300 ms.
void expectNoAnswer(Booted& b) {
    ASSERT_TRUE(b.tty->write("AT\r"));
    EXPECT_EQ(b.tty->readFor(300ms), "");
}

nlohmann::json status(const EmulatorProcess& emu) {
    std::string line = emu.control("status");
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    return j;
}

TEST(ControlTest, StatusCountsBytesBothWays) {
    auto b = start("hl78", 0, "+KSUP: 0\r\n");
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(b.emu->control("stats reset"), "ok stats reset");
    ASSERT_TRUE(b.tty->write("AT\r"));
    auto r = b.tty->readUntil("\r\nOK\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "AT\r\r\nOK\r\n");  // echo is on by default
    auto j = status(*b.emu);
    EXPECT_EQ(j.value("model", ""), "hl78");
    EXPECT_EQ(j.value("powered", false), true);
    EXPECT_EQ(j.value("booted", false), true);
    EXPECT_EQ(j.value("echo", false), true);
    EXPECT_EQ(j.value("bytes_in", -1), 3);
    EXPECT_EQ(j.value("bytes_out", -1), 9);
    EXPECT_EQ(j.value("open_sockets", -1), 0);
    EXPECT_TRUE(j.contains("certificates"));
    EXPECT_EQ(b.emu->control("no such thing").rfind("error", 0), 0U);
}

TEST(ControlTest, SilentFaultAndResetBringKsupBack) {
    auto b = start("hl78", 0, "+KSUP: 0\r\n");
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(b.tty->command("ATE0"));

    // The certificate store is flash: it survives reset and power cycles.
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    ASSERT_TRUE(b.tty->write("AT+KCERTSTORE=0," + std::to_string(pki.ca.cert_pem.size()) + "\r"));
    ASSERT_TRUE(b.tty->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(b.tty->write(pki.ca.cert_pem + "--EOF--Pattern--"));
    ASSERT_TRUE(b.tty->readUntil("\r\nOK\r\n"));

    EXPECT_EQ(b.emu->control("fault silent"), "ok fault silent");
    ASSERT_NO_FATAL_FAILURE(expectNoAnswer(b));
    EXPECT_EQ(status(*b.emu).value("silent", false), true);

    EXPECT_EQ(b.emu->control("reset"), "ok reset");
    ASSERT_TRUE(b.tty->readUntil("\r\n+KSUP: 0\r\n"));
    auto r = b.tty->command("AT");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "AT\r\r\nOK\r\n");  // echo back on after the reboot
    auto list = b.tty->command("AT+KCERTSTORE?");
    ASSERT_TRUE(list);
    EXPECT_NE(list->find("root_cert,0,"), std::string::npos) << *list;

    EXPECT_EQ(b.emu->control("power off"), "ok power off");
    ASSERT_NO_FATAL_FAILURE(expectNoAnswer(b));
    EXPECT_EQ(status(*b.emu).value("powered", true), false);
    EXPECT_EQ(b.emu->control("power on"), "ok power on");
    ASSERT_TRUE(b.tty->readUntil("\r\n+KSUP: 0\r\n"));
    EXPECT_TRUE(b.tty->command("AT"));
    EXPECT_EQ(status(*b.emu)["certificates"], nlohmann::json::array({"root_cert/0"}));

    // Garbage on the line, then business as usual.
    EXPECT_EQ(b.emu->control("fault garbage 100"), "ok fault garbage 100");
    auto junk = b.tty->readExactly(100);
    ASSERT_TRUE(junk);
    EXPECT_TRUE(b.tty->command("AT"));

    // SIGTERM: clean exit, the symlink is gone.
    std::string link = b.emu->ttyPath();
    b.tty.reset();
    EXPECT_EQ(b.emu->stop(), 0);
    EXPECT_NE(access(link.c_str(), F_OK), 0);
}

TEST(ControlTest, A76xxResetRepeatsBootUrcs) {
    auto b = start("a76xx", 0, "PB DONE\r\n");
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(b.emu->control("reset"), "ok reset");
    auto urcs = b.tty->readUntil("\r\nPB DONE\r\n");
    ASSERT_TRUE(urcs);
    EXPECT_NE(urcs->find("*ATREADY: 1"), std::string::npos);
    EXPECT_EQ(status(*b.emu).value("model", ""), "a76xx");
}

TEST(ControlTest, BaudRateThrottlesBothDirections) {
    constexpr unsigned long kBaud = 115200;
    constexpr double kBytesPerSecond = kBaud / 10.0;
    auto b = start("hl78", kBaud, "+KSUP: 0\r\n");
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(b.tty->command("ATE0"));

    // Module → host: 20 KB of garbage.
    constexpr size_t kOut = 20 * 1024;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(b.emu->control("fault garbage " + std::to_string(kOut)),
              "ok fault garbage " + std::to_string(kOut));
    ASSERT_TRUE(b.tty->readExactly(kOut, 10s));
    double out_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double out_theory = kOut / kBytesPerSecond;

    // Host → module: 6 KB of junk before "AT" (echo off: nothing comes back until OK).
    constexpr size_t kIn = 6 * 1024;
    t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(b.tty->write(std::string(kIn, 'x') + "AT\r"));
    ASSERT_TRUE(b.tty->readUntil("\r\nOK\r\n", 10s));
    double in_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double in_theory = (kIn + 3) / kBytesPerSecond;

    std::cout << "[ measured ] 115200 baud: out " << kOut / out_s << " B/s (" << out_s << " s for "
              << kOut << " B, theory " << out_theory << " s), in " << kIn / in_s << " B/s (" << in_s
              << " s, theory " << in_theory << " s)\n";
    RecordProperty("out_bytes_per_second", std::to_string(kOut / out_s));
    RecordProperty("in_bytes_per_second", std::to_string(kIn / in_s));
    EXPECT_GE(out_s, 0.7 * out_theory);
    EXPECT_LE(out_s, 3.0 * out_theory);
    EXPECT_GE(in_s, 0.7 * in_theory);
    EXPECT_LE(in_s, 3.0 * in_theory);
}

}  // namespace

namespace {

TEST(ControlTest, WithoutASimCpinFailsAndTheModuleDoesNotRegisterUntilItIsBack) {
    auto b = start("hl78", 0, "+KSUP: 0\r\n");
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(b.tty->write("ATE0;+CMEE=1\r"));
    ASSERT_TRUE(b.tty->readUntil("\r\nOK\r\n"));
    EXPECT_EQ(b.emu->control("sim absent"), "ok sim absent");
    EXPECT_EQ(status(*b.emu).value("sim", ""), "absent");
    ASSERT_TRUE(b.tty->write("AT+CPIN?\r"));
    auto r = b.tty->readUntil("\r\n+CME ERROR: 10\r\n");
    ASSERT_TRUE(r) << "AT+CPIN? without a SIM";
    ASSERT_TRUE(b.tty->write("AT+CEREG?\r"));
    r = b.tty->readUntil("\r\nOK\r\n");
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("+CEREG: 0,0"), std::string::npos) << *r;  // not searching
    // It stays out across a reset, as a card would.
    EXPECT_EQ(b.emu->control("reset"), "ok reset");
    ASSERT_TRUE(b.tty->readUntil("+KSUP: 0\r\n"));
    ASSERT_TRUE(b.tty->write("AT+CPIN?\r"));
    ASSERT_TRUE(b.tty->readUntil("\r\nERROR\r\n"));  // CMEE back to 0 after the reset
    EXPECT_EQ(b.emu->control("sim present"), "ok sim present");
    ASSERT_TRUE(b.tty->write("AT+CPIN?\r"));
    r = b.tty->readUntil("\r\nOK\r\n");
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("+CPIN: READY"), std::string::npos) << *r;
    EXPECT_EQ(b.emu->control("sim maybe").rfind("error", 0), 0U);
}

TEST(ControlTest, CertDeleteRemovesOneStoredItem) {
    auto b = start("hl78", 0, "+KSUP: 0\r\n");
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(b.emu->control("cert delete root_cert/0").rfind("error", 0), 0U);
    const TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    const std::string pem = pki.ca.cert_pem;
    ASSERT_TRUE(b.tty->write("ATE0\r"));
    ASSERT_TRUE(b.tty->readUntil("\r\nOK\r\n"));
    ASSERT_TRUE(b.tty->write("AT+KCERTSTORE=0," + std::to_string(pem.size()) + "\r"));
    ASSERT_TRUE(b.tty->readUntil("CONNECT\r\n"));
    ASSERT_TRUE(b.tty->write(pem + "--EOF--Pattern--"));
    ASSERT_TRUE(b.tty->readUntil("\r\nOK\r\n"));
    auto names = status(*b.emu)["certificates"];
    ASSERT_EQ(names.size(), 1U) << names.dump();
    const std::string name = names[0].get<std::string>();
    EXPECT_EQ(b.emu->control("cert delete " + name), "ok cert delete " + name);
    EXPECT_TRUE(status(*b.emu)["certificates"].empty());
}

}  // namespace
