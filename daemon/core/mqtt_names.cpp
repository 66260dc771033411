// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/mqtt_names.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace uplinkd::mqtt {

namespace {

bool hostChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
}

/// Decodes the character at `i` of UTF-8 (its length in `*len`); false when its lead byte or
/// continuation bytes are malformed. Overlong forms and surrogates are left to the caller.
bool decodeAt(std::string_view bytes, size_t i, uint32_t* cp, size_t* len) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
        *cp = c;
        *len = 1;
        return true;
    }
    size_t n = 0;
    uint32_t v = 0;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        v = c & 0x07;
    } else {
        return false;
    }
    if (i + n > bytes.size()) {
        return false;
    }
    for (size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(bytes[i + k]);
        if ((cc & 0xC0) != 0x80) {
            return false;
        }
        v = (v << 6) | (cc & 0x3F);
    }
    *cp = v;
    *len = n;
    return true;
}

/// Calls `on_char(code_point, length, byte_offset)` for each character of `text` in order, until
/// it returns false; false then, or at a malformed character (decodeAt), else true.
template <typename OnChar>
bool forEachChar(std::string_view text, OnChar on_char) {
    size_t i = 0;
    while (i < text.size()) {
        uint32_t cp = 0;
        size_t len = 0;
        if (!decodeAt(text, i, &cp, &len) || !on_char(cp, len, i)) {
            return false;
        }
        i += len;
    }
    return true;
}

/// Why `text` cannot be sent as an MQTT string, or nothing: longer than 65535 bytes, not UTF-8, or
/// a forbidden character (then `forbidden_note` follows). The sentence starts with `subject`
/// ("the topic"), or with the verb when it is empty.
std::optional<std::string> mqttStringProblem(std::string_view text, std::string_view subject,
                                             std::string_view forbidden_note = {}) {
    const std::string who = subject.empty() ? std::string() : std::string(subject) + " ";
    if (text.size() > kMaxStringBytes) {
        return who + "is " + std::to_string(text.size()) + " bytes; MQTT allows at most " +
               std::to_string(kMaxStringBytes);
    }
    if (!validUtf8(text)) {
        return who + "is not valid UTF-8 text";
    }
    if (auto bad = findForbiddenChar(text)) {
        return who + "contains " + describeForbiddenChar(*bad) + std::string(forbidden_note);
    }
    return std::nullopt;
}

/// Why `text` (a property key or value) cannot be sent, or nothing.
std::optional<std::string> propertyTextProblem(std::string_view text) {
    return mqttStringProblem(text, "");
}

}  // namespace

bool isForbiddenCodePoint(uint32_t cp) {
    return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
           (cp & 0xFFFE) == 0xFFFE;
}

std::optional<ForbiddenChar> findForbiddenChar(std::string_view text) {
    std::optional<ForbiddenChar> found;
    size_t position = 0;
    forEachChar(text, [&](uint32_t cp, size_t, size_t offset) {
        ++position;
        if (isForbiddenCodePoint(cp)) {
            found = ForbiddenChar{cp, position, offset};
            return false;
        }
        return true;
    });
    return found;
}

std::string describeForbiddenChar(const ForbiddenChar& c) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(c.code_point));
    const bool control = c.code_point <= 0x1F || (c.code_point >= 0x7F && c.code_point <= 0x9F);
    return std::string(hex) + (control ? " (a control character)" : " (a Unicode noncharacter)") +
           " at character " + std::to_string(c.position) + " (byte " +
           std::to_string(c.byte_offset) + ")";
}

Status checkPublishText(std::string_view topic, const Properties& properties) {
    if (auto problem = publishTopicProblem(topic)) {
        return fail("bad_topic", *problem);
    }
    for (const auto& [key, value] : properties) {
        if (auto problem = propertyTextProblem(key)) {
            return fail("bad_property", "the name of a user property " + *problem);
        }
        if (auto problem = propertyTextProblem(value)) {
            return fail("bad_property", "the value of user property \"" + key + "\" " + *problem);
        }
    }
    return okStatus();
}

bool validUtf8(std::string_view bytes) {
    return forEachChar(bytes, [](uint32_t cp, size_t len, size_t) {
        const bool overlong =
            (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        return !overlong && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    });
}

bool isUtf8Text(std::string_view bytes) {
    return bytes.find('\0') == std::string_view::npos && validUtf8(bytes);
}

std::optional<std::string> publishTopicProblem(std::string_view topic) {
    if (topic.empty()) {
        return "the topic is empty";
    }
    if (topic.find_first_of("+#") != std::string_view::npos) {
        return "a topic to publish on must not contain '+' or '#'";
    }
    return mqttStringProblem(topic, "the topic", "; brokers refuse such topics");
}

std::optional<std::string> topicFilterProblem(std::string_view filter) {
    if (filter.empty()) {
        return "the topic filter is empty";
    }
    if (filter.size() > kMaxStringBytes) {
        return "the topic filter is " + std::to_string(filter.size()) +
               " bytes; MQTT allows at most " + std::to_string(kMaxStringBytes);
    }
    if (!isUtf8Text(filter)) {
        return "the topic filter is not valid UTF-8 text";
    }
    size_t start = 0;
    while (true) {
        const size_t slash = filter.find('/', start);
        const std::string_view level = filter.substr(start, slash - start);
        const bool last = slash == std::string_view::npos;
        if (level.find('#') != std::string_view::npos && (level != "#" || !last)) {
            return "'#' must be a whole level and the last one";
        }
        if (level.find('+') != std::string_view::npos && level != "+") {
            return "'+' must be a whole level";
        }
        if (last) {
            return std::nullopt;
        }
        start = slash + 1;
    }
}

std::optional<std::string> hostNameProblem(std::string_view host, std::string_view port_note,
                                           std::string_view ip_refusal) {
    if (host.empty()) {
        return "is empty";
    }
    if (host.find("://") != std::string_view::npos) {
        return "write the host name only, without a scheme such as \"mqtts://\"";
    }
    if (host.find(':') != std::string_view::npos) {
        return "write the host name only" + std::string(port_note);
    }
    if (auto bad = std::find_if_not(host.begin(), host.end(), hostChar); bad != host.end()) {
        return std::string("contains '") + *bad + "', which cannot be in a host name";
    }
    const bool address = std::all_of(host.begin(), host.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.';
    });
    if (address && !ip_refusal.empty()) {
        return std::string(ip_refusal);
    }
    return std::nullopt;
}

std::optional<HostPort> readHostPort(ConfigTable& table, std::string_view key) {
    auto value = table.string(key);
    if (!value) {
        return std::nullopt;
    }
    const std::string_view text = *value;
    HostPort out;
    std::string_view host = text;
    if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        const std::string_view digits = text.substr(colon + 1);
        const bool numeric = !digits.empty() && digits.size() <= 5 &&
                             std::all_of(digits.begin(), digits.end(), [](char c) {
                                 return std::isdigit(static_cast<unsigned char>(c)) != 0;
                             });
        const int64_t port = numeric ? std::stoll(std::string(digits)) : 0;
        if (port < 1 || port > 65535) {
            table.error(key, "expected \"host\" or \"host:port\" with a port from 1 to 65535");
            return std::nullopt;
        }
        out.port = static_cast<uint16_t>(port);
    }
    if (host.find("://") != std::string_view::npos) {
        table.error(key, "write \"host\" or \"host:port\", without a scheme such as \"mqtts://\"");
        return std::nullopt;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), hostChar)) {
        table.error(key, "expected \"host\" or \"host:port\" with a host name or IPv4 address");
        return std::nullopt;
    }
    out.host = std::string(host);
    return out;
}

bool topicMatches(std::string_view filter, std::string_view topic) {
    // '$'-topics are not matched by a leading wildcard (MQTT 3.1.1 §4.7.2).
    if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
        (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    size_t f = 0;
    size_t t = 0;
    while (true) {
        const size_t fe = filter.find('/', f);
        const std::string_view flevel =
            filter.substr(f, fe == std::string_view::npos ? std::string_view::npos : fe - f);
        if (flevel == "#") {
            return true;
        }
        if (t > topic.size()) {
            return false;
        }
        const size_t te = topic.find('/', t);
        const std::string_view tlevel =
            topic.substr(t, te == std::string_view::npos ? std::string_view::npos : te - t);
        if (flevel != "+" && flevel != tlevel) {
            return false;
        }
        const bool fend = fe == std::string_view::npos;
        const bool tend = te == std::string_view::npos;
        if (fend || tend) {
            if (fend && tend)
                return true;
            // "a/#" matches "a": the filter continues with exactly "/#".
            return tend && !fend && filter.substr(fe + 1) == "#";
        }
        f = fe + 1;
        t = te + 1;
    }
}

}  // namespace uplinkd::mqtt
