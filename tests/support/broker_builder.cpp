// SPDX-License-Identifier: Apache-2.0
#include "broker_builder.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#ifndef UPLINKD_SAS_AUTH_PLUGIN
#error "UPLINKD_SAS_AUTH_PLUGIN must name the built mosquitto_azure_sas_auth module"
#endif
#ifndef UPLINKD_SANITIZER_PRELOAD
#define UPLINKD_SANITIZER_PRELOAD ""
#endif

namespace uplinkd::testing {

std::string sasAuthLines(bool service_user) {
    std::string lines = std::string("plugin ") + UPLINKD_SAS_AUTH_PLUGIN + "\nplugin_opt_hub " +
                        kHub + "\nplugin_opt_device." + kDevice + " " + kDeviceKey + "\n";
    if (service_user) {
        lines += std::string("plugin_opt_service_username ") + kServiceUser +
                 "\nplugin_opt_service_password " + kServicePassword + "\n";
    }
    return lines;
}

Subscriber::Options azureServiceClient(bool persistent) {
    Subscriber::Options o;
    o.username = kServiceUser;
    o.password = kServicePassword;
    o.client_id = "service-side";
    o.clean_session = !persistent;
    return o;
}

BrokerBuilder& BrokerBuilder::plain() {
    options_.tls = false;
    return *this;
}

BrokerBuilder& BrokerBuilder::requireCertificate() {
    options_.require_certificate = true;
    return *this;
}

BrokerBuilder& BrokerBuilder::certificateAsUsername() {
    options_.require_certificate = true;
    options_.identity_as_username = true;
    return *this;
}

BrokerBuilder& BrokerBuilder::sasTokens(bool service_user) {
    auth_ = sasAuthLines(service_user);
    preload_ = true;
    return *this;
}

BrokerBuilder& BrokerBuilder::passwords(const std::string& user, const std::string& password) {
    const std::string file = dir_.file("mosquitto.passwd");
    const std::string cmd =
        "mosquitto_passwd -b -c " + file + " " + user + " '" + password + "' >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "mosquitto_passwd failed";
    ::chmod(file.c_str(), 0644);  // mosquitto reads it after dropping privileges
    auth_ = "allow_anonymous false\npassword_file " + file + "\n";
    return *this;
}

BrokerBuilder& BrokerBuilder::logAll() {
    log_ = "log_type all\n";
    return *this;
}

BrokerBuilder& BrokerBuilder::extra(const std::string& lines) {
    extra_ += lines;
    return *this;
}

BrokerBuilder& BrokerBuilder::port(uint16_t port) {
    options_.port = port;
    return *this;
}

Mosquitto::Options BrokerBuilder::options() const {
    Mosquitto::Options o = options_;
    o.extra = log_ + auth_ + extra_;
    return o;
}

Mosquitto BrokerBuilder::start(const Pki& pki) const {
    return Mosquitto(dir_, pki, options(), preload_ ? UPLINKD_SANITIZER_PRELOAD : "");
}

}  // namespace uplinkd::testing
