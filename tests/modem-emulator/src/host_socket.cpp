// SPDX-License-Identifier: Apache-2.0
#include "host_socket.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace uplinkd::emulator {

bool isIpLiteral(const std::string& host) {
    std::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

const char* toString(ConnectError e) {
    switch (e) {
        case ConnectError::None:
            return "ok";
        case ConnectError::Dns:
            return "dns";
        case ConnectError::Refused:
            return "connect failed";
        case ConnectError::Timeout:
            return "timeout";
        case ConnectError::TlsInit:
            return "tls init";
        case ConnectError::TlsVerify:
            return "tls certificate";
        case ConnectError::TlsHandshake:
            return "tls handshake";
    }
    return "?";
}

HostSocket::HostSocket(asio::io_context& io) : io_(io), resolver_(io), timer_(io), plain_(io) {}

HostSocket::~HostSocket() {
    close();
}

asio::ip::tcp::socket& HostSocket::lowest() {
    return tls_ ? tls_->next_layer() : plain_;
}

void HostSocket::connect(const std::string& host, uint16_t port, TlsOptions tls,
                         std::chrono::milliseconds timeout, ConnectHandler done) {
    host_ = host;
    tls_opts_ = std::move(tls);
    connect_done_ = std::move(done);
    auto self = shared_from_this();

    if (tls_opts_.enabled) {
        ssl_ctx_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        SSL_CTX* ctx = ssl_ctx_->native_handle();
        std::error_code ec;
        if (tls_opts_.min_version != 0) {
            SSL_CTX_set_min_proto_version(ctx, tls_opts_.min_version);
        }
        if (tls_opts_.max_version != 0) {
            SSL_CTX_set_max_proto_version(ctx, tls_opts_.max_version);
        }
        std::string init_error;
        for (const auto& pem : tls_opts_.ca_pems) {
            ssl_ctx_->add_certificate_authority(asio::buffer(pem), ec);
            if (ec) {
                init_error = "trusted certificate does not load: " + ec.message();
            }
        }
        if (!tls_opts_.client_cert_pem.empty() || !tls_opts_.client_key_pem.empty()) {
            ssl_ctx_->use_certificate_chain(asio::buffer(tls_opts_.client_cert_pem), ec);
            if (ec) {
                init_error = "client certificate does not load: " + ec.message();
            } else {
                ssl_ctx_->use_private_key(asio::buffer(tls_opts_.client_key_pem),
                                          asio::ssl::context::pem, ec);
                if (ec || SSL_CTX_check_private_key(ctx) != 1) {
                    init_error = "client key does not load or does not match the certificate";
                }
            }
        }
        ssl_ctx_->set_verify_mode(tls_opts_.verify_server ? asio::ssl::verify_peer
                                                          : asio::ssl::verify_none);
        if (!init_error.empty()) {
            ERR_clear_error();
            asio::post(io_, [self, init_error] {
                if (!self->closed_) {
                    self->complete(ConnectError::TlsInit, init_error);
                }
            });
            return;
        }
        tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io_, *ssl_ctx_);
    }

    timer_.expires_after(timeout);
    timer_.async_wait([self](std::error_code ec) {
        if (ec || self->closed_ || self->connected_) {
            return;
        }
        self->timed_out_ = true;
        self->resolver_.cancel();
        std::error_code ignore;
        self->lowest().close(ignore);
    });

    resolver_.async_resolve(
        host, std::to_string(port),
        [self](std::error_code ec, asio::ip::tcp::resolver::results_type results) {
            if (self->closed_) {
                return;
            }
            if (ec) {
                self->complete(self->timed_out_ ? ConnectError::Timeout : ConnectError::Dns,
                               ec.message());
                return;
            }
            asio::async_connect(
                self->lowest(), results,
                [self](std::error_code cec, const asio::ip::tcp::endpoint& ep) {
                    if (self->closed_) {
                        return;
                    }
                    if (cec) {
                        self->complete(
                            self->timed_out_ ? ConnectError::Timeout : ConnectError::Refused,
                            cec.message());
                        return;
                    }
                    self->remote_address_ = ep.address().to_string();
                    self->remote_port_ = ep.port();
                    std::error_code ignore;
                    self->lowest().set_option(asio::ip::tcp::no_delay(true), ignore);
                    if (self->tls_) {
                        self->startTls(self);
                    } else {
                        self->connected_ = true;
                        self->complete(ConnectError::None, {});
                    }
                });
        });
}

void HostSocket::startTls(std::shared_ptr<HostSocket> self) {
    SSL* ssl = tls_->native_handle();
    if (tls_opts_.sni && !tls_opts_.sni->empty()) {
        SSL_set_tlsext_host_name(ssl, tls_opts_.sni->c_str());
    }
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (tls_opts_.ignore_time) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
    } else if (tls_opts_.check_time) {
        X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(*tls_opts_.check_time));
    }
    if (tls_opts_.verify_server && tls_opts_.check_host) {
        std::error_code ec;
        asio::ip::make_address(*tls_opts_.check_host, ec);
        if (!ec) {
            X509_VERIFY_PARAM_set1_ip_asc(param, tls_opts_.check_host->c_str());
        } else {
            SSL_set1_host(ssl, tls_opts_.check_host->c_str());
        }
    }
    tls_->async_handshake(asio::ssl::stream_base::client, [self](std::error_code ec) {
        if (self->closed_) {
            return;
        }
        if (ec) {
            long verify = SSL_get_verify_result(self->tls_->native_handle());
            ERR_clear_error();
            if (self->timed_out_) {
                self->complete(ConnectError::Timeout, "TLS handshake timed out");
            } else if (self->tls_opts_.verify_server && verify != X509_V_OK) {
                self->complete(ConnectError::TlsVerify, X509_verify_cert_error_string(verify));
            } else {
                self->complete(ConnectError::TlsHandshake, ec.message());
            }
            return;
        }
        self->connected_ = true;
        self->complete(ConnectError::None, {});
    });
}

void HostSocket::complete(ConnectError e, const std::string& detail) {
    timer_.cancel();
    if (e != ConnectError::None) {
        closed_ = true;  // a failed connection is finished: late handlers see it closed
        std::error_code ignore;
        lowest().close(ignore);
    }
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (e == ConnectError::None) {
        readLoop();
        writeLoop();
    }
    if (done) {
        done(e, detail);
    }
}

void HostSocket::readLoop() {
    if (reading_ || closed_ || peer_closed_ || !connected_ || rx_.size() >= kMaxBuffered) {
        return;
    }
    reading_ = true;
    auto self = shared_from_this();
    auto handler = [self](std::error_code ec, size_t n) {
        self->reading_ = false;
        if (self->closed_) {
            return;
        }
        if (ec) {
            self->peerGone();
            return;
        }
        self->rx_.append(self->rbuf_.data(), n);
        self->bytes_received_ += n;
        self->readLoop();
        if (self->on_data_) {
            auto cb = self->on_data_;
            cb();
        }
    };
    if (tls_) {
        tls_->async_read_some(asio::buffer(rbuf_), handler);
    } else {
        plain_.async_read_some(asio::buffer(rbuf_), handler);
    }
}

bool HostSocket::send(std::string bytes) {
    if (!connected_ || closed_) {
        return false;
    }
    tx_.push_back(std::move(bytes));
    writeLoop();
    return true;
}

void HostSocket::writeLoop() {
    if (writing_ || tx_.empty() || closed_ || !connected_) {
        return;
    }
    writing_ = true;
    auto self = shared_from_this();
    auto handler = [self](std::error_code ec, size_t n) {
        self->writing_ = false;
        // A drop (dropAsRemote) may come between the write's end and this handler: the queue
        // was emptied then.
        if (self->closed_ || self->peer_closed_) {
            return;
        }
        if (ec) {
            self->peerGone();
            return;
        }
        self->bytes_sent_ += n;
        self->tx_.pop_front();
        if (self->tx_.empty() && self->close_when_sent_) {
            self->close();
            return;
        }
        self->writeLoop();
    };
    if (tls_) {
        asio::async_write(*tls_, asio::buffer(tx_.front()), handler);
    } else {
        asio::async_write(plain_, asio::buffer(tx_.front()), handler);
    }
}

std::string HostSocket::take(size_t max) {
    size_t n = std::min(max, rx_.size());
    std::string out = rx_.substr(0, n);
    rx_.erase(0, n);
    readLoop();
    return out;
}

void HostSocket::peerGone() {
    if (peer_closed_) {
        return;
    }
    peer_closed_ = true;
    connected_ = false;
    tx_.clear();
    std::error_code ignore;
    lowest().close(ignore);
    if (on_closed_) {
        auto cb = on_closed_;
        cb();
    }
}

void HostSocket::dropAsRemote() {
    if (closed_) {
        return;
    }
    if (connected_) {
        peerGone();
    } else if (connect_done_) {
        resolver_.cancel();
        complete(ConnectError::Refused, "link dropped");
    }
}

void HostSocket::closeWhenSent() {
    if (closed_) {
        return;
    }
    on_data_ = nullptr;
    on_closed_ = nullptr;
    connect_done_ = nullptr;
    if (!writing_ || !connected_) {
        close();
        return;
    }
    close_when_sent_ = true;
}

void HostSocket::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    connected_ = false;
    on_data_ = nullptr;
    on_closed_ = nullptr;
    connect_done_ = nullptr;
    timer_.cancel();
    resolver_.cancel();
    std::error_code ignore;
    lowest().close(ignore);
}

void closeAndReset(HostSocketPtr& sock) {
    if (sock) {
        sock->close();
        sock.reset();
    }
}

}  // namespace uplinkd::emulator
