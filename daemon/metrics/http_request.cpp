// SPDX-License-Identifier: Apache-2.0
#include "metrics/http_request.hpp"

#include "metrics/exposition.hpp"
#include "uplinkd/code_text.hpp"

namespace uplinkd::metrics {

namespace {

/// The statuses the endpoint answers with.
constexpr CodeText<int> kReasonPhrases[] = {
    {200, "OK"},
    {400, "Bad Request"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {431, "Request Header Fields Too Large"},
    {505, "HTTP Version Not Supported"},
};

std::string_view reasonPhrase(int status) {
    const char* phrase = codeText(status, kReasonPhrases);
    return phrase != nullptr ? phrase : "Error";
}

bool isToken(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (const char c : s) {
        if (c < 'A' || c > 'Z') {
            return false;
        }
    }
    return true;
}

}  // namespace

HttpResponse errorResponse(int status) {
    HttpResponse r;
    r.status = status;
    r.body = std::string(reasonPhrase(status)) + "\n";
    return r;
}

HttpResponse answerRequest(std::string_view head, const std::function<std::string()>& metrics) {
    const size_t eol = head.find("\r\n");
    if (eol == std::string_view::npos) {
        return errorResponse(400);
    }
    const std::string_view line = head.substr(0, eol);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return errorResponse(400);
    }
    const std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!isToken(method) || target.empty() || version.substr(0, 5) != "HTTP/") {
        return errorResponse(400);
    }
    if (version != "HTTP/1.0" && version != "HTTP/1.1") {
        return errorResponse(505);
    }
    if (const size_t q = target.find('?'); q != std::string_view::npos) {
        target = target.substr(0, q);
    }
    if (target != "/metrics") {
        return errorResponse(404);
    }
    if (method != "GET" && method != "HEAD") {
        HttpResponse r = errorResponse(405);
        return r;
    }
    HttpResponse r;
    r.content_type = std::string(kExpositionContentType);
    r.body = metrics ? metrics() : std::string();
    r.head_only = method == "HEAD";
    return r;
}

std::string serialize(const HttpResponse& response) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      std::string(reasonPhrase(response.status)) + "\r\n";
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    if (response.status == 405) {
        out += "Allow: GET, HEAD\r\n";
    }
    out += "Connection: close\r\n\r\n";
    if (!response.head_only) {
        out += response.body;
    }
    return out;
}

}  // namespace uplinkd::metrics
