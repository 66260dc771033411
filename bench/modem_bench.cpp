// SPDX-License-Identifier: Apache-2.0
// Benchmark: uplinkd over a modem on a 115,200-baud UART (the modem emulator, real Mosquitto),
// for each modem driver plugin that is built:
//   1. goodput: 1 KB messages at QoS 1 through the whole daemon, in each way the family can be
//      used (tls = "local", tls = "modem", the module's own MQTT client), as a share of the line
//      rate (11,520 bytes/s each way), and the bytes on the line per message;
//   2. the bytes on the line for one reconnect (module socket, TLS, MQTT CONNECT/CONNACK and
//      SUBSCRIBE/SUBACK), with a full TLS handshake and with a resumed one, per driver, as uplinkd
//      did before issue 14 and as it does now over a modem, and where the bytes go for one driver;
//   3. the bytes on the line for one idle hour at the default settings (MQTT keep-alive inside
//      TLS, the supervisor's AT polls), measured on a time-compressed hour.
// Prints tables. Usage: modem_bench [messages [driver|all [only-idle]]] (0 messages: no goodput)
#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/api_client.hpp"
#include "modem/modem_uplink.hpp"
#include "modem_emulator.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"
#include "tls/tls_session.hpp"
#include "tunnel/connect_request.hpp"
#include "uplinkd/log.hpp"

using namespace uplinkd;
using namespace uplinkd::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kBaud = 115200;
constexpr double kLineBytesPerSecond = kBaud / 10.0;  // 8N1: 10 bits per byte
constexpr size_t kPayload = 1024;

struct Driver {
    std::string name;
    std::string model;
    std::string ssid;  ///< Wi-Fi modules: the emulator's default access point
    std::string psk;
    bool sockets = true;  ///< the driver opens module sockets (tls = "local")
    bool module_tls = true;
    bool module_mqtt = false;
};
const Driver kDrivers[] = {
    {"sierra-hl78", "hl78", "", "", true, true, false},
    {"simcom-a76xx", "a76xx", "", "", true, true, true},
    {"quectel-bg9x", "bg9x", "", "", true, true, true},
    {"sierra-bx310x", "bx310x", "uplinkd-ap", "uplinkd-passphrase", false, false, true},
    {"st-spwf04s", "spwf04s", "uplinkd-emu", "emulator-pass", true, true, true},
};

/// How the route uses the module: "local" (TLS by uplinkd), "modem" (TLS by the module) or
/// "mqtt" (the module's own MQTT client, TLS by the module).
const char* const kModes[] = {"local", "modem", "mqtt"};

bool supports(const Driver& d, const std::string& mode) {
    return (mode == "local" && d.sockets) || (mode == "modem" && d.module_tls) ||
           (mode == "mqtt" && d.module_mqtt);
}

bool built(const Driver& d) {
    return std::filesystem::exists(pluginDir() + "/uplinkd-modem-" + d.name + ".so");
}

/// Whether a table measures `d`: the one asked for (`only`; empty: all) and built. A driver
/// that is not built gets a row saying so.
bool measured(const Driver& d, const std::string& only) {
    if (!only.empty() && d.name != only) {
        return false;
    }
    if (!built(d)) {
        std::printf("%-14s (plugin not built)\n", d.name.c_str());
        return false;
    }
    return true;
}

std::string uplinkToml(const Driver& d, const ModemEmulator& emu, const TempDir& dir,
                       const std::string& mode = "local") {
    std::string wifi;
    if (!d.ssid.empty()) {
        writeFile(dir.file("psk"), d.psk, 0600);
        wifi = "ssid = \"" + d.ssid + "\"\npsk_file = \"" + dir.file("psk") + "\"\n";
    } else {
        wifi = "apn = \"internet\"\n";
    }
    return "[uplinks.lte]\ntype = \"modem\"\ndriver = \"" + d.name + "\"\ndevice = \"" +
           emu.device() + "\"\nbaud = " + std::to_string(kBaud) +
           "\nflow_control = false\ntls = \"" + (mode == "modem" ? "modem" : "local") + "\"\n" +
           wifi + "[routes.cloud]\nuplinks = [\"lte\"]\n" +
           (mode == "mqtt" ? "mqtt = \"modem\"\n" : "");
}

// ---------------------------------------------------------------------------------------------
// 1. Goodput through the daemon

struct Goodput {
    double seconds = 0;
    uint64_t up = 0;    ///< bytes from the host to the module
    uint64_t down = 0;  ///< bytes from the module to the host
    bool ok = false;
};

Goodput measureGoodput(const Driver& d, const std::string& mode, int messages) {
    Goodput g;
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, d.model, kBaud);
    uplinkd::testing::Daemon daemon(
        dir, uplinkToml(d, emu, dir, mode) + genericRoute("cloud", broker.port(), pki.ca), {});
    if (!routeOnline(daemon, "cloud", 120s)) {
        std::cerr << "route did not come online: " << daemon.routeStatus("cloud").dump() << "\n";
        return g;
    }
    ApiClient c;
    if (!c.connect(daemon.socket())) {
        return g;
    }
    auto publish = [&](int id) {
        std::string payload = "bench " + std::to_string(id) + " ";
        payload.resize(kPayload, '.');
        return json{{"op", "publish"},        {"id", id}, {"route", "cloud"},
                    {"topic", "bench/modem"}, {"qos", 1}, {"payload", payload}}
                   .dump() +
               "\n";
    };
    // Warm up (a first message), then measure from a quiet line.
    (void)c.sendRaw(publish(0));
    if (!daemon.waitRoute(
            "cloud", [](const json& s) { return s["delivered"] == 1; }, 60s)) {
        std::cerr << "the first message was not delivered: " << daemon.routeStatus("cloud").dump()
                  << "\n";
        return g;
    }
    emu.control("stats reset");
    std::string batch;
    for (int i = 1; i <= messages; ++i) {
        batch += publish(i);
    }
    const auto start = Clock::now();
    (void)c.sendRaw(batch);
    const bool done = daemon.waitRoute(
        "cloud", [&](const json& s) { return s["delivered"] == messages + 1; }, 600s);
    g.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const json st = emu.status();
    g.up = st.value("bytes_in", uint64_t{0});
    g.down = st.value("bytes_out", uint64_t{0});
    g.ok = done;
    return g;
}

// ---------------------------------------------------------------------------------------------
// 2. Bytes for a reconnect, in process: ModemUplink + TlsSession + a hand-made MQTT CONNECT

/// A CA (root, or root and intermediate) with a server certificate for localhost.
Pki rsaChain(const std::string& dir) {
    const std::string script =
        "set -e; mkdir -p " + dir + "; cd " + dir +
        "; openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=bench root CA' "
        "-keyout root.key -out root.crt"
        "; openssl req -newkey rsa:2048 -nodes -subj '/CN=bench intermediate CA' "
        "-keyout int.key -out int.csr"
        "; printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\nkeyUsage=critical,keyCertSign,"
        "cRLSign\\n' > int.ext"
        "; openssl x509 -req -in int.csr -CA root.crt -CAkey root.key -CAcreateserial -days 30 "
        "-extfile int.ext -out int.crt"
        "; openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key "
        "-out server.csr"
        "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' "
        "> server.ext"
        "; openssl x509 -req -in server.csr -CA int.crt -CAkey int.key -CAcreateserial -days 30 "
        "-extfile server.ext -out server.crt"
        "; cat server.crt int.crt > chain.crt; chmod 644 *";
    if (std::system(("(" + script + ") >/dev/null 2>&1").c_str()) != 0) {
        std::cerr << "cannot make the RSA chain (openssl missing?)\n";
    }
    Pki p;
    p.dir = dir;
    p.ca = dir + "/root.crt";
    p.server_cert = dir + "/chain.crt";
    p.server_key = dir + "/server.key";
    return p;
}

/// An MQTT 3.1.1 CONNECT: keep-alive 60 s; a clean session, or a persistent one (what uplinkd
/// asks for over a modem: the broker keeps the subscriptions).
std::string mqttConnect(const std::string& client_id, bool clean) {
    std::string vh{0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, static_cast<char>(clean ? 0x02 : 0x00),
                   0x00, 0x3c};
    std::string packet;
    packet += static_cast<char>(0x10);
    packet += static_cast<char>(vh.size() + 2 + client_id.size());
    packet += vh;
    packet += static_cast<char>(client_id.size() >> 8);
    packet += static_cast<char>(client_id.size() & 0xff);
    packet += client_id;
    return packet;
}

/// The subscription a route makes after CONNACK (a command topic, QoS 1).
const std::string kCommandFilter = "devices/modem-bench/commands/#";

std::string mqttSubscribe() {
    std::string packet;
    packet += static_cast<char>(0x82);
    packet += static_cast<char>(2 + 2 + kCommandFilter.size() + 1);
    packet += std::string{0x00, 0x01};
    packet += static_cast<char>(kCommandFilter.size() >> 8);
    packet += static_cast<char>(kCommandFilter.size() & 0xff);
    packet += kCommandFilter;
    packet += static_cast<char>(0x01);
    return packet;
}

/// Where the bytes of one connection go, from the TLS record headers seen on the socket (they
/// are in clear text) and the step the connection is in. Record sizes include their headers.
struct Breakdown {
    enum Part { ClientHello, Handshake, Ticket, Connect, Subscribe, Other, kParts };
    enum class Phase { Tls, Connect, Subscribe };
    static constexpr const char* kNames[kParts] = {
        "TLS ClientHello",       "TLS ServerHello..Finished (both ways)",
        "TLS NewSessionTicket",  "MQTT CONNECT/CONNACK",
        "MQTT SUBSCRIBE/SUBACK", "TLS alerts, other"};
    std::array<uint64_t, kParts> bytes{};
    Phase phase = Phase::Tls;
    bool tls13 = false;  ///< set after the handshake: its tickets come as application data

    /// Parses one direction of the stream record by record.
    struct Parser {
        std::array<uint8_t, 6> head{};  ///< record header and the first byte of the body
        size_t have = 0;
        size_t rest = 0;      ///< bytes of the current record still to come, after `head`
        bool cipher = false;  ///< a ChangeCipherSpec went this way: handshake is encrypted
    };
    Parser in;
    Parser out;

    void feed(Parser& p, bool received, const uint8_t* data, size_t n) {
        while (n > 0) {
            if (p.rest > 0 && p.have == p.head.size()) {
                const size_t k = std::min(n, p.rest);
                p.rest -= k;
                data += k;
                n -= k;
                if (p.rest == 0) {
                    p.have = 0;
                }
                continue;
            }
            p.head[p.have++] = *data++;
            --n;
            if (p.have == p.head.size()) {
                const size_t length = (size_t{p.head[3]} << 8) | p.head[4];
                bytes[classify(p, received, length)] += 5 + length;
                p.rest = length - 1;
                if (p.rest == 0) {
                    p.have = 0;
                }
            }
        }
    }

    Part classify(Parser& p, bool received, size_t length) const {
        const uint8_t type = p.head[0];
        const uint8_t first = p.head[5];
        if (type == 20) {
            p.cipher = true;
            return Handshake;
        }
        if (type == 21) {
            return Other;
        }
        if (type == 22) {
            if (p.cipher) {
                return Handshake;  // Finished
            }
            return first == 1 ? ClientHello : first == 4 ? Ticket : Handshake;
        }
        if (phase == Phase::Tls) {
            return Handshake;  // TLS 1.3: the encrypted rest of the handshake
        }
        // TLS 1.3 tickets come after the handshake as application data; a CONNACK or SUBACK
        // record is some 30 bytes, a ticket record some 250.
        if (tls13 && received && length > 100) {
            return Ticket;
        }
        return phase == Phase::Connect ? Connect : Subscribe;
    }
};

/// Counts the bytes that pass through a stream (what TLS and MQTT send and receive), and where
/// they go.
class CountingStream final : public ByteStream {
  public:
    struct Counts {
        uint64_t in = 0;
        uint64_t out = 0;
        Breakdown parts;
    };
    CountingStream(ByteStreamPtr inner, std::shared_ptr<Counts> counts)
        : inner_(std::move(inner)), counts_(std::move(counts)) {}
    void asyncRead(std::span<uint8_t> buf, ReadHandler handler) override {
        inner_->asyncRead(buf, [c = counts_, buf, handler = std::move(handler)](Result<size_t> r) {
            if (r) {
                c->in += *r;
                c->parts.feed(c->parts.in, true, buf.data(), *r);
            }
            handler(std::move(r));
        });
    }
    void asyncWrite(std::span<const uint8_t> buf, WriteHandler handler) override {
        // The buffer stays valid until the handler runs.
        inner_->asyncWrite(buf, [c = counts_, buf, handler = std::move(handler)](Status st) {
            if (st) {
                c->out += buf.size();
                c->parts.feed(c->parts.out, false, buf.data(), buf.size());
            }
            handler(std::move(st));
        });
    }
    void close() override { inner_->close(); }
    std::string describe() const override { return inner_->describe(); }

  private:
    ByteStreamPtr inner_;
    std::shared_ptr<Counts> counts_;
};

/// What one reconnect cost: bytes on the serial line, and bytes through the module's socket.
struct Cost {
    uint64_t line = 0;
    uint64_t socket = 0;
    Breakdown parts;
};

/// How the reconnects are made: as uplinkd did before issue 14 (TLS as on a network uplink,
/// clean MQTT session), or as it does over a modem now (frugal TLS: TLS 1.2, resumption by a
/// ticket or session ID, a trimmed ClientHello; a persistent MQTT session, no SUBSCRIBE when the
/// broker still has it).
struct Setup {
    bool frugal = true;
    bool persistent = true;
};

class Reconnects {
  public:
    Reconnects(asio::io_context& loop, ModemUplink& up, uint16_t port)
        : loop_(loop), up_(up), port_(port) {}

    /// One connection up to the CONNACK (and SUBACK, when it subscribes); the bytes it cost, or
    /// nothing on failure. `clean`: a clean MQTT session (a first connection).
    std::optional<Cost> once(const std::shared_ptr<TlsContext>& ctx, bool clean, bool* resumed,
                             bool* subscribed) {
        SerialAtChannel& at = up_.channel();
        const uint64_t before = at.bytesWritten() + at.bytesRead();
        std::optional<Result<ByteStreamPtr>> stream;
        up_.connect("localhost", port_, [&](Result<ByteStreamPtr> s) { stream = std::move(s); });
        if (!run([&] { return stream.has_value(); }) || !*stream) {
            std::cerr << "connect: " << (stream ? stream->error().message : "timeout") << "\n";
            return std::nullopt;
        }
        auto counts = std::make_shared<CountingStream::Counts>();
        auto tls = std::make_unique<TlsSession>(
            ctx, std::make_unique<CountingStream>(std::move(stream->value()), counts));
        std::optional<Status> hs;
        tls->handshake([&](Status s) { hs = std::move(s); });
        if (!run([&] { return hs.has_value(); }) || !*hs) {
            std::cerr << "handshake: " << (hs ? hs->error().message : "timeout") << "\n";
            return std::nullopt;
        }
        counts->parts.tls13 = tls->version() == "TLSv1.3";
        counts->parts.phase = Breakdown::Phase::Connect;
        auto exchange = [&](const std::string& packet,
                            size_t answer) -> std::optional<std::string> {
            std::optional<Status> wrote;
            tls->asyncWrite(
                std::span(reinterpret_cast<const uint8_t*>(packet.data()), packet.size()),
                [&](Status s) { wrote = std::move(s); });
            std::array<uint8_t, 64> buf{};
            size_t got = 0;
            bool failed = false;
            std::function<void()> readMore = [&] {
                tls->asyncRead(std::span(buf.data() + got, answer - got), [&](Result<size_t> n) {
                    if (!n) {
                        failed = true;
                        return;
                    }
                    got += *n;
                    if (got < answer) {
                        readMore();
                    }
                });
            };
            readMore();
            if (!run([&] { return got >= answer || failed; }) || failed) {
                return std::nullopt;
            }
            return std::string(buf.begin(), buf.begin() + static_cast<long>(got));
        };
        const auto connack = exchange(mqttConnect("modem-bench", clean), 4);
        if (!connack || (*connack)[0] != 0x20 || (*connack)[3] != 0) {
            std::cerr << "no CONNACK\n";
            return std::nullopt;
        }
        const bool session_present = ((*connack)[2] & 1) != 0;
        *subscribed = !session_present;
        if (!session_present) {
            counts->parts.phase = Breakdown::Phase::Subscribe;
            const auto suback = exchange(mqttSubscribe(), 5);
            if (!suback || static_cast<uint8_t>((*suback)[0]) != 0x90) {
                std::cerr << "no SUBACK\n";
                return std::nullopt;
            }
        }
        Cost cost{at.bytesWritten() + at.bytesRead() - before, counts->in + counts->out,
                  counts->parts};
        *resumed = tls->resumed();
        tls->close();
        tls.reset();
        // Let the module close its socket before the next measurement.
        run([&] { return !at.busy(); });
        return cost;
    }

  private:
    bool run(const std::function<bool()>& done) {
        const auto deadline = Clock::now() + std::chrono::seconds(120);
        while (!done() && Clock::now() < deadline) {
            loop_.run_one_for(std::chrono::milliseconds(20));
        }
        return done();
    }
    asio::io_context& loop_;
    ModemUplink& up_;
    uint16_t port_;
};

/// One kind of reconnect (full or resumed) over the rounds: the means, and the last one.
struct MeanCost {
    double line = 0;    ///< bytes on the line
    double socket = 0;  ///< of those, through the module's socket
    Cost last;

    void add(const Cost& c, int rounds) {
        line += static_cast<double>(c.line) / rounds;
        socket += static_cast<double>(c.socket) / rounds;
        last = c;
    }
};

struct ReconnectCost {
    MeanCost full;
    MeanCost resumed;
    bool resumed_really = true;
    bool resubscribed = false;  ///< a resumed reconnect still subscribed
    bool ok = false;
};

ReconnectCost measureReconnect(const Driver& d, const Pki& pki, const TempDir& dir, Setup setup) {
    ReconnectCost out;
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, d.model, kBaud);
    PluginRegistry plugins;
    plugins.loadDirectory(pluginDir());
    const ModemPluginApi* api = plugins.modem(d.name);
    if (api == nullptr) {
        return out;
    }
    asio::io_context loop;
    UplinkConfig c;
    c.name = "lte";
    c.type = "modem";
    c.driver = d.name;
    c.device = emu.device();
    c.baud = kBaud;
    c.flow_control = false;
    c.apn = d.ssid.empty() ? "internet" : "";
    c.ssid = d.ssid;
    c.psk = d.psk;
    ModemUplink up(loop, c, *api);
    up.start();
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!up.ready() && Clock::now() < deadline) {
        loop.run_one_for(std::chrono::milliseconds(20));
    }
    if (!up.ready()) {
        std::cerr << "the modem did not come up\n";
        return out;
    }
    TlsOptions o;
    o.server_name = "localhost";
    o.ca_file = pki.ca;
    o.frugal = setup.frugal;
    Reconnects r(loop, up, broker.port());
    constexpr int kRounds = 3;
    bool resumed = false;
    bool subscribed = false;
    // Warm-up (the module's first socket), then full handshakes with a fresh context and a
    // clean session each time (a first connection), then reconnects with one context that keeps
    // its TLS session and, when persistent, the broker's MQTT session.
    auto warm = TlsContext::create(o);
    if (!warm || !r.once(*warm, true, &resumed, &subscribed)) {
        return out;
    }
    for (int i = 0; i < kRounds; ++i) {
        auto ctx = TlsContext::create(o);
        auto cost = r.once(*ctx, true, &resumed, &subscribed);
        if (!cost) {
            return out;
        }
        out.full.add(*cost, kRounds);
    }
    // The first connection of the shared context is a full one; a frugal context may need one
    // more to learn how the broker resumes (see ResumptionPolicy).
    auto shared = TlsContext::create(o);
    resumed = false;
    for (int i = 0; i < 3 && !resumed; ++i) {
        if (!r.once(*shared, !setup.persistent, &resumed, &subscribed)) {
            return out;
        }
    }
    if (setup.frugal) {
        std::printf("   (%s: resumption by %s)\n", d.name.c_str(),
                    resumptionWayName((*shared)->resumption().way()));
    }
    const bool trace = std::getenv("MODEM_BENCH_TRACE") != nullptr;
    for (int i = 0; i < kRounds; ++i) {
        const size_t trace_from = trace ? emu.trace().size() : 0;
        auto cost = r.once(*shared, !setup.persistent, &resumed, &subscribed);
        if (trace && i == kRounds - 1) {
            // MODEM_BENCH_TRACE=1: the emulator's AT trace of the last resumed reconnect.
            std::printf("   AT trace of a resumed reconnect (%s):\n%s\n", d.name.c_str(),
                        emu.trace().substr(trace_from).c_str());
        }
        if (!cost) {
            return out;
        }
        out.resumed_really = out.resumed_really && resumed;
        out.resubscribed = out.resubscribed || subscribed;
        out.resumed.add(*cost, kRounds);
    }
    out.ok = true;
    return out;
}

// ---------------------------------------------------------------------------------------------
// 3. One idle hour at the default settings, compressed: every period (keep-alive, AT poll) is
// divided by kIdleScale and the line is watched for 3600 / kIdleScale seconds, so the window
// holds as many keep-alive exchanges and polls as a real idle hour. What one of them costs does
// not depend on how long the line was quiet before: the window's bytes are the hour's.

constexpr int kIdleScale = 120;

struct IdleHour {
    uint64_t line = 0;    ///< bytes on the UART both ways, per hour
    uint64_t socket = 0;  ///< of those, TLS and MQTT bytes through the module socket (local TLS)
    double pings = 0;     ///< keep-alive exchanges per hour
    double polls = 0;     ///< AT probes of the supervisor per hour (at most)
    bool ok = false;
};

IdleHour measureIdleHour(const Driver& d, const std::string& mode) {
    IdleHour out;
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    ModemEmulator emu(dir, d.model, kBaud);
    const int keepalive_s = std::max(1, kModemKeepAliveSeconds / kIdleScale);
    const int health_ms = std::max(1000, kModemHealthCheckMs / kIdleScale);
    const std::string scaled = "keepalive_seconds = " + std::to_string(keepalive_s) +
                               "\nhealth_check_ms = " + std::to_string(health_ms) + "\n";
    std::string toml = uplinkToml(d, emu, dir, mode);
    toml.insert(toml.find("[routes.cloud]"), scaled);
    uplinkd::testing::Daemon daemon(dir, toml + genericRoute("cloud", broker.port(), pki.ca), {});
    if (!routeOnline(daemon, "cloud", 120s)) {
        std::cerr << "route did not come online: " << daemon.routeStatus("cloud").dump() << "\n";
        return out;
    }
    // Let the connection settle (the first keep-alive after CONNECT), then watch a quiet line.
    std::this_thread::sleep_for(std::chrono::seconds(2 * keepalive_s));
    const auto socketBytes = [&] {
        const json u = daemon.routeStatus("cloud")["uplinks"][0];
        return u["bytes_sent"].get<uint64_t>() + u["bytes_received"].get<uint64_t>();
    };
    const uint64_t socket_before = socketBytes();
    emu.control("stats reset");
    std::this_thread::sleep_for(std::chrono::seconds(3600 / kIdleScale));
    const json st = emu.status();
    out.line = st.value("bytes_in", uint64_t{0}) + st.value("bytes_out", uint64_t{0});
    out.socket = socketBytes() - socket_before;
    out.pings = 3600.0 / kModemKeepAliveSeconds;
    out.polls = 3600.0 * 1000.0 / kModemHealthCheckMs;
    out.ok = daemon.routeStatus("cloud")["state"] == "online";
    return out;
}

void printIdleHours(const std::string& only) {
    std::printf(
        "\n3. Bytes on the line for one idle hour at the default settings (target: <= 2,000 per "
        "modem route)\n   keep-alive %d s and AT health poll every %d s (when the line was quiet "
        "that long);\n   measured: every period divided by %d, the line watched %d s (one "
        "compressed hour).\n   socket: TLS + MQTT bytes through the module socket (the operator "
        "bills these "
        "plus TCP/IP headers);\n   mode mqtt: the module's own client sends the keep-alive, "
        "invisible on the line.\n\n",
        kModemKeepAliveSeconds, kModemHealthCheckMs / 1000, kIdleScale, 3600 / kIdleScale);
    std::printf("%-14s %-6s %16s %12s %14s %14s\n", "driver", "mode", "idle B/hour line", "socket",
                "keep-alive", "polls/hour");
    for (const auto& d : kDrivers) {
        if (!measured(d, only)) {
            continue;
        }
        const std::string mode = d.sockets ? "local" : "mqtt";
        const IdleHour h = measureIdleHour(d, mode);
        if (!h.ok) {
            std::printf("%-14s %-6s (failed)\n", d.name.c_str(), mode.c_str());
            continue;
        }
        char ka[32];
        std::snprintf(ka, sizeof ka, "%d s (%.0f/h)", kModemKeepAliveSeconds, h.pings);
        std::printf("%-14s %-6s %16llu %12s %14s %14s\n", d.name.c_str(), mode.c_str(),
                    static_cast<unsigned long long>(h.line),
                    mode == "local" ? std::to_string(h.socket).c_str() : "-", ka,
                    ("<= " + std::to_string(static_cast<int>(h.polls))).c_str());
    }
}

void printBreakdown(const ReconnectCost& c) {
    std::printf("\n   where the bytes of one reconnect go (last of each kind):\n");
    std::printf("   %-40s %8s %8s\n", "part", "full", "resumed");
    uint64_t full_socket = 0;
    uint64_t resumed_socket = 0;
    for (int i = 0; i < Breakdown::kParts; ++i) {
        std::printf("   %-40s %8llu %8llu\n", Breakdown::kNames[i],
                    static_cast<unsigned long long>(c.full.last.parts.bytes[i]),
                    static_cast<unsigned long long>(c.resumed.last.parts.bytes[i]));
        full_socket += c.full.last.parts.bytes[i];
        resumed_socket += c.resumed.last.parts.bytes[i];
    }
    std::printf("   %-40s %8llu %8llu\n", "AT commands, responses, URCs, framing",
                static_cast<unsigned long long>(c.full.last.line - full_socket),
                static_cast<unsigned long long>(c.resumed.last.line - resumed_socket));
    std::printf("   %-40s %8llu %8llu\n", "total on the line",
                static_cast<unsigned long long>(c.full.last.line),
                static_cast<unsigned long long>(c.resumed.last.line));
}

/// Section 2: one table per setup (before issue 14, and now), the breakdown for `detail`.
void printReconnects(const std::string& only, const std::string& detail) {
    std::printf(
        "\n2. Bytes on the line for one reconnect (module socket + TLS + MQTT CONNECT/CONNACK, "
        "SUBSCRIBE/SUBACK\n   unless the broker kept the session), mean of 3, RSA 2048 + "
        "intermediate chain unless said (target: resumed <= 25%% of full)\n");
    std::printf(
        "   line: bytes on the UART both ways; socket: of those, the bytes of TLS and MQTT (the "
        "rest is AT commands and their framing)\n");
    const std::pair<const char*, Setup> setups[] = {
        {"as before (TLS as on a network uplink, clean MQTT session)", Setup{false, false}},
        {"as uplinkd does now over a modem (frugal TLS 1.2, persistent MQTT session)",
         Setup{true, true}},
    };
    for (const auto& [title, setup] : setups) {
        std::printf("\n   %s\n", title);
        std::printf("%-14s %-10s %11s %12s %13s %14s %13s\n", "driver", "server", "full line",
                    "full socket", "resumed line", "resumed socket", "resumed/full");
        std::optional<ReconnectCost> shown;
        for (const auto& d : kDrivers) {
            if (!measured(d, only)) {
                continue;
            }
            if (!d.sockets) {
                std::printf("%-14s (no module sockets: the module's MQTT client only)\n",
                            d.name.c_str());
                continue;
            }
            for (int kind = 1; kind >= (d.name == detail ? 0 : 1); --kind) {
                TempDir dir;
                const Pki pki = kind == 0 ? makePki(dir.file("pki")) : rsaChain(dir.file("rsa"));
                const char* what = kind == 0 ? "EC P-256" : "RSA chain";
                const ReconnectCost c = measureReconnect(d, pki, dir, setup);
                if (!c.ok) {
                    std::printf("%-14s %-10s (failed)\n", d.name.c_str(), what);
                    continue;
                }
                std::printf("%-14s %-10s %11.0f %12.0f %13.0f %14.0f %12.1f%%%s%s\n",
                            d.name.c_str(), what, c.full.line, c.full.socket, c.resumed.line,
                            c.resumed.socket, 100.0 * c.resumed.line / c.full.line,
                            c.resumed_really ? "" : " (not resumed!)",
                            c.resubscribed ? " (resubscribed)" : "");
                if (kind == 1 && d.name == detail) {
                    shown = c;
                }
            }
        }
        if (shown) {
            std::printf("\n   %s, RSA chain:", detail.c_str());
            printBreakdown(*shown);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int messages = argc > 1 ? std::max(1, std::atoi(argv[1])) : 100;
    const std::string only = argc > 2 && std::string(argv[2]) != "all" ? argv[2] : "";
    const bool goodput = argc <= 1 || std::atoi(argv[1]) > 0;  // modem_bench 0: no goodput
    // "only-idle": just the idle hour (table 3), about a minute per driver.
    const std::string sections = argc > 3 ? argv[3] : "";
    setLogLevel(LogLevel::Warning);
    std::printf(
        "modem_bench: modem emulator at %u baud (%.0f bytes/s each way), Mosquitto on "
        "127.0.0.1\n\n",
        kBaud, kLineBytesPerSecond);

    if (sections == "only-idle") {
        printIdleHours(only);
        return 0;
    }
    std::printf(
        "1. Goodput: %d messages of %zu bytes, QoS 1, through uplinkd (target: >= 80%% of the "
        "line rate)\n   mode local: TLS by uplinkd over a module socket; modem: TLS by the module; "
        "mqtt: the module's own MQTT client\n\n",
        messages, kPayload);
    std::printf("%-14s %-6s %8s %12s %10s %16s %12s %12s\n", "driver", "mode", "seconds",
                "payload B/s", "line share", "line B/message", "up B/msg", "down B/msg");
    for (const auto& d : kDrivers) {
        if (!goodput || !measured(d, only)) {
            continue;
        }
        for (const std::string mode : kModes) {
            if (!supports(d, mode)) {
                continue;
            }
            const Goodput g = measureGoodput(d, mode, messages);
            if (!g.ok) {
                std::printf("%-14s %-6s (failed)\n", d.name.c_str(), mode.c_str());
                continue;
            }
            const double rate = static_cast<double>(messages) * kPayload / g.seconds;
            std::printf("%-14s %-6s %8.1f %12.0f %9.1f%% %16.0f %12.0f %12.0f\n", d.name.c_str(),
                        mode.c_str(), g.seconds, rate, 100.0 * rate / kLineBytesPerSecond,
                        static_cast<double>(g.up + g.down) / messages,
                        static_cast<double>(g.up) / messages,
                        static_cast<double>(g.down) / messages);
        }
    }

    printReconnects(only, only.empty() ? "sierra-hl78" : only);
    printIdleHours(only);
    return 0;
}
