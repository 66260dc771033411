// SPDX-License-Identifier: Apache-2.0
// PEM text as modules want it: split into blocks, line ends normalised (CR+LF for the Sierra
// stores, LF elsewhere), compared line by line with what a module reads back. Pure.
// Thread: any (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

/// One "-----BEGIN <label>-----" ... "-----END <label>-----" block.
struct PemBlock {
    std::string label;               ///< "CERTIFICATE", "PRIVATE KEY", "EC PRIVATE KEY", ...
    std::vector<std::string> lines;  ///< every line of the block, BEGIN and END included
};

/// The PEM blocks of `text`, in order. Text outside blocks is ignored. Errors ("bad_pem"): no
/// block, a BEGIN without its END, a block without content.
Result<std::vector<PemBlock>> splitPem(std::string_view text);

/// Which blocks of a PEM text a module is given.
enum class PemWant {
    Certificates,  ///< every "CERTIFICATE" block, in order
    PrivateKey,    ///< the first "... PRIVATE KEY" block
};

/// The wanted blocks of `pem`. Errors name `what` (e.g. "tls.ca_file"): the text's own PEM
/// errors, or "bad_pem" "<what>: no suitable PEM block".
Result<std::vector<PemBlock>> pemBlocks(std::string_view pem, std::string_view what, PemWant want);

/// The root CAs of tls.ca_file (`ca_pem`) for a store that holds at most `max_roots`. Errors
/// ("bad_pem"): the file's PEM errors, more certificates than the store holds.
Result<std::vector<PemBlock>> rootCaBlocks(std::string_view ca_pem, size_t max_roots);

/// A client certificate (tls.cert_file) and its private key (tls.key_file).
struct ClientPem {
    std::vector<PemBlock> cert;
    std::vector<PemBlock> key;
};

/// The client certificate and key when both are configured, nothing when neither is. Errors
/// ("bad_pem"): only one of the two configured, either file's PEM errors.
Result<std::optional<ClientPem>> clientPem(std::string_view cert_pem, std::string_view key_pem);

/// The lines of `text` (split at CR LF, LF or CR) with trailing blanks removed and empty lines
/// dropped.
std::vector<std::string> contentLines(std::string_view text);

/// The block's lines joined with `eol`, `eol` after the last one too.
std::string joinLines(const std::vector<std::string>& lines, std::string_view eol);

/// `blocks` joined with `eol` (one PEM text).
std::string joinBlocks(const std::vector<PemBlock>& blocks, std::string_view eol);

}  // namespace uplinkd::plugins::modem_common
