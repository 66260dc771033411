// SPDX-License-Identifier: Apache-2.0
// BrokerBuilder: the Mosquitto set-up of a cloud look-alike, written once for every test that
// needs one: TLS or plain, mutual TLS (AWS IoT knows the thing by its certificate's CN), SAS
// tokens checked by the mosquitto_azure_sas_auth plugin (Azure IoT Hub), a password file
// (HiveMQ Cloud), more listener lines. An HAProxy gate in front is one more line
// (`Haproxy gate(dir, broker.port(), Haproxy::sniGate(...))`). Thread: the test's.
#pragma once

#include <string>

#include "test_env.hpp"

namespace uplinkd::testing {

// The Azure IoT Hub look-alike: its hub, the device it knows with the device's key, and the
// service side's user (reads telemetry, sends cloud-to-device messages).
constexpr const char* kHub = "testhub.azure-devices.net";
constexpr const char* kDevice = "dev1";
constexpr const char* kDeviceKey = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";
constexpr const char* kServiceUser = "service";
constexpr const char* kServicePassword = "service-secret";

/// mosquitto.conf lines that make a listener check SAS tokens like the hub (kHub, kDevice
/// with kDeviceKey, and the service user unless `service_user` is false).
std::string sasAuthLines(bool service_user = true);

/// The hub's service side as a Subscriber; `persistent`: a persistent session.
Subscriber::Options azureServiceClient(bool persistent = false);

/// Builds a Mosquitto set-up step by step, e.g.
/// `Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);`.
class BrokerBuilder {
  public:
    explicit BrokerBuilder(const TempDir& dir) : dir_(dir) {}

    /// Plain MQTT, no TLS.
    BrokerBuilder& plain();
    /// Mutual TLS: the client must show a certificate of the test CA.
    BrokerBuilder& requireCertificate();
    /// Like AWS IoT: mutual TLS, and the certificate's CN is the user name.
    BrokerBuilder& certificateAsUsername();
    /// Like Azure IoT Hub: SAS tokens checked by the plugin (see sasAuthLines()); the broker
    /// starts with the ASan runtime preloaded when the plugin is built with sanitizers.
    BrokerBuilder& sasTokens(bool service_user = true);
    /// Only `user` with `password` (a password file made with mosquitto_passwd), no anonymous.
    BrokerBuilder& passwords(const std::string& user, const std::string& password);
    /// "log_type all": the log shows SUBACKs and the plugin's decisions.
    BrokerBuilder& logAll();
    /// More mosquitto.conf lines for the listener, after the others.
    BrokerBuilder& extra(const std::string& lines);
    /// A fixed port instead of a free one.
    BrokerBuilder& port(uint16_t port);

    Mosquitto::Options options() const;
    /// Starts the broker (fails the test when it does not start).
    Mosquitto start(const Pki& pki) const;

  private:
    const TempDir& dir_;
    Mosquitto::Options options_;
    std::string log_, auth_, extra_;
    bool preload_ = false;
};

}  // namespace uplinkd::testing
