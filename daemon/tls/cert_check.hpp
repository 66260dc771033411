// SPDX-License-Identifier: Apache-2.0
// Checks of certificate files before they go into a module's store, where a mistake only shows
// as an opaque failure minutes later: the CA file must hold a root, the key must belong to the
// certificate; and what a certificate or key is (for `uplinkctl certs` and the doctor). Pure
// (OpenSSL on memory, no I/O). Thread: any.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// "/C=US/O=Example/CN=Root" (OpenSSL's one-line form), empty for no name.
std::string x509Name(X509_NAME* name);

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

/// What a certificate is, by its own fields.
enum class CertificateRole {
    Root,          ///< self-signed (a trust anchor)
    Intermediate,  ///< a CA (basicConstraints CA:TRUE) signed by another
    Leaf,          ///< a device or server certificate
};

/// One certificate of a PEM text.
struct CertificateInfo {
    std::string subject;     ///< RFC 2253, "CN=gw-1,O=Example"
    std::string issuer;      ///< RFC 2253
    std::string subject_cn;  ///< the (last) CN of the subject; empty when none
    int64_t not_before = 0;  ///< seconds since the epoch (UTC)
    int64_t not_after = 0;
    std::string key_type;  ///< "RSA", "EC", "Ed25519", ...
    int key_bits = 0;
    std::string sha256;  ///< fingerprint of the DER, "AB:CD:…" (upper case)
    CertificateRole role = CertificateRole::Leaf;
    std::string der;  ///< the certificate itself (for matching keys)
};

/// Every certificate in `pem`, in file order (none when it holds none).
std::vector<CertificateInfo> describeCertificates(const std::string& pem);

/// The first private key of `pem` (unencrypted PEM; an encrypted one is not asked for a
/// passphrase): its type and size, or nullopt when it holds none.
struct PrivateKeyInfo {
    std::string key_type;
    int key_bits = 0;
};
std::optional<PrivateKeyInfo> describePrivateKey(const std::string& pem);

/// True when the private key in `key_pem` is the key of the certificate `cert` (its DER).
bool keyMatchesCertificate(const CertificateInfo& cert, const std::string& key_pem);

/// PEM files looked at together (`uplinkctl certs`): every certificate, every private key with
/// the certificate it belongs to, and what is wrong.
struct PemFile {
    std::string path;
    std::string content;
};
struct CertificateSet {
    struct Cert {
        std::string file;
        size_t index = 0;  ///< 1-based position in its file
        CertificateInfo info;
    };
    struct Key {
        std::string file;
        PrivateKeyInfo info;
        std::optional<size_t> matches;  ///< index into certs of its certificate
    };
    std::vector<Cert> certs;
    std::vector<Key> keys;
    /// One sentence each: expired or not yet valid, a key that matches no certificate, CA
    /// certificates without their root, a file that holds neither certificate nor key.
    std::vector<std::string> problems;
    /// Certificates expiring within 30 days.
    std::vector<std::string> warnings;
};
/// `now`: seconds since the epoch. Intermediate CAs without any root among the files are a
/// problem (the three files of a cloud console are a device certificate, its key and a root).
CertificateSet examinePemFiles(const std::vector<PemFile>& files, int64_t now);

/// "root CA", "intermediate CA", "certificate".
const char* roleName(CertificateRole role);

/// "2026-12-05 03:07:14 UTC".
std::string formatUtc(int64_t unix_seconds);

}  // namespace uplinkd
