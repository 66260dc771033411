// SPDX-License-Identifier: Apache-2.0
#include "config/config_metrics.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdlib>

namespace uplinkd {

Result<ListenAddress> parseListen(std::string_view text) {
    ListenAddress a;
    if (!text.empty() && text.front() == '/') {
        if (text.size() >= 108) {
            return fail("config",
                        "the socket path is longer than the 107 bytes a UNIX socket "
                        "path may have");
        }
        a.path = std::string(text);
        return a;
    }
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return fail("config",
                    "expected \"address:port\" (e.g. \"127.0.0.1:9743\") or an "
                    "absolute UNIX socket path, got \"" +
                        std::string(text) + "\"");
    }
    std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535) {
        return fail("config", "the port in \"" + std::string(text) + "\" must be 1 to 65535");
    }
    unsigned char buf[16];
    const std::string h(host);
    if (::inet_pton(AF_INET, h.c_str(), buf) != 1 && ::inet_pton(AF_INET6, h.c_str(), buf) != 1) {
        return fail("config", "\"" + h +
                                  "\" is not an IP address (write \"127.0.0.1\", \"0.0.0.0\", "
                                  "\"[::1]\"; host names are not resolved)");
    }
    a.host = h;
    a.port = static_cast<uint16_t>(v);
    return a;
}

void readMetrics(ConfigTable t, MetricsSection& out) {
    if (!t.present()) {
        return;
    }
    if (auto listen = t.string("listen", true)) {
        if (auto a = parseListen(*listen); !a) {
            t.error("listen", a.error().message);
        } else {
            out.listen = *listen;
        }
    }
    if (auto mode = t.fileMode("socket_mode")) {
        out.socket_mode = *mode;
    }
    t.finish();
}

}  // namespace uplinkd
