// SPDX-License-Identifier: Apache-2.0
// startup_bench: start-up and memory of the real daemon (issue 14, items 5 and 6). A program, not
// a test: it prints tables.
//   1. Start-up: fills a spool with N messages (1 and 3 routes), then starts uplinkd as systemd
//      does for Type=notify (NOTIFY_SOCKET on a socket this program listens on) and prints the
//      time from start to READY=1: after a clean stop (SIGTERM) and after kill -9. Also the
//      daemon's memory with those messages spooled (routes offline): PSS, its private and shared
//      parts, RSS, threads and the five largest objects by PSS (/proc/PID/smaps). The daemon
//      gets the environment of the systemd unit and the plugin directory of this build (build
//      every plugin, as a package installs them all).
//   1b. The same memory figures with three routes online and idle (TLS to a local Mosquitto).
//   2. One large message: peak RSS (VmHWM) of uplinkd while it relays one message of 1, 10 and
//      50 MB from the API socket to a Mosquitto over TLS, against 2 x payload + 8 MB: sent as a
//      byte-counted publish ("payload_length", docs/api.md) and, for comparison, as base64 in
//      the JSON line.
// Usage: startup_bench [messages (1000000)] [uplinkd binary ("": this build's)]
//                      [sections: su,on,big]
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
#include <map>
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

/// Where a process's memory is, from /proc/PID/smaps: totals and per object (a file's mappings
/// together under its name; [heap], [stack] and anonymous mappings by kind).
struct MemoryUse {
    struct Object {
        std::string name;
        long pss_kb = 0;
        long private_kb = 0;
    };
    long pss_kb = 0;
    long private_kb = 0;  ///< the process's own pages (counted fully in PSS)
    long rss_kb = 0;
    /// Anonymous pages (heap, stacks, thread arenas, libraries' relocated data): the daemon's
    /// own whatever else runs.
    long anon_kb = 0;
    int threads = 0;
    std::vector<Object> objects;  ///< largest PSS first
    /// PSS of the pages other processes map too (shared libraries): moves with what else runs.
    long sharedPssKb() const { return pss_kb - private_kb; }
};

MemoryUse memoryUse(pid_t pid) {
    MemoryUse use;
    std::map<std::string, MemoryUse::Object> by_name;
    MemoryUse::Object* current = nullptr;
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
    for (std::string line; std::getline(in, line);) {
        const auto colon = line.find(':');
        const auto space = line.find(' ');
        if (space != std::string::npos && (colon == std::string::npos || space < colon)) {
            // A mapping's header: "start-end perms offset dev inode [path]".
            std::istringstream header(line);
            std::string range, perms, offset, dev, inode, path;
            header >> range >> perms >> offset >> dev >> inode >> path;
            std::string name = path.empty() ? "[anon]" : path.substr(path.rfind('/') + 1);
            if (name.rfind("[stack", 0) == 0) {
                name = "[stack]";
            }
            current = &by_name[name];
            current->name = name;
            continue;
        }
        if (current == nullptr) {
            continue;
        }
        const long kb = std::strtol(line.c_str() + colon + 1, nullptr, 10);
        if (line.rfind("Pss:", 0) == 0) {
            current->pss_kb += kb;
            use.pss_kb += kb;
        } else if (line.rfind("Private_Clean:", 0) == 0 || line.rfind("Private_Dirty:", 0) == 0) {
            current->private_kb += kb;
            use.private_kb += kb;
        } else if (line.rfind("Rss:", 0) == 0) {
            use.rss_kb += kb;
        } else if (line.rfind("Anonymous:", 0) == 0) {
            use.anon_kb += kb;
        }
    }
    for (auto& [name, object] : by_name) {
        use.objects.push_back(object);
    }
    std::sort(use.objects.begin(), use.objects.end(),
              [](const auto& a, const auto& b) { return a.pss_kb > b.pss_kb; });
    use.threads = static_cast<int>(procKb(pid, "status", "Threads:"));
    return use;
}

/// The header of the memory columns, and one row's memory columns plus its largest objects.
constexpr const char* kMemoryHeader = " %10s %10s %10s %10s %10s %7s";
void printMemory(const MemoryUse& m) {
    std::printf(" %7.1f MB %7.1f MB %7.1f MB %7.1f MB %7.1f MB %7d\n", mb(m.pss_kb),
                mb(m.private_kb), mb(m.anon_kb), mb(m.sharedPssKb()), mb(m.rss_kb), m.threads);
    std::printf("        largest (PSS/private MB):");
    for (size_t i = 0; i < m.objects.size() && i < 5; ++i) {
        std::printf(" %s %.2f/%.2f", m.objects[i].name.c_str(), mb(m.objects[i].pss_kb),
                    mb(m.objects[i].private_kb));
    }
    std::printf("\n");
}

void printEnvironment();

/// The Environment= settings of the systemd unit (e.g. MALLOC_ARENA_MAX): the daemon is measured
/// as installed.
std::vector<std::string> unitEnvironment() {
    std::vector<std::string> env;
    std::ifstream in(sourceDir() + "/systemd/uplinkd.service.in");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Environment=", 0) == 0) {
            std::istringstream words(line.substr(std::strlen("Environment=")));
            for (std::string word; words >> word;) {
                env.push_back(word);
            }
        }
    }
    return env;
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
    std::vector<std::string> argv{"/usr/bin/env", "NOTIFY_SOCKET=" + ns.path()};
    for (const std::string& setting : unitEnvironment()) {
        argv.push_back(setting);
    }
    for (const std::string& arg :
         {s.binary, std::string("--config"), s.config, std::string("--plugin-dir"), pluginDir(),
          std::string("--dbus=none")}) {
        argv.push_back(arg);
    }
    auto p = std::make_unique<Process>(argv, s.log);
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
        "runs). private: pages no other process maps now (counted fully in PSS; a library's pages\n"
        "are private while no other process uses them), of which anon: heap, stacks, relocated\n"
        "data, the daemon's own whatever else runs; shared: the rest of PSS; RSS: what PSS would\n"
        "be if no other process mapped those libraries.\n");
    printEnvironment();
    std::printf("%-7s %-34s %12s", "routes", "start", "to READY");
    std::printf(kMemoryHeader, "PSS", "private", "anon", "shared", "RSS", "threads");
    std::printf("\n");
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
            std::printf("%-7d %-34s %9.0f ms", routes, what, ms);
            printMemory(memoryUse(pid));
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

void printEnvironment() {
    std::printf("uplinkd runs with the environment of systemd/uplinkd.service.in:");
    for (const std::string& setting : unitEnvironment()) {
        std::printf(" %s", setting.c_str());
    }
    std::printf("\n");
}

/// Memory with three routes online and idle (TLS to a local Mosquitto) while the spool holds
/// `messages` for three other routes that are not configured (they stay spooled, as for routes
/// that are offline).
void onlineSection(const std::string& binary, uint64_t messages) {
    std::printf(
        "\nMemory with 3 routes online and idle (TLS to a local Mosquitto), %llu messages "
        "spooled\nfor routes not configured (target: PSS <= 8 MB)\n",
        static_cast<unsigned long long>(messages));
    TempDir dir;
    const Pki pki = makePki(dir.file("pki"));
    ::mkdir(dir.file("state").c_str(), 0750);
    fillSpool(dir.file("state/spool.db"), messages, 3);
    Mosquitto broker(dir, pki);
    Setup s{binary, dir.file("uplinkd.toml"), dir.file("uplinkd.log")};
    std::string toml = "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n[api]\nsocket = \"" +
                       dir.file("api.sock") + "\"\n";
    for (const char* route : {"o1", "o2", "o3"}) {
        toml += genericRoute(route, broker.port(), pki.ca);
    }
    writeFile(s.config, toml);
    ReadyWatch ns(dir.file("notify"));
    double ms = 0;
    auto p = startNotified(s, ns, &ms);
    // Every route online with nothing left to send (`queued` 0), from the status request.
    const auto idle = [&] {
        ApiClient c;
        if (!c.connect(dir.file("api.sock")).ok() || !c.send({{"op", "status"}, {"id", 1}}).ok()) {
            return false;
        }
        auto reply = c.receive(std::chrono::seconds(5));
        if (!reply || !(*reply)["routes"].is_array() || (*reply)["routes"].size() != 3) {
            return false;
        }
        for (const auto& route : (*reply)["routes"]) {
            if (route["state"] != "online" || route["queued"] != 0) {
                return false;
            }
        }
        return true;
    };
    const auto row = [&](const char* what) {
        if (!waitUntil(idle, std::chrono::minutes(5))) {
            std::fprintf(stderr,
                         "startup_bench: the routes did not come online and idle; log:\n%s\n",
                         p->log().c_str());
            std::exit(1);
        }
        // Idle for a while (keep-alives only) before the figure is read.
        std::this_thread::sleep_for(std::chrono::seconds(3));
        std::printf("%-7d %-34s %9.0f ms", 3, what, ms);
        printMemory(memoryUse(p->pid()));
        std::fflush(stdout);
    };
    std::printf("%-7s %-34s %12s", "routes", "state", "to READY");
    std::printf(kMemoryHeader, "PSS", "private", "anon", "shared", "RSS", "threads");
    std::printf("\n");
    row("online, idle");
    // Then each route delivers a backlog (QoS 1, 256 bytes), which fills the page caches and
    // the heap, and goes idle again: the figure of a gateway that has been working.
    constexpr int kBacklog = 20000;
    ApiClient c;
    if (!c.connect(dir.file("api.sock")).ok()) {
        std::fprintf(stderr, "startup_bench: cannot connect to the API\n");
        std::exit(1);
    }
    int sent = 0;
    int answered = 0;
    while (answered < 3 * kBacklog) {
        while (sent < 3 * kBacklog && sent - answered < 256) {
            (void)c.send({{"op", "publish"},
                          {"id", sent},
                          {"route", "o" + std::to_string(1 + sent % 3)},
                          {"topic", "bench/telemetry"},
                          {"qos", 1},
                          {"payload", std::string(256, 'p')}});
            ++sent;
        }
        if (!c.receive(std::chrono::seconds(30))) {
            std::fprintf(stderr, "startup_bench: no answer to a publish\n");
            std::exit(1);
        }
        ++answered;
    }
    row("idle after a backlog of 3 x 20000");
    (void)p->stop(std::chrono::minutes(1));
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
    const std::string sections = argc > 3 ? argv[3] : "su,on,big";
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
    if (sections.find("on") != std::string::npos) {
        onlineSection(binary, messages);
    }
    if (sections.find("big") != std::string::npos) {
        bigSection(binary);
    }
    return 0;
}
