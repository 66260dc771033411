// SPDX-License-Identifier: Apache-2.0
#include "tunnel/connect_request.hpp"

#include <algorithm>
#include <cctype>

#include "uplinkd/text_fields.hpp"

namespace uplinkd {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

Result<ConnectRequest> parseConnectRequest(std::string_view head) {
    const auto eol = head.find("\r\n");
    if (eol == std::string_view::npos) {
        return fail("tunnel_request", "incomplete request line");
    }
    const std::string_view line = head.substr(0, eol);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1 || line.substr(0, sp1) != "CONNECT" ||
        !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
        return fail("tunnel_request",
                    "not a CONNECT request: \"" + std::string(line.substr(0, 64)) + "\"");
    }
    ConnectRequest req;
    req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    if (req.target.find(':') == std::string::npos) {
        return fail("tunnel_request", "CONNECT target without a port");
    }
    std::string_view rest = head.substr(eol + 2);
    bool have_auth = false;
    while (!rest.empty()) {
        const std::string_view h = takeField(rest, "\r\n");
        const auto colon = h.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        if (lower(trim(h.substr(0, colon))) != "proxy-authorization") {
            continue;
        }
        const std::string_view value = trim(h.substr(colon + 1));
        if (lower(value.substr(0, 6)) != "basic ") {
            return fail("tunnel_auth", "only Basic proxy authorization is accepted");
        }
        auto decoded = base64Decode(trim(value.substr(6)));
        if (!decoded) {
            return fail("tunnel_auth", "proxy credentials are not valid base64");
        }
        const auto c = decoded->find(':');
        if (c == std::string::npos) {
            return fail("tunnel_auth", "proxy credentials without a password");
        }
        req.user = decoded->substr(0, c);
        req.secret = decoded->substr(c + 1);
        have_auth = true;
    }
    if (!have_auth) {
        return fail("tunnel_auth", "no proxy credentials");
    }
    return req;
}

}  // namespace uplinkd
