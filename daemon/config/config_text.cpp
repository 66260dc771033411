// SPDX-License-Identifier: Apache-2.0
#include "config/config_text.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

namespace uplinkd::config_text {

namespace {

/// Later layers win: tables merge key by key, anything else replaces. Nodes are moved, not
/// copied: toml++ keeps a node's source position only when it is moved.
void mergeInto(toml::table& base, toml::table&& layer) {
    for (auto&& [key, node] : layer) {
        toml::node* existing = base.get(key);
        if (existing != nullptr && existing->is_table() && node.is_table()) {
            mergeInto(*existing->as_table(), std::move(*node.as_table()));
        } else {
            base.insert_or_assign(key, std::move(node));
        }
    }
}

/// Decodes the UTF-8 character at `i` (its length in `*len`); nothing when it is malformed.
std::optional<uint32_t> utf8At(std::string_view text, size_t i, size_t* len) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    const size_t n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > text.size() || b0 > 0xF4) {
        return std::nullopt;
    }
    uint32_t cp = b0 & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(text[i + k]);
        if ((b & 0xC0) != 0x80) {
            return std::nullopt;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return std::nullopt;
    }
    *len = n;
    return cp;
}

}  // namespace

/// The text as toml++ 3.3 may see it, or "name:line:col: ..." for text it must not see.
/// toml++ 3.3's table of non-ASCII whitespace reaches __builtin_unreachable for U+00A1-U+0499,
/// U+2C6E-U+3067 and U+FBC6-U+FEFE wherever its scanner meets one (undefined behaviour; found by
/// fuzz_config), and on malformed input its scanner does not stop where strings end. So no
/// non-ASCII byte reaches it: in basic strings a character becomes its \u escape (the same
/// value), in comments a '?'; outside strings and comments it is never valid TOML 1.0 and is
/// refused, as is one in a literal string (which has no escapes) and a NUL byte.
Result<std::string> tomlSafeText(std::string_view text, const std::string& name) {
    size_t line = 1;
    size_t line_start = 0;
    auto at = [&](size_t i, const std::string& what) {
        return fail("config", name + ":" + std::to_string(line) + ":" +
                                  std::to_string(i - line_start + 1) + ": " + what);
    };
    std::string out;
    out.reserve(text.size());
    enum class In { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral } in = In::Code;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\0') {
            return at(i, "a NUL byte; a configuration file is text");
        }
        if (static_cast<unsigned char>(c) >= 0x80) {
            size_t len = 0;
            const auto cp = utf8At(text, i, &len);
            if (!cp) {
                return at(i, "bytes that are not UTF-8");
            }
            char hex[16];
            std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(*cp));
            if (in == In::Comment) {
                out += '?';
            } else if (in == In::Basic || in == In::MultiBasic) {
                std::snprintf(hex, sizeof hex, *cp > 0xFFFF ? "\\U%08X" : "\\u%04X",
                              static_cast<unsigned>(*cp));
                out += hex;
            } else if (in == In::Code) {
                return at(i, std::string("the character ") + hex + " outside a string or comment");
            } else {
                return at(i, std::string("the character ") + hex +
                                 " in a literal string ('...'); write it in a basic string "
                                 "(\"...\")");
            }
            i += len - 1;
            continue;
        }
        out += c;
        if (c == '\n') {
            ++line;
            line_start = i + 1;
            if (in == In::Comment || in == In::Basic || in == In::Literal) {
                in = In::Code;  // a single-line string that ends here is toml++'s to report
            }
            continue;
        }
        const bool triple_dq = text.substr(i, 3) == "\"\"\"";
        const bool triple_sq = text.substr(i, 3) == "'''";
        auto take = [&](size_t n) {
            out.append(text.substr(i + 1, n));
            i += n;
        };
        switch (in) {
            case In::Code:
                if (c == '#') {
                    in = In::Comment;
                } else if (triple_dq || triple_sq) {
                    in = triple_dq ? In::MultiBasic : In::MultiLiteral;
                    take(2);
                } else if (c == '"') {
                    in = In::Basic;
                } else if (c == '\'') {
                    in = In::Literal;
                }
                break;
            case In::Comment:
                break;
            case In::Basic:
            case In::MultiBasic:
                if (c == '\\') {
                    if (i + 1 < text.size() && text[i + 1] != '\n' &&
                        static_cast<unsigned char>(text[i + 1]) < 0x80) {
                        take(1);  // the escaped character (a line-ending backslash is above)
                    }
                } else if (in == In::Basic && c == '"') {
                    in = In::Code;
                } else if (in == In::MultiBasic && triple_dq) {
                    in = In::Code;
                    take(2);
                }
                break;
            case In::Literal:
                if (c == '\'') {
                    in = In::Code;
                }
                break;
            case In::MultiLiteral:
                if (triple_sq) {
                    in = In::Code;
                    take(2);
                }
                break;
        }
    }
    return out;
}

Status parseFile(const std::string& path, toml::table& into, Diagnostics& diags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.addPlain(path + ": cannot read: " + std::strerror(errno));
        return fail("config", "parse error");
    }
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto text = tomlSafeText(raw, path);
    if (!text) {
        diags.addPlain(text.error().message);
        return fail("config", "parse error");
    }
    toml::parse_result parsed = toml::parse(*text, std::string_view(path));
    if (!parsed) {
        const auto& err = parsed.error();
        if (err.source().begin.line == 0) {
            diags.addPlain(path + ": " + std::string(err.description()));
        } else {
            diags.add(err.source(), std::string(err.description()));
        }
        return fail("config", "parse error");
    }
    mergeInto(into, std::move(parsed.table()));
    return {};
}

/// "a.b.c=value" → into[a][b][c] = value. The text is parsed as the TOML line "a.b.c = value",
/// so the tables it creates carry "--set a.b.c" as their position in diagnostics too.
Status applyOverride(const std::string& spec, toml::table& into, Diagnostics& diags) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
        diags.addPlain("--set " + spec + ": expected KEY=VALUE, e.g. routes.demo.cloud.port=8883");
        return fail("config", "bad override");
    }
    const std::string key = spec.substr(0, eq);
    std::vector<std::string> parts;
    std::stringstream ss(key);
    for (std::string part; std::getline(ss, part, '.');) {
        parts.push_back(part);
    }
    auto safe = tomlSafeText(key + " = " + spec.substr(eq + 1), "--set " + key);
    if (!safe) {
        diags.addPlain(safe.error().message);
        return fail("config", "bad override");
    }
    toml::parse_result parsed = toml::parse(*safe, std::string_view("--set " + key));
    if (!parsed) {
        diags.addPlain("--set " + key + ": " + std::string(parsed.error().description()) +
                       " (strings need quotes: " + key + "='\"text\"')");
        return fail("config", "bad override");
    }
    const toml::table* t = &into;
    for (size_t i = 0; i + 1 < parts.size() && t != nullptr; ++i) {
        const toml::node* n = t->get(parts[i]);
        if (n != nullptr && !n->is_table()) {
            diags.addPlain("--set " + key + ": \"" + parts[i] + "\" is not a table");
            return fail("config", "bad override");
        }
        t = n != nullptr ? n->as_table() : nullptr;
    }
    mergeInto(into, std::move(parsed.table()));
    return {};
}

}  // namespace uplinkd::config_text
