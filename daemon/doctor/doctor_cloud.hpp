// SPDX-License-Identifier: Apache-2.0
// The route's cloud as the doctor's MQTT check connects with it: the same profile, with the
// client id of the doctor's own connection. Pure (delegates). Thread: loop.
#pragma once

#include <string>

#include "uplinkd/cloud_profile.hpp"

namespace uplinkd::doctor {

/// True when the cloud accepts only the route's own client id (Azure IoT Hub: the device id;
/// AWS IoT: the thing name, as its usual policies require), so the doctor cannot use another.
bool cloudPinsClientId(const CloudProfile& cloud);

class DoctorCloud final : public CloudProfile {
  public:
    /// `client_id_suffix` is appended to the route's client id ("" keeps it).
    DoctorCloud(const CloudProfile& inner, std::string client_id_suffix)
        : inner_(inner), suffix_(std::move(client_id_suffix)) {}

    std::string kind() const override { return inner_.kind(); }
    BrokerEndpoint endpoint() const override { return inner_.endpoint(); }
    int mqttVersion() const override { return inner_.mqttVersion(); }
    int keepAliveSeconds() const override { return inner_.keepAliveSeconds(); }
    Result<MqttCredentials> credentials(SystemTime now) const override {
        auto c = inner_.credentials(now);
        if (c && !suffix_.empty()) {
            c->client_id += suffix_;
        }
        return c;
    }
    Result<CloudPublish> mapOutgoing(const Message& msg) const override {
        return inner_.mapOutgoing(msg);
    }
    std::vector<CloudSubscription> standingSubscriptions() const override {
        return inner_.standingSubscriptions();
    }
    Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                           int qos) const override {
        return inner_.mapSubscribe(local_filter, qos);
    }
    IncomingMessage mapIncoming(const std::string& broker_topic) const override {
        return inner_.mapIncoming(broker_topic);
    }
    std::string explainConnack(int code) const override { return inner_.explainConnack(code); }
    std::string explainSilentClose() const override { return inner_.explainSilentClose(); }
    CloudDiagnosis diagnosis() const override { return inner_.diagnosis(); }

  private:
    const CloudProfile& inner_;
    std::string suffix_;
};

}  // namespace uplinkd::doctor
