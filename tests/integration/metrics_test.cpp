// SPDX-License-Identifier: Apache-2.0
// The Prometheus endpoint end to end: scraped while messages flow to a real Mosquitto and while
// the broker is down (the values move as a user expects), every scrape checked by promtool (the
// Prometheus project's own parser and linter), and the request handling on a real socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <sstream>

#include "cli/api_client.hpp"
#include "metrics/exposition.hpp"
#include "metrics/metrics_snapshot.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// Sends `request` and reads until the server closes; "" when nothing could be exchanged.
std::string exchange(int fd, const std::string& request) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
        ::close(fd);
        return "";
    }
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

std::string httpTcp(uint16_t port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return "";
    }
    return exchange(fd, request);
}

std::string httpUnix(const std::string& path, const std::string& request) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return "";
    }
    return exchange(fd, request);
}

std::string body(const std::string& response) {
    const size_t end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
}

/// The value of the sample written exactly as `series` (name and labels), if present.
std::optional<double> sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ') {
            return std::strtod(line.c_str() + series.size() + 1, nullptr);
        }
    }
    return std::nullopt;
}

/// promtool's verdict on an exposition text: "" when it accepts it, else what it said.
std::string promtool(const TempDir& dir, const std::string& text) {
    static int n = 0;
    const std::string in = dir.file("scrape" + std::to_string(++n) + ".txt");
    const std::string out = in + ".promtool";
    writeFile(in, text);
    const int rc = std::system(("promtool check metrics < " + in + " > " + out + " 2>&1").c_str());
    if (rc == 0) {
        return "";
    }
    const std::string said = readFile(out);
    if (said.find("not found") != std::string::npos || WEXITSTATUS(rc) == 127) {
        return "promtool is missing (Debian package prometheus, tools/setup.sh): " + said;
    }
    return said.empty() ? "promtool failed without a word" : said;
}

json publishOne(ApiClient& c, int id) {
    if (!c.send({{"op", "publish"},
                 {"id", id},
                 {"route", "cloud"},
                 {"topic", "m/data"},
                 {"qos", 1},
                 {"payload", "m" + std::to_string(id)}})) {
        return {};
    }
    auto r = c.receive(30s);
    return r ? *r : json{};
}

using Metrics = PkiTest;

TEST_F(Metrics, ValuesMoveWhileMessagesFlowAndWhileTheBrokerIsDown) {
    Mosquitto broker(dir, pki);
    const uint16_t port = freePort();
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca) +
                      "[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n");
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["state"] == "online"; }, 60s));
    auto scrape = [&] { return body(httpTcp(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")); };
    auto value = [&](const std::string& series) { return sample(scrape(), series).value_or(-1); };

    std::string text = scrape();
    EXPECT_EQ(sample(text, "uplinkd_route_up{route=\"cloud\",cloud=\"generic-mqtt\"}"), 1.0)
        << text;
    EXPECT_EQ(sample(text, "uplinkd_route_state{route=\"cloud\",state=\"online\"}"), 1.0);
    EXPECT_EQ(sample(text, "uplinkd_route_connects_total{route=\"cloud\"}"), 1.0);
    EXPECT_GT(sample(text, "uplinkd_spool_file_bytes").value_or(0), 0.0);
    EXPECT_GT(sample(text, "uplinkd_state_dir_free_bytes").value_or(0), 0.0);
    EXPECT_EQ(promtool(dir, text), "");

    // Messages flow: delivered and the latency histogram count them.
    Subscriber sub(pki, broker.port(), "m/#");
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    for (int i = 1; i <= 20; ++i) {
        ASSERT_EQ(publishOne(c, i)["status"], "queued");
    }
    ASSERT_TRUE(sub.waitFor(20, 60s));
    EXPECT_TRUE(waitUntil(
        [&] {
            return value("uplinkd_route_delivered_messages_total{route=\"cloud\"}") == 20.0 &&
                   value("uplinkd_route_delivery_latency_seconds_count{route=\"cloud\"}") == 20.0;
        },
        30s))
        << scrape();
    text = scrape();
    EXPECT_EQ(sample(text, "uplinkd_route_sent_messages_total{route=\"cloud\"}"), 20.0);
    EXPECT_EQ(sample(text, "uplinkd_route_queued_messages{route=\"cloud\"}"), 0.0);
    EXPECT_EQ(
        sample(text, "uplinkd_route_delivery_latency_seconds_bucket{route=\"cloud\",le=\"+Inf\"}"),
        20.0);
    EXPECT_EQ(promtool(dir, text), "");

    // The broker goes away: the route is down, failures are counted by class, messages queue up
    // and age.
    broker.stop();
    EXPECT_TRUE(waitUntil(
        [&] {
            const std::string t = scrape();
            return sample(t, "uplinkd_route_up{route=\"cloud\",cloud=\"generic-mqtt\"}") == 0.0 &&
                   sample(t,
                          "uplinkd_route_connect_failures_total{route=\"cloud\","
                          "reason_class=\"connection_lost\"}")
                               .value_or(0) +
                           sample(t,
                                  "uplinkd_route_connect_failures_total{route=\"cloud\","
                                  "reason_class=\"connect\"}")
                               .value_or(0) >=
                       1.0;
        },
        60s))
        << scrape();
    for (int i = 21; i <= 25; ++i) {
        ASSERT_EQ(publishOne(c, i)["status"], "queued");
    }
    EXPECT_TRUE(waitUntil(
        [&] {
            const std::string t = scrape();
            return sample(t, "uplinkd_route_queued_messages{route=\"cloud\"}") == 5.0 &&
                   sample(t, "uplinkd_route_oldest_queued_age_seconds{route=\"cloud\"}")
                           .value_or(0) > 0.0;
        },
        30s))
        << scrape();
    text = scrape();
    EXPECT_GT(sample(text, "uplinkd_route_queued_bytes{route=\"cloud\"}").value_or(0), 0.0);
    EXPECT_EQ(sample(text, "uplinkd_route_state{route=\"cloud\",state=\"online\"}"), 0.0);
    EXPECT_EQ(promtool(dir, text), "");

    // Back again: the backlog drains and a second connect is counted.
    broker.restart();
    EXPECT_TRUE(waitUntil(
        [&] {
            const std::string t = scrape();
            return sample(t, "uplinkd_route_queued_messages{route=\"cloud\"}") == 0.0 &&
                   sample(t, "uplinkd_route_delivered_messages_total{route=\"cloud\"}") == 25.0 &&
                   sample(t, "uplinkd_route_connects_total{route=\"cloud\"}") == 2.0;
        },
        60s))
        << scrape();
    EXPECT_EQ(promtool(dir, scrape()), "");
}

TEST_F(Metrics, UnixSocketAndRequestHandling) {
    Mosquitto broker(dir, pki);
    const std::string path = dir.file("metrics.sock");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca) + "[metrics]\nlisten = \"" + path +
                      "\"\n");
    const std::string ok = httpUnix(path, "GET /metrics HTTP/1.0\r\n\r\n");
    EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
    EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
              std::string::npos);
    EXPECT_NE(ok.find("Connection: close\r\n"), std::string::npos);
    EXPECT_NE(ok.find("uplinkd_route_up{route=\"cloud\""), std::string::npos) << ok;

    const std::string not_found = httpUnix(path, "GET /status HTTP/1.1\r\n\r\n");
    EXPECT_EQ(not_found.rfind("HTTP/1.1 404 ", 0), 0u) << not_found;
    const std::string post = httpUnix(path, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u) << post;
    // A head that never ends within the cap is refused, and the endpoint keeps serving.
    const std::string huge =
        httpUnix(path, "GET /metrics HTTP/1.1\r\nX-Long: " + std::string(20000, 'a') + "\r\n\r\n");
    EXPECT_EQ(huge.rfind("HTTP/1.1 431 ", 0), 0u) << huge.substr(0, 200);
    EXPECT_EQ(httpUnix(path, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST_F(Metrics, BadListenIsAConfigErrorWithItsPosition) {
    const std::string file = dir.file("bad.toml");
    writeFile(file, "[metrics]\nlisten = \"localhost:9743\"\n");
    Process p({buildDir() + "/daemon/uplinkd", "--check-config", file, "--plugin-dir", pluginDir()},
              dir.file("check.log"));
    EXPECT_EQ(p.waitExit(60s), 78);
    const std::string log = p.log();
    EXPECT_NE(log.find(file + ":2:"), std::string::npos) << log;
    EXPECT_NE(log.find("not an IP address"), std::string::npos) << log;
}

TEST(MetricsFormat, PromtoolAcceptsEveryFamily) {
    // Uplinks and modems cannot all be made live here; the formatter's full output is checked.
    TempDir dir;
    LatencyHistogram h;
    h.observe(0.2);
    metrics::MetricsSnapshot s;
    s.routes = metrics::routesFromStatus(json::array(
        {{{"route", "aws"},
          {"cloud", "aws-iot"},
          {"state", "backoff"},
          {"queued", 3},
          {"failure_codes", {{"dns", 2}, {"connack_5", 1}}},
          {"delivery_latency", metrics::histogramJson(h)},
          {"uplinks",
           {{{"name", "eth0"}, {"state", "failed"}, {"bytes_sent", 10}, {"bytes_received", 2}},
            {{"name", "lte"}, {"state", "active"}, {"bytes_sent", 5}, {"bytes_received", 1}}}}}}));
    s.modems.push_back(metrics::modemFromInfo({{"uplink", "lte"},
                                               {"state", "ready"},
                                               {"registration", "registered (home)"},
                                               {"signal_dbm", -71}}));
    s.spool_file_bytes = 1;
    s.disk_free_bytes = 2;
    EXPECT_EQ(promtool(dir, metrics::formatExposition(s)), "");
}

}  // namespace
}  // namespace uplinkd::testing
