// SPDX-License-Identifier: Apache-2.0
// The SDK's base64 (uplinkd/base64.hpp), from tables: RFC 4648 vectors both ways, what each
// padding mode accepts, and every rule that refuses a text with its message.
#include <gtest/gtest.h>

#include <string>

#include "uplinkd/base64.hpp"

namespace {

using uplinkd::base64Decode;
using uplinkd::base64Encode;
using uplinkd::Base64Padding;

TEST(Base64, EncodesAndDecodesTheRfc4648Vectors) {
    struct Case {
        std::string bytes;
        const char* text;
    };
    const Case cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
        {std::string("\xfb\xff", 2), "+/8="},
        {std::string("\0\0\0", 3), "AAAA"},
        {std::string("\0", 1), "AA=="},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(base64Encode(c.bytes), c.text);
        for (auto padding : {Base64Padding::required, Base64Padding::optional}) {
            auto back = base64Decode(c.text, padding);
            ASSERT_TRUE(back.ok()) << back.error().message;
            EXPECT_EQ(*back, c.bytes);
        }
    }
}

TEST(Base64, RoundTripsLongInputsOfEveryRemainder) {
    // Longer than one EVP block of the coder, with 0, 1 and 2 bytes in the last quantum.
    for (size_t size : {3071u, 3072u, 3073u, 3074u, 100000u}) {
        std::string bytes(size, '\0');
        for (size_t i = 0; i < size; ++i) {
            bytes[i] = static_cast<char>((i * 131 + 7) & 0xFF);
        }
        const std::string text = base64Encode(bytes);
        EXPECT_EQ(text.size(), (size + 2) / 3 * 4);
        auto back = base64Decode(text);
        ASSERT_TRUE(back.ok()) << size << ": " << back.error().message;
        EXPECT_EQ(*back, bytes) << size;
    }
}

TEST(Base64, DecodesByItsPaddingRule) {
    struct Case {
        const char* text;
        Base64Padding padding;
        const char* bytes;  ///< nullptr: refused with error code "bad_base64"
        const char* message_part;
    };
    const auto req = Base64Padding::required;
    const auto opt = Base64Padding::optional;
    const Case cases[] = {
        // Missing padding: only where it is optional (RFC 4648 §3.2).
        {"Zg", opt, "f", ""},
        {"Zm8", opt, "fo", ""},
        {"Zg", req, nullptr, "padding is missing"},
        {"Zm8", req, nullptr, "padding is missing"},
        // Unused low bits of the last character are ignored in both modes.
        {"Zh==", req, "f", ""},
        {"Zh", opt, "f", ""},
        {"QR==", req, "A", ""},
        {"key", opt, "\x91\xec", ""},
        // Misplaced or excess '=' padding.
        {"Zg=", opt, nullptr, "misplaced '=' padding"},
        {"Zg=", req, nullptr, "misplaced '=' padding"},
        {"Zg===", opt, nullptr, "misplaced '=' padding"},
        {"Z===", req, nullptr, "misplaced '=' padding"},
        {"====", req, nullptr, "misplaced '=' padding"},
        {"=Zg=", opt, nullptr, "outside the base64 alphabet (position 1)"},
        {"Z=g=", req, nullptr, "outside the base64 alphabet (position 2)"},
        // A length that cannot carry a whole byte.
        {"Z", opt, nullptr, "length is not possible"},
        {"Zm9vY", opt, nullptr, "length is not possible"},
        {"Zm9vY", req, nullptr, "length is not possible"},
        // Characters outside the alphabet: the URL-safe ones, whitespace anywhere, NUL.
        {"Zm-v", req, nullptr, "outside the base64 alphabet (position 3)"},
        {"Zm_v", opt, nullptr, "outside the base64 alphabet (position 3)"},
        {"Zm9v YmF", opt, nullptr, "outside the base64 alphabet (position 5)"},
        {" Zm9", opt, nullptr, "outside the base64 alphabet (position 1)"},
        {"Zm9\n", opt, nullptr, "outside the base64 alphabet (position 4)"},
        {"Zm9vYmFy\r\n", req, nullptr, "padding is missing"},
        {"Zm9vYmE\n", req, nullptr, "outside the base64 alphabet (position 8)"},
        {"Zm9v YmFy", opt, nullptr, "length is not possible"},
        {"Zm\x01v", req, nullptr, "outside the base64 alphabet (position 3)"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.text) + (c.padding == req ? " (required)" : " (optional)"));
        auto r = base64Decode(c.text, c.padding);
        if (c.bytes != nullptr) {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(*r, c.bytes);
        } else {
            ASSERT_FALSE(r.ok()) << "decoded to " << r.value().size() << " bytes";
            EXPECT_EQ(r.error().code, "bad_base64");
            EXPECT_NE(r.error().message.find(c.message_part), std::string::npos)
                << r.error().message;
        }
    }
}

TEST(Base64, RequiresPaddingUnlessTold) {
    EXPECT_FALSE(base64Decode("Zg").ok());
    EXPECT_TRUE(base64Decode("Zg", Base64Padding::optional).ok());
}

}  // namespace
