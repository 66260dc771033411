// SPDX-License-Identifier: Apache-2.0
// Diagnosis: the outcome of one check of `uplinkctl doctor`; a value type shared by the daemon
// and the plugins (a cloud checks its own credentials). Pure. Thread: any.
#pragma once

#include <string>
#include <vector>

namespace uplinkd {

/// The layer a check examines, in the order the doctor walks them.
enum class CheckLayer { Config, Files, Clock, Credentials, Spool, Modem, Network, Tls, Mqtt };

enum class CheckOutcome { Ok, Warn, Fail, Skipped };

/// One line of the doctor's report.
struct Finding {
    CheckLayer layer = CheckLayer::Config;
    /// Stable identifier, "<layer>.<what>", e.g. "files.ca_root"; documented in docs/doctor.md.
    std::string id;
    CheckOutcome outcome = CheckOutcome::Ok;
    /// What was found, in plain words ("CA file holds an intermediate: CN=Amazon RSA 2048 M01").
    std::string found;
    /// For warn and fail: the fix in one sentence naming the setting or file to change.
    std::string fix;
};

}  // namespace uplinkd
