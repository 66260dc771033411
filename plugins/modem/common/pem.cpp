// SPDX-License-Identifier: Apache-2.0
#include "common/pem.hpp"

namespace uplinkd::plugins::modem_common {

std::vector<std::string> contentLines(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        size_t end = text.find_first_of("\r\n", i);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(i, end - i);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
            line.remove_suffix(1);
        }
        if (!line.empty()) {
            out.emplace_back(line);
        }
        i = end;
        if (i < text.size() && text[i] == '\r') {
            ++i;
        }
        if (i < text.size() && text[i] == '\n') {
            ++i;
        }
    }
    return out;
}

Result<std::vector<PemBlock>> splitPem(std::string_view text) {
    static constexpr std::string_view kBegin = "-----BEGIN ";
    static constexpr std::string_view kEnd = "-----END ";
    std::vector<PemBlock> blocks;
    PemBlock current;
    bool inside = false;
    for (auto& line : contentLines(text)) {
        // Leading blanks are not part of PEM either.
        const size_t first = line.find_first_not_of(" \t");
        if (first != std::string::npos && first > 0) {
            line.erase(0, first);
        }
        if (!inside) {
            if (line.starts_with(kBegin) && line.ends_with("-----") &&
                line.size() > kBegin.size() + 5) {
                current = PemBlock{};
                current.label = line.substr(kBegin.size(), line.size() - kBegin.size() - 5);
                current.lines.push_back(line);
                inside = true;
            }
            continue;
        }
        if (line.starts_with(kBegin)) {
            return fail("bad_pem", "\"-----BEGIN " + current.label + "-----\" has no END line");
        }
        current.lines.push_back(line);
        if (line.starts_with(kEnd)) {
            if (line != std::string(kEnd) + current.label + "-----") {
                return fail("bad_pem", "\"-----BEGIN " + current.label +
                                           "-----\" ends with a different END line");
            }
            if (current.lines.size() < 3) {
                return fail("bad_pem", "an empty \"" + current.label + "\" PEM block");
            }
            blocks.push_back(std::move(current));
            inside = false;
        }
    }
    if (inside) {
        return fail("bad_pem", "\"-----BEGIN " + current.label + "-----\" has no END line");
    }
    if (blocks.empty()) {
        return fail("bad_pem", "no PEM block (\"-----BEGIN ...-----\") found");
    }
    return blocks;
}

Result<std::vector<PemBlock>> pemBlocks(std::string_view pem, std::string_view what, PemWant want) {
    auto blocks = splitPem(pem);
    if (!blocks) {
        return blocks.failure(what);
    }
    std::vector<PemBlock> out;
    for (auto& b : *blocks) {
        if (want == PemWant::PrivateKey ? b.label.ends_with("PRIVATE KEY")
                                        : b.label == "CERTIFICATE") {
            out.push_back(std::move(b));
            if (want == PemWant::PrivateKey) {
                break;
            }
        }
    }
    if (out.empty()) {
        return fail("bad_pem", std::string(what) + ": no suitable PEM block");
    }
    return out;
}

Result<std::vector<PemBlock>> rootCaBlocks(std::string_view ca_pem, size_t max_roots) {
    auto roots = pemBlocks(ca_pem, "tls.ca_file", PemWant::Certificates);
    if (roots && roots->size() > max_roots) {
        return fail("bad_pem", "tls.ca_file holds " + std::to_string(roots->size()) +
                                   " certificates; the module stores at most " +
                                   std::to_string(max_roots) +
                                   " root CAs: keep only the root CA of the broker's chain");
    }
    return roots;
}

Result<std::optional<ClientPem>> clientPem(std::string_view cert_pem, std::string_view key_pem) {
    if (cert_pem.empty() != key_pem.empty()) {
        return fail("bad_pem", "a client certificate needs both tls.cert_file and tls.key_file");
    }
    if (cert_pem.empty()) {
        return std::optional<ClientPem>();
    }
    auto cert = pemBlocks(cert_pem, "tls.cert_file", PemWant::Certificates);
    auto key = pemBlocks(key_pem, "tls.key_file", PemWant::PrivateKey);
    if (!cert || !key) {
        return !cert ? cert.failure() : key.failure();
    }
    return std::optional<ClientPem>(ClientPem{std::move(*cert), std::move(*key)});
}

std::string joinLines(const std::vector<std::string>& lines, std::string_view eol) {
    std::string out;
    for (const auto& l : lines) {
        out += l;
        out += eol;
    }
    return out;
}

std::string joinBlocks(const std::vector<PemBlock>& blocks, std::string_view eol) {
    std::string out;
    for (const auto& b : blocks) {
        out += joinLines(b.lines, eol);
    }
    return out;
}

}  // namespace uplinkd::plugins::modem_common
