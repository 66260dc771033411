// SPDX-License-Identifier: Apache-2.0
// The words for a connection the broker closed right after the module opened it
// (+KMQTT_IND: 1,0 after AT+KMQTTCNX): what uplinkd checked, then the probable causes, most
// likely first, from what it knows (the credentials it checked before upload, the module's
// clock against the certificate's validity, the port). No I/O. Thread: any (pure function).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bx_certs.hpp"

namespace uplinkd::plugins::sierra_bx310x {

struct RefusalFacts {
    std::string endpoint;  ///< "host:port"
    std::string line;      ///< the module's line, e.g. "+KMQTT_IND: 1,0"
    bool tls = false;
    uint16_t port = 0;
    std::string client_id;
    std::string root_subject;         ///< the provisioned root CA, empty when none
    std::optional<CertFacts> client;  ///< the provisioned client certificate
    std::optional<int64_t> clock;     ///< the module's clock (AT+CCLK?), when it could be read
};

std::string refusalWords(const RefusalFacts& f);

}  // namespace uplinkd::plugins::sierra_bx310x
