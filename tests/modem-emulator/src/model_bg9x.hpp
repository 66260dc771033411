// SPDX-License-Identifier: Apache-2.0
// Bg9xModel: Quectel BG96 / BG95 (QI* TCP sockets, QSSL* TLS sockets, UFS files, QMT* MQTT).
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>

#include "host_socket.hpp"
#include "modem.hpp"
#include "mqtt_link.hpp"

namespace uplinkd::emulator {

/// The Quectel BG9x command set; loop-bound (single thread).
/// Boot URCs RDY / APP RDY, PDP contexts (QICSGP/QIACT), 12 sockets shared by AT+QIOPEN (TCP)
/// and AT+QSSLOPEN (TLS done with OpenSSL per AT+QSSLCFG, SNI only with "sni" 1), UFS files
/// (AT+QFUPL, kept in the CertStore so they survive resets), the module clock that TLS dates
/// are checked against, and the MQTT client (AT+QMT*) over MqttLink.
class Bg9xModel : public Modem {
  public:
    Bg9xModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
              ModemOptions opts);
    ~Bg9xModel() override;

    void dropLinks() override;
    const char* modelName() const override { return "bg9x"; }
    std::optional<std::string> modelControl(const std::string& line) override;

  protected:
    std::vector<std::string> bootUrcs() const override;
    void onPowerLoss() override;
    std::vector<std::string> identify() const override;
    std::string cmeText(int code) const override;
    void addStatus(nlohmann::json& j) const override;

  private:
    static constexpr int kSockets = 12;
    static constexpr int kSslContexts = 6;
    static constexpr int kMqttClients = 6;
    static constexpr int kPdpContexts = 16;

    /// One connectID (0-11), TCP (QIOPEN) or TLS (QSSLOPEN).
    struct Socket {
        enum class State { Initial = 0, Opening = 1, Connected = 2, Closing = 4 };
        State state = State::Initial;
        bool tls = false;
        int pdp = 1;
        int ssl_ctx = 0;
        int access = 0;  ///< 0 buffer, 1 direct push
        std::string host;
        uint16_t port = 0;
        uint16_t local_port = 0;
        bool data_reported = false;
        uint64_t sent = 0;
        uint64_t read = 0;
        HostSocketPtr sock;
    };
    /// One AT+QSSLCFG context (0-5), with the module's defaults.
    struct SslContext {
        int sslversion = 4;
        int ciphersuite = 0xFFFF;
        int seclevel = 0;
        std::string cacert;
        std::string clientcert;
        std::string clientkey;
        int ignorelocaltime = 0;
        int negotiatetime = 300;
        int sni = 0;
    };
    /// One AT+QICSGP / AT+QIACT context (1-16).
    struct Pdp {
        int type = 1;
        std::string apn;
        bool active = false;
    };
    /// One MQTT client (0-5): AT+QMTCFG settings and the connection.
    struct MqttClient {
        enum class State { Closed, Opening, Open, Connecting, Connected, Disconnecting };
        int version = 3;
        bool ssl = false;
        int ssl_ctx = 0;
        int keepalive = 120;
        bool clean = true;
        int pkt_timeout = 5;
        int retries = 3;
        int recv_mode = 0;
        int recv_len = 0;
        int pdp = 1;
        std::optional<MqttWill> will;
        State state = State::Closed;
        std::string host;
        uint16_t port = 0;
        uint16_t rx_id = 0;
        MqttLinkPtr link;
        std::map<int, std::string> stored;  ///< recv/mode 1: store slot → +QMTRECV body
    };

    // model_bg9x.cpp
    void addInfoCommands();
    void addPdpCommands();
    void deactivatePdp(int cid, bool by_network);
    int64_t moduleTime() const;
    // model_bg9x_sockets.cpp
    void addSocketCommands();
    void addSslSocketCommands();
    void openSocket(int id, bool tls, const std::string& host, uint16_t port);
    void onSocketData(int id, HostSocket* sock);
    void onSocketClosed(int id, HostSocket* sock);
    Final sendData(const AtCommand& c, bool tls);
    Final readData(const AtCommand& c, bool tls);
    Final closeSocket(const AtCommand& c, bool tls);
    std::string stateLine(int id) const;
    /// AT+QIOPEN / AT+QSSLOPEN (`cmd`) of socket `id` with the settings of `opening`: OK and the
    /// connect starts, or +CME ERROR 563 (after a misuse note) when the socket is in use.
    Final startOpening(const char* cmd, int id, Socket opening);
    /// AT+QISTATE / AT+QSSLSTATE: the state line of each open socket of that kind (`tls`),
    /// only socket `only_id` or only the sockets of PDP context `only_ctx` when given.
    void respondStates(bool tls, std::optional<int> only_id, std::optional<int> only_ctx);
    void resetSocket(int id);
    // model_bg9x_files.cpp
    void addFileCommands();
    void addSslConfigCommand();
    /// TLS settings of context `ctx` for a connection to `host`; nullopt and `why` when the
    /// context names a file that is not there.
    std::optional<TlsOptions> tlsFor(int ctx, const std::string& host, std::string& why) const;
    std::optional<std::string> file(const std::string& name) const;
    // model_bg9x_mqtt.cpp
    void addMqttCommands();
    void addMqttConfigCommand();
    void mqttOpen(int c, const std::string& host, uint16_t port);
    void mqttConnect(int c, MqttSession s);
    void mqttPublishData(int c, int msgid, int qos, bool retain, const std::string& topic,
                         const std::string& payload);
    void mqttMessage(int c, const std::string& topic, const std::string& payload, int qos);
    void mqttLost(int c, MqttLostReason r);
    void mqttReset(int c);
    MqttLinkPtr newLink(int c);
    nlohmann::json mqttStatus() const;

    std::array<Socket, kSockets> sockets_{};
    std::array<SslContext, kSslContexts> ssl_{};
    std::array<Pdp, kPdpContexts + 1> pdps_{};  ///< index 1-16
    std::array<MqttClient, kMqttClients> mqtt_{};
    std::map<std::string, std::string> ram_files_;  ///< "RAM:" files, lost at power loss
    bool sni_supported_ = true;  ///< control `firmware sni off`: a firmware without "sni"
    int64_t clock_offset_ = 0;   ///< module clock minus host clock, seconds (kept like an RTC)
    uint16_t next_local_port_ = 40000;
};

}  // namespace uplinkd::emulator
