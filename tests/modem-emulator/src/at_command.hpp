// SPDX-License-Identifier: Apache-2.0
// AT command-line parsing for the emulator: splits what follows "AT" into single commands and
// their comma-separated arguments. Written for the emulator only (no code shared with the daemon).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uplinkd::emulator {

/// How a command was written: `AT+X`, `AT+X?`, `AT+X=?`, `AT+X=<args>`.
enum class AtKind { Exec, Read, Test, Set };

/// One argument of a `Set` command; `quoted` tells "abc" from abc, an empty field has empty text.
struct AtArg {
    std::string text;
    bool quoted = false;
};

/// One parsed command; a value type, used on the loop thread (single thread).
struct AtCommand {
    std::string name;  ///< upper case: "+KTCPCFG", "E", "&K", "I", "" (bare AT)
    AtKind kind = AtKind::Exec;
    std::string raw_args;  ///< text after '=' (Set) or after the basic command letter
    std::vector<AtArg> args;

    size_t argc() const { return args.size(); }
    /// True when argument `i` exists and is not an empty field.
    bool has(size_t i) const;
    /// Argument `i` as an integer, if present and a valid decimal number (optionally signed).
    std::optional<long> intArg(size_t i) const;
    /// Argument `i` as text ("" when absent).
    std::string str(size_t i) const;
    bool quoted(size_t i) const { return i < args.size() && args[i].quoted; }
};

/// Argument `i` of `c` as an integer in [lo, hi]; nullopt when absent, not a number or outside.
std::optional<int> inRange(const AtCommand& c, size_t i, long lo, long hi);

/// Splits a command line (without the leading "AT" and the final CR) into commands: basic
/// commands (`E0`, `&K3`, `I`, `Z`) may follow one another, extended ones (`+CMEE=1`) are
/// separated by ';'. Returns nullopt for a malformed line (unterminated quote, junk).
std::optional<std::vector<AtCommand>> parseCommandLine(std::string_view body);

/// Splits "a,\"b,c\",,4" into arguments. Returns nullopt when a quote is not closed or text
/// follows a closing quote.
std::optional<std::vector<AtArg>> splitArgs(std::string_view text);

/// Parses a decimal integer (optional sign, no spaces); nullopt otherwise.
std::optional<long> parseInt(std::string_view text);

}  // namespace uplinkd::emulator
