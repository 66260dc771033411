// SPDX-License-Identifier: Apache-2.0
// Test servers: a TCP echo server and a TLS echo server that records the SNI it was sent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/test_pki.hpp"

namespace emutest {

/// Listens on 127.0.0.1 on an ephemeral port and echoes every byte back, one thread per
/// connection. Thread-safe accessors; the test thread owns the object.
class EchoServer {
  public:
    EchoServer() : EchoServer(true) {}
    virtual ~EchoServer();
    EchoServer(const EchoServer&) = delete;
    EchoServer& operator=(const EchoServer&) = delete;

    /// 0 when it could not listen.
    uint16_t port() const { return port_; }
    /// Number of connections accepted so far.
    size_t accepted() const;

  protected:
    /// Listens; starts accepting now or when a derived class calls start().
    explicit EchoServer(bool start_now);
    void start();
    virtual void serve(int fd);
    void stopAll();

  private:
    void acceptLoop();

    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::thread acceptor_;
    mutable std::mutex mu_;
    std::vector<int> conns_;
    std::vector<std::thread> workers_;
    size_t accepted_ = 0;
    bool stopped_ = false;
};

/// Sends `greeting` to each client as soon as it connects, then echoes like EchoServer.
class GreetingServer : public EchoServer {
  public:
    explicit GreetingServer(std::string greeting);
    ~GreetingServer() override;

  protected:
    void serve(int fd) override;

  private:
    std::string greeting_;
};

/// What one TLS connection looked like from the server side.
struct TlsHandshake {
    bool ok = false;
    std::string sni;  ///< "" when the client sent none
};

/// The same echo service over TLS (OpenSSL, blocking) with the given server credential;
/// records each handshake (thread-safe accessors).
class TlsEchoServer : public EchoServer {
  public:
    explicit TlsEchoServer(const Credential& server);
    ~TlsEchoServer() override;

    bool ready() const { return ctx_ != nullptr && port() != 0; }
    /// Waits until `n` handshakes finished (either way); returns them all.
    std::optional<std::vector<TlsHandshake>> waitHandshakes(size_t n,
                                                            std::chrono::milliseconds timeout);

  protected:
    void serve(int fd) override;

  private:
    void* ctx_ = nullptr;  // SSL_CTX*
    std::mutex hs_mu_;
    std::condition_variable hs_cv_;
    std::vector<TlsHandshake> handshakes_;
};

/// What the TLS tests start from: a test PKI, a second unrelated one (a root the server does
/// not chain to) and a TLS echo server with the first one's server certificate. Test thread.
struct TlsEchoSetup {
    TestPki pki = TestPki::make();
    TestPki other = TestPki::make("some other root");
    TlsEchoServer server{pki.server};

    /// Both PKIs were made and the server listens.
    bool ready() const { return pki.ok && other.ok && server.ready(); }
};

}  // namespace emutest
