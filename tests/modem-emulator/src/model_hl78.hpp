// SPDX-License-Identifier: Apache-2.0
// Hl78Model: Sierra Wireless HL7800/HL7802/HL7812 ("K" command set) on top of Modem.
#pragma once

#include <map>
#include <string>

#include "hl78_crypto.hpp"
#include "k_sockets.hpp"

namespace uplinkd::emulator {

/// The Sierra HL78xx "K" command set; loop-bound (single thread).
/// +KSUP boot URC, KCNX bearer, KTCP sockets (mode 0 plain, mode 3 TLS done with OpenSSL),
/// CONNECT/EOF-pattern data phases, KCERTSTORE/KPRIVKSTORE store, KSSLCRYPTO profiles, +CME ERROR
/// 9xx codes.
class Hl78Model : public KSocketModem {
  public:
    Hl78Model(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
              ModemOptions opts);
    ~Hl78Model() override;

    void dropLinks() override;
    bool setMaxSessions(int n) override;
    const char* modelName() const override { return "hl78"; }

  protected:
    std::vector<std::string> bootUrcs() const override { return {"+KSUP: 0"}; }
    void onPowerLoss() override;
    void addStatus(nlohmann::json& j) const override;

  private:
    struct Bearer {
        std::string apn;
        bool configured = false;  ///< AT+KCNXCFG seen since boot
        bool up = false;
    };

    void addCommands();
    void addCertCommands();
    void addCryptoCommand();
    bool linkReady(const AtCommand& c, const Session& s) override;
    void connectSession(int id) override;
    void addSessionStatus(const Session& s, nlohmann::json& entry) const override;
    /// Opens the session's socket, with TLS from its crypto profile for mode 3.
    void openSessionSocket(int id);
    /// The TLS options of a secure session from its crypto profile; nullopt (and `why`) when
    /// the module could not set up TLS (+KTCP_NOTIF 14).
    std::optional<TlsOptions> tlsFor(const Session& s, std::string& why);
    Final storeCredential(const AtCommand& c, bool key);
    std::string certReadBack() const;

    std::map<int, Bearer> bearers_;
    std::map<int, CryptoProfile> profiles_;  ///< AT+KSSLCRYPTO, kept over reboots (as in NV)
    int rat_ = 0;  ///< KSRAT: 0 LTE-M, 1 NB-IoT (kept over reboots, as in NV)
};

}  // namespace uplinkd::emulator
