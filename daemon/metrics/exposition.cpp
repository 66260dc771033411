// SPDX-License-Identifier: Apache-2.0
#include "metrics/exposition.hpp"

#include <charconv>
#include <functional>
#include <initializer_list>
#include <utility>

namespace uplinkd::metrics {

namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

std::string number(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

/// Writes one metric family at a time: HELP and TYPE once, then its samples.
class Writer {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;  // our own constant text: no backslash or newline to escape
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(std::string_view name, Labels labels, std::string_view value) {
        out_ += name;
        if (labels.size() > 0) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                out_ += first ? "" : ",";
                first = false;
                out_ += k;
                out_ += "=\"";
                out_ += escapeLabelValue(v);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    void sample(std::string_view name, Labels labels, uint64_t value) {
        sample(name, labels, std::to_string(value));
    }
    void sample(std::string_view name, Labels labels, double value) {
        sample(name, labels, number(value));
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

struct RouteCounter {
    const char* name;
    const char* help;
    uint64_t RouteMetrics::*field;
};

void writeRoutes(Writer& w, const std::vector<RouteMetrics>& routes) {
    w.family("uplinkd_route_up", "gauge", "1 when the route is online (connected to its broker).");
    for (const auto& r : routes) {
        w.sample("uplinkd_route_up", {{"route", r.name}, {"cloud", r.cloud}},
                 uint64_t{r.state == "online"});
    }
    w.family("uplinkd_route_state", "gauge", "1 for the state the route is in, 0 for the others.");
    for (const auto& r : routes) {
        for (const auto s : routeStates()) {
            w.sample("uplinkd_route_state", {{"route", r.name}, {"state", s}},
                     uint64_t{r.state == s});
        }
    }
    const std::pair<const char*, const char*> gauges_help[] = {
        {"uplinkd_route_queued_messages", "Messages in the spool waiting for delivery."},
        {"uplinkd_route_queued_bytes", "Payload bytes in the spool waiting for delivery."},
        {"uplinkd_route_in_flight_messages",
         "Messages handed to the broker, not yet acknowledged."},
    };
    const uint64_t RouteMetrics::*gauge_fields[] = {
        &RouteMetrics::queued, &RouteMetrics::queued_bytes, &RouteMetrics::in_flight};
    for (size_t i = 0; i < std::size(gauges_help); ++i) {
        w.family(gauges_help[i].first, "gauge", gauges_help[i].second);
        for (const auto& r : routes) {
            w.sample(gauges_help[i].first, {{"route", r.name}}, r.*gauge_fields[i]);
        }
    }
    w.family("uplinkd_route_oldest_queued_age_seconds", "gauge",
             "Age of the oldest queued message (0 when the queue is empty).");
    for (const auto& r : routes) {
        w.sample("uplinkd_route_oldest_queued_age_seconds", {{"route", r.name}},
                 r.oldest_age_seconds);
    }
    static const RouteCounter counters[] = {
        {"uplinkd_route_sent_messages_total", "Messages handed to the broker connection.",
         &RouteMetrics::sent},
        {"uplinkd_route_delivered_messages_total",
         "Messages the broker acknowledged (removed from the spool).", &RouteMetrics::delivered},
        {"uplinkd_route_received_messages_total", "Messages received from the broker.",
         &RouteMetrics::received},
        {"uplinkd_route_dropped_messages_total",
         "Queued messages dropped to respect the spool limits.", &RouteMetrics::dropped},
        {"uplinkd_route_expired_messages_total", "Queued messages that expired before delivery.",
         &RouteMetrics::expired},
        {"uplinkd_route_rejected_messages_total",
         "Messages refused at publish time because the spool was full.", &RouteMetrics::rejected},
        {"uplinkd_route_dead_lettered_messages_total",
         "Messages the broker kept refusing, moved to the dead-letter table.",
         &RouteMetrics::dead_lettered},
        {"uplinkd_route_connects_total", "Successful connections to the broker.",
         &RouteMetrics::connects},
    };
    for (const auto& c : counters) {
        w.family(c.name, "counter", c.help);
        for (const auto& r : routes) {
            w.sample(c.name, {{"route", r.name}}, r.*c.field);
        }
    }
    w.family("uplinkd_route_connect_failures_total", "counter",
             "Failed connection attempts, by reason class (dns, connect, tls, auth, ...).");
    for (const auto& r : routes) {
        for (const auto& [cls, n] : r.failures_by_class) {
            w.sample("uplinkd_route_connect_failures_total",
                     {{"route", r.name}, {"reason_class", cls}}, n);
        }
    }
    w.family(
        "uplinkd_route_delivery_latency_seconds", "histogram",
        "Time from queueing (accepted from the local client) to the broker's acknowledgement.");
    for (const auto& r : routes) {
        const HistogramMetrics& h = r.delivery_latency;
        for (size_t i = 0; i < h.bounds.size(); ++i) {
            w.sample("uplinkd_route_delivery_latency_seconds_bucket",
                     {{"route", r.name}, {"le", number(h.bounds[i])}}, h.cumulative[i]);
        }
        w.sample("uplinkd_route_delivery_latency_seconds_bucket",
                 {{"route", r.name}, {"le", "+Inf"}}, h.count);
        w.sample("uplinkd_route_delivery_latency_seconds_sum", {{"route", r.name}}, h.sum);
        w.sample("uplinkd_route_delivery_latency_seconds_count", {{"route", r.name}}, h.count);
    }
}

// The data budget: the current UTC day's bytes, which survive a restart (unlike the counters).
void writeUplinkDays(Writer& w, const std::vector<RouteMetrics>& routes) {
    bool any = false;
    for (const auto& r : routes) {
        for (const auto& u : r.uplinks) {
            any |= u.today_sent.has_value();
        }
    }
    if (!any) {
        return;
    }
    w.family(
        "uplinkd_uplink_today_sent_bytes", "gauge",
        "Bytes the route sent over this uplink on the current UTC day (kept across restarts).");
    for (const auto& r : routes) {
        for (const auto& u : r.uplinks) {
            if (u.today_sent) {
                w.sample("uplinkd_uplink_today_sent_bytes", {{"route", r.name}, {"uplink", u.name}},
                         *u.today_sent);
            }
        }
    }
    w.family("uplinkd_uplink_today_received_bytes", "gauge",
             "Bytes the route received over this uplink on the current UTC day (kept across "
             "restarts).");
    for (const auto& r : routes) {
        for (const auto& u : r.uplinks) {
            if (u.today_received) {
                w.sample("uplinkd_uplink_today_received_bytes",
                         {{"route", r.name}, {"uplink", u.name}}, *u.today_received);
            }
        }
    }
}

void writeUplinks(Writer& w, const std::vector<RouteMetrics>& routes) {
    bool any = false;
    for (const auto& r : routes) {
        any |= !r.uplinks.empty();
    }
    if (!any) {
        return;
    }
    w.family("uplinkd_uplink_state", "gauge",
             "1 with the state of each uplink of a route as a label.");
    for (const auto& r : routes) {
        for (const auto& u : r.uplinks) {
            w.sample("uplinkd_uplink_state",
                     {{"route", r.name}, {"uplink", u.name}, {"state", u.state}}, uint64_t{1});
        }
    }
    w.family("uplinkd_uplink_sent_bytes_total", "counter",
             "Bytes the route sent over this uplink.");
    for (const auto& r : routes) {
        for (const auto& u : r.uplinks) {
            w.sample("uplinkd_uplink_sent_bytes_total", {{"route", r.name}, {"uplink", u.name}},
                     u.bytes_sent);
        }
    }
    w.family("uplinkd_uplink_received_bytes_total", "counter",
             "Bytes the route received over this uplink.");
    for (const auto& r : routes) {
        for (const auto& u : r.uplinks) {
            w.sample("uplinkd_uplink_received_bytes_total", {{"route", r.name}, {"uplink", u.name}},
                     u.bytes_received);
        }
    }
    writeUplinkDays(w, routes);
}

void writeModems(Writer& w, const std::vector<ModemMetrics>& modems) {
    if (modems.empty()) {
        return;
    }
    w.family("uplinkd_modem_ready", "gauge", "1 when the module answers and is set up.");
    for (const auto& m : modems) {
        w.sample("uplinkd_modem_ready", {{"uplink", m.uplink}}, uint64_t{m.ready});
    }
    w.family("uplinkd_modem_signal_dbm", "gauge",
             "Signal strength the module reported last (absent when unknown).");
    for (const auto& m : modems) {
        if (m.signal_dbm) {
            w.sample("uplinkd_modem_signal_dbm", {{"uplink", m.uplink}},
                     number(static_cast<double>(*m.signal_dbm)));
        }
    }
    w.family("uplinkd_modem_registered", "gauge",
             "1 when the module is registered on a network (home or roaming).");
    for (const auto& m : modems) {
        w.sample("uplinkd_modem_registered", {{"uplink", m.uplink}},
                 uint64_t{m.registration.rfind("registered", 0) == 0});
    }
    w.family("uplinkd_modem_registration", "gauge",
             "1 with the registration the module reported last as a label.");
    for (const auto& m : modems) {
        if (!m.registration.empty()) {
            w.sample("uplinkd_modem_registration",
                     {{"uplink", m.uplink}, {"registration", m.registration}}, uint64_t{1});
        }
    }
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string formatExposition(const MetricsSnapshot& snapshot) {
    Writer w;
    writeRoutes(w, snapshot.routes);
    writeUplinks(w, snapshot.routes);
    writeModems(w, snapshot.modems);
    if (snapshot.spool_file_bytes) {
        w.family("uplinkd_spool_file_bytes", "gauge",
                 "Size of the spool database and its write-ahead log.");
        w.sample("uplinkd_spool_file_bytes", {}, *snapshot.spool_file_bytes);
    }
    if (snapshot.disk_free_bytes) {
        w.family("uplinkd_state_dir_free_bytes", "gauge",
                 "Free space (for uplinkd's user) on the file system of the state directory.");
        w.sample("uplinkd_state_dir_free_bytes", {}, *snapshot.disk_free_bytes);
    }
    return w.take();
}

}  // namespace uplinkd::metrics
