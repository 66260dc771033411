// SPDX-License-Identifier: Apache-2.0
// Spwf04Model: ST SPWF04S (SPWF04SA/SC) Wi-Fi module on top of Modem.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "host_socket.hpp"
#include "modem.hpp"
#include "mqtt_link.hpp"

namespace uplinkd::emulator {

/// The ST SPWF04S console command set; loop-bound (single thread).
/// AT-S.OK / AT-S.ERROR:<code>:<text> results, +WIND events (maskable), configuration variables
/// (RAM, saved to flash with AT+S.WCFG), association with the emulated access point, the module's
/// clock, eight TCP/TLS sockets (TLS with OpenSSL and the stored ca/cert/key) and the built-in
/// MQTT client.
class Spwf04Model : public Modem {
  public:
    Spwf04Model(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                ModemOptions opts);
    ~Spwf04Model() override;

    void dropLinks() override;
    const char* modelName() const override { return "spwf04s"; }
    std::optional<std::string> modelControl(const std::string& line) override;

  protected:
    std::vector<std::string> bootUrcs() const override;
    void onPowerLoss() override;
    void onBooted() override;
    std::vector<std::string> identify() const override;
    void addStatus(nlohmann::json& j) const override;
    std::string finalText(const Final& f) const override;
    std::optional<std::vector<AtCommand>> parseLine(const std::string& body) const override;
    std::string traceText(const std::string& body) const override;

  private:
    static constexpr size_t kSockets = 8;

    /// One AT+S.SOCKON socket (0-7).
    struct Socket {
        bool in_use = false;  ///< from AT-S.On until AT+S.SOCKC (also after a remote close)
        bool open = false;
        bool tls = false;
        std::string host;
        uint16_t port = 0;
        size_t reported = 0;  ///< bytes buffered at the last +WIND:55 / SOCKR
        HostSocketPtr sock;
    };

    /// The access point the module can see (control `ap`).
    struct AccessPoint {
        std::string ssid = "uplinkd-emu";
        std::string psk = "emulator-pass";  ///< "" = an open network
        bool on = true;
    };

    // Configuration, Wi-Fi, clock (model_spwf04.cpp).
    void addConfigCommands();
    std::string var(const std::string& name) const;
    uint32_t mask(const char* name) const;
    /// Sends +WIND:<code>:<text> (then `raw` bytes) unless the console_wind_off_* masks hide it.
    void wind(int code, const std::string& text, std::string raw = {});
    bool windOn(int code) const;
    void startJoin();
    /// The access point went away or Wi-Fi was turned off: sockets and MQTT clients close.
    void leaveNetwork(bool lost);
    int64_t moduleTime() const;
    Final needNetwork() const;

    // Sockets and credentials (model_spwf04_sockets.cpp).
    void addSocketCommands();
    void addCertCommands();
    /// The TLS settings for a secure connection; nullopt (and `err`) when credentials are missing.
    std::optional<TlsOptions> tlsFor(const std::string& domain, int& err) const;
    Socket* findSocket(const AtCommand& c, size_t index, Final& err);
    void onSocketData(size_t id, HostSocket* sock);
    void onSocketClosed(size_t id, HostSocket* sock);
    void closeSockets(int reason);
    static int connectErrorCode(ConnectError e);

    /// One AT+S.MQTTCONN client (ids 0-1).
    struct MqttClient {
        MqttLinkPtr link;
        std::string host;
        uint16_t port = 0;
        bool tls = false;
        std::string client_id;
        bool connected = false;  ///< CONNACK 0 seen and not lost / disconnected since
    };

    // MQTT client (model_spwf04_mqtt.cpp).
    void addMqttCommands();
    Final mqttConnect(const AtCommand& c);
    Final mqttPublish(const AtCommand& c);
    MqttClient* findMqtt(const AtCommand& c, Final& err);
    void onMqttLost(int id, MqttLink* link, const std::string& why);
    /// Network gone (`announce`: +WIND:87 follows) or power lost (silently).
    void closeMqtt(bool announce);
    nlohmann::json mqttStatus() const;

    std::map<std::string, std::string> cfg_;    ///< RAM configuration
    std::map<std::string, std::string> saved_;  ///< flash (AT+S.WCFG), kept over reboots
    bool wifi_on_ = false;                      ///< AT+S.WIFI=1 (or boot)
    bool associated_ = false;
    bool joining_ = false;
    uint64_t join_seq_ = 0;
    AccessPoint ap_;
    std::optional<int64_t> clock_;  ///< set module time at `clock_set_at_`; nullopt = host time
    std::chrono::steady_clock::time_point clock_set_at_{};
    std::array<Socket, kSockets> socks_{};
    std::map<int, MqttClient> mqtt_;
};

}  // namespace uplinkd::emulator
