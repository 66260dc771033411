// SPDX-License-Identifier: Apache-2.0
// TLS done by uplinkd with OpenSSL over any ByteStream (a kernel socket or a modem's plain AT
// socket): server verification and host-name check always on, SNI, ALPN, client certificate,
// TLS 1.2 minimum at security level 2, session resumption across reconnects, and every alert
// and verify error recorded so that failures can be explained. Thread: loop.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "core/tls_options.hpp"
#include "tls/resumption_policy.hpp"
#include "tls/tls_explain.hpp"
#include "uplinkd/byte_stream.hpp"

namespace uplinkd {

/// Checks that `ciphers` (OpenSSL syntax) names at least one TLS 1.2 cipher suite OpenSSL
/// accepts here; the error says why not.
Status checkCipherList(const std::string& ciphers);

/// Checks that the PEM files can be read and that the key is the private key of the
/// certificate; errors name the file and the problem ("... do not match").
Status checkKeyPair(const std::string& cert_file, const std::string& key_file);

/// The configured SSL_CTX of one route, plus the last session for resumption.
class TlsContext {
  public:
    /// Loads CA, certificate and key; errors name the file and the problem.
    static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& options);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    const TlsOptions& options() const { return options_; }
    SSL_CTX* native() const { return ctx_; }
    /// Forgets the cached session (e.g. after the broker refused us).
    void forgetSession();
    /// How a frugal context resumes next (options().frugal only).
    const ResumptionPolicy& resumption() const { return policy_; }

  private:
    TlsContext(SSL_CTX* ctx, TlsOptions options);
    friend class TlsSession;
    static int onNewSession(SSL* ssl, SSL_SESSION* session);
    /// Sets up one connection the way the policy says (frugal contexts).
    void prepare(SSL* ssl) const;
    /// Offers a copy of the cached session on `ssl`; false when there is none. A frugal context
    /// offers a TLS 1.2 ticket with a one-byte session ID and only the session's cipher suite
    /// (see tls_context.cpp).
    bool offerSession(SSL* ssl) const;
    /// Cuts the session ID that OpenSSL offers beside a TLS 1.2 ticket to one byte.
    static void shortenSessionId(SSL_SESSION* session);
    /// A handshake of this context ended (ok or not); the policy learns from it.
    void afterHandshake(const SSL* ssl, bool offered, bool ticket_received);
    /// A handshake failed; `offered`: it offered the cached session.
    void afterFailure(int alert_received, bool hello_answered, bool offered);

    SSL_CTX* ctx_;
    TlsOptions options_;
    SSL_SESSION* session_ = nullptr;  ///< last session ticket received, for resumption
    ResumptionPolicy policy_;
};

class TlsSession final : public ByteStream {
  public:
    TlsSession(std::shared_ptr<TlsContext> context, ByteStreamPtr inner);
    ~TlsSession() override;

    /// Runs the handshake. On failure the error message explains it in plain words.
    void handshake(std::function<void(Status)> done);

    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) override;
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) override;
    void close() override;
    std::string describe() const override;

    const TlsFacts& facts() const { return facts_; }
    bool resumed() const;
    std::string version() const;
    /// The OpenSSL connection, for reading what the handshake agreed (cipher, ALPN, chain).
    const SSL* native() const { return ssl_; }

    /// Called from OpenSSL callbacks (static trampolines).
    void noteAlert(bool received, int description);
    void noteHandshakeMessage(bool received, int type);
    void noteVerifyFailure(int depth, long error, X509* cert);

  private:
    void drive();
    void flush();
    void readInner();
    void failAll(const Error& error);
    Error sslError(int ret, std::string_view what);

    std::shared_ptr<TlsContext> ctx_;
    ByteStreamPtr inner_;
    SSL* ssl_ = nullptr;
    BIO* network_bio_ = nullptr;
    TlsFacts facts_;
    bool handshake_done_ = false;
    bool ticket_received_ = false;  ///< the broker sent a NewSessionTicket
    bool session_offered_ = false;  ///< a cached session was offered for resumption
    bool corked_ = false;  ///< the handshake's last flight waits for the first application write
    bool inner_failed_ = false;
    Error inner_error_;

    std::function<void(Status)> handshake_done_cb_;
    std::span<uint8_t> user_read_buf_;
    ReadHandler user_read_;
    std::span<const uint8_t> user_write_buf_;
    size_t user_written_ = 0;
    WriteHandler user_write_;

    bool reading_ = false;
    bool writing_ = false;
    std::vector<uint8_t> in_buf_;
    size_t in_pending_ = 0;  ///< bytes in in_buf_ not yet given to OpenSSL
    size_t in_offset_ = 0;
    std::vector<uint8_t> out_buf_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// Drains OpenSSL's error queue into one line.
std::string opensslErrors();

}  // namespace uplinkd
