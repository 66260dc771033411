// SPDX-License-Identifier: Apache-2.0
// The Sierra Wireless K-command certificate store as the HL78xx and BX310x share it: the line
// ends it wants, the AT+KCERTSTORE? listing parsed into entries, and the look-up that
// provision() uses to compare what it wrote with what the module lists. Pure.
// Thread: any (pure functions).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/at_steps.hpp"
#include "uplinkd/at_channel.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

/// The stores take PEM text with CR+LF line ends.
inline constexpr std::string_view kKcertLineEnd = "\r\n";

/// One entry of the AT+KCERTSTORE? listing.
struct StoredCert {
    enum class Kind { Root, Local, Key } kind = Kind::Root;
    int index = 0;
    size_t length = 0;               ///< as the module declares it
    std::vector<std::string> lines;  ///< the certificate text, one line each, no empty lines
};

/// Whether a module's listing names its private keys ("private_key,<index>,<len>" entries).
enum class KeyEntries { Listed, NotListed };

/// "root_cert,<index>,<len>" / "local_cert,<index>,<len>" (and with KeyEntries::Listed
/// "private_key,<index>,<len>") entries, each on its own "+KCERTSTORE: " line or after one
/// "+KCERTSTORE:" header, each optionally followed by its text (a key never is). An empty store
/// gives none. Other lines before the first entry are an error; after it, they are its text.
Result<std::vector<StoredCert>> parseKcertStoreListing(const std::vector<std::string>& lines,
                                                       KeyEntries keys);

/// provision()'s read-back: the listing in `answer` (to `command`, AT+KCERTSTORE?), or the
/// error, as "provision: reading the store back: ...".
Result<std::vector<StoredCert>> readBackListing(std::string_view command,
                                                const Result<AtResponse>& answer,
                                                const Explainer& explain, KeyEntries keys);

/// The entry of `kind` at `index` in `stored`, or null.
const StoredCert* findStored(const std::vector<StoredCert>& stored, StoredCert::Kind kind,
                             int index);

}  // namespace uplinkd::plugins::modem_common
