// SPDX-License-Identifier: Apache-2.0
// The doctor's credential checks (layer credentials): the credentials a CONNECT made now would
// carry, checked by the cloud plugin (SAS token fields, client id, user name). Never shows a
// secret. Thread: loop.
#include "doctor/doctor.hpp"

namespace uplinkd::doctor {

void checkCredentials(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                      std::function<void(std::vector<Finding>)> done) {
    (void)so_far;
    if (route.cloud == nullptr) {
        done({});
        return;
    }
    auto creds = route.cloud->credentials(route.now);
    if (!creds) {
        done({{CheckLayer::Credentials, "credentials.make", CheckOutcome::Fail,
               "cannot make the credentials for a CONNECT: " + creds.error().message,
               "correct [routes." + route.route->name +
                   ".cloud] (or the clock) as the message says"}});
        return;
    }
    std::vector<Finding> out;
    out.push_back({CheckLayer::Credentials, "credentials.make", CheckOutcome::Ok,
                   "client id \"" + creds->client_id + "\"" +
                       (creds->username.empty() ? ", no user name"
                                                : ", user name \"" + creds->username + "\"") +
                       (creds->password.empty() ? ", no password" : ", a password"),
                   ""});
    for (auto& f : route.cloud->checkCredentials(*creds, route.now)) {
        f.layer = CheckLayer::Credentials;
        out.push_back(std::move(f));
    }
    done(std::move(out));
}

}  // namespace uplinkd::doctor
