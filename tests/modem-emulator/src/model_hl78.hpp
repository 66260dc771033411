// Hl78Model: Sierra Wireless HL7800/HL7802/HL7812 ("K" command set) on top of Modem.
#pragma once

#include <map>
#include <string>

#include "hl78_crypto.hpp"
#include "host_socket.hpp"
#include "modem.hpp"

namespace uplinkd::emulator {

/// The Sierra HL78xx "K" command set; loop-bound (single thread).
/// +KSUP boot URC, KCNX bearer, KTCP sockets (mode 0 plain, mode 3 TLS done with OpenSSL),
/// CONNECT/EOF-pattern data phases, KCERTSTORE/KPRIVKSTORE store, KSSLCRYPTO profiles, +CME ERROR
/// 9xx codes.
class Hl78Model : public Modem {
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
    std::vector<std::string> identify() const override;
    std::string cmeText(int code) const override;
    void addStatus(nlohmann::json& j) const override;

  private:
    /// KTCPSTAT status values used by the emulator.
    enum class SessionState { Defined = 1, Opening = 2, Connected = 3, Closing = 4, Closed = 5 };

    struct Session {
        int cnx = 1;
        int mode = 0;  ///< 0 client, 3 TLS client
        std::string host;
        uint16_t port = 0;
        int profile = 0;  ///< KSSLCRYPTO profile of a TLS session (KTCPCFG field 9)
        SessionState state = SessionState::Defined;
        int last_notif = -1;
        bool data_reported = false;
        uint64_t attempt = 0;  ///< bumped by each KTCPCNX / close, to drop stale callbacks
        HostSocketPtr sock;
    };

    struct Bearer {
        std::string apn;
        bool configured = false;  ///< AT+KCNXCFG seen since boot
        bool up = false;
    };

    void addCommands();
    void addCertCommands();
    void addCryptoCommand();
    Session* findSession(const AtCommand& c, Final& err);
    void connectSession(int id);
    void openSocket(int id);
    void onSessionData(int id, HostSocket* sock);
    void onSessionClosed(int id, HostSocket* sock);
    /// The TLS options of a secure session from its crypto profile; nullopt (and `why`) when
    /// the module could not set up TLS (+KTCP_NOTIF 14).
    std::optional<TlsOptions> tlsFor(const Session& s, std::string& why);
    void closeSocket(Session& s);
    Final storeCredential(const AtCommand& c, bool key);
    std::string certReadBack() const;

    std::map<int, Session> sessions_;
    std::map<int, Bearer> bearers_;
    std::map<int, CryptoProfile> profiles_;  ///< AT+KSSLCRYPTO, kept over reboots (as in NV)
    std::string pattern_;
    int rat_ = 0;  ///< KSRAT: 0 LTE-M, 1 NB-IoT (kept over reboots, as in NV)
};

}  // namespace uplinkd::emulator
