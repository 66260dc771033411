// SPDX-License-Identifier: Apache-2.0
// LineFramer: splits a byte stream into newline-terminated lines, with a length limit. A line
// over the limit is reported once and skipped up to its newline, so one bad line never costs the
// following ones. Pure. Thread: the owner's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace uplinkd::api {

class LineFramer {
  public:
    explicit LineFramer(size_t max_line) : max_(max_line) {}

    /// Calls on_line(std::string_view) for each complete line (without "\n" or "\r\n"; empty
    /// lines are skipped) and on_overflow() once for each line longer than the limit.
    template <typename OnLine, typename OnOverflow>
    void feed(std::string_view data, OnLine&& on_line, OnOverflow&& on_overflow) {
        while (!data.empty()) {
            const size_t nl = data.find('\n');
            const std::string_view part = data.substr(0, nl);
            if (!skipping_) {
                if (buf_.size() + part.size() > max_) {
                    skipping_ = true;
                    buf_.clear();
                    on_overflow();
                } else {
                    buf_.append(part);
                }
            }
            if (nl == std::string_view::npos) {
                return;
            }
            data.remove_prefix(nl + 1);
            if (!skipping_) {
                std::string_view line = buf_;
                if (!line.empty() && line.back() == '\r') {
                    line.remove_suffix(1);
                }
                if (!line.empty()) {
                    on_line(line);
                }
            }
            buf_.clear();
            if (buf_.capacity() > kKeptCapacity) {
                std::string().swap(buf_);  // a large line must not pin its memory
            }
            skipping_ = false;
        }
    }

    /// Bytes of an incomplete line held so far.
    size_t pending() const { return buf_.size(); }

  private:
    /// Line buffer kept allocated between lines; above this it is given back after the line.
    static constexpr size_t kKeptCapacity = 64 * 1024;
    size_t max_;
    std::string buf_;
    bool skipping_ = false;
};

}  // namespace uplinkd::api
