// SPDX-License-Identifier: Apache-2.0
// Bx310xModel: Sierra Wireless BX310x (BX3105) Wi-Fi module on top of Modem: Wi-Fi station,
// "K" sockets without a cnx index, the +++-ended certificate store, the module clock.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <string>

#include "k_sockets.hpp"
#include "mqtt_link.hpp"

namespace uplinkd::emulator {

/// The BX310x command set; loop-bound (single thread).
/// READY at boot, AT+SRW* Wi-Fi station against an access point that the control socket sets,
/// KTCP sockets (HL78 framing: CONNECT + EOF pattern), KCERTSTORE/KPRIVKSTORE ended by a `+++`
/// that stands alone between guard-time silences, AT+CCLK (TLS checks dates with it).
class Bx310xModel : public KSocketModem {
  public:
    Bx310xModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                ModemOptions opts);
    ~Bx310xModel() override;

    void dropLinks() override;
    std::optional<std::string> modelControl(const std::string& line) override;
    const char* modelName() const override { return "bx310x"; }

  protected:
    std::vector<std::string> bootUrcs() const override { return {"READY"}; }
    void onPowerLoss() override;
    void addStatus(nlohmann::json& j) const override;
    Final malformedLine(const std::string& body) override;
    std::string traceText(const std::string& body) const override;

  private:
    /// The checks a BX310x Set command with a required argument 0 starts with: ERROR for
    /// another form, 917 without argument 0, 915 with more than `most_args`; nullopt if none
    /// fails.
    static std::optional<Final> checkSet(const AtCommand& c, size_t most_args);
    /// The access point the module can see (control `wifi ap`).
    struct AccessPoint {
        std::string ssid;
        std::string passphrase;
        int channel = 6;
    };
    enum class WifiState { Down, Associating, Associated, Up };  ///< Up: it has an address

    /// AT+KMQTTCFG (session 1).
    struct MqttConfig {
        bool secure = false;
        std::string host;
        uint16_t port = 1883;
        int version = 4;
        std::string client_id;
        int keepalive = 120;
        bool clean = true;
        std::optional<MqttWill> will;
        std::optional<std::string> user;
        std::optional<std::string> password;
    };
    enum class MqttState { Idle, Connecting, Connected };

    // Wi-Fi and identity (model_bx310x.cpp)
    void addWifiCommands();
    void addClockCommand();
    void associate();
    /// The association ends: +SRWSTASTATUS: 0,<reason>, sockets and MQTT lose the network.
    void wifiLost(int reason);
    bool networkUp() const { return wifi_ == WifiState::Up; }
    std::time_t moduleTime() const;
    std::string controlWifi(const std::string& args);
    std::string controlClock(const std::string& args);
    std::string controlSet(const std::string& args, bool& handled);

    // K sockets (model_bx310x_tcp.cpp)
    void addTcpCommands();
    bool linkReady(const AtCommand& c, const Session& s) override;
    void connectSession(int id) override;
    void dropSessions(int notif);

    // Certificate store (model_bx310x_certs.cpp)
    void addCertCommands();
    Final storeCredential(const AtCommand& c, bool key);
    /// TLS options for a secure connection by the module: root 0, local cert 0 + key 0, SNI =
    /// host, dates checked with the module clock. nullopt (and `why`) when TLS cannot start.
    std::optional<TlsOptions> moduleTls(const std::string& host, std::string& why) const;

    // MQTT client (model_bx310x_mqtt.cpp)
    void addMqttCommands();
    Final mqttConfigure(const AtCommand& c);
    /// Checks the session id (argument 0): 917 missing, 910 unknown.
    bool mqttSession(const AtCommand& c, Final& err) const;
    /// The checks every AT+KMQTT* session command starts with: the Set form (else ERROR), the
    /// session, arguments 1 to need-1 present (917), at most `most` arguments (915).
    bool mqttCommand(const AtCommand& c, size_t need, size_t most, Final& err) const;
    void mqttConnect();
    void mqttPublish(const std::string& topic, const std::string& payload, int qos, bool retain);
    /// The connection ended without the host asking: +KMQTT_IND: 1,0.
    void mqttLost(const std::string& why);
    void mqttClose();
    void addMqttStatus(nlohmann::json& j) const;

    // Wi-Fi
    std::optional<AccessPoint> ap_{AccessPoint{"uplinkd-ap", "uplinkd-passphrase", 6}};
    int wifi_mode_ = 3;  ///< AT+SRWCFG: 1 station, 2 access point, 3 both (default)
    std::string sta_ssid_;
    std::string sta_pass_;
    bool sta_configured_ = false;
    WifiState wifi_ = WifiState::Down;
    uint64_t wifi_attempt_ = 0;  ///< bumped by each association change, drops stale timers
    std::string joined_ssid_;

    // Clock: the module time is the host time plus this offset (AT+CCLK=, control `clock`).
    std::chrono::seconds clock_offset_{0};

    // MQTT
    std::optional<MqttConfig> mqtt_cfg_;
    MqttState mqtt_state_ = MqttState::Idle;
    MqttLinkPtr mqtt_;
    MqttLinkPtr mqtt_closing_;  ///< sending DISCONNECT after AT+KMQTTCLOSE
    uint64_t mqtt_attempt_ = 0;
    std::vector<std::string> mqtt_topics_;
    bool old_sub_urc_ = false;  ///< --variant BX3105-OLD: incoming as +KMQTTSUB: "t","m"

    // Data modes
    std::chrono::milliseconds guard_{80};         ///< KMQTTPUBSTART +++ guard time
    std::chrono::milliseconds cert_guard_{1000};  ///< KCERTSTORE / KPRIVKSTORE +++ guard time
};

}  // namespace uplinkd::emulator
