// SPDX-License-Identifier: Apache-2.0
#include "tls/tls_session.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <climits>

#include "tls/cert_check.hpp"

namespace uplinkd {

namespace {

bool isIpLiteral(const std::string& host) {
    unsigned char addr[16];
    return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
           inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

/// Likely causes when the broker closed the connection without answering the ClientHello (what
/// front ends that route by SNI or ALPN do); empty when it did answer.
std::string closedAfterHelloHint(const SSL* ssl, const TlsFacts& f) {
    if (SSL_get_state(ssl) != TLS_ST_CW_CLNT_HELLO) {
        return "";
    }
    if (!f.sni_sent) {
        return "; it closed without answering the ClientHello, which carried no server name "
               "(SNI) because the host is an IP address: brokers behind a front end that routes "
               "by SNI (HiveMQ Cloud, AWS IoT) do that, so configure the host name";
    }
    return "; it closed without answering the ClientHello: a plain MQTT port, a firewall, or a "
           "front end that does not serve the name \"" +
           f.server_name + "\"" +
           (f.alpn_offered.empty() ? " or wants ALPN (AWS IoT on port 443 needs x-amzn-mqtt-ca)"
                                   : " or the ALPN \"" + f.alpn_offered + "\"");
}

/// Plain words for a broker that answered the ClientHello with handshake_failure while
/// uplinkd offered its default TLS 1.2 suites: it shares none of them.
std::string noSharedCipherExplanation() {
    return "the broker refused the TLS handshake right after uplinkd's ClientHello (alert 40, "
           "handshake_failure): it accepts none of the cipher suites uplinkd offers. On TLS "
           "1.2 uplinkd offers only suites with forward secrecy (ECDHE key exchange) and "
           "authenticated encryption (AES-GCM, ChaCha20-Poly1305), so most likely the broker "
           "offers only cipher suites without forward secrecy (RSA key exchange such as "
           "AES128-SHA), whose recorded traffic anyone who later obtains the broker's key can "
           "decrypt. Fix the broker's TLS settings (TLS 1.3, or ECDHE suites), or accept the "
           "risk for this route with tls.ciphers_tls12 (OpenSSL syntax, e.g. "
           "\"ECDHE+AESGCM:AES128-SHA\")";
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// TlsSession

TlsSession::TlsSession(std::shared_ptr<TlsContext> context, ByteStreamPtr inner)
    : ctx_(std::move(context)), inner_(std::move(inner)), in_buf_(16 * 1024) {
    const TlsOptions& o = ctx_->options();
    ssl_ = SSL_new(ctx_->native());
    SSL_set_app_data(ssl_, this);
    BIO* internal = nullptr;
    BIO_new_bio_pair(&internal, 64 * 1024, &network_bio_, 64 * 1024);
    SSL_set_bio(ssl_, internal, internal);
    SSL_set_connect_state(ssl_);

    facts_.server_name = o.server_name;
    facts_.client_cert_configured = !o.cert_file.empty();
    if (isIpLiteral(o.server_name)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), o.server_name.c_str());
    } else {
        SSL_set_tlsext_host_name(ssl_, o.server_name.c_str());
        SSL_set1_host(ssl_, o.server_name.c_str());
        facts_.sni_sent = true;
    }
    if (!o.alpn.empty()) {
        std::vector<unsigned char> wire;
        for (const auto& p : o.alpn) {
            wire.push_back(static_cast<unsigned char>(p.size()));
            wire.insert(wire.end(), p.begin(), p.end());
            facts_.alpn_offered += facts_.alpn_offered.empty() ? p : "," + p;
        }
        SSL_set_alpn_protos(ssl_, wire.data(), static_cast<unsigned>(wire.size()));
    }
    ctx_->prepare(ssl_);
    // A copy again: when this connection ends without a close_notify (a dropped link), OpenSSL
    // marks the session it used not resumable. The context's own stays resumable, so a TLS 1.2
    // ticket, which the broker does not replace on a resumption, is offered at every reconnect
    // and not only at the first.
    session_offered_ = ctx_->offerSession(ssl_);
}

TlsSession::~TlsSession() {
    alive_.reset();
    if (inner_) {
        inner_->close();
    }
    SSL_free(ssl_);
    BIO_free(network_bio_);
}

void TlsSession::noteAlert(bool received, int description) {
    if (description == 0) {
        return;  // close_notify
    }
    if (received && facts_.alert_received < 0) {
        facts_.alert_received = description;
    } else if (!received && facts_.alert_sent < 0) {
        facts_.alert_sent = description;
    }
}

void TlsSession::noteHandshakeMessage(bool received, int type) {
    if (received && type == SSL3_MT_CERTIFICATE_REQUEST) {
        facts_.cert_requested = true;
    }
    if (received && type == SSL3_MT_NEWSESSION_TICKET) {
        ticket_received_ = true;
    }
}

void TlsSession::noteVerifyFailure(int depth, long error, X509* cert) {
    if (facts_.verify_error != 0) {
        return;
    }
    facts_.verify_error = error;
    facts_.verify_depth = depth;
    if (cert != nullptr) {
        facts_.verify_subject = x509Name(X509_get_subject_name(cert));
        facts_.verify_issuer = x509Name(X509_get_issuer_name(cert));
    }
}

bool TlsSession::resumed() const {
    return SSL_session_reused(ssl_) == 1;
}

std::string TlsSession::version() const {
    return SSL_get_version(ssl_);
}

std::string TlsSession::describe() const {
    return inner_->describe() + ", " + version() + (resumed() ? " (resumed)" : "");
}

void TlsSession::handshake(std::function<void(Status)> done) {
    handshake_done_cb_ = std::move(done);
    drive();
}

void TlsSession::asyncRead(std::span<uint8_t> buf, ReadHandler handler) {
    user_read_buf_ = buf;
    user_read_ = std::move(handler);
    drive();
}

void TlsSession::asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) {
    corked_ = false;
    user_write_buf_ = buf;
    user_written_ = 0;
    user_write_ = std::move(handler);
    drive();
}

void TlsSession::close() {
    if (inner_) {
        inner_->close();
    }
    failAll(makeError("closed", "TLS connection closed"));
}

Error TlsSession::sslError(int ret, std::string_view what) {
    const int e = SSL_get_error(ssl_, ret);
    facts_.openssl_error = opensslErrors();
    if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
        facts_.peer_subject = x509Name(X509_get_subject_name(peer));
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return makeError("eof", std::string(what) + ": the broker closed the TLS connection");
    }
    if (e == SSL_ERROR_SYSCALL && facts_.openssl_error.empty() && inner_failed_) {
        return inner_error_;
    }
    const std::string code = facts_.verify_error != 0    ? "tls_verify"
                             : facts_.alert_received > 0 ? "tls_alert"
                                                         : "tls";
    return makeError(code, explainTlsFailure(facts_));
}

void TlsSession::failAll(const Error& error) {
    std::weak_ptr<bool> alive = alive_;
    auto hs = std::move(handshake_done_cb_);
    auto rd = std::move(user_read_);
    auto wr = std::move(user_write_);
    handshake_done_cb_ = nullptr;
    user_read_ = nullptr;
    user_write_ = nullptr;
    if (hs) {
        hs(Failure{error});
        if (alive.expired())
            return;
    }
    if (wr) {
        wr(Failure{error});
        if (alive.expired())
            return;
    }
    if (rd) {
        rd(Failure{error});
    }
}

void TlsSession::drive() {
    std::weak_ptr<bool> alive = alive_;
    // Give OpenSSL what arrived from the network and it has not taken yet.
    while (in_pending_ > 0) {
        const int n =
            BIO_write(network_bio_, in_buf_.data() + in_offset_, static_cast<int>(in_pending_));
        if (n <= 0) {
            break;
        }
        in_offset_ += static_cast<size_t>(n);
        in_pending_ -= static_cast<size_t>(n);
    }

    // Completions are collected and run at the end, when the state is consistent again.
    std::function<void()> complete_handshake;
    std::function<void()> complete_write;
    std::function<void()> complete_read;

    if (!handshake_done_ && handshake_done_cb_) {
        ERR_clear_error();
        const int r = SSL_do_handshake(ssl_);
        if (r == 1) {
            handshake_done_ = true;
            ctx_->afterHandshake(ssl_, session_offered_, ticket_received_);
            // In a resumed TLS 1.2 handshake the client's Finished is the last message. Over a
            // frugal uplink it waits for the first application bytes (the MQTT CONNECT, which
            // the client sends first) and goes in the same write: one module send less.
            corked_ = ctx_->options().frugal && SSL_session_reused(ssl_) == 1 &&
                      SSL_version(ssl_) == TLS1_2_VERSION;
            complete_handshake = [cb = std::move(handshake_done_cb_)] { cb(Status{}); };
            handshake_done_cb_ = nullptr;
        } else {
            const int e = SSL_get_error(ssl_, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                ctx_->afterFailure(facts_.alert_received,
                                   SSL_get_state(ssl_) != TLS_ST_CW_CLNT_HELLO, session_offered_);
                Error err = sslError(r, "TLS handshake");
                if (facts_.alert_received == SSL_AD_HANDSHAKE_FAILURE &&
                    SSL_get_state(ssl_) == TLS_ST_CW_CLNT_HELLO && !session_offered_ &&
                    ctx_->options().ciphers_tls12.empty()) {
                    err = makeError("tls_alert", noSharedCipherExplanation());
                }
                if (inner_failed_ && err.code == "tls" && facts_.openssl_error.empty()) {
                    err = makeError("tls",
                                    explainTlsFailure(facts_) + " (" + inner_error_.message + ")");
                }
                flush();
                failAll(err);
                return;
            }
            if (inner_failed_) {
                TlsFacts f = facts_;
                Error err =
                    makeError(f.alert_received > 0 ? "tls_alert" : "tls",
                              f.alert_received > 0 || f.verify_error != 0
                                  ? explainTlsFailure(f)
                                  : "the connection closed during the TLS handshake (" +
                                        inner_error_.message + ")" + closedAfterHelloHint(ssl_, f));
                failAll(err);
                return;
            }
        }
    }

    if (handshake_done_ && user_write_) {
        while (user_written_ < user_write_buf_.size()) {
            ERR_clear_error();
            const size_t rest = user_write_buf_.size() - user_written_;
            const int r = SSL_write(ssl_, user_write_buf_.data() + user_written_,
                                    static_cast<int>(std::min<size_t>(rest, INT_MAX)));
            if (r > 0) {
                user_written_ += static_cast<size_t>(r);
                continue;
            }
            const int e = SSL_get_error(ssl_, r);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                break;
            }
            Error err = sslError(r, "TLS write");
            complete_write = [cb = std::move(user_write_), err] { cb(Failure{err}); };
            user_write_ = nullptr;
            break;
        }
        if (user_write_ && user_written_ == user_write_buf_.size()) {
            complete_write = [cb = std::move(user_write_)] { cb(Status{}); };
            user_write_ = nullptr;
        }
    }

    bool want_read = !handshake_done_ && handshake_done_cb_;
    if (handshake_done_ && user_read_) {
        ERR_clear_error();
        const int r = SSL_read(ssl_, user_read_buf_.data(),
                               static_cast<int>(std::min<size_t>(user_read_buf_.size(), INT_MAX)));
        if (r > 0) {
            complete_read = [cb = std::move(user_read_), n = static_cast<size_t>(r)] { cb(n); };
            user_read_ = nullptr;
        } else {
            const int e = SSL_get_error(ssl_, r);
            if (e == SSL_ERROR_WANT_READ && !inner_failed_) {
                want_read = true;
            } else if (e == SSL_ERROR_WANT_READ) {
                Error err = inner_error_;
                complete_read = [cb = std::move(user_read_), err] { cb(Failure{err}); };
                user_read_ = nullptr;
            } else if (e != SSL_ERROR_WANT_WRITE) {
                Error err = sslError(r, "TLS read");
                complete_read = [cb = std::move(user_read_), err] { cb(Failure{err}); };
                user_read_ = nullptr;
            }
        }
    }

    flush();
    if (want_read && !reading_ && !inner_failed_) {
        readInner();
    }

    for (auto* f : {&complete_handshake, &complete_write, &complete_read}) {
        if (*f) {
            (*f)();
            if (alive.expired()) {
                return;
            }
        }
    }
}

void TlsSession::flush() {
    if (writing_ || inner_failed_ || corked_) {
        return;
    }
    const size_t pending = BIO_ctrl_pending(network_bio_);
    if (pending == 0) {
        return;
    }
    out_buf_.resize(pending);
    const int n = BIO_read(network_bio_, out_buf_.data(), static_cast<int>(pending));
    if (n <= 0) {
        return;
    }
    out_buf_.resize(static_cast<size_t>(n));
    writing_ = true;
    std::weak_ptr<bool> alive = alive_;
    inner_->asyncWrite(out_buf_, [this, alive](Status s) {
        if (alive.expired()) {
            return;
        }
        writing_ = false;
        if (!s) {
            inner_failed_ = true;
            inner_error_ = s.error();
            failAll(s.error());
            return;
        }
        drive();
    });
}

void TlsSession::readInner() {
    if (in_pending_ > 0) {
        return;  // OpenSSL has not taken the last bytes yet
    }
    reading_ = true;
    std::weak_ptr<bool> alive = alive_;
    inner_->asyncRead(in_buf_, [this, alive](Result<size_t> r) {
        if (alive.expired()) {
            return;
        }
        reading_ = false;
        if (!r) {
            inner_failed_ = true;
            inner_error_ = r.error();
        } else {
            in_offset_ = 0;
            in_pending_ = *r;
        }
        drive();
    });
}

}  // namespace uplinkd
