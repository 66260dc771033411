// SPDX-License-Identifier: Apache-2.0
#include "modem/at_parser.hpp"

#include <algorithm>
#include <cctype>

namespace uplinkd {

namespace {

/// A header that announces more raw bytes than this is line noise, not a reply.
constexpr size_t kMaxRawBlock = 1024 * 1024;

std::string_view trimRight(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

/// Line noise a module may emit while it restarts (not printable ASCII).
bool noise(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u >= 0x7f;
}

}  // namespace

std::optional<AtFinalKind> atFinalResult(std::string_view line) {
    const std::string_view l = trimRight(line);
    for (const auto& f : kAtFinalResults) {
        if (f.prefix ? l.starts_with(f.text) : l == f.text) {
            return f.kind;
        }
    }
    return std::nullopt;
}

std::string atCommandName(std::string_view command) {
    if (command.size() < 3 || std::toupper(static_cast<unsigned char>(command[0])) != 'A' ||
        std::toupper(static_cast<unsigned char>(command[1])) != 'T') {
        return {};
    }
    const char lead = command[2];
    if (lead != '+' && lead != '*' && lead != '$' && lead != '^' && lead != '#' && lead != '%') {
        return {};
    }
    std::string name;
    for (size_t i = 2; i < command.size(); ++i) {
        const char c = command[i];
        if (c == '=' || c == '?' || c == ';') {
            break;
        }
        name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return name;
}

bool atLineIsGarbage(std::string_view line) {
    size_t i = 0;
    while (i < line.size()) {
        const auto c = static_cast<unsigned char>(line[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return true;
        }
        if (c < 0x80) {
            ++i;
            continue;
        }
        const size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > line.size()) {
            return true;
        }
        for (size_t k = 1; k < len; ++k) {
            if ((static_cast<unsigned char>(line[i + k]) >> 6) != 2) {
                return true;
            }
        }
        i += len;
    }
    return false;
}

size_t AtParser::addUrc(std::string prefix, std::function<size_t(const std::string&)> count) {
    urcs_.push_back(Urc{std::move(prefix), std::move(count)});
    return urcs_.size() - 1;
}

size_t AtParser::addBoot(std::string prefix) {
    boots_.push_back(std::move(prefix));
    return boots_.size() - 1;
}

void AtParser::addFinal(AtFinalForm form) {
    finals_.push_back(std::move(form));
}

std::optional<AtFinalKind> AtParser::finalResult(std::string_view line) const {
    const std::string_view l = trimRight(line);
    for (const auto& f : finals_) {
        if (!f.text.empty() && (f.prefix ? l.starts_with(f.text) : l == f.text)) {
            return f.success ? AtFinalKind::Success : AtFinalKind::Failure;
        }
    }
    return atFinalResult(l);
}

void AtParser::clearUrcs() {
    urcs_.clear();
    boots_.clear();
    finals_.clear();
    held_.clear();
    raw_urc_.reset();
}

void AtParser::begin(Expect expect) {
    Pending p;
    p.own = atCommandName(expect.command);
    if (!p.own.empty()) {
        p.own += ':';
    }
    p.expect = std::move(expect);
    pending_ = std::move(p);
}

void AtParser::resetRaw() {
    mode_ = Mode::Line;
    remaining_ = 0;
    trailer_pos_ = 0;
    raw_urc_.reset();
    raw_header_.clear();
    raw_.clear();
}

void AtParser::cancel() {
    pending_.reset();
    held_.clear();
    resetRaw();
    line_.clear();
    overflow_ = false;
    after_cr_ = false;
    after_prompt_ = false;
    ++generation_;
}

void AtParser::feed(std::string_view bytes, Sink& sink) {
    const uint64_t generation = generation_;
    size_t i = 0;
    while (i < bytes.size()) {
        if (mode_ == Mode::Line) {
            byte(bytes[i++], sink);
        } else if (mode_ == Mode::Trailer) {
            trailerByte(bytes[i++], sink);
        } else {
            if (after_cr_) {
                // The LF of the header line's CR LF is not data.
                after_cr_ = false;
                if (bytes[i] == '\n') {
                    ++i;
                    continue;
                }
            }
            if (mode_ == Mode::Counted) {
                const size_t n = std::min(remaining_, bytes.size() - i);
                raw_.append(bytes.data() + i, n);
                remaining_ -= n;
                i += n;
                if (remaining_ == 0) {
                    rawDone(sink);
                }
            } else {
                raw_.push_back(bytes[i++]);
                const std::string& term = pending_->expect.read->terminator;
                if (raw_.size() >= term.size() && raw_.back() == term.back() &&
                    raw_.compare(raw_.size() - term.size(), term.size(), term) == 0) {
                    raw_.resize(raw_.size() - term.size());
                    rawDone(sink);
                }
            }
        }
        if (generation != generation_) {
            return;  // cancelled from a callback: the rest of this chunk is forgotten too
        }
    }
}

void AtParser::trailerByte(char c, Sink& sink) {
    const std::string& term = pending_->expect.read->terminator;
    if (c == term[trailer_pos_]) {
        if (++trailer_pos_ == term.size()) {
            resetRaw();
        }
        return;
    }
    // Not the end pattern where the count says it is: the reply cannot be trusted any more. A
    // module that restarted inside the block sent its boot indication where data was due: a
    // boot indication at a line start in this broken block is that restart (a faithful block
    // always ends with the pattern, so a peer cannot fake this).
    if (auto boot = bootInside(pending_->response.data)) {
        bootLine(boot->first, boot->second, sink);
        byte(c, sink);
        return;
    }
    // Otherwise its lines are dropped until the final result; this byte may already start one,
    // or continue one that began inside the block (a boot indication split by the count).
    const std::string& data = pending_->response.data;
    const size_t count = data.size();
    pending_->broken = "the module did not end the " + std::to_string(count) + " data bytes of " +
                       pending_->expect.command + " with " + term;
    resetRaw();
    const size_t last_break = data.find_last_of("\r\n");
    if (last_break != std::string::npos && count - last_break - 1 < kMaxLine) {
        line_ = data.substr(last_break + 1);
        after_cr_ = false;
    }
    byte(c, sink);
}

void AtParser::byte(char c, Sink& sink) {
    if (after_prompt_) {
        after_prompt_ = false;
        if (c == ' ') {
            return;  // "> "
        }
    }
    if (c == '\r' || c == '\n') {
        if (c == '\n' && after_cr_) {
            after_cr_ = false;
            return;
        }
        after_cr_ = c == '\r';
        endLine(sink);
        return;
    }
    after_cr_ = false;
    if (overflow_) {
        return;
    }
    if (line_.size() >= kMaxLine) {
        overflow_ = true;
        line_.clear();
        return;
    }
    line_.push_back(c);
    // A bare prompt (">") comes without CR LF: recognise it as soon as it is complete.
    if (pending_ && !pending_->prompt_seen && promptIsBare() && line_ == pending_->expect.prompt) {
        line_.clear();
        pending_->prompt_seen = true;
        pending_->replied = true;
        pending_->data_phase = true;
        after_prompt_ = true;
        sink.prompt();
    }
}

void AtParser::endLine(Sink& sink) {
    if (overflow_) {
        overflow_ = false;
        line_.clear();
        sink.stray("(a line longer than " + std::to_string(kMaxLine) + " bytes, dropped)");
        return;
    }
    if (blank(line_)) {
        line_.clear();
        return;
    }
    std::string text = std::move(line_);
    line_.clear();
    line(text, sink);
}

void AtParser::line(const std::string& text, Sink& sink) {
    if (auto b = matchBoot(text)) {
        bootLine(*b, text, sink);
        return;
    }
    if (pending_ && !pending_->broken.empty()) {
        if (auto fin = finalResult(text)) {
            finish(*fin, text, sink);
        } else {
            sink.stray(text);
        }
        return;
    }
    if (pending_ && !pending_->replied && !pending_->expect.command.empty() &&
        text.ends_with(pending_->expect.command)) {
        return;  // the echo (line noise before it is tolerated)
    }
    if (atLineIsGarbage(text)) {
        sink.stray(text);
        return;
    }
    if (!pending_) {
        if (!takeUrc(text, sink)) {
            sink.stray(text);
        }
        return;
    }
    Pending& p = *pending_;
    if (auto fin = finalResult(text)) {
        finish(*fin, text, sink);
        return;
    }
    const std::string& prompt = p.expect.prompt;
    if (!p.prompt_seen && !prompt.empty() && !promptIsBare() &&
        (text == prompt || text.starts_with(prompt + " "))) {
        p.replied = true;
        p.prompt_seen = true;
        p.data_phase = true;
        sink.prompt();
        return;
    }
    if (p.expect.read) {
        const AtDataRead& r = *p.expect.read;
        if (r.kind == AtDataRead::Kind::UntilPattern && !r.terminator.empty() &&
            text == "CONNECT") {
            p.replied = true;
            p.data_phase = true;
            mode_ = Mode::Pattern;
            raw_.clear();
            return;
        }
        if (r.kind == AtDataRead::Kind::CountedAfterConnect && text == "CONNECT") {
            p.replied = true;
            p.data_phase = true;
            raw_urc_.reset();
            raw_.clear();
            remaining_ = std::min(r.length, kMaxRawBlock);
            mode_ = remaining_ > 0 ? Mode::Counted : Mode::Line;
            if (remaining_ == 0) {
                rawDone(sink);
            }
            return;
        }
        if (r.kind == AtDataRead::Kind::CountedAfterHeader && !r.header.empty() &&
            text.starts_with(r.header)) {
            p.response.lines.push_back(text);
            p.replied = true;
            p.data_phase = true;
            const size_t n = r.count ? std::min(r.count(text), kMaxRawBlock) : 0;
            if (n > 0) {
                mode_ = Mode::Counted;
                remaining_ = n;
                raw_urc_.reset();
                raw_.clear();
            }
            return;
        }
    }
    if (takeUrc(text, sink)) {
        return;
    }
    p.replied = true;
    p.response.lines.push_back(text);
}

void AtParser::rawDone(Sink& sink) {
    mode_ = Mode::Line;
    std::string data = std::move(raw_);
    raw_.clear();
    if (raw_urc_) {
        const size_t index = *raw_urc_;
        raw_urc_.reset();
        std::string header = std::move(raw_header_);
        raw_header_.clear();
        deliverUrc(index, std::move(header), std::move(data), sink);
    } else if (pending_) {
        pending_->response.data += data;
        const auto& read = pending_->expect.read;
        if (read && read->kind == AtDataRead::Kind::CountedAfterConnect &&
            !read->terminator.empty()) {
            mode_ = Mode::Trailer;
            trailer_pos_ = 0;
        }
    }
}

void AtParser::deliverUrc(size_t index, std::string line, std::string data, Sink& sink) {
    if (pending_ && pending_->data_phase) {
        held_.push_back(HeldUrc{index, std::move(line), std::move(data)});
        return;
    }
    sink.urc(index, line, std::move(data));
}

void AtParser::finish(AtFinalKind kind, const std::string& final_line, Sink& sink) {
    Pending p = std::move(*pending_);
    pending_.reset();
    p.response.final = final_line;
    Outcome outcome = Outcome::Error;
    if (!p.broken.empty()) {
        p.response.final = p.broken + " (then " + final_line + ")";
        outcome = Outcome::Framing;
    } else if (kind == AtFinalKind::Success) {
        outcome = !p.expect.prompt.empty() && !p.prompt_seen ? Outcome::NoPrompt : Outcome::Ok;
    }
    std::deque<HeldUrc> held = std::move(held_);
    held_.clear();
    sink.done(std::move(p.response), outcome);
    for (auto& h : held) {
        sink.urc(h.index, h.line, std::move(h.data));
    }
}

bool AtParser::takeUrc(const std::string& text, Sink& sink) {
    auto u = matchUrc(text);
    if (!u) {
        return false;
    }
    const Urc& urc = urcs_[*u];
    const size_t n = urc.count ? std::min(urc.count(text), kMaxRawBlock) : 0;
    if (n > 0) {
        mode_ = Mode::Counted;
        remaining_ = n;
        raw_urc_ = *u;
        raw_header_ = text;
        raw_.clear();
        return true;
    }
    deliverUrc(*u, text, {}, sink);
    return true;
}

std::optional<size_t> AtParser::matchUrc(const std::string& text) const {
    std::optional<size_t> best;
    size_t best_len = 0;
    for (size_t i = 0; i < urcs_.size(); ++i) {
        const std::string& prefix = urcs_[i].prefix;
        if (!prefix.empty() && text.starts_with(prefix)) {
            const size_t len = trimRight(prefix).size();
            if (!best || len > best_len) {
                best = i;
                best_len = len;
            }
        }
    }
    // The command's own information lines ("+CIPOPEN: …" for AT+CIPOPEN) belong to it unless a
    // URC prefix is more specific ("+CIPRXGET: 1," during AT+CIPRXGET=2,…).
    if (best && pending_ && !pending_->own.empty() && text.starts_with(pending_->own) &&
        pending_->own.size() >= best_len) {
        return std::nullopt;
    }
    return best;
}

std::optional<size_t> AtParser::matchBoot(std::string_view text) const {
    for (size_t i = 0; i < boots_.size(); ++i) {
        const size_t at = text.find(boots_[i]);
        if (!boots_[i].empty() && at != std::string_view::npos &&
            std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), noise)) {
            return i;
        }
    }
    return std::nullopt;
}

void AtParser::bootLine(size_t index, const std::string& text, Sink& sink) {
    // Whatever was under way belongs to the module before its restart, except a command that
    // got no answer at all yet: it may have reached the module after the restart.
    if (pending_ && (pending_->replied || pending_->data_phase)) {
        pending_.reset();
    }
    held_.clear();
    resetRaw();
    sink.boot(index, text);
}

void AtParser::dropPending() {
    pending_.reset();
    held_.clear();
}

std::optional<std::pair<size_t, std::string>> AtParser::bootInside(const std::string& raw) const {
    for (size_t i = 0; i < boots_.size(); ++i) {
        size_t at = raw.find(boots_[i]);
        while (at != std::string::npos && at > 0 && raw[at - 1] != '\n' && raw[at - 1] != '\r') {
            at = raw.find(boots_[i], at + 1);
        }
        if (at != std::string::npos) {
            const size_t end = raw.find_first_of("\r\n", at);
            return std::pair{
                i, raw.substr(at, end == std::string::npos ? std::string::npos : end - at)};
        }
    }
    return std::nullopt;
}

void AtParser::abandonRaw(Sink& sink) {
    if (mode_ == Mode::Line) {
        return;
    }
    // A boot indication at a line start in the unfinished block: the module restarted in the
    // middle of it. (Inside a complete block it would be data; this one never completed.)
    if (auto boot =
            bootInside(pending_ && mode_ == Mode::Trailer ? pending_->response.data : raw_)) {
        bootLine(boot->first, boot->second, sink);
        return;
    }
    if (raw_urc_) {
        const std::string header = raw_header_;
        resetRaw();
        sink.stray("(the data after \"" + header + "\" stopped arriving; dropped)");
        return;
    }
    if (!pending_) {
        resetRaw();
        return;
    }
    const size_t got = pending_->response.data.size() + raw_.size();
    Pending p = std::move(*pending_);
    pending_.reset();
    resetRaw();
    p.response.final = "the module stopped sending in the middle of the data of " +
                       p.expect.command + " (after " + std::to_string(got) + " bytes)";
    std::deque<HeldUrc> held = std::move(held_);
    held_.clear();
    sink.done(std::move(p.response), Outcome::Stalled);
    for (auto& h : held) {
        sink.urc(h.index, h.line, std::move(h.data));
    }
}

bool AtParser::promptIsBare() const {
    const std::string& prompt = pending_->expect.prompt;
    return !prompt.empty() && std::isalnum(static_cast<unsigned char>(prompt[0])) == 0;
}

}  // namespace uplinkd
