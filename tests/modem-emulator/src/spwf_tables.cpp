// SPDX-License-Identifier: Apache-2.0
#include "spwf_tables.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace uplinkd::emulator::spwf {

std::optional<AtCommand> parseLine(std::string_view body) {
    AtCommand cmd;
    if (body.empty()) {
        return cmd;  // bare AT
    }
    if (body.size() < 4 || body[0] != '+' || (body[1] != 'S' && body[1] != 's') || body[2] != '.') {
        return std::nullopt;
    }
    size_t i = 3;
    while (i < body.size() &&
           (std::isalnum(static_cast<unsigned char>(body[i])) != 0 || body[i] == '_')) {
        ++i;
    }
    if (i == 3) {
        return std::nullopt;
    }
    cmd.name = "+S.";
    for (size_t k = 3; k < i; ++k) {
        cmd.name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(body[k]))));
    }
    if (i == body.size()) {
        return cmd;
    }
    if (body[i] != '=') {
        return std::nullopt;
    }
    cmd.kind = AtKind::Set;
    cmd.raw_args = std::string(body.substr(i + 1));
    std::string_view rest = cmd.raw_args;
    while (true) {
        size_t comma = rest.find(',');
        cmd.args.push_back(AtArg{std::string(rest.substr(0, comma)), false});
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    return cmd;
}

std::string errorText(int code) {
    switch (code) {
        case kCommandNotFound:
            return "Command not found";
        case kBadParameter:
            return "Invalid parameter";
        case kUnknownVariable:
            return "Variable not found";
        case kReadOnlyVariable:
            return "Read-only variable";
        case kNotAssociated:
            return "Network not ready";
        case kInvalidSocket:
            return "Invalid socket id";
        case kNoFreeSocket:
            return "No free socket";
        case kDnsFailure:
            return "DNS address failure";
        case kSocketTimeout:
            return "Socket connection timeout";
        case kConnectFailed:
            return "Socket connection failed";
        case kTlsHandshake:
            return "TLS handshake failed";
        case kPendingData:
            return "Pending data";
        case kTlsCertificate:
            return "TLS certificate verification failed";
        case kTlsCredentials:
            return "TLS credentials missing";
        case kInvalidCredential:
            return "Invalid certificate or key";
        case kMqttConnectFailed:
            return "MQTT connection failed";
        case kMqttConnectFailed + 1:
            return "MQTT connection refused: unacceptable protocol version";
        case kMqttConnectFailed + 2:
            return "MQTT connection refused: identifier rejected";
        case kMqttConnectFailed + 3:
            return "MQTT connection refused: server unavailable";
        case kMqttConnectFailed + 4:
            return "MQTT connection refused: bad user name or password";
        case kMqttConnectFailed + 5:
            return "MQTT connection refused: not authorized";
        case kMqttInvalidId:
            return "Invalid MQTT client id";
        case kMqttTransport:
            return "MQTT transport not supported";
        case kNoFreeMqtt:
            return "No free MQTT client";
        case kRequestFailed:
            return "Request failed";
        default:
            return "Error";
    }
}

const std::vector<Variable>& variables() {
    using K = Variable::Kind;
    static const std::vector<Variable> table = {
        {"console_echo", K::Number, "1", 0, 1},
        {"console_hwfc", K::Number, "0", 0, 1},
        {"console_speed", K::ReadOnly, "115200", 0, 0},
        {"console_wind_off_low", K::Mask, "0x00000000", 0, 0},
        {"console_wind_off_medium", K::Mask, "0x00000000", 0, 0},
        {"console_wind_off_high", K::Mask, "0x00000000", 0, 0},
        {"wifi_mode", K::Number, "1", 0, 3},
        {"wifi_priv_mode", K::Number, "2", 0, 2},
        {"wifi_wpa_psk_text", K::Text, "", 0, 63},
        {"wifi_ssid", K::ReadOnly, "", 0, 0},
        {"ip_use_dhcp", K::Number, "1", 0, 2},
        {"ip_hostname", K::Text, "iwm-emulator", 1, 32},
        {"ip_ipaddr", K::ReadOnly, "0.0.0.0", 0, 0},
        {"nv_manuf", K::ReadOnly, "ST", 0, 0},
        {"nv_model", K::ReadOnly, "SPWF04SA", 0, 0},
    };
    return table;
}

const Variable* findVariable(std::string_view name) {
    for (const auto& v : variables()) {
        if (name == v.name) {
            return &v;
        }
    }
    return nullptr;
}

std::optional<uint32_t> parseMask(std::string_view text) {
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        text.remove_prefix(2);
        base = 16;
    }
    if (text.empty()) {
        return std::nullopt;
    }
    uint32_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

Checked checkValue(const Variable& v, std::string_view value) {
    switch (v.kind) {
        case Variable::Kind::ReadOnly:
            return {{}, kReadOnlyVariable};
        case Variable::Kind::Number: {
            auto n = parseInt(value);
            if (!n || *n < v.min || *n > v.max) {
                return {{}, kBadParameter};
            }
            return {std::to_string(*n), 0};
        }
        case Variable::Kind::Mask: {
            auto m = parseMask(value);
            if (!m) {
                return {{}, kBadParameter};
            }
            char buf[16];
            std::snprintf(buf, sizeof buf, "0x%08X", *m);
            return {buf, 0};
        }
        case Variable::Kind::Text:
            if (static_cast<long>(value.size()) < v.min ||
                static_cast<long>(value.size()) > v.max) {
                return {{}, kBadParameter};
            }
            return {std::string(value), 0};
    }
    return {{}, kBadParameter};
}

bool windEnabled(int code, uint32_t low, uint32_t medium, uint32_t high) {
    if (code < 0 || code > 95) {
        return true;
    }
    uint32_t mask = code < 32 ? low : code < 64 ? medium : high;
    return (mask & (1u << (code % 32))) == 0;
}

}  // namespace uplinkd::emulator::spwf
