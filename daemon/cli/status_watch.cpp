// SPDX-License-Identifier: Apache-2.0
#include "cli/status_watch.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "cli/api_client.hpp"

namespace uplinkd::cli {

namespace {

uint64_t counter(const nlohmann::json& r, const char* key) {
    auto it = r.find(key);
    return it != r.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

uint64_t since(uint64_t now, uint64_t before) {
    return now > before ? now - before : 0;  // a restarted daemon counts from 0 again
}

std::string rate(double v) {
    char buf[32];
    if (v >= 99999.5) {
        std::snprintf(buf, sizeof buf, "%.0fk", v / 1000);
    } else if (v >= 9999.95) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f", v);
    }
    return buf;
}

std::string eta(double s) {
    const auto t = static_cast<long>(s + 0.5);
    char buf[32];
    if (t < 60) {
        std::snprintf(buf, sizeof buf, "%lds", t);
    } else if (t < 3600) {
        std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    }
    return buf;
}

/// "[#####-----]  45% 12s": how much of the backlog is gone and the time left.
std::string drainColumn(const WatchModel::Row& r, int width) {
    if (r.queued == 0) {
        return "-";
    }
    if (r.spool_held) {
        return "held: the spool cannot read a message (uplinkctl status)";
    }
    if (r.out_rate <= 0) {
        return "not draining";
    }
    const double done = r.backlog > 0
                            ? static_cast<double>(r.backlog - std::min(r.backlog, r.queued)) /
                                  static_cast<double>(r.backlog)
                            : 0.0;
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3d%% ", static_cast<int>(done * 100));
    const std::string tail = std::string(pct) + (r.eta_seconds >= 0 ? eta(r.eta_seconds) : "--");
    const int inner = std::max(4, width - 2 - static_cast<int>(tail.size()));
    const int filled = std::clamp(static_cast<int>(done * inner + 0.5), 0, inner);
    return "[" + std::string(static_cast<size_t>(filled), '#') +
           std::string(static_cast<size_t>(inner - filled), '-') + "]" + tail;
}

std::string fit(std::string s, int width) {
    if (static_cast<int>(s.size()) > width) {
        s.resize(static_cast<size_t>(std::max(0, width)));
    }
    return s;
}

// The terminal while the view runs: raw keys (q), alternate screen, hidden cursor; all undone
// by restore(), also after Ctrl-C.
volatile std::sig_atomic_t g_stop = 0;

void onSignal(int) {
    g_stop = 1;
}

class Terminal {
  public:
    Terminal() {
        tty_ = ::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0;
        if (tty_) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C signals
            raw.c_cc[VMIN] = 0;
            raw.c_cc[VTIME] = 0;
            ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        struct sigaction sa {};
        sa.sa_handler = onSignal;  // no SA_RESTART: poll() returns at once
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
        write("\x1b[?1049h\x1b[?25l");
    }
    ~Terminal() {
        write("\x1b[?25h\x1b[?1049l");
        if (tty_) {
            ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
        }
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;

    static void write(const std::string& s) {
        size_t off = 0;
        while (off < s.size()) {
            const ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
            if (n <= 0) {
                return;
            }
            off += static_cast<size_t>(n);
        }
    }
    static std::pair<int, int> size() {
        winsize ws{};
        if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
            return {ws.ws_col, ws.ws_row};
        }
        return {80, 24};
    }
    /// Waits up to `ms` for a key; true when q was pressed.
    bool waitForQuit(int ms) const {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, tty_ ? 1 : 0, ms) <= 0 || !tty_) {
            return false;
        }
        char keys[16];
        const ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
        for (ssize_t i = 0; i < n; ++i) {
            if (keys[i] == 'q' || keys[i] == 'Q') {
                return true;
            }
        }
        return false;
    }

  private:
    bool tty_ = false;
    termios saved_{};
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

}  // namespace

void WatchModel::update(const nlohmann::json& routes, double seconds) {
    constexpr double kWeight = 0.5;  // of the newest second in the displayed rates
    std::vector<Row> rows;
    for (const auto& r : routes) {
        Row row;
        row.route = r.value("route", std::string("?"));
        row.state = r.value("state", std::string("?"));
        row.queued = counter(r, "queued");
        row.spool_held = !r.value("spool_problem", std::string()).empty();
        Counters now;
        now.queued = row.queued;
        now.delivered = counter(r, "delivered");
        now.received = counter(r, "received");
        now.left = now.delivered + counter(r, "dropped") + counter(r, "expired") +
                   counter(r, "dead_lettered");
        now.seen = true;
        Counters& before = last_[row.route];
        Row& avg = smooth_[row.route];
        if (before.seen && seconds > 0) {
            // What entered the queue: what it grew by plus what left it.
            const int64_t entered = static_cast<int64_t>(now.queued) -
                                    static_cast<int64_t>(before.queued) +
                                    static_cast<int64_t>(since(now.left, before.left));
            const double in = static_cast<double>(std::max<int64_t>(0, entered)) / seconds;
            const double out =
                static_cast<double>(since(now.delivered, before.delivered)) / seconds;
            const double rx = static_cast<double>(since(now.received, before.received)) / seconds;
            avg.in_rate = kWeight * in + (1 - kWeight) * avg.in_rate;
            avg.out_rate = kWeight * out + (1 - kWeight) * avg.out_rate;
            avg.rx_rate = kWeight * rx + (1 - kWeight) * avg.rx_rate;
        }
        before = now;
        row.in_rate = avg.in_rate;
        row.out_rate = avg.out_rate;
        row.rx_rate = avg.rx_rate;
        uint64_t& backlog = backlog_[row.route];
        backlog = row.queued == 0 ? 0 : std::max(backlog, row.queued);
        row.backlog = backlog;
        const double net = row.out_rate - row.in_rate;
        row.eta_seconds = row.queued > 0 && net > 0 ? static_cast<double>(row.queued) / net : -1;
        rows.push_back(std::move(row));
    }
    rows_ = std::move(rows);
}

std::vector<std::string> renderWatch(const std::vector<WatchModel::Row>& rows,
                                     const std::string& header, int width, int height) {
    std::vector<std::string> out;
    out.push_back(fit(header, width));
    char line[256];
    std::snprintf(line, sizeof line, "%-12s %-8s %7s %7s %6s %8s %s", "ROUTE", "STATE", "IN/s",
                  "OUT/s", "RX/s", "QUEUED", "DRAIN");
    out.push_back(fit(line, width));
    const int fixed = 55;  // the columns before DRAIN
    const size_t room = static_cast<size_t>(std::max(1, height - 2));
    const bool all_fit = rows.size() <= room;
    const size_t shown = all_fit ? rows.size() : room - 1;
    for (size_t i = 0; i < shown; ++i) {
        const auto& r = rows[i];
        std::snprintf(line, sizeof line, "%-12.12s %-8.8s %7s %7s %6s %8llu ", r.route.c_str(),
                      r.state.c_str(), rate(r.in_rate).c_str(), rate(r.out_rate).c_str(),
                      rate(r.rx_rate).c_str(), static_cast<unsigned long long>(r.queued));
        out.push_back(fit(std::string(line) + drainColumn(r, std::max(12, width - fixed)), width));
    }
    if (!all_fit) {
        out.push_back(fit("... " + std::to_string(rows.size() - shown) +
                              " more route(s) (a taller terminal shows them)",
                          width));
    }
    return out;
}

int runStatusWatch(ApiClient& client, const std::string& route) {
    g_stop = 0;
    auto term = std::make_unique<Terminal>();
    WatchModel model;
    auto last = std::chrono::steady_clock::now();
    bool first = true;
    std::string problem;
    while (g_stop == 0) {
        nlohmann::json req{{"op", "status"}, {"id", 1}};
        if (!route.empty()) {
            req["route"] = route;
        }
        if (auto st = client.send(req); !st) {
            problem = st.error().message;
            break;
        }
        auto r = client.receive(std::chrono::seconds(10));
        if (!r) {
            problem = r.error().message;
            break;
        }
        if ((*r).value("status", std::string()) != "ok") {
            problem = (*r).value("message", std::string("status refused"));
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        model.update((*r)["routes"],
                     first ? 0.0 : std::chrono::duration<double>(now - last).count());
        first = false;
        last = now;
        uint64_t queued = 0;
        for (const auto& row : model.rows()) {
            queued += row.queued;
        }
        const std::time_t t = std::time(nullptr);
        char clock[16];
        std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&t));
        const auto [w, h] = Terminal::size();
        std::string header = std::string("uplinkd  ") + clock + "  " +
                             std::to_string(model.rows().size()) + " route(s), " +
                             std::to_string(queued) + " queued";
        const std::string hint = "q: quit";
        if (static_cast<int>(header.size() + hint.size()) < w) {
            header += std::string(static_cast<size_t>(w) - header.size() - hint.size(), ' ') + hint;
        }
        std::string frame = "\x1b[H";
        for (const auto& l : renderWatch(model.rows(), header, w, h)) {
            frame += l + "\x1b[K\r\n";
        }
        frame += "\x1b[J";
        Terminal::write(frame);
        const auto next = now + std::chrono::seconds(1);
        while (g_stop == 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  next - std::chrono::steady_clock::now())
                                  .count();
            if (left <= 0) {
                break;
            }
            if (term->waitForQuit(static_cast<int>(left))) {
                g_stop = 1;
            }
        }
    }
    term.reset();  // back to the normal screen before saying why
    if (!problem.empty()) {
        std::cerr << "uplinkctl: " << problem << "\n";
        return 1;
    }
    return 0;
}

}  // namespace uplinkd::cli
