// SPDX-License-Identifier: Apache-2.0
// startup_bench: start-up and memory of the real daemon (issue 14, items 5 and 6). A program, not
// a test: it prints tables.
//   1. Start-up: fills a spool with N messages (1 and 3 routes), then starts uplinkd as systemd
//      does for Type=notify (NOTIFY_SOCKET on a socket this program listens on) and prints the
//      time from start to READY=1: after a clean stop (SIGTERM) and after kill -9. Also the
//      daemon's PSS (/proc/PID/smaps_rollup) with those messages spooled (routes offline).
//   2. One large message: peak RSS (VmHWM) of uplinkd while it relays one message of 1, 10 and
//      50 MB from the API socket to a Mosquitto over TLS, against 2 x payload + 8 MB: sent as a
//      byte-counted publish ("payload_length", docs/api.md) and, for comparison, as base64 in
//      the JSON line.
// Usage: startup_bench [messages (1000000)] [uplinkd binary ("": this build's)] [sections: su,big]
//                      [large message sizes in MB (1,10,50)]
// Measure a Release build (-DCMAKE_BUILD_TYPE=Release -DUPLINKD_BUILD_TESTS=ON).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.hpp"
#include "notify_socket.hpp"
#include "spool/sqlite_spool.hpp"
#include "test_env.hpp"
#include "uplinkd/base64.hpp"

using namespace uplinkd;
using namespace uplinkd::testing;
using Clock = std::chrono::steady_clock;

namespace {

/// A field of /proc/PID/<file> in KiB ("Pss:" in smaps_rollup, "VmHWM:" in status).
long procKb(pid_t pid, const char* file, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field, 0) == 0) {
            return std::strtol(line.c_str() + field.size(), nullptr, 10);
        }
    }
    return -1;
}

double mb(long kb) {
    return static_cast<double>(kb) / 1024.0;
}

/// The service manager's end of the notify protocol, read all the time on a thread of its own
/// (as systemd does: a sender blocks once a few datagrams are queued unread); counts READY=1.
class ReadyWatch {
  public:
    explicit ReadyWatch(const std::string& path) : socket_(path) {
        if (!socket_.ok()) {
            std::fprintf(stderr, "startup_bench: cannot bind %s\n", path.c_str());
            std::exit(1);
        }
        reader_ = std::thread([this] { readLoop(); });
    }
    ~ReadyWatch() {
        stop_ = true;
        reader_.join();
    }
    ReadyWatch(const ReadyWatch&) = delete;
    ReadyWatch& operator=(const ReadyWatch&) = delete;
    const std::string& path() const { return socket_.path(); }

    /// Waits for the next READY=1 (after the ones already taken); false after `timeout`.
    bool waitReady(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, timeout, [&] { return unclaimed_ > 0; })) {
            return false;
        }
        unclaimed_ = 0;
        return true;
    }

  private:
    void readLoop() {
        while (!stop_) {
            if (socket_.next(std::chrono::milliseconds(100)) == "READY=1") {
                std::lock_guard lock(mu_);
                ++unclaimed_;
                cv_.notify_all();
            }
        }
    }

    NotifySocket socket_;
    std::atomic<bool> stop_{false};
    std::thread reader_;
    std::mutex mu_;
    std::condition_variable cv_;
    int unclaimed_ = 0;  ///< READY=1 received since the last waitReady()
};

struct Setup {
    std::string binary;
    std::string config;
    std::string log;
};

/// Starts uplinkd as systemd would with Type=notify; returns the process and the time to READY.
std::unique_ptr<Process> startNotified(const Setup& s, ReadyWatch& ns, double* ready_ms) {
    const auto start = Clock::now();
    auto p = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/env", "NOTIFY_SOCKET=" + ns.path(), s.binary, "--config",
                                 s.config, "--plugin-dir", pluginDir(), "--dbus=none"},
        s.log);
    if (!ns.waitReady(std::chrono::minutes(5))) {
        std::fprintf(stderr, "startup_bench: no READY=1 from uplinkd; its log:\n%s\n",
                     p->log().c_str());
        std::exit(1);
    }
    *ready_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return p;
}

/// Fills `path` with `total` messages of 256 bytes spread over `routes` routes (r1, r2, ...).
void fillSpool(const std::string& path, uint64_t total, int routes) {
    asio::io_context loop;
    auto opened = SqliteSpool::open(loop, path, nullptr);
    if (!opened) {
        std::fprintf(stderr, "startup_bench: %s\n", opened.error().message.c_str());
        std::exit(1);
    }
    auto spool = std::move(opened).value();
    const std::string payload(256, 'p');
    uint64_t issued = 0;
    uint64_t completed = 0;
    std::function<void()> issue;
    const auto on_done = [&](Result<uint64_t>) {
        ++completed;
        issue();
    };
    issue = [&] {
        while (issued < total && issued - completed < 4096) {
            Message m;
            m.route = "r" + std::to_string(1 + issued % static_cast<uint64_t>(routes));
            m.topic = "bench/telemetry";
            m.payload = payload;
            ++issued;
            spool->append(std::move(m), on_done);
        }
    };
    issue();
    auto guard = asio::make_work_guard(loop);
    while (completed < total) {
        loop.run_one();
    }
}  // closed cleanly here, as the daemon does on SIGTERM

std::string routesToml(int routes, uint16_t port, const std::string& ca) {
    std::string toml;
    for (int r = 1; r <= routes; ++r) {
        const std::string name = "r" + std::to_string(r);
        toml += genericRoute(name, port, ca) + "[routes." + name +
                ".spool]\nmax_messages = 10000000\nmax_bytes = 10000000000\n";
    }
    return toml;
}

void startupSection(const std::string& binary, uint64_t messages) {
    std::printf(
        "Start-up with %llu spooled messages of 256 bytes (target: READY <= 1000 ms after "
        "a clean stop; PSS <= 8 MB with 3 routes)\n",
        static_cast<unsigned long long>(messages));
    std::printf(
        "PSS shares library pages among the processes that map them (it moves with what else\n"
        "runs); private is the daemon's own memory.\n");
    std::printf("%-7s %-34s %12s %10s %10s %10s\n", "routes", "start", "to READY", "PSS", "private",
                "RSS");
    for (const int routes : {1, 3}) {
        TempDir dir;
        const Pki pki = makePki(dir.file("pki"));
        ::mkdir(dir.file("state").c_str(), 0750);
        fillSpool(dir.file("state/spool.db"), messages, routes);
        Setup s{binary, dir.file("uplinkd.toml"), dir.file("uplinkd.log")};
        // The routes stay offline (nothing listens on the port): the messages stay spooled.
        writeFile(s.config, "[daemon]\nstate_dir = \"" + dir.file("state") +
                                "\"\n[api]\nsocket = \"" + dir.file("api.sock") + "\"\n" +
                                routesToml(routes, freePort(), pki.ca));
        ReadyWatch ns(dir.file("notify"));
        const auto row = [&](const char* what, double ms, pid_t pid) {
            // PSS once the routes have tried to connect and the loop settled (not a readiness
            // wait: the figure is read whenever it is).
            std::this_thread::sleep_for(std::chrono::seconds(3));
            std::printf("%-7d %-34s %9.0f ms %7.1f MB %7.1f MB %7.1f MB\n", routes, what, ms,
                        mb(procKb(pid, "smaps_rollup", "Pss:")),
                        mb(procKb(pid, "smaps_rollup", "Private_Clean:") +
                           procKb(pid, "smaps_rollup", "Private_Dirty:")),
                        mb(procKb(pid, "status", "VmRSS:")));
            std::fflush(stdout);
        };
        double ms = 0;
        auto p = startNotified(s, ns, &ms);
        row("first start after the fill", ms, p->pid());
        const auto stop_start = Clock::now();
        const int status = p->stop(std::chrono::minutes(2));
        const double stop_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - stop_start).count();
        p = startNotified(s, ns, &ms);
        row("after a clean stop (SIGTERM)", ms, p->pid());
        p->signal(SIGKILL);
        (void)p->waitExit(std::chrono::minutes(1));
        p = startNotified(s, ns, &ms);
        row("after kill -9", ms, p->pid());
        std::printf("%-7d %-34s %9.0f ms (exit status %d)\n", routes, "  clean stop took", stop_ms,
                    status);
        (void)p->stop(std::chrono::minutes(2));
        std::istringstream log(readFile(s.log));
        for (std::string line; std::getline(log, line);) {
            if (line.find("spool: ") != std::string::npos &&
                line.find("opened without") != std::string::npos) {
                std::printf("        log: %s\n", line.c_str());
                break;
            }
        }
    }
}

/// Payload sizes of the large-message runs (argument 4: megabytes, comma-separated).
std::vector<size_t> g_big_sizes = {1'000'000, 10'000'000, 50'000'000};
const std::vector<size_t>& bigSizes() {
    return g_big_sizes;
}

/// How the large message travels over the API socket.
enum class BigPath { Base64Line, ByteCounted };

/// Resets the peak RSS (VmHWM) of `pid` to its current RSS (Linux clear_refs, as root).
bool resetPeak(pid_t pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

/// One run: a fresh uplinkd takes one message of `size` bytes while its broker is not there yet
/// (the store stage: API socket -> spool), then relays it once the broker is up (the send
/// stage: spool -> Paho -> TLS -> Mosquitto), with the peak RSS of each stage; prints its row.
void bigRun(const std::string& binary, size_t size, BigPath path) {
    TempDir dir;
    const Pki pki = makePki(dir.file("pki"));
    Mosquitto::Options broker_options;
    broker_options.port = freePort();
    Setup s{binary, dir.file("uplinkd.toml"), dir.file("uplinkd.log")};
    // The base64 line needs a line limit of 4/3 x the payload; the byte-counted publish only
    // api.max_message_bytes (default 256 MiB).
    writeFile(s.config,
              "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n[api]\nsocket = \"" +
                  dir.file("api.sock") +
                  "\"\nmax_line_bytes = 67108864\nmax_buffered_input_bytes = 134217728\n" +
                  genericRoute("cloud", broker_options.port, pki.ca));
    ReadyWatch ns(dir.file("notify"));
    double ms = 0;
    auto p = startNotified(s, ns, &ms);
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) {
        payload[i] = static_cast<char>((i * 2654435761u) >> 24);
    }
    ApiClient c;
    if (!c.connect(dir.file("api.sock")).ok()) {
        std::fprintf(stderr, "startup_bench: cannot connect to the API\n");
        std::exit(1);
    }
    const long before = procKb(p->pid(), "status", "VmHWM:");
    // Retained: the subscriber, which comes with the broker, gets it whenever it subscribes.
    if (path == BigPath::Base64Line) {
        // The line is built by hand: the payload goes as base64, as a JSON-only client sends it.
        const std::string line = R"({"op":"publish","id":1,"route":"cloud","topic":"big/one",)"
                                 R"("qos":1,"retain":true,"report_delivered":true,)"
                                 R"("payload_b64":")" +
                                 base64Encode(payload) + "\"}\n";
        (void)c.sendRaw(line);
    } else {
        (void)c.sendWithPayload({{"op", "publish"},
                                 {"id", 1},
                                 {"route", "cloud"},
                                 {"topic", "big/one"},
                                 {"qos", 1},
                                 {"retain", true},
                                 {"report_delivered", true}},
                                payload);
    }
    const auto queued = awaitApiReply(c, 1, "queued", std::chrono::minutes(3));
    const long stored = procKb(p->pid(), "status", "VmHWM:");
    const bool reset = resetPeak(p->pid());
    Mosquitto broker(dir, pki, broker_options);
    Subscriber sub(pki, broker.port(), "big/#");
    const auto delivered = awaitApiReply(c, 1, "delivered", std::chrono::minutes(3));
    const bool arrived = sub.waitFor(1, std::chrono::minutes(3));
    const bool same = arrived && sub.messages().front().payload == payload;
    if (!same) {
        std::fprintf(stderr, "startup_bench: %zu bytes not delivered; API: %s, %s\n", size,
                     queued.dump().c_str(), delivered.dump().c_str());
    }
    const long sent = procKb(p->pid(), "status", "VmHWM:");
    const long peak = reset ? std::max(stored, sent) : sent;
    const double target = 2.0 * static_cast<double>(size) / 1048576.0 + 8.0;
    // The idle daemon's own RSS (mostly shared library pages) is not the message's doing: the
    // growth over it is what the message costs.
    const double growth = mb(peak) - mb(before);
    std::printf(
        "%7zu MB %-13s %9.1f MB %9.1f MB %9.1f MB %9.1f MB %9.1f MB %9.2f %-4s %9.1f MB %s%s\n",
        size / 1'000'000, path == BigPath::Base64Line ? "base64 line" : "byte-counted", mb(before),
        mb(stored), reset ? mb(sent) : 0.0, mb(peak), target,
        mb(peak) * 1048576.0 / static_cast<double>(size), mb(peak) <= target ? "yes" : "no", growth,
        growth <= target ? "yes" : "no", same ? "" : "  (NOT DELIVERED INTACT)");
    std::fflush(stdout);
    (void)p->stop(std::chrono::minutes(1));
}

void bigSection(const std::string& binary) {
    std::printf(
        "\nOne large message, API socket -> spool -> TLS -> Mosquitto (target: peak RSS "
        "<= 2 x payload + 8 MB)\n"
        "base64 line: \"payload_b64\" in the JSON line; byte-counted: \"payload_length\" and the\n"
        "raw bytes after the line. Peak RSS (VmHWM) of uplinkd: before = started, broker not up;\n"
        "store = until \"queued\"; send = from there (peak reset) until \"delivered\", with the\n"
        "broker started after the store; peak = the larger. RSS includes the shared libraries'\n"
        "pages (RssFile, ~13 MB of the idle daemon's ~15 MB).\n");
    std::printf("%10s %-13s %12s %12s %12s %12s %12s %9s %-4s %12s %s\n", "payload", "API path",
                "before", "store", "send", "peak", "target", "x payload", "met", "peak-before",
                "met");
    for (const size_t size : bigSizes()) {
        for (const BigPath path : {BigPath::Base64Line, BigPath::ByteCounted}) {
            bigRun(binary, size, path);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    const std::string binary =
        argc > 2 && argv[2][0] != '\0' ? std::string(argv[2]) : buildDir() + "/daemon/uplinkd";
    const std::string sections = argc > 3 ? argv[3] : "su,big";
    if (argc > 4) {
        g_big_sizes.clear();
        std::istringstream list(argv[4]);
        for (std::string mb_text; std::getline(list, mb_text, ',');) {
            g_big_sizes.push_back(std::strtoull(mb_text.c_str(), nullptr, 10) * 1'000'000);
        }
    }
    ::setenv("UPLINKD_BENCH", "1", 1);
    std::printf("startup_bench: %s, %u CPUs\n\n", binary.c_str(),
                std::thread::hardware_concurrency());
    if (sections.find("su") != std::string::npos) {
        startupSection(binary, messages);
    }
    if (sections.find("big") != std::string::npos) {
        bigSection(binary);
    }
    return 0;
}
