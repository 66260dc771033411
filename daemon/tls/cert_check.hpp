// Checks of certificate files before they go into a module's store, where a mistake only shows
// as an opaque failure minutes later: the CA file must hold a root, the key must belong to the
// certificate. Pure (OpenSSL on memory, no I/O). Thread: any.
#pragma once

#include <string>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// "CN=uplinkd test CA" for the first certificate in `pem`, empty when it does not parse.
std::string certificateSubject(const std::string& pem);

/// OK when `ca_pem` holds at least one self-signed (root) certificate. Else an error
/// ("tls_ca_not_root") naming the subject of the root that is needed (the issuer of the
/// certificates given), for tls.ca_file `ca_file`.
Status checkRootCa(const std::string& ca_pem, const std::string& ca_file);

/// OK when the private key `key_pem` belongs to the first certificate of `cert_pem`; else an
/// error ("tls_key_mismatch") naming both files. Neither the key nor its bytes reach the message.
Status checkKeyMatches(const std::string& cert_pem, const std::string& key_pem,
                       const std::string& cert_file, const std::string& key_file);

}  // namespace uplinkd
