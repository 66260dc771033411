// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>

namespace uplinkd {

namespace {

/// Quanta per EVP call: keeps every length well inside the int that EVP takes.
constexpr size_t kQuantaPerBlock = 1024;

bool inAlphabet(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    unsigned char block[kQuantaPerBlock * 4 + 1];
    while (!bytes.empty()) {
        const size_t take = std::min(bytes.size(), kQuantaPerBlock * 3);
        const int n = EVP_EncodeBlock(block, reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(take));
        out.append(reinterpret_cast<const char*>(block), static_cast<size_t>(n));
        bytes.remove_prefix(take);
    }
    return out;
}

Result<std::string> base64Decode(std::string_view text, Base64Padding padding) {
    // EVP_DecodeBlock alone would skip leading and trailing whitespace, take '=' anywhere as a
    // zero and count the padding as decoded zero bytes: the rules are checked here first.
    size_t data_len = text.size();
    while (data_len > 0 && text[data_len - 1] == '=') {
        --data_len;
    }
    const size_t pad = text.size() - data_len;
    if (pad > 2 || (pad > 0 && text.size() % 4 != 0)) {
        return fail("bad_base64", "misplaced '=' padding");
    }
    if (data_len % 4 == 1) {
        return fail("bad_base64", "the length is not possible for base64");
    }
    if (padding == Base64Padding::required && text.size() % 4 != 0) {
        return fail("bad_base64", "the '=' padding is missing (the length is not a multiple of 4)");
    }
    for (size_t i = 0; i < data_len; ++i) {
        if (!inAlphabet(text[i])) {
            return fail("bad_base64", "a character outside the base64 alphabet (position " +
                                          std::to_string(i + 1) + ")");
        }
    }
    const std::string_view data = text.substr(0, data_len);
    const size_t tail = data_len % 4;  // 0, 2 or 3 characters of a last partial quantum
    std::string out;
    out.reserve(data_len / 4 * 3 + 2);
    unsigned char block[kQuantaPerBlock * 3];
    for (size_t at = 0; at < data_len - tail;) {
        const size_t take = std::min(data_len - tail - at, kQuantaPerBlock * 4);
        const int n =
            EVP_DecodeBlock(block, reinterpret_cast<const unsigned char*>(data.data() + at),
                            static_cast<int>(take));
        if (n < 0) {
            return fail("bad_base64", "not base64");
        }
        out.append(reinterpret_cast<const char*>(block), static_cast<size_t>(n));
        at += take;
    }
    if (tail != 0) {
        // The last quantum padded to four characters; its '=' decode as zero bytes, dropped.
        std::string last(data.substr(data_len - tail));
        last.append(4 - tail, '=');
        const int n =
            EVP_DecodeBlock(block, reinterpret_cast<const unsigned char*>(last.data()), 4);
        if (n != 3) {
            return fail("bad_base64", "not base64");
        }
        out.append(reinterpret_cast<const char*>(block), tail - 1);
    }
    return out;
}

}  // namespace uplinkd
