// SPDX-License-Identifier: Apache-2.0
#include "common/driver_core.hpp"

#include "common/generic_at.hpp"

namespace uplinkd::plugins::modem_common {

Error driverGone() {
    return makeError("closed", "the modem driver is gone");
}

std::string hostPort(const ModemSocketRequest& req) {
    return req.host + ":" + std::to_string(req.port);
}

Error openFailure(OpenFailure how, const ModemSocketRequest& req, const std::string& line) {
    const std::string seen = " (" + line + ")";
    switch (how) {
        case OpenFailure::Dns:
            return makeError("dns", "the module could not resolve \"" + req.host + "\"" + seen);
        case OpenFailure::Timeout:
            return makeError("timeout",
                             "connecting to " + hostPort(req) + " timed out in the module" + seen);
        case OpenFailure::Refused:
            break;
    }
    return makeError("connect", "the module could not connect to " + hostPort(req) +
                                    " (refused or unreachable)" + seen);
}

Error openFailure(const ModemSocketRequest& req, const std::string& words) {
    return makeError("connect", "connecting to " + hostPort(req) + ": " + words);
}

Status checkApnSettings(const ModemSettings& settings) {
    for (const auto* field : {&settings.apn, &settings.apn_user, &settings.apn_password}) {
        if (!safeForQuotedArgument(*field) || field->size() > 100) {
            const char* name = field == &settings.apn        ? "apn"
                               : field == &settings.apn_user ? "apn_user"
                                                             : "apn_password_file";
            return fail("config", std::string(name) +
                                      ": the module cannot take this value (at most 100 "
                                      "characters, no '\"' and no control characters)");
        }
    }
    return okStatus();
}

std::optional<Error> socketRequestProblem(const ModemSocketRequest& req, size_t max_host_length,
                                          std::string_view module) {
    if (req.host.empty() || req.host.size() > max_host_length || !safeForQuotedArgument(req.host)) {
        return makeError("bad_host", "the host name \"" + req.host.substr(0, 64) +
                                         "\" cannot be given to the module");
    }
    if (req.port == 0) {
        return makeError("bad_port", "port 0 cannot be connected to");
    }
    if (req.tls && !req.server_name.empty() && req.server_name != req.host) {
        return makeError("unsupported",
                         std::string(module) +
                             " sends the host it connects to as the TLS server name (SNI) and "
                             "checks the certificate against it; it cannot connect to " +
                             req.host + " and use the name " + req.server_name +
                             ": set the broker host to " + req.server_name +
                             ", leave tls.server_name unset, or use tls = \"local\"");
    }
    return std::nullopt;
}

DriverFront::DriverFront(std::shared_ptr<CoreApi> core, std::span<const InfoQuery> info_queries,
                         size_t max_send_chunk)
    : core_(std::move(core)), info_queries_(info_queries), max_send_chunk_(max_send_chunk) {
    core_->registerUrcs();
}

DriverFront::~DriverFront() {
    core_->breakAll(makeError("closed", "the modem driver was stopped"));
}

void DriverFront::start(StatusDone done) {
    core_->start(std::move(done));
}

void DriverFront::info(std::function<void(Result<ModemInfo>)> done) {
    core_->info(info_queries_, std::move(done));
}

void DriverFront::provision(const ModemCredentials& creds, StatusDone done) {
    core_->provision(creds, std::move(done));
}

void DriverFront::open(const ModemSocketRequest& request,
                       std::function<void(Result<ByteStreamPtr>)> done) {
    core_->open(request, std::move(done));
}

std::string DriverFront::explain(const std::string& error_line) const {
    return core_->explainError(error_line);
}

}  // namespace uplinkd::plugins::modem_common
