#include "tunnel/connect_request.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

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

std::optional<std::string> base64Decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    // At most two '=', only at the end, and nothing outside the alphabet: EVP_DecodeBlock alone
    // would take "====" (and skip whitespace), and the padding would be subtracted past zero.
    size_t pad = 0;
    while (pad < text.size() && text[text.size() - 1 - pad] == '=') {
        ++pad;
    }
    if (pad > 2) {
        return std::nullopt;
    }
    for (size_t i = 0; i + pad < text.size(); ++i) {
        const char c = text[i];
        const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!alphabet) {
            return std::nullopt;
        }
    }
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0 || static_cast<size_t>(n) != out.size()) {
        return std::nullopt;
    }
    out.resize(out.size() - pad);  // EVP_DecodeBlock counts padding as zero bytes
    return out;
}

std::string base64Encode(std::string_view bytes) {
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

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
        const auto e = rest.find("\r\n");
        const std::string_view h = rest.substr(0, e);
        rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
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
