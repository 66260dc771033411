// SPDX-License-Identifier: Apache-2.0
// spool_bench: measures SqliteSpool (durable appends per second by how many are outstanding, RSS
// with 1,000,000 queued messages, lease+ack rate). A program, not a test: it prints a table.
//
// Usage: spool_bench [directory] [messages]
//   directory: where the spool files go (default: a new directory under /tmp, removed afterwards);
//              use the board's real storage to measure it.
//   messages:  messages for the RSS and lease+ack runs (default 1000000).
#include <stdlib.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "spool/sqlite_spool.hpp"

namespace {

using uplinkd::Message;
using uplinkd::Result;
using uplinkd::SqliteSpool;
using Clock = std::chrono::steady_clock;

constexpr size_t kPayloadBytes = 256;

/// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
long statusKb(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) {
            return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
        }
    }
    return -1;
}

double seconds(Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
}

void runUntil(asio::io_context& loop, const std::function<bool()>& done) {
    loop.restart();
    auto guard = asio::make_work_guard(loop);
    while (!done()) {
        loop.run_one();
    }
}

std::unique_ptr<SqliteSpool> openOrDie(asio::io_context& loop, const std::string& path) {
    auto spool = SqliteSpool::open(loop, path, nullptr);
    if (!spool) {
        std::fprintf(stderr, "spool_bench: %s\n", spool.error().message.c_str());
        std::exit(1);
    }
    return std::move(spool).value();
}

/// Appends `total` messages keeping at most `window` outstanding (each one durable before it
/// completes); returns appends per second.
double appendRun(asio::io_context& loop, SqliteSpool& spool, uint64_t total, uint64_t window) {
    const std::string payload(kPayloadBytes, 'p');
    uint64_t issued = 0;
    uint64_t completed = 0;
    uint64_t failed = 0;
    std::function<void()> issue;
    const auto on_done = [&](Result<uint64_t> r) {
        ++completed;
        failed += r.ok() ? 0 : 1;
        issue();
    };
    issue = [&] {
        while (issued < total && issued - completed < window) {
            Message m;
            m.route = "bench";
            m.topic = "bench/telemetry";
            m.payload = payload;
            ++issued;
            spool.append(std::move(m), on_done);
        }
    };
    const auto start = Clock::now();
    issue();
    runUntil(loop, [&] { return completed == total; });
    const double elapsed = seconds(start);
    if (failed != 0) {
        std::fprintf(stderr, "spool_bench: %llu appends failed\n",
                     static_cast<unsigned long long>(failed));
    }
    return static_cast<double>(total) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    bool remove_dir = false;
    if (argc > 1) {
        dir = argv[1];
    } else {
        std::string pattern = "/tmp/spool_bench.XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("spool_bench: mkdtemp");
            return 1;
        }
        dir = pattern;
        remove_dir = true;
    }
    const uint64_t big = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
    asio::io_context loop;

    std::printf("spool_bench: %zu-byte payloads, files in %s, %ld CPUs\n\n", kPayloadBytes,
                dir.c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));

    // 1. Memory with many queued messages (first, so the baseline is not inflated by other runs).
    const std::string big_path = dir + "/big.db";
    const long rss_before = statusKb("VmRSS");
    double fill_rate = 0;
    double lease_ack_rate = 0;
    double lease_ack_all_rate = 0;
    double reopen_s = 0;
    double flush_s = 0;
    long rss_full = 0;
    long rss_reopened = 0;
    uint64_t file_bytes = 0;
    {
        auto spool = openOrDie(loop, big_path);
        fill_rate = appendRun(loop, *spool, big, 4096);
        rss_full = statusKb("VmRSS");
    }
    file_bytes = std::filesystem::file_size(big_path);
    double reopen_checked_s = 0;
    {
        // As after a crash: without the clean-close mark, open() reads every page.
        std::filesystem::remove(big_path + "-clean");
        const auto start = Clock::now();
        auto spool = openOrDie(loop, big_path);
        reopen_checked_s = seconds(start);
    }
    {
        const auto start = Clock::now();
        auto spool = openOrDie(loop, big_path);
        reopen_s = seconds(start);
        rss_reopened = statusKb("VmRSS");

        // 2. Lease+ack: a session-like loop (lease a window, ack it, let completions run).
        uint64_t done = 0;
        const auto lease_start = Clock::now();
        for (;;) {
            const auto window = spool->lease("bench", 256);
            if (window.empty()) {
                break;
            }
            for (const Message& m : window) {
                spool->ack("bench", m.seq);
            }
            done += window.size();
            loop.restart();
            loop.poll();
        }
        lease_ack_rate = static_cast<double>(done) / seconds(lease_start);
        const auto flush_start = Clock::now();
        spool.reset();  // commits the remaining deletes
        flush_s = seconds(flush_start);
        lease_ack_all_rate = static_cast<double>(done) / seconds(lease_start);
        if (done != big) {
            std::fprintf(stderr, "spool_bench: leased %llu of %llu\n",
                         static_cast<unsigned long long>(done),
                         static_cast<unsigned long long>(big));
        }
    }

    std::printf("%-44s %14s\n", "measurement", "value");
    std::printf("%-44s %14s\n", "--------------------------------------------", "--------------");
    std::printf("%-44s %11.0f /s\n", "fill: appends, 4096 outstanding", fill_rate);
    std::printf("%-44s %11.1f MB\n", "database file after fill",
                static_cast<double>(file_bytes) / 1e6);
    std::printf("%-44s %11.1f MB\n", "RSS before open", static_cast<double>(rss_before) / 1024);
    std::printf("%-44s %11.1f MB\n", "RSS with all messages queued",
                static_cast<double>(rss_full) / 1024);
    std::printf("%-44s %11.1f MB\n", "  of which the spool (delta)",
                static_cast<double>(rss_full - rss_before) / 1024);
    std::printf("%-44s %11.2f s\n", "reopen after a crash (quick_check + counters)",
                reopen_checked_s);
    std::printf("%-44s %11.2f s\n", "reopen after a clean close (counters)", reopen_s);
    std::printf("%-44s %11.1f MB\n", "RSS after reopen", static_cast<double>(rss_reopened) / 1024);
    std::printf("%-44s %11.0f /s\n", "lease(256) + ack until empty, on the loop", lease_ack_rate);
    std::printf("%-44s %11.2f s\n", "  then committing the queued deletes", flush_s);
    std::printf("%-44s %11.0f /s\n", "  lease + ack + delete committed", lease_ack_all_rate);
    std::printf("%-44s %11.1f MB\n", "peak RSS (VmHWM)",
                static_cast<double>(statusKb("VmHWM")) / 1024);
    std::printf("  (%llu messages)\n\n", static_cast<unsigned long long>(big));

    // 3. Durable appends per second by the number outstanding (how much the group commit can
    // gather); each run on a fresh file.
    std::printf("%-12s %12s %14s %16s\n", "outstanding", "appends", "appends/s", "appends/commit");
    std::printf("%-12s %12s %14s %16s\n", "-----------", "-----------", "-------------",
                "---------------");
    int run = 0;
    for (const uint64_t window : {1, 8, 64, 512, 4096}) {
        const uint64_t total = window == 1 ? 5'000 : 200'000;
        const std::string path = dir + "/run" + std::to_string(run++) + ".db";
        auto spool = openOrDie(loop, path);
        const uint64_t commits_before = spool->commitCountForTest();
        const double rate = appendRun(loop, *spool, total, window);
        const uint64_t commits = spool->commitCountForTest() - commits_before;
        std::printf("%-12llu %12llu %14.0f %16.1f\n", static_cast<unsigned long long>(window),
                    static_cast<unsigned long long>(total), rate,
                    static_cast<double>(total) / static_cast<double>(commits));
        spool.reset();
        std::filesystem::remove(path);
    }

    std::filesystem::remove(big_path);
    if (remove_dir) {
        std::filesystem::remove_all(dir);
    }
    return 0;
}
