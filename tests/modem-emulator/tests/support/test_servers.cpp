// SPDX-License-Identifier: Apache-2.0
#include "support/test_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

namespace emutest {

EchoServer::EchoServer(bool start_now) {
    // A peer that has gone must show up as a write error, not kill the test process.
    std::signal(SIGPIPE, SIG_IGN);
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
        return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(listen_fd_);
        listen_fd_ = -1;
        return;
    }
    port_ = ntohs(addr.sin_port);
    if (start_now) {
        start();
    }
}

void EchoServer::start() {
    if (listen_fd_ >= 0) {
        acceptor_ = std::thread([this] { acceptLoop(); });
    }
}

EchoServer::~EchoServer() {
    stopAll();
}

size_t EchoServer::accepted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
}

void EchoServer::acceptLoop() {
    while (true) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            std::lock_guard<std::mutex> lock(mu_);
            if (stopped_) {
                return;
            }
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        timeval limit{30, 0};  // no worker can block a test for ever
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) {
            close(fd);
            return;
        }
        ++accepted_;
        conns_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

void EchoServer::serve(int fd) {
    char buf[16384];
    while (true) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = send(fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
            if (w <= 0) {
                return;
            }
            off += w;
        }
    }
    shutdown(fd, SHUT_RDWR);
}

GreetingServer::GreetingServer(std::string greeting)
    : EchoServer(false), greeting_(std::move(greeting)) {
    start();
}

GreetingServer::~GreetingServer() {
    stopAll();
}

void GreetingServer::serve(int fd) {
    size_t off = 0;
    while (off < greeting_.size()) {
        ssize_t w = send(fd, greeting_.data() + off, greeting_.size() - off, MSG_NOSIGNAL);
        if (w <= 0) {
            return;
        }
        off += static_cast<size_t>(w);
    }
    EchoServer::serve(fd);
}

void EchoServer::stopAll() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) {
            return;
        }
        stopped_ = true;
        if (listen_fd_ >= 0) {
            shutdown(listen_fd_, SHUT_RDWR);
        }
        for (int fd : conns_) {
            shutdown(fd, SHUT_RDWR);
        }
    }
    if (acceptor_.joinable()) {
        acceptor_.join();
    }
    for (auto& t : workers_) {
        t.join();
    }
    for (int fd : conns_) {
        close(fd);
    }
    if (listen_fd_ >= 0) {
        close(listen_fd_);
    }
}

TlsEchoServer::TlsEchoServer(const Credential& server) : EchoServer(false) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        return;
    }
    BIO* cb = BIO_new_mem_buf(server.cert_pem.data(), static_cast<int>(server.cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(server.key_pem.data(), static_cast<int>(server.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    bool ok = cert != nullptr && key != nullptr && SSL_CTX_use_certificate(ctx, cert) == 1 &&
              SSL_CTX_use_PrivateKey(ctx, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) {
        SSL_CTX_free(ctx);
        return;
    }
    ctx_ = ctx;
    start();
}

TlsEchoServer::~TlsEchoServer() {
    stopAll();
    SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

void TlsEchoServer::serve(int fd) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
    SSL_set_fd(ssl, fd);
    TlsHandshake hs;
    hs.ok = SSL_accept(ssl) == 1;
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    hs.sni = sni != nullptr ? sni : "";
    {
        std::lock_guard<std::mutex> lock(hs_mu_);
        handshakes_.push_back(hs);
    }
    hs_cv_.notify_all();
    if (hs.ok) {
        char buf[16384];
        while (true) {
            int n = SSL_read(ssl, buf, sizeof(buf));
            if (n <= 0 || SSL_write(ssl, buf, n) != n) {
                break;
            }
        }
    }
    SSL_free(ssl);
    ERR_clear_error();
    shutdown(fd, SHUT_RDWR);
}

std::optional<std::vector<TlsHandshake>> TlsEchoServer::waitHandshakes(
    size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(hs_mu_);
    if (!hs_cv_.wait_for(lock, timeout, [&] { return handshakes_.size() >= n; })) {
        return std::nullopt;
    }
    return handshakes_;
}

}  // namespace emutest
