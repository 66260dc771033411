// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics_collector.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <set>

#include "metrics/exposition.hpp"

namespace uplinkd::metrics {

namespace {

uint64_t fileSize(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

MetricsCollector::MetricsCollector(asio::io_context& loop, Sources sources)
    : sources_(std::move(sources)), timer_(loop) {
    refreshModems();
}

MetricsCollector::~MetricsCollector() {
    alive_.reset();
    timer_.cancel();
}

void MetricsCollector::refreshModems() {
    if (sources_.modem_names && sources_.modem_info) {
        const auto names = sources_.modem_names();
        const std::set<std::string> now(names.begin(), names.end());
        std::erase_if(modem_cache_, [&](const auto& kv) { return now.count(kv.first) == 0; });
        std::weak_ptr<bool> alive = alive_;
        for (const auto& name : names) {
            sources_.modem_info(name, [this, alive, name](Result<nlohmann::json> r) {
                if (!alive.expired() && r) {
                    modem_cache_[name] = std::move(r.value());
                }
            });
        }
    }
    timer_.expires_after(kModemRefresh);
    std::weak_ptr<bool> alive = alive_;
    timer_.async_wait([this, alive](asio::error_code ec) {
        if (!ec && !alive.expired()) {
            refreshModems();
        }
    });
}

MetricsSnapshot MetricsCollector::snapshot() const {
    MetricsSnapshot s;
    if (sources_.status) {
        s.routes = routesFromStatus(sources_.status());
    }
    for (const auto& [name, info] : modem_cache_) {
        ModemMetrics m = modemFromInfo(info);
        m.uplink = name;
        s.modems.push_back(std::move(m));
    }
    if (!sources_.spool_path.empty()) {
        s.spool_file_bytes = fileSize(sources_.spool_path) + fileSize(sources_.spool_path + "-wal");
    }
    struct statvfs vfs {};
    if (!sources_.state_dir.empty() && ::statvfs(sources_.state_dir.c_str(), &vfs) == 0) {
        s.disk_free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    }
    return s;
}

std::string MetricsCollector::scrape() const {
    return formatExposition(snapshot());
}

}  // namespace uplinkd::metrics
