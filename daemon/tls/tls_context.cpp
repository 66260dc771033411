// SPDX-License-Identifier: Apache-2.0
// TlsContext: the SSL_CTX of a route (trust, client certificate, ciphers, session resumption) and
// the OpenSSL callbacks that report into each TlsSession; the checks of TLS settings. Thread: loop.
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls_session.hpp"

namespace uplinkd {

namespace {

TlsSession* sessionOf(const SSL* ssl) {
    return static_cast<TlsSession*>(SSL_get_app_data(ssl));
}

void infoCallback(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_ALERT) == 0) {
        return;
    }
    if (TlsSession* s = sessionOf(ssl)) {
        s->noteAlert((where & SSL_CB_READ) != 0, ret & 0xff);
    }
}

void msgCallback(int write_p, int /*version*/, int content_type, const void* buf, size_t len,
                 SSL* ssl, void* /*arg*/) {
    if (content_type != SSL3_RT_HANDSHAKE || len == 0) {
        return;
    }
    if (TlsSession* s = sessionOf(ssl)) {
        s->noteHandshakeMessage(write_p == 0, static_cast<const unsigned char*>(buf)[0]);
    }
}

int verifyCallback(int ok, X509_STORE_CTX* store) {
    if (ok == 0) {
        auto* ssl = static_cast<SSL*>(
            X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
        if (TlsSession* s = ssl ? sessionOf(ssl) : nullptr) {
            s->noteVerifyFailure(X509_STORE_CTX_get_error_depth(store),
                                 X509_STORE_CTX_get_error(store),
                                 X509_STORE_CTX_get_current_cert(store));
        }
    }
    return ok;
}

/// Loads a client certificate chain and its key into `ctx`. The key goes first: loaded after a
/// certificate it does not belong to, OpenSSL reports a bare "key values mismatch" that reads
/// like a broken file; this way the mismatch is found by the check below and said plainly.
Status loadClientCertificate(SSL_CTX* ctx, const std::string& cert_file,
                             const std::string& key_file) {
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        return fail("tls_setup", "tls.key_file \"" + key_file +
                                     "\": cannot read a PEM private key (encrypted keys are "
                                     "not supported): " +
                                     opensslErrors());
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
        return fail("tls_setup", "tls.cert_file \"" + cert_file +
                                     "\": cannot read a PEM certificate: " + opensslErrors());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return fail("tls_setup", "tls.key_file \"" + key_file + "\" and tls.cert_file \"" +
                                     cert_file +
                                     "\" do not match: the key is not the private key of "
                                     "that certificate (both files are readable)");
    }
    return okStatus();
}

}  // namespace

std::string opensslErrors() {
    std::string out;
    unsigned long e = 0;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        // Keep the reason, drop the "error:0A000086:SSL routines:" prefix.
        std::string s = buf;
        const auto pos = s.rfind(':');
        if (pos != std::string::npos) {
            s = s.substr(pos + 1);
        }
        if (out.find(s) == std::string::npos) {
            out += out.empty() ? s : "; " + s;
        }
    }
    return out;
}

Status checkCipherList(const std::string& ciphers) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) {
        return fail("tls_setup", "cannot create a TLS context: " + opensslErrors());
    }
    SSL_CTX_set_security_level(ctx, 2);
    const bool ok = SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) == 1;
    SSL_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return fail("tls_setup", "\"" + ciphers +
                                     "\" names no TLS 1.2 cipher suite that OpenSSL knows and "
                                     "allows at security level 2 (see `openssl ciphers -v '" +
                                     ciphers + "'`)");
    }
    return okStatus();
}

Status checkKeyPair(const std::string& cert_file, const std::string& key_file) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) {
        return fail("tls_setup", "cannot create a TLS context: " + opensslErrors());
    }
    SSL_CTX_set_security_level(ctx, 2);
    Status st = loadClientCertificate(ctx, cert_file, key_file);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return st;
}

// ---------------------------------------------------------------------------------------------
// TlsContext

TlsContext::TlsContext(SSL_CTX* ctx, TlsOptions options)
    : ctx_(ctx), options_(std::move(options)) {}

TlsContext::~TlsContext() {
    if (session_ != nullptr) {
        SSL_SESSION_free(session_);
    }
    SSL_CTX_free(ctx_);
}

void TlsContext::forgetSession() {
    if (session_ != nullptr) {
        SSL_SESSION_free(session_);
        session_ = nullptr;
    }
}

void TlsContext::prepare(SSL* ssl) const {
    if (!options_.frugal) {
        return;
    }
    if (!policy_.tls13()) {
        SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
    }
    if (policy_.way() == ResumptionPolicy::Way::SessionId) {
        SSL_set_options(ssl, SSL_OP_NO_TICKET);
    }
}

bool TlsContext::offerSession(SSL* ssl) const {
    if (session_ == nullptr) {
        return false;
    }
    // A copy: when this connection ends without a close_notify (a dropped link), OpenSSL marks
    // the session it used not resumable; the context's own stays resumable for the next one.
    SSL_SESSION* copy = SSL_SESSION_dup(session_);
    if (copy == nullptr) {
        return false;
    }
    const bool frugal_ticket = options_.frugal && SSL_SESSION_has_ticket(copy) == 1 &&
                               SSL_SESSION_get_protocol_version(copy) == TLS1_2_VERSION;
    if (frugal_ticket) {
        shortenSessionId(copy);
    }
    SSL_set_session(ssl, copy);
    const SSL_CIPHER* cipher = SSL_SESSION_get0_cipher(copy);
    if (frugal_ticket && cipher != nullptr) {
        // A resumption goes on with the session's cipher suite, and a broker that refuses the
        // ticket picked that suite for a full handshake before: offering only it saves 2 bytes
        // per other suite (10 with the default list) and offers nothing weaker. Should the
        // broker refuse it now, afterFailure() forgets the session.
        if (SSL_set_cipher_list(ssl, SSL_CIPHER_get_name(cipher)) != 1) {
            ERR_clear_error();  // the context's list stays
        }
    }
    SSL_SESSION_free(copy);
    return true;
}

void TlsContext::shortenSessionId(SSL_SESSION* session) {
    // Beside a TLS 1.2 ticket OpenSSL offers a 32-byte session ID (a hash of the ticket), and a
    // broker that takes the ticket echoes it in its ServerHello (RFC 5077, 3.4). The ID only
    // tells the client that the broker resumed: OpenSSL's client sees a resumption when the
    // ServerHello's session ID is not empty and equals the one offered, whatever its length
    // (an empty one would hide the resumption, and the handshake would fail). One byte does
    // that and saves 62 bytes per resumed handshake. A broker that refuses the ticket answers
    // with a new session ID of its own (32 bytes, or none), which does not match. Nothing
    // secret rests on the ID: the Finished messages prove both sides hold the master secret.
    unsigned int length = 0;
    const unsigned char* id = SSL_SESSION_get_id(session, &length);
    if (length > 1) {
        const unsigned char first = id[0];
        if (SSL_SESSION_set1_id(session, &first, 1) != 1) {
            ERR_clear_error();  // the 32-byte ID stays: it works, only longer
        }
    }
}

void TlsContext::afterHandshake(const SSL* ssl, bool offered, bool ticket_received) {
    if (!options_.frugal) {
        return;
    }
    unsigned int id_length = 0;
    if (const SSL_SESSION* s = SSL_get_session(ssl)) {
        SSL_SESSION_get_id(s, &id_length);
    }
    policy_.afterHandshake(offered, SSL_session_reused(ssl) == 1, id_length, ticket_received);
}

void TlsContext::afterFailure(int alert_received, bool hello_answered, bool offered) {
    if (options_.frugal && !policy_.tls13() && alert_received == SSL_AD_PROTOCOL_VERSION &&
        !hello_answered) {
        policy_.versionRefused();
    }
    if (options_.frugal && offered && alert_received == SSL_AD_HANDSHAKE_FAILURE) {
        // The broker refused the ticket and a full handshake with the one cipher suite offered
        // beside it (its settings changed): the next handshake offers every suite.
        forgetSession();
    }
}

int TlsContext::onNewSession(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (self == nullptr) {
        return 0;
    }
    if (self->session_ != nullptr) {
        SSL_SESSION_free(self->session_);
    }
    // A copy: OpenSSL marks the connection's own session not resumable when the connection is
    // freed without a close_notify (a dropped link), which would spoil the next resumption.
    self->session_ = SSL_SESSION_dup(session);
    return 0;  // OpenSSL keeps its reference
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
    ERR_clear_error();
    SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
    if (raw == nullptr) {
        return fail("tls_setup", "cannot create a TLS context: " + opensslErrors());
    }
    std::shared_ptr<TlsContext> ctx(new TlsContext(raw, options));
    SSL_CTX_set_app_data(raw, ctx.get());
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
    SSL_CTX_set_security_level(raw, 2);
    const std::string ciphers =
        options.ciphers_tls12.empty() ? kDefaultCiphersTls12 : options.ciphers_tls12;
    if (SSL_CTX_set_cipher_list(raw, ciphers.c_str()) != 1) {
        return fail("tls_setup", "tls.ciphers_tls12 \"" + ciphers +
                                     "\": no cipher suite OpenSSL knows: " + opensslErrors());
    }
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, verifyCallback);
    SSL_CTX_set_info_callback(raw, infoCallback);
    SSL_CTX_set_msg_callback(raw, msgCallback);
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(raw, &TlsContext::onNewSession);
    SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (options.frugal) {
        // Every ClientHello byte crosses the air on every reconnect: offer what the clouds use.
        // Encrypt-then-MAC only matters for CBC suites, which uplinkd does not offer by default.
        if (SSL_CTX_set1_groups_list(raw, kFrugalGroups) != 1 ||
            SSL_CTX_set1_sigalgs_list(raw, kFrugalSigalgs) != 1) {
            return fail("tls_setup",
                        "cannot set the TLS groups and signature algorithms: " + opensslErrors());
        }
        if (options.ciphers_tls12.empty()) {
            SSL_CTX_set_options(raw, SSL_OP_NO_ENCRYPT_THEN_MAC);
        }
    }

    if (!options.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(raw, options.ca_file.c_str(), nullptr) != 1) {
            return fail("tls_setup", "tls.ca_file \"" + options.ca_file +
                                         "\": no CA certificate could be read from it (it must "
                                         "be PEM): " +
                                         opensslErrors());
        }
    } else if (SSL_CTX_set_default_verify_paths(raw) != 1) {
        return fail("tls_setup", "cannot load the system's trusted CAs: " + opensslErrors());
    }
    if (!options.cert_file.empty()) {
        if (auto st = loadClientCertificate(raw, options.cert_file, options.key_file); !st) {
            return st.failure();
        }
    }
    return ctx;
}

}  // namespace uplinkd
