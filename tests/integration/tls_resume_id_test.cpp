// SPDX-License-Identifier: Apache-2.0
// A frugal TLS context (a modem uplink) resuming by a TLS 1.2 session ticket against a real
// Mosquitto (issue 14 item 3): the resumed ClientHello offers a one-byte session ID beside the
// ticket instead of OpenSSL's 32-byte hash, the broker still resumes (and echoes that byte), and
// every reconnect after a dropped connection resumes the same way.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <optional>

#include "test_env.hpp"
#include "tls/tls_session.hpp"
#include "uplink/tcp_stream.hpp"

namespace uplinkd::testing {
namespace {

/// Keeps every byte written through it (the ClientHello is the first record).
class RecordingStream final : public ByteStream {
  public:
    RecordingStream(ByteStreamPtr inner, std::shared_ptr<std::string> out)
        : inner_(std::move(inner)), out_(std::move(out)) {}
    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) override {
        inner_->asyncRead(buf, std::move(handler));
    }
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) override {
        out_->append(reinterpret_cast<const char*>(buf.data()), buf.size());
        inner_->asyncWrite(buf, std::move(handler));
    }
    void close() override { inner_->close(); }
    std::string describe() const override { return inner_->describe(); }

  private:
    ByteStreamPtr inner_;
    std::shared_ptr<std::string> out_;
};

struct Connection {
    bool resumed = false;
    size_t hello_session_id = 0;  ///< the length of the ClientHello's session ID
    size_t hello_suites = 0;      ///< how many cipher suites it offered (the SCSV included)
};

/// One TLS connection to the broker up to an MQTT CONNACK, then dropped without close_notify
/// (as a dropped link ends).
std::optional<Connection> connectOnce(const std::shared_ptr<TlsContext>& ctx, uint16_t port) {
    asio::io_context loop;
    const auto work = asio::make_work_guard(loop);  // the loop never runs out of work
    asio::ip::tcp::socket sock(loop);
    asio::error_code ec;
    sock.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) {
        ADD_FAILURE() << "connect: " << ec.message();
        return std::nullopt;
    }
    auto written = std::make_shared<std::string>();
    TlsSession tls(ctx, std::make_unique<RecordingStream>(
                            std::make_unique<TcpStream>(std::move(sock), "broker"), written));
    const auto run = [&](const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            loop.run_one_for(20ms);
        }
        return done();
    };
    std::optional<Status> hs;
    tls.handshake([&](Status s) { hs = std::move(s); });
    if (!run([&] { return hs.has_value(); }) || !*hs) {
        ADD_FAILURE() << "handshake: " << (hs ? hs->error().message : "timeout");
        return std::nullopt;
    }
    // MQTT 3.1.1 CONNECT, client id "t", clean session, keep-alive 60 s; CONNACK is 4 bytes.
    const std::string connect{0x10, 0x0d, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                              0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 't'};
    std::optional<Status> wrote;
    tls.asyncWrite(std::span(reinterpret_cast<const uint8_t*>(connect.data()), connect.size()),
                   [&](Status s) { wrote = std::move(s); });
    std::array<uint8_t, 4> connack{};
    size_t got = 0;
    bool failed = false;
    std::function<void()> readMore = [&] {
        tls.asyncRead(std::span(connack.data() + got, connack.size() - got), [&](Result<size_t> n) {
            if (!n) {
                failed = true;
                return;
            }
            got += *n;
            if (got < connack.size()) {
                readMore();
            }
        });
    };
    readMore();
    if (!run([&] { return got == connack.size() || failed; }) || failed || connack[0] != 0x20) {
        ADD_FAILURE() << "no CONNACK: wrote "
                      << (wrote ? (*wrote ? "ok" : wrote->error().message) : "-") << ", got " << got
                      << (failed ? ", read failed" : "");
        return std::nullopt;
    }
    // Record header (5), handshake header (4), client_version (2), random (32), then the
    // session ID's length byte.
    if (written->size() < 44 || (*written)[0] != 22 || (*written)[5] != 1) {
        ADD_FAILURE() << "the first record written is not a ClientHello";
        return std::nullopt;
    }
    Connection c;
    c.resumed = tls.resumed();
    c.hello_session_id = static_cast<uint8_t>((*written)[43]);
    const size_t suites_at = 44 + c.hello_session_id;  // then the suites' length, 2 bytes
    if (written->size() < suites_at + 2) {
        ADD_FAILURE() << "the ClientHello is cut short";
        return std::nullopt;
    }
    c.hello_suites = ((static_cast<uint8_t>((*written)[suites_at]) << 8) |
                      static_cast<uint8_t>((*written)[suites_at + 1])) /
                     2;
    return c;
}

/// TLS resumption over a frugal (modem) context, against a real Mosquitto.
class TlsResumeId : public PkiTest {};

TEST_F(TlsResumeId, FrugalTicketResumptionOffersAOneByteSessionIdAndResumes) {
    Mosquitto broker(dir, pki);
    TlsOptions o;
    o.server_name = "localhost";
    o.ca_file = pki.ca;
    o.frugal = true;
    auto ctx = TlsContext::create(o);
    ASSERT_TRUE(ctx) << ctx.error().message;

    const auto first = connectOnce(*ctx, broker.port());
    ASSERT_TRUE(first) << broker.log();
    EXPECT_FALSE(first->resumed);
    EXPECT_EQ(first->hello_session_id, 0u);
    EXPECT_EQ(first->hello_suites, 7u);  // the six default suites and the SCSV
    for (int i = 1; i <= 2; ++i) {
        SCOPED_TRACE("reconnect " + std::to_string(i));
        const auto again = connectOnce(*ctx, broker.port());
        ASSERT_TRUE(again);
        EXPECT_TRUE(again->resumed);
        EXPECT_EQ(again->hello_session_id, 1u);  // OpenSSL alone: 32
        EXPECT_EQ(again->hello_suites, 2u);      // the session's suite and the SCSV
    }

    // Another broker (its ticket keys differ, as after a restart) refuses the ticket: the
    // connection still succeeds, by a full handshake with the suite offered beside the ticket,
    // and resumes from then on.
    Mosquitto other(dir, pki);
    const auto refused = connectOnce(*ctx, other.port());
    ASSERT_TRUE(refused) << other.log();
    EXPECT_FALSE(refused->resumed);
    const auto after = connectOnce(*ctx, other.port());
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->resumed);

    // A context that is not frugal (a network uplink) keeps OpenSSL's session ID.
    o.frugal = false;
    auto plain = TlsContext::create(o);
    ASSERT_TRUE(plain) << plain.error().message;
    ASSERT_TRUE(connectOnce(*plain, broker.port()));
    const auto resumed = connectOnce(*plain, broker.port());
    ASSERT_TRUE(resumed);
    // TLS 1.3 (what a network uplink negotiates) sends a 32-byte legacy session ID.
    EXPECT_EQ(resumed->hello_session_id, 32u);
}

}  // namespace
}  // namespace uplinkd::testing
