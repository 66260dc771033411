// SPDX-License-Identifier: Apache-2.0
#include "doctor/probe.hpp"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <utility>

#include "tls/cert_check.hpp"

namespace uplinkd::doctor {

namespace {

/// Calls `done` once: with the first outcome, or with the timeout's.
template <typename T>
struct Once {
    explicit Once(asio::io_context& loop, std::function<void(T)> d)
        : timer(loop), done(std::move(d)) {}
    asio::steady_timer timer;
    std::function<void(T)> done;

    bool finished() const { return !done; }
    void finish(T value) {
        if (!done) {
            return;
        }
        timer.cancel();
        auto d = std::move(done);
        done = nullptr;
        d(std::move(value));
    }
};

/// A stream that remembers what the peer sent first, under a TLS session that does not say.
class RecordingStream final : public ByteStream {
  public:
    RecordingStream(ByteStreamPtr inner, std::shared_ptr<PortAnswer> seen)
        : inner_(std::move(inner)), seen_(std::move(seen)) {}
    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) override {
        inner_->asyncRead(buf, [seen = seen_, buf, h = std::move(handler)](Result<size_t> r) {
            if (r && *r > 0) {
                if (seen->bytes == 0) {
                    seen->first_byte = buf[0];
                }
                seen->bytes += *r;
            } else if (!r && r.error().code != "closed") {
                seen->closed = true;
            }
            h(std::move(r));
        });
    }
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) override {
        inner_->asyncWrite(buf, std::move(handler));
    }
    void close() override { inner_->close(); }
    std::string describe() const override { return inner_->describe(); }

  private:
    ByteStreamPtr inner_;
    std::shared_ptr<PortAnswer> seen_;
};

std::optional<std::time_t> asTime(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return std::nullopt;
    }
    return timegm(&tm);
}

/// Reads what the handshake left in the session: version, cipher, ALPN, the chain received.
void collect(const TlsSession& s, TlsProbe& p) {
    const SSL* ssl = s.native();
    p.facts = s.facts();
    p.version = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
        p.cipher = SSL_CIPHER_get_name(c);
    }
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn != nullptr && alpn_len > 0) {
        p.alpn_selected.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    }
    p.chain.clear();
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
        for (int i = 0; i < sk_X509_num(chain); ++i) {
            X509* c = sk_X509_value(chain, i);
            p.chain.push_back(x509Name(X509_get_subject_name(c)) + " (issued by " +
                              x509Name(X509_get_issuer_name(c)) + ")");
            if (i == 0) {
                auto from = asTime(X509_get0_notBefore(c));
                auto until = asTime(X509_get0_notAfter(c));
                if (from && until) {
                    p.leaf_validity = std::make_pair(*from, *until);
                }
            }
        }
    }
}

}  // namespace

std::string setting(const RouteUnderTest& r, const std::string& section, const std::string& key) {
    const std::string name = r.route ? r.route->name : std::string("?");
    return "[routes." + name + (section.empty() ? "" : "." + section) + "] " + key;
}

std::string hostSetting(const RouteUnderTest& r) {
    const std::string kind = r.cloud ? r.cloud->kind() : std::string();
    const char* key = kind == "aws-iot"         ? "endpoint"
                      : kind == "azure-iot-hub" ? "hub (or gateway_host)"
                      : kind == "hivemq-cloud"  ? "cluster"
                                                : "host";
    return setting(r, "cloud", key);
}

bool isIpAddress(const std::string& host) {
    unsigned char addr[16];
    return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
           inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

namespace {

struct DialState {
    asio::io_context& loop;
    std::vector<Uplink*> uplinks;
    std::string host;
    uint16_t port;
    std::chrono::milliseconds timeout;
    std::function<void(Result<Dialed>)> done;
    std::string failures;
};

/// Tries uplink `i`, then the next ones.
void dialStep(const std::shared_ptr<DialState>& st, size_t i) {
    if (i >= st->uplinks.size()) {
        auto d = std::move(st->done);
        d(fail("unreachable", st->failures.empty() ? "the route has no uplink" : st->failures));
        return;
    }
    Uplink* up = st->uplinks[i];
    auto once = std::make_shared<Once<Result<ByteStreamPtr>>>(
        st->loop, [st, i, up](Result<ByteStreamPtr> r) {
            if (r) {
                auto d = std::move(st->done);
                d(Dialed{std::move(r.value()), up->describe()});
                return;
            }
            st->failures += (st->failures.empty() ? "" : "; ") + std::string("uplink ") +
                            up->name() + ": " + r.error().message;
            asio::post(st->loop, [st, i] { dialStep(st, i + 1); });
        });
    once->timer.expires_after(st->timeout);
    once->timer.async_wait([once, st](const asio::error_code& ec) {
        if (!ec) {
            once->finish(fail("timeout", "no connection to " + st->host + ":" +
                                             std::to_string(st->port) + " within " +
                                             std::to_string(st->timeout.count() / 1000) +
                                             " s (filtered by a firewall, or nothing answers)"));
        }
    });
    up->connect(st->host, st->port,
                [once](Result<ByteStreamPtr> r) { once->finish(std::move(r)); });
}

}  // namespace

void dial(asio::io_context& loop, std::vector<Uplink*> uplinks, const std::string& host,
          uint16_t port, std::chrono::milliseconds timeout,
          std::function<void(Result<Dialed>)> done) {
    dialStep(std::make_shared<DialState>(
                 DialState{loop, std::move(uplinks), host, port, timeout, std::move(done), {}}),
             0);
}

void probePlainMqtt(asio::io_context& loop, ByteStreamPtr stream, const std::string& client_id,
                    std::function<void(PortAnswer)> done) {
    struct State {
        ByteStreamPtr stream;
        std::vector<uint8_t> out;
        std::array<uint8_t, 4> in{};
        Once<PortAnswer> once;
    };
    auto st = std::make_shared<State>(State{std::move(stream), {}, {}, Once<PortAnswer>(loop, {})});
    st->once.done = [st, done = std::move(done)](PortAnswer a) {
        // The stream goes after this call, from the loop.
        done(a);
        asio::post(st->once.timer.get_executor(), [st] { st->stream.reset(); });
    };
    // MQTT 3.1.1 CONNECT: protocol "MQTT" level 4, clean session, keep alive 60 s, the client id.
    const std::string id = client_id.substr(0, 23);
    std::vector<uint8_t> body{0x00, 0x04, 'M',  'Q',  'T',  'T',
                              0x04, 0x02, 0x00, 0x3c, 0x00, static_cast<uint8_t>(id.size())};
    body.insert(body.end(), id.begin(), id.end());
    st->out = {0x10, static_cast<uint8_t>(body.size())};
    st->out.insert(st->out.end(), body.begin(), body.end());

    st->once.timer.expires_after(kStepTimeout);
    st->once.timer.async_wait([st](const asio::error_code& ec) {
        if (!ec) {
            PortAnswer a;
            a.timed_out = true;
            st->once.finish(a);
        }
    });
    st->stream->asyncWrite(st->out, [st](Status s) {
        if (!s) {
            PortAnswer a;
            a.closed = true;
            st->once.finish(a);
            return;
        }
        if (st->once.finished()) {
            return;
        }
        st->stream->asyncRead(st->in, [st](Result<size_t> r) {
            PortAnswer a;
            if (r && *r > 0) {
                a.bytes = *r;
                a.first_byte = st->in[0];
            } else {
                a.closed = true;
            }
            st->once.finish(a);
        });
    });
}

void probeTls(asio::io_context& loop, const TlsOptions& options, ByteStreamPtr stream,
              std::function<void(Result<TlsProbe>)> done) {
    auto ctx = TlsContext::create(options);
    if (!ctx) {
        done(ctx.failure());
        return;
    }
    struct State {
        std::shared_ptr<PortAnswer> seen;
        std::shared_ptr<TlsSession> session;
        std::array<uint8_t, 64> in{};
        TlsProbe probe;
        Once<Result<TlsProbe>> once;
    };
    auto st = std::make_shared<State>(
        State{std::make_shared<PortAnswer>(), {}, {}, {}, Once<Result<TlsProbe>>(loop, {})});
    st->session = std::make_shared<TlsSession>(
        *ctx, std::make_unique<RecordingStream>(std::move(stream), st->seen));
    st->once.done = [st, &loop, done = std::move(done)](Result<TlsProbe> r) {
        done(std::move(r));
        // The session may be inside one of its own callbacks: it goes from the loop.
        asio::post(loop, [st] { st->session.reset(); });
    };
    auto finish = [st](Status status) {
        collect(*st->session, st->probe);
        st->probe.status = std::move(status);
        st->probe.answer = *st->seen;
        st->once.finish(std::move(st->probe));
    };
    st->once.timer.expires_after(kStepTimeout);
    st->once.timer.async_wait([st, finish](const asio::error_code& ec) {
        if (!ec) {
            st->seen->timed_out = true;
            finish(fail("timeout", "the broker did not complete the TLS handshake within " +
                                       std::to_string(kStepTimeout.count() / 1000) + " s"));
        }
    });
    st->session->handshake([st, finish](Status s) {
        if (st->once.finished()) {
            return;
        }
        if (!s || !st->session->facts().cert_requested) {
            finish(std::move(s));
            return;
        }
        // TLS 1.3: the server judges the client certificate after our Finished and says no
        // with an alert on the first read; silence for a moment means it took it.
        st->once.timer.cancel();
        st->once.timer.expires_after(kCertVerdictWait);
        st->once.timer.async_wait([finish](const asio::error_code& ec) {
            if (!ec) {
                finish(okStatus());
            }
        });
        st->session->asyncRead(st->in, [st, finish](Result<size_t> r) {
            if (st->once.finished()) {
                return;
            }
            if (!r && st->session->facts().alert_received > 0) {
                st->probe.cert_rejected_after_handshake = true;
                finish(fail("tls_alert", explainAlert(st->session->facts())));
                return;
            }
            finish(okStatus());
        });
    });
}

}  // namespace uplinkd::doctor
