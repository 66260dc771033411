// SPDX-License-Identifier: Apache-2.0
#include "common/kcert_store.hpp"

#include <optional>
#include <string_view>

#include "common/generic_at.hpp"

namespace uplinkd::plugins::modem_common {

namespace {

/// The kinds of entry a listing names, by the word that opens the entry.
struct EntryWord {
    std::string_view word;
    StoredCert::Kind kind;
};

constexpr EntryWord kEntryWords[] = {
    {"root_cert,", StoredCert::Kind::Root},
    {"local_cert,", StoredCert::Kind::Local},
    {"private_key,", StoredCert::Kind::Key},
};

/// The kind of entry `line` opens, or nothing when it is text.
std::optional<StoredCert::Kind> entryKind(std::string_view line, KeyEntries keys) {
    for (const auto& e : kEntryWords) {
        if (e.kind == StoredCert::Kind::Key && keys == KeyEntries::NotListed) {
            continue;
        }
        if (line.starts_with(e.word)) {
            return e.kind;
        }
    }
    return std::nullopt;
}

}  // namespace

Result<std::vector<StoredCert>> parseKcertStoreListing(const std::vector<std::string>& lines,
                                                       KeyEntries keys) {
    std::vector<StoredCert> out;
    bool seen_header = false;
    for (const auto& raw : lines) {
        std::string_view line = trimLine(raw);
        if (auto rest = afterPrefix(line, "+KCERTSTORE:")) {
            seen_header = true;
            line = *rest;
        }
        if (line.empty()) {
            continue;
        }
        if (const auto kind = entryKind(line, keys)) {
            const auto f = splitFields(line);
            const auto index = f.size() == 3 ? parseInt(f[1], 0, 255) : std::nullopt;
            const auto length = f.size() == 3 ? parseInt(f[2], 0, 1 << 20) : std::nullopt;
            if (!index || !length) {
                return unexpectedReply("+KCERTSTORE entry", line);
            }
            StoredCert c;
            c.kind = *kind;
            c.index = static_cast<int>(*index);
            c.length = static_cast<size_t>(*length);
            out.push_back(std::move(c));
            continue;
        }
        if (out.empty()) {
            if (!seen_header) {
                return unexpectedReply("+KCERTSTORE answer", line);
            }
            continue;  // text before the first entry: nothing to attach it to
        }
        if (out.back().kind == StoredCert::Kind::Key) {
            continue;  // a key's text is never listed: not to be kept if it were
        }
        out.back().lines.emplace_back(line);
    }
    return out;
}

Result<std::vector<StoredCert>> readBackListing(std::string_view command,
                                                const Result<AtResponse>& answer,
                                                const Explainer& explain, KeyEntries keys) {
    const std::string context = "provision: reading the store back";
    if (!answer) {
        return Failure{commandError(command, answer.error(), explain).withContext(context)};
    }
    auto stored = parseKcertStoreListing(answer->lines, keys);
    if (!stored) {
        return stored.failure(context);
    }
    return stored;
}

const StoredCert* findStored(const std::vector<StoredCert>& stored, StoredCert::Kind kind,
                             int index) {
    for (const auto& s : stored) {
        if (s.kind == kind && s.index == index) {
            return &s;
        }
    }
    return nullptr;
}

}  // namespace uplinkd::plugins::modem_common
