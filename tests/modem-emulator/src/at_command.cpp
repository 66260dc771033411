// SPDX-License-Identifier: Apache-2.0
#include "at_command.hpp"

#include <cctype>
#include <charconv>

namespace uplinkd::emulator {
namespace {

bool isNameChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// Finds the end of an extended command's argument text: the first ';' outside quotes.
size_t argsEnd(std::string_view s, size_t from) {
    bool in_quote = false;
    for (size_t i = from; i < s.size(); ++i) {
        if (s[i] == '"') {
            in_quote = !in_quote;
        } else if (s[i] == ';' && !in_quote) {
            return i;
        }
    }
    return s.size();
}

}  // namespace

bool AtCommand::has(size_t i) const {
    return i < args.size() && (!args[i].text.empty() || args[i].quoted);
}

std::optional<long> AtCommand::intArg(size_t i) const {
    if (i >= args.size() || args[i].quoted) {
        return std::nullopt;
    }
    return parseInt(args[i].text);
}

std::optional<int> inRange(const AtCommand& c, size_t i, long lo, long hi) {
    auto v = c.intArg(i);
    if (!v || *v < lo || *v > hi) {
        return std::nullopt;
    }
    return static_cast<int>(*v);
}

std::string AtCommand::str(size_t i) const {
    return i < args.size() ? args[i].text : "";
}

std::optional<long> parseInt(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    if (text.front() == '+') {
        text.remove_prefix(1);
    }
    long value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::vector<AtArg>> splitArgs(std::string_view text) {
    std::vector<AtArg> out;
    if (text.empty()) {
        return out;
    }
    size_t i = 0;
    while (true) {
        AtArg arg;
        // Leading spaces are tolerated, as most modules do.
        while (i < text.size() && text[i] == ' ') {
            ++i;
        }
        if (i < text.size() && text[i] == '"') {
            size_t close = text.find('"', i + 1);
            if (close == std::string_view::npos) {
                return std::nullopt;
            }
            arg.text = std::string(text.substr(i + 1, close - i - 1));
            arg.quoted = true;
            i = close + 1;
            while (i < text.size() && text[i] == ' ') {
                ++i;
            }
            if (i < text.size() && text[i] != ',') {
                return std::nullopt;
            }
        } else {
            size_t comma = text.find(',', i);
            size_t end = comma == std::string_view::npos ? text.size() : comma;
            std::string_view field = text.substr(i, end - i);
            while (!field.empty() && field.back() == ' ') {
                field.remove_suffix(1);
            }
            arg.text = std::string(field);
            i = end;
        }
        out.push_back(std::move(arg));
        if (i >= text.size()) {
            break;
        }
        ++i;  // skip ','
        if (i == text.size()) {
            out.push_back(AtArg{});  // trailing comma: one more empty field
            break;
        }
    }
    return out;
}

std::optional<std::vector<AtCommand>> parseCommandLine(std::string_view body) {
    std::vector<AtCommand> cmds;
    size_t i = 0;
    if (body.empty()) {
        cmds.push_back(AtCommand{});  // bare "AT"
        return cmds;
    }
    while (i < body.size()) {
        char c = body[i];
        if (c == ';' || c == ' ') {
            ++i;
            continue;
        }
        AtCommand cmd;
        if (c == '+' || c == '*' || c == '$' || c == '^' || c == '#' || c == '%') {
            size_t start = i++;
            while (i < body.size() && isNameChar(body[i])) {
                ++i;
            }
            cmd.name = upper(body.substr(start, i - start));
            if (cmd.name.size() < 2) {
                return std::nullopt;
            }
            if (body.substr(i, 2) == "=?") {
                cmd.kind = AtKind::Test;
                i += 2;
            } else if (i < body.size() && body[i] == '?') {
                cmd.kind = AtKind::Read;
                ++i;
            } else if (i < body.size() && body[i] == '=') {
                cmd.kind = AtKind::Set;
                size_t end = argsEnd(body, i + 1);
                cmd.raw_args = std::string(body.substr(i + 1, end - i - 1));
                auto args = splitArgs(cmd.raw_args);
                if (!args) {
                    return std::nullopt;
                }
                cmd.args = std::move(*args);
                i = end;
            }
            if (i < body.size() && body[i] != ';') {
                return std::nullopt;
            }
        } else if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '&') {
            size_t start = i;
            if (c == '&') {
                ++i;
                if (i >= body.size() || std::isalpha(static_cast<unsigned char>(body[i])) == 0) {
                    return std::nullopt;
                }
            }
            ++i;
            cmd.name = upper(body.substr(start, i - start));
            size_t arg_start = i;
            if (cmd.name == "S") {
                // S-register: S<n>? or S<n>=<v>
                while (i < body.size() && (std::isdigit(static_cast<unsigned char>(body[i])) != 0 ||
                                           body[i] == '=' || body[i] == '?')) {
                    ++i;
                }
            } else {
                while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i])) != 0) {
                    ++i;
                }
                if (i < body.size() && body[i] == '?') {
                    cmd.kind = AtKind::Read;
                    ++i;
                }
            }
            cmd.raw_args = std::string(body.substr(arg_start, i - arg_start));
            if (!cmd.raw_args.empty() && cmd.kind != AtKind::Read) {
                cmd.kind = AtKind::Set;
                cmd.args.push_back(AtArg{cmd.raw_args, false});
            }
        } else {
            return std::nullopt;
        }
        cmds.push_back(std::move(cmd));
    }
    if (cmds.empty()) {
        cmds.push_back(AtCommand{});
    }
    return cmds;
}

}  // namespace uplinkd::emulator
