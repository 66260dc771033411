// SPDX-License-Identifier: Apache-2.0
// HostSocket: a real TCP or TLS client connection on the host, opened for an emulated socket.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace uplinkd::emulator {

/// How the emulated module does TLS on this connection.
struct TlsOptions {
    bool enabled = false;
    std::optional<std::string> sni;         ///< server name sent in the ClientHello, if any
    bool verify_server = false;             ///< verify the chain against `ca_pems`
    std::vector<std::string> ca_pems;       ///< trusted roots (PEM, one or more certs each)
    std::optional<std::string> check_host;  ///< host name (or IP literal) the cert must match
    std::string client_cert_pem;            ///< optional client certificate (chain)
    std::string client_key_pem;             ///< its private key
    bool ignore_time = false;               ///< do not check validity dates
    std::optional<int64_t> check_time;      ///< check dates at this time (the module's clock)
    int min_version = 0;                    ///< TLS1_x_VERSION or 0 (library default)
    int max_version = 0;
};

/// True when `host` is an IPv4 or IPv6 address literal rather than a name (modules send no SNI
/// for those).
bool isIpLiteral(const std::string& host);

/// Why a connect failed; the models map these to their own codes.
enum class ConnectError { None, Dns, Refused, Timeout, TlsInit, TlsVerify, TlsHandshake };

const char* toString(ConnectError e);

/// One real outgoing TCP/TLS connection of an emulated socket; loop-bound (single thread).
/// Resolve, connect, optional TLS handshake, then a read loop that buffers at most
/// `kMaxBuffered` bytes (reading pauses until the module's host takes data) and a write queue.
/// Callbacks stop after close().
class HostSocket : public std::enable_shared_from_this<HostSocket> {
  public:
    static constexpr size_t kMaxBuffered = 256 * 1024;

    using ConnectHandler = std::function<void(ConnectError, const std::string& detail)>;
    using Notify = std::function<void()>;

    explicit HostSocket(asio::io_context& io);
    ~HostSocket();
    HostSocket(const HostSocket&) = delete;
    HostSocket& operator=(const HostSocket&) = delete;

    /// Starts connecting; `done` runs once, on the loop.
    void connect(const std::string& host, uint16_t port, TlsOptions tls,
                 std::chrono::milliseconds timeout, ConnectHandler done);
    /// Called when new bytes were buffered.
    void onData(Notify n) { on_data_ = std::move(n); }
    /// Called once when the peer closed or the connection failed after connect.
    void onClosed(Notify n) { on_closed_ = std::move(n); }

    /// Queues bytes for the peer; false when not connected.
    bool send(std::string bytes);
    /// Bytes buffered and not yet taken.
    size_t available() const { return rx_.size(); }
    /// Takes up to `max` buffered bytes.
    std::string take(size_t max);
    bool connected() const { return connected_; }
    bool peerClosed() const { return peer_closed_; }
    /// Closes now; no callbacks run afterwards.
    void close();
    /// Closes once the bytes queued so far are written (a protocol's goodbye), or now when none
    /// are; no callbacks run afterwards.
    void closeWhenSent();
    /// Closes as if the peer had gone: onClosed runs (fault injection).
    void dropAsRemote();

    std::string remoteAddress() const { return remote_address_; }
    uint16_t remotePort() const { return remote_port_; }
    uint64_t bytesSent() const { return bytes_sent_; }
    uint64_t bytesReceived() const { return bytes_received_; }

  private:
    asio::ip::tcp::socket& lowest();
    void startTls(std::shared_ptr<HostSocket> self);
    void complete(ConnectError e, const std::string& detail);
    void readLoop();
    void writeLoop();
    void peerGone();

    asio::io_context& io_;
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer timer_;
    std::unique_ptr<asio::ssl::context> ssl_ctx_;
    std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls_;
    asio::ip::tcp::socket plain_;
    TlsOptions tls_opts_;
    std::string host_;
    ConnectHandler connect_done_;
    Notify on_data_;
    Notify on_closed_;
    bool connected_ = false;
    bool closed_ = false;
    bool timed_out_ = false;
    bool peer_closed_ = false;
    bool reading_ = false;
    bool writing_ = false;
    bool close_when_sent_ = false;
    std::array<char, 16384> rbuf_{};
    std::string rx_;
    std::deque<std::string> tx_;
    std::string remote_address_;
    uint16_t remote_port_ = 0;
    uint64_t bytes_sent_ = 0;
    uint64_t bytes_received_ = 0;
};

using HostSocketPtr = std::shared_ptr<HostSocket>;

/// Closes `sock`, if any, and lets it go: no callbacks of it run afterwards.
void closeAndReset(HostSocketPtr& sock);

/// Closes the connection (`entry.sock`) of every entry of a model's socket table, as when the
/// model goes or loses power.
template <class Entries>
void closeAll(Entries& entries) {
    for (auto& entry : entries) {
        closeAndReset(entry.sock);
    }
}

}  // namespace uplinkd::emulator
