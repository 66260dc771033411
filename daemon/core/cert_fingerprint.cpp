// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/cert_fingerprint.hpp"

#include <openssl/evp.h>

namespace uplinkd {

std::string sha256Fingerprint(const X509* cert, FingerprintForm form) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1) {
        return "";
    }
    const bool colons = form == FingerprintForm::Colons;
    const char* hex = colons ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    out.reserve(3 * len);
    for (unsigned i = 0; i < len; ++i) {
        if (colons && i > 0) {
            out.push_back(':');
        }
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
    return out;
}

}  // namespace uplinkd
