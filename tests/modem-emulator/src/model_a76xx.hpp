// SPDX-License-Identifier: Apache-2.0
// A76xxModel: SIMCom A7670 / A76xx (and the SIM7600 TCP/SSL sets) on top of Modem.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "host_socket.hpp"
#include "model_a76xx_mqtt.hpp"
#include "modem.hpp"

namespace uplinkd::emulator {

/// The SIMCom A76xx command set; loop-bound (single thread).
/// Boot URCs, NETOPEN/CIPOPEN/CIPSEND/CIPRXGET sockets, SSL contexts (AT+CSSLCFG, SNI only with
/// enableSNI 1), certificate files (AT+CCERTDOWN) and CCH TLS sessions done with OpenSSL.
class A76xxModel : public Modem {
  public:
    A76xxModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
               ModemOptions opts);
    ~A76xxModel() override;

    void dropLinks() override;
    const char* modelName() const override { return "a76xx"; }

  protected:
    std::vector<std::string> bootUrcs() const override;
    void onPowerLoss() override;
    std::vector<std::string> identify() const override;
    void addStatus(nlohmann::json& j) const override;
    void onRegistrationChanged() override;

  private:
    /// One AT+CIPOPEN link (0-9).
    struct Link {
        bool in_use = false;  ///< opening, open, or closed by the peer with data left
        bool open = false;
        std::string host;
        uint16_t port = 0;
        bool data_reported = false;
        HostSocketPtr sock;
    };
    /// One AT+CSSLCFG context (0-9), with the module's defaults.
    struct SslContext {
        int sslversion = 4;
        int authmode = 0;
        int ignorelocaltime = 1;
        int negotiatetime = 300;
        std::string cacert;
        std::string clientcert;
        std::string clientkey;
        std::string password;
        int enable_sni = 0;
    };
    /// One CCH session (0-1).
    struct CchSession {
        bool in_use = false;
        bool open = false;
        std::string host;
        uint16_t port = 0;
        int type = 2;
        std::optional<int> ctx;  ///< AT+CCHSSLCFG; cleared after CCHCLOSE or a failed open
        bool data_reported = false;
        HostSocketPtr sock;
    };

    void addTcpCommands();
    void addSslCommands();
    void addCchCommands();
    Final cipRead(const AtCommand& c, int mode);
    void onLinkData(int link, HostSocket* sock);
    void onLinkClosed(int link, HostSocket* sock);
    void onCchData(int s, HostSocket* sock);
    void onCchClosed(int s, HostSocket* sock);
    void pushCch(int s);
    void openCch(int s);
    /// Closes the connection of a link or CCH session and returns the entry to its unused state.
    template <class Entry>
    static void release(Entry& entry) {
        closeAndReset(entry.sock);
        entry = Entry{};
    }
    std::string csslcfgLine(int ctx) const;
    /// TLS settings of SSL context `ctx_id` for `host`; nullopt when the files that its
    /// authmode needs are not set or not in the store.
    std::optional<TlsOptions> tlsFromContext(int ctx_id, const std::string& host) const;

    // MQTT client (model_a76xx_mqtt.cpp, model_a76xx_mqtt_data.cpp)
    void addMqttCommands();
    void addMqttDataCommands();
    void addMqttPublishCommands();
    Final cmqttFail(const std::string& name, int idx, int err);
    /// Registers a client command of the started MQTT service (before AT+CMQTTSTART: a misuse
    /// and ERROR): its Read form answers "<name>: <idx><readFields(client)>" per client, the
    /// other forms go to `handler`.
    void addClientCommand(const std::string& name,
                          std::function<std::string(const CmqttClient&)> readFields,
                          Handler handler);
    /// The client `idx` from argument 0, when MQTT is started and the index is 0-1.
    CmqttClient* cmqttClient(const AtCommand& c, std::optional<int>* idx);
    void mqttConnect(int idx, const std::string& host, uint16_t port,
                     std::optional<std::string> password);
    void mqttConnectFailed(int idx, uint64_t attempt, int err);
    void onMqttMessage(int idx, const std::string& topic, const std::string& payload);
    void onMqttLost(int idx, uint64_t attempt);
    /// Ends the broker connection of `idx` (deferred: safe inside the link's callbacks).
    void retireMqttLink(CmqttClient& cl);
    /// Client `idx` when `attempt` is still its current one and it is in `state`; nullptr for a
    /// stale callback.
    CmqttClient* currentClient(int idx, uint64_t attempt, CmqttClient::State state);
    /// The client's connection (or attempt) is over: later callbacks of it are stale, its link
    /// goes, it is Disconnected.
    void endConnection(CmqttClient& cl);
    /// Reports `+<name>: idx,17` unless `done` is set within `seconds`.
    std::shared_ptr<bool> mqttAckTimer(const std::string& name, int idx, uint64_t attempt,
                                       int seconds);
    void resetMqtt();
    nlohmann::json mqttStatus() const;

    bool net_open_ = false;
    bool net_opening_ = false;  ///< AT+NETOPEN answered OK, +NETOPEN not yet reported
    int rxget_mode_ = 0;        ///< AT+CIPRXGET: 0 push, 1 manual
    std::array<Link, 10> links_{};
    std::array<SslContext, 10> ssl_{};
    bool cch_started_ = false;
    int cch_report_send_ = 0;
    int cch_recv_mode_ = 0;
    std::array<CchSession, 2> cch_{};
    bool mqtt_enabled_ = true;  ///< false for the firmware builds without MQTT
    bool mqtt_starting_ = false;
    bool mqtt_started_ = false;
    std::array<CmqttClient, 2> mqtt_{};
};

}  // namespace uplinkd::emulator
