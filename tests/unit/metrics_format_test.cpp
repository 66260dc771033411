// SPDX-License-Identifier: Apache-2.0
// The metrics endpoint's pure parts: the exposition text, the request handling, the [metrics]
// listen address, the reason classes and the latency histogram.
#include <gtest/gtest.h>

#include "config/config_metrics.hpp"
#include "metrics/exposition.hpp"
#include "metrics/http_request.hpp"
#include "metrics/metrics_snapshot.hpp"

namespace uplinkd::metrics {
namespace {

bool hasLine(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

nlohmann::json demoStatus() {
    LatencyHistogram h;
    h.observe(0.02);
    h.observe(0.3);
    h.observe(7200);
    return nlohmann::json::array(
        {{{"route", "aws"},
          {"cloud", "aws-iot"},
          {"state", "online"},
          {"queued", 12},
          {"queued_bytes", 3400},
          {"oldest_age_ms", 1500},
          {"in_flight", 2},
          {"sent", 100},
          {"delivered", 98},
          {"received", 4},
          {"dropped", 1},
          {"expired", 2},
          {"rejected", 3},
          {"dead_lettered", 5},
          {"connects", 2},
          {"failure_codes", {{"dns", 1}, {"connack_5", 2}, {"connack_2", 1}, {"tls_verify", 3}}},
          {"delivery_latency", histogramJson(h)},
          {"uplinks",
           {{{"name", "eth0"}, {"state", "active"}, {"bytes_sent", 1000}, {"bytes_received", 20}},
            {{"name", "lte"}, {"state", "standby"}, {"bytes_sent", 0}, {"bytes_received", 0}}}}},
         {{"route", "we\"ird\\name"}, {"cloud", "generic-mqtt"}, {"state", "backoff"}}});
}

TEST(Exposition, RoutesCountersAndGauges) {
    MetricsSnapshot s;
    s.routes = routesFromStatus(demoStatus());
    s.spool_file_bytes = 4096;
    s.disk_free_bytes = 1 << 20;
    const std::string text = formatExposition(s);
    const char* expected[] = {
        "# TYPE uplinkd_route_up gauge",
        "uplinkd_route_up{route=\"aws\",cloud=\"aws-iot\"} 1",
        "uplinkd_route_up{route=\"we\\\"ird\\\\name\",cloud=\"generic-mqtt\"} 0",
        "uplinkd_route_state{route=\"aws\",state=\"online\"} 1",
        "uplinkd_route_state{route=\"aws\",state=\"backoff\"} 0",
        "uplinkd_route_queued_messages{route=\"aws\"} 12",
        "uplinkd_route_queued_bytes{route=\"aws\"} 3400",
        "uplinkd_route_oldest_queued_age_seconds{route=\"aws\"} 1.5",
        "uplinkd_route_in_flight_messages{route=\"aws\"} 2",
        "# TYPE uplinkd_route_sent_messages_total counter",
        "uplinkd_route_sent_messages_total{route=\"aws\"} 100",
        "uplinkd_route_delivered_messages_total{route=\"aws\"} 98",
        "uplinkd_route_received_messages_total{route=\"aws\"} 4",
        "uplinkd_route_dropped_messages_total{route=\"aws\"} 1",
        "uplinkd_route_expired_messages_total{route=\"aws\"} 2",
        "uplinkd_route_rejected_messages_total{route=\"aws\"} 3",
        "uplinkd_route_dead_lettered_messages_total{route=\"aws\"} 5",
        "uplinkd_route_connects_total{route=\"aws\"} 2",
        "uplinkd_route_connect_failures_total{route=\"aws\",reason_class=\"dns\"} 1",
        "uplinkd_route_connect_failures_total{route=\"aws\",reason_class=\"auth\"} 2",
        "uplinkd_route_connect_failures_total{route=\"aws\",reason_class=\"refused\"} 1",
        "uplinkd_route_connect_failures_total{route=\"aws\",reason_class=\"tls\"} 3",
        "# TYPE uplinkd_route_delivery_latency_seconds histogram",
        "uplinkd_route_delivery_latency_seconds_bucket{route=\"aws\",le=\"0.01\"} 0",
        "uplinkd_route_delivery_latency_seconds_bucket{route=\"aws\",le=\"0.025\"} 1",
        "uplinkd_route_delivery_latency_seconds_bucket{route=\"aws\",le=\"0.5\"} 2",
        "uplinkd_route_delivery_latency_seconds_bucket{route=\"aws\",le=\"3600\"} 2",
        "uplinkd_route_delivery_latency_seconds_bucket{route=\"aws\",le=\"+Inf\"} 3",
        "uplinkd_route_delivery_latency_seconds_count{route=\"aws\"} 3",
        "uplinkd_route_delivery_latency_seconds_sum{route=\"aws\"} 7200.32",
        "uplinkd_uplink_state{route=\"aws\",uplink=\"eth0\",state=\"active\"} 1",
        "uplinkd_uplink_sent_bytes_total{route=\"aws\",uplink=\"eth0\"} 1000",
        "uplinkd_uplink_received_bytes_total{route=\"aws\",uplink=\"eth0\"} 20",
        "uplinkd_spool_file_bytes 4096",
        "uplinkd_state_dir_free_bytes 1048576",
    };
    for (const char* line : expected) {
        EXPECT_TRUE(hasLine(text, line)) << "missing: " << line << "\n" << text;
    }
}

TEST(Exposition, UplinksAndModemsOnlyWhenKnown) {
    MetricsSnapshot s;
    s.routes = routesFromStatus(nlohmann::json::array({{{"route", "a"}, {"state", "idle"}}}));
    std::string text = formatExposition(s);
    EXPECT_EQ(text.find("uplinkd_uplink_"), std::string::npos) << text;
    EXPECT_EQ(text.find("uplinkd_modem_"), std::string::npos) << text;
    EXPECT_EQ(text.find("uplinkd_spool_file_bytes"), std::string::npos) << text;

    s.modems.push_back(modemFromInfo({{"uplink", "lte"},
                                      {"state", "ready"},
                                      {"registration", "registered (roaming)"},
                                      {"signal_dbm", -87}}));
    s.modems.push_back(modemFromInfo({{"uplink", "wifi"}, {"state", "recovering"}}));
    text = formatExposition(s);
    EXPECT_TRUE(hasLine(text, "uplinkd_modem_ready{uplink=\"lte\"} 1")) << text;
    EXPECT_TRUE(hasLine(text, "uplinkd_modem_ready{uplink=\"wifi\"} 0")) << text;
    EXPECT_TRUE(hasLine(text, "uplinkd_modem_signal_dbm{uplink=\"lte\"} -87")) << text;
    EXPECT_EQ(text.find("uplinkd_modem_signal_dbm{uplink=\"wifi\"}"), std::string::npos) << text;
    EXPECT_TRUE(hasLine(text, "uplinkd_modem_registered{uplink=\"lte\"} 1")) << text;
    EXPECT_TRUE(hasLine(text, "uplinkd_modem_registered{uplink=\"wifi\"} 0")) << text;
    EXPECT_TRUE(hasLine(
        text, "uplinkd_modem_registration{uplink=\"lte\",registration=\"registered (roaming)\"} 1"))
        << text;
}

TEST(Exposition, EveryFamilyHasHelpAndTypeOnce) {
    MetricsSnapshot s;
    s.routes = routesFromStatus(demoStatus());
    const std::string text = formatExposition(s);
    size_t pos = 0;
    std::map<std::string, int> types;
    while ((pos = text.find("# TYPE ", pos)) != std::string::npos) {
        pos += 7;
        types[text.substr(pos, text.find(' ', pos) - pos)]++;
    }
    EXPECT_GT(types.size(), 15u);
    for (const auto& [name, n] : types) {
        EXPECT_EQ(n, 1) << name;
        EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
    }
}

TEST(Exposition, BadStatusFieldsBecomeZero) {
    const auto routes = routesFromStatus(nlohmann::json::array(
        {{{"route", "x"}, {"queued", "many"}, {"delivered", -4}, {"delivery_latency", 3}},
         "not an object"}));
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_EQ(routes[0].queued, 0u);
    EXPECT_EQ(routes[0].delivered, 0u);
    EXPECT_TRUE(routes[0].delivery_latency.bounds.empty());
    EXPECT_NE(formatExposition({routes, {}, {}, {}})
                  .find("uplinkd_route_delivery_latency_seconds_bucket{route=\"x\",le=\"+Inf\"} 0"),
              std::string::npos);
}

struct ClassCase {
    const char* code;
    const char* cls;
};
class ReasonClass : public ::testing::TestWithParam<ClassCase> {};
TEST_P(ReasonClass, FollowsTheTable) {
    EXPECT_EQ(reasonClass(GetParam().code), GetParam().cls) << GetParam().code;
}
INSTANTIATE_TEST_SUITE_P(
    Table, ReasonClass,
    ::testing::Values(ClassCase{"dns", "dns"}, ClassCase{"connect", "connect"},
                      ClassCase{"timeout", "timeout"}, ClassCase{"connack_5", "auth"},
                      ClassCase{"connack_135", "auth"}, ClassCase{"connack_3", "refused"},
                      ClassCase{"tls_verify", "tls"}, ClassCase{"tls_alert_40", "tls"},
                      ClassCase{"at_timeout", "modem"}, ClassCase{"modem_not_ready", "modem"},
                      ClassCase{"tunnel_auth", "internal"},
                      ClassCase{"connection_lost", "connection_lost"}, ClassCase{"", "other"},
                      ClassCase{"whatever", "other"}));

TEST(Histogram, BucketsAreCumulativeAndBoundsInclusive) {
    LatencyHistogram h;
    h.observe(0.01);  // on the bound: in it
    h.observe(-1);    // clock stepped back: immediate
    h.observe(1e9);
    EXPECT_EQ(h.cumulative(0), 2u);
    EXPECT_EQ(h.cumulative(LatencyHistogram::kBounds.size() - 1), 2u);
    EXPECT_EQ(h.cumulative(LatencyHistogram::kBounds.size()), 3u);
    EXPECT_EQ(h.count(), 3u);
}

struct RequestCase {
    const char* head;
    int status;
    bool has_body;
};
class Request : public ::testing::TestWithParam<RequestCase> {};
TEST_P(Request, IsAnsweredPerTheTable) {
    const auto r = answerRequest(GetParam().head, [] { return std::string("m 1\n"); });
    EXPECT_EQ(r.status, GetParam().status) << GetParam().head;
    const std::string wire = serialize(r);
    EXPECT_NE(wire.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(wire.size() >= 4 && wire.substr(wire.size() - 4) == "m 1\n", GetParam().has_body)
        << wire;
    if (r.status == 200) {
        EXPECT_NE(wire.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
                  std::string::npos);
        EXPECT_NE(wire.find("Content-Length: 4\r\n"), std::string::npos);
    }
    if (r.status == 405) {
        EXPECT_NE(wire.find("Allow: GET, HEAD\r\n"), std::string::npos);
    }
}
INSTANTIATE_TEST_SUITE_P(
    Table, Request,
    ::testing::Values(RequestCase{"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, true},
                      RequestCase{"GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200, true},
                      RequestCase{"HEAD /metrics HTTP/1.1\r\n\r\n", 200, false},
                      RequestCase{"POST /metrics HTTP/1.1\r\n\r\n", 405, false},
                      RequestCase{"DELETE /metrics HTTP/1.1\r\n\r\n", 405, false},
                      RequestCase{"GET / HTTP/1.1\r\n\r\n", 404, false},
                      RequestCase{"GET /metrics/ HTTP/1.1\r\n\r\n", 404, false},
                      RequestCase{"GET /metrics HTTP/2.0\r\n\r\n", 505, false},
                      RequestCase{"GET /metrics\r\n\r\n", 400, false},
                      RequestCase{"GET  /metrics HTTP/1.1\r\n\r\n", 400, false},
                      RequestCase{"get /metrics HTTP/1.1\r\n\r\n", 400, false},
                      RequestCase{"\r\n\r\n", 400, false}, RequestCase{"", 400, false},
                      RequestCase{"GET /metrics HTTP/1.1 extra\r\n\r\n", 400, false}));

struct ListenCase {
    const char* text;
    bool ok;
    const char* host;
    uint16_t port;
    const char* path;
};
class Listen : public ::testing::TestWithParam<ListenCase> {};
TEST_P(Listen, IsParsedPerTheTable) {
    const auto& c = GetParam();
    auto r = parseListen(c.text);
    ASSERT_EQ(r.ok(), c.ok) << c.text << (r ? "" : ": " + r.error().message);
    if (r) {
        EXPECT_EQ(r->host, c.host);
        EXPECT_EQ(r->port, c.port);
        EXPECT_EQ(r->path, c.path);
    }
}
INSTANTIATE_TEST_SUITE_P(
    Table, Listen,
    ::testing::Values(
        ListenCase{"127.0.0.1:9743", true, "127.0.0.1", 9743, ""},
        ListenCase{"0.0.0.0:1", true, "0.0.0.0", 1, ""},
        ListenCase{"[::1]:9743", true, "::1", 9743, ""},
        ListenCase{"/run/uplinkd/metrics.sock", true, "", 0, "/run/uplinkd/metrics.sock"},
        ListenCase{"localhost:9743", false, "", 0, ""}, ListenCase{"127.0.0.1", false, "", 0, ""},
        ListenCase{"127.0.0.1:0", false, "", 0, ""},
        ListenCase{"127.0.0.1:65536", false, "", 0, ""},
        ListenCase{"127.0.0.1:97x", false, "", 0, ""}, ListenCase{":9743", false, "", 0, ""},
        ListenCase{"metrics.sock", false, "", 0, ""}, ListenCase{"", false, "", 0, ""}));

}  // namespace
}  // namespace uplinkd::metrics
