// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics_snapshot.hpp"

#include <utility>

namespace uplinkd::metrics {

namespace {

/// A count as a non-negative integer whatever JSON number it came as; anything else is 0.
uint64_t count(const nlohmann::json& v) {
    if (v.is_number_unsigned()) {
        return v.get<uint64_t>();
    }
    if (v.is_number_integer()) {
        const int64_t i = v.get<int64_t>();
        return i > 0 ? static_cast<uint64_t>(i) : 0;
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        return d > 0 ? static_cast<uint64_t>(d) : 0;
    }
    return 0;
}

uint64_t u64(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() ? 0 : count(*it);
}

std::string str(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

HistogramMetrics histogramFrom(const nlohmann::json& j) {
    HistogramMetrics h;
    if (!j.is_object()) {
        return h;
    }
    const auto le = j.find("le");
    const auto cum = j.find("cumulative");
    if (le == j.end() || cum == j.end() || !le->is_array() || !cum->is_array() ||
        cum->size() != le->size() + 1) {
        return h;
    }
    for (const auto& b : *le) {
        h.bounds.push_back(b.is_number() ? b.get<double>() : 0.0);
    }
    for (const auto& c : *cum) {
        h.cumulative.push_back(count(c));
    }
    h.count = u64(j, "count");
    const auto sum = j.find("sum");
    h.sum = sum != j.end() && sum->is_number() ? sum->get<double>() : 0.0;
    return h;
}

}  // namespace

const std::vector<std::string_view>& routeStates() {
    static const std::vector<std::string_view> states = {"idle",   "dialing", "tls",    "mqtt",
                                                         "online", "backoff", "stopped"};
    return states;
}

std::string_view reasonClass(std::string_view code) {
    // First match wins: exact codes, then prefixes.
    static const std::pair<std::string_view, std::string_view> exact[] = {
        {"dns", "dns"},          {"connect", "connect"},
        {"timeout", "timeout"},  {"connection_lost", "connection_lost"},
        {"connack_4", "auth"},    // MQTT 3.1.1: bad user name or password
        {"connack_5", "auth"},    // MQTT 3.1.1: not authorized
        {"connack_134", "auth"},  // MQTT 5: bad user name or password
        {"connack_135", "auth"},  // MQTT 5: not authorized
    };
    static const std::pair<std::string_view, std::string_view> prefixes[] = {
        {"connack_", "refused"}, {"tls", "tls"},     {"at_", "modem"},       {"modem", "modem"},
        {"serial", "modem"},     {"power", "modem"}, {"tunnel", "internal"}, {"mqtt", "protocol"},
    };
    for (const auto& [c, cls] : exact) {
        if (code == c) {
            return cls;
        }
    }
    for (const auto& [p, cls] : prefixes) {
        if (code.substr(0, p.size()) == p) {
            return cls;
        }
    }
    return "other";
}

nlohmann::json histogramJson(const LatencyHistogram& h) {
    nlohmann::json le = nlohmann::json::array();
    nlohmann::json cumulative = nlohmann::json::array();
    for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
        le.push_back(LatencyHistogram::kBounds[i]);
        cumulative.push_back(h.cumulative(i));
    }
    cumulative.push_back(h.count());
    return {{"le", le}, {"cumulative", cumulative}, {"count", h.count()}, {"sum", h.sum()}};
}

std::vector<RouteMetrics> routesFromStatus(const nlohmann::json& routes) {
    std::vector<RouteMetrics> out;
    if (!routes.is_array()) {
        return out;
    }
    for (const auto& r : routes) {
        if (!r.is_object()) {
            continue;
        }
        RouteMetrics m;
        m.name = str(r, "route");
        m.cloud = str(r, "cloud");
        m.state = str(r, "state");
        m.queued = u64(r, "queued");
        m.queued_bytes = u64(r, "queued_bytes");
        m.oldest_age_seconds = static_cast<double>(u64(r, "oldest_age_ms")) / 1000.0;
        m.in_flight = u64(r, "in_flight");
        m.sent = u64(r, "sent");
        m.delivered = u64(r, "delivered");
        m.received = u64(r, "received");
        m.dropped = u64(r, "dropped");
        m.expired = u64(r, "expired");
        m.rejected = u64(r, "rejected");
        m.dead_lettered = u64(r, "dead_lettered");
        m.connects = u64(r, "connects");
        if (auto codes = r.find("failure_codes"); codes != r.end() && codes->is_object()) {
            for (const auto& [code, n] : codes->items()) {
                m.failures_by_class[std::string(reasonClass(code))] += count(n);
            }
        }
        if (auto h = r.find("delivery_latency"); h != r.end()) {
            m.delivery_latency = histogramFrom(*h);
        }
        if (auto ups = r.find("uplinks"); ups != r.end() && ups->is_array()) {
            for (const auto& u : *ups) {
                if (!u.is_object()) {
                    continue;
                }
                m.uplinks.push_back({str(u, "name"), str(u, "state"), u64(u, "bytes_sent"),
                                     u64(u, "bytes_received"), std::nullopt, std::nullopt});
                if (auto t = u.find("today"); t != u.end() && t->is_object()) {
                    m.uplinks.back().today_sent = u64(*t, "sent");
                    m.uplinks.back().today_received = u64(*t, "received");
                }
            }
        }
        out.push_back(std::move(m));
    }
    return out;
}

ModemMetrics modemFromInfo(const nlohmann::json& info) {
    ModemMetrics m;
    m.uplink = str(info, "uplink");
    m.ready = str(info, "state") == "ready";
    m.registration = str(info, "registration");
    if (auto s = info.find("signal_dbm"); s != info.end() && s->is_number_integer()) {
        if (const int v = s->get<int>(); v != 0) {  // 0: the module did not say
            m.signal_dbm = v;
        }
    }
    return m;
}

}  // namespace uplinkd::metrics
