// SPDX-License-Identifier: Apache-2.0
#include "uplink/traffic_ledger.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace uplinkd {

namespace {

constexpr int kVersion = 1;

int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Status writeAll(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail("io", std::strerror(errno));
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

}  // namespace

Status TrafficLedger::load() {
    std::ifstream in(path_);
    if (!in) {
        return {};  // first start: nothing counted yet
    }
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
    if (j.is_discarded()) {
        return fail("format", path_ + ": not JSON");
    }
    if (auto st = fromJson(j); !st) {
        return st.failure(path_);
    }
    return {};
}

Status TrafficLedger::save() {
    if (!dirty_) {
        return {};
    }
    const std::string data = toJson(wallMs()).dump() + "\n";
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        return fail("io", "cannot write " + tmp + ": " + std::strerror(errno));
    }
    Status st = writeAll(fd, data);
    if (st && ::fsync(fd) != 0) {
        st = fail("io", std::strerror(errno));
    }
    ::close(fd);
    if (st && ::rename(tmp.c_str(), path_.c_str()) != 0) {
        st = fail("io", std::strerror(errno));
    }
    if (!st) {
        ::unlink(tmp.c_str());
        return fail("io", "cannot write " + path_ + ": " + st.error().message);
    }
    dirty_ = false;
    return {};
}

void TrafficLedger::observe(const std::string& route, const std::string& uplink,
                            uint64_t sent_total, uint64_t received_total, int64_t unix_ms) {
    Entry& e = entries_[{route, uplink}];
    // Counters below the last ones belong to a route that restarted unannounced: all is new.
    const uint64_t sent = sent_total >= e.last_sent ? sent_total - e.last_sent : sent_total;
    const uint64_t received =
        received_total >= e.last_received ? received_total - e.last_received : received_total;
    e.last_sent = sent_total;
    e.last_received = received_total;
    if (sent != 0 || received != 0) {
        e.days.add(sent, received, unix_ms);
        dirty_ = true;
    }
}

void TrafficLedger::routeStopped(const std::string& route) {
    for (auto& [key, e] : entries_) {
        if (key.first == route) {
            e.last_sent = 0;
            e.last_received = 0;
        }
    }
}

const TrafficDays& TrafficLedger::days(const std::string& route, const std::string& uplink) const {
    static const TrafficDays kNone;
    const auto it = entries_.find({route, uplink});
    return it == entries_.end() ? kNone : it->second.days;
}

nlohmann::json TrafficLedger::toJson(int64_t unix_ms) const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [key, e] : entries_) {
        TrafficDays kept = e.days;
        kept.prune(unix_ms);
        if (kept.empty()) {
            continue;
        }
        list.push_back({{"route", key.first}, {"uplink", key.second}, {"days", kept.toJson()}});
    }
    return {{"version", kVersion}, {"uplinks", list}};
}

Status TrafficLedger::fromJson(const nlohmann::json& j) {
    entries_.clear();
    if (!j.is_object() || !j.contains("version") || j["version"] != kVersion) {
        return fail("format", "\"version\" is not " + std::to_string(kVersion));
    }
    const auto list = j.find("uplinks");
    if (list == j.end() || !list->is_array()) {
        return fail("format", "\"uplinks\" is not an array");
    }
    std::map<Key, Entry> read;
    for (size_t i = 0; i < list->size(); ++i) {
        const nlohmann::json& u = (*list)[i];
        const std::string where = "uplinks[" + std::to_string(i) + "]";
        if (!u.is_object() || !u.contains("route") || !u["route"].is_string() ||
            !u.contains("uplink") || !u["uplink"].is_string()) {
            return fail("format", where + ": \"route\" and \"uplink\" must be strings");
        }
        auto days = TrafficDays::fromJson(u.value("days", nlohmann::json()));
        if (!days) {
            return days.failure(where);
        }
        read[{u["route"].get<std::string>(), u["uplink"].get<std::string>()}].days =
            std::move(days.value());
    }
    entries_ = std::move(read);
    return {};
}

}  // namespace uplinkd
