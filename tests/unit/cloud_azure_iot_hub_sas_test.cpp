// SPDX-License-Identifier: Apache-2.0
// Azure SAS tokens: the published vectors V1–V5 (reference/clouds.md §1.3) and the coding,
// parsing and checking helpers, from tables.
#include <gtest/gtest.h>

#include <string>

#include "sas_token.hpp"

namespace {

using namespace uplinkd::plugins::azure_iot_hub;

std::string hex(const std::string& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0x0F]);
    }
    return out;
}

// V1 (Node device SDK): create('host', 'device', 'key', 12345). The key "key" is unpadded base64
// (bytes 91 EC); the decoder accepts missing padding, as Node does, so the vector reproduces.
TEST(SasVectors, V1NodeDeviceToken) {
    EXPECT_EQ(hex(*base64Decode("key")), "91ec");
    auto token = makeSasToken(sasResourceUri("host", "device"), "key", 12345);
    ASSERT_TRUE(token.ok()) << token.error().message;
    EXPECT_EQ(*token,
              "SharedAccessSignature sr=host%2Fdevices%2Fdevice&sig="
              "wM3XiP6gD960IxP7J5WHqnxQHEcWC6YaQCtoMT%2BkKHc%3D&se=12345");
}

// V2 (Node common): resource "uri", key base64("password"), expiry 12345.
TEST(SasVectors, V2NodeCommonSignature) {
    EXPECT_EQ(sasStringToSign("uri", "12345"), "uri\n12345");
    auto token = makeSasToken("uri", "cGFzc3dvcmQ=", 12345);
    ASSERT_TRUE(token.ok()) << token.error().message;
    EXPECT_EQ(*token,
              "SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D"
              "&se=12345");
}

// V3 (Node authorization) and V4 (Python signing mechanism): plain HMAC signatures.
TEST(SasVectors, V3AndV4Signatures) {
    struct Case {
        const char* name;
        const char* key;
        const char* message;
        const char* signature;
    };
    const Case cases[] = {
        {"V3", "cGFzc3dvcmQ=", "string-to-sign", "o1n1hiIVgzVA2+krq9ty1Z4xsIJKJZP3dYT8MOi65Y4="},
        {"V4", "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=", "sign this message",
         "8NJRMT83CcplGrAGaUVIUM/md5914KpWVNngSVoF9/M="},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto sig = sasSign(c.key, c.message);
        ASSERT_TRUE(sig.ok()) << sig.error().message;
        EXPECT_EQ(*sig, c.signature);
    }
    EXPECT_EQ(sasStringToSign("blah/blah", "12345"), "blah/blah\n12345");
    EXPECT_EQ(hex(*base64Decode("NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=")),
              "34c8090ef74a4f18cb8bec41c719030c4c0327112f384e6ef01893d265603de8");
}

// V5 (azure-sdk-for-c): format only; the signature is a fixed placeholder, not an HMAC.
TEST(SasVectors, V5TokenFormat) {
    const std::string sig = "cS1eHM/lDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ";
    const std::string device_sr =
        urlEncode(sasResourceUri("myiothub.azure-devices.net", "my_device"));
    const std::string module_sr =
        urlEncode(sasResourceUri("myiothub.azure-devices.net", "my_device", "my_module"));
    EXPECT_EQ(sasStringToSign(device_sr, "1578941692"),
              "myiothub.azure-devices.net%2Fdevices%2Fmy_device\n1578941692");
    struct Case {
        const char* name;
        std::string sr;
        const char* policy;
        const char* expected;
    };
    const Case cases[] = {
        {"device", device_sr, "",
         "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
         "cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692"},
        {"policy", device_sr, "iothubowner",
         "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
         "cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692&skn=iothubowner"},
        {"module", module_sr, "",
         "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device%2Fmodules%2F"
         "my_module&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(formatSasToken(c.sr, sig, 1578941692, c.policy), c.expected);
    }
}

// Tokens computed independently with Python's hmac/base64/urllib.parse.quote(safe="").
TEST(SasTokens, MatchAnIndependentImplementation) {
    const char* key = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";
    struct Case {
        std::string uri;
        int64_t expiry;
        const char* expected;
    };
    const Case cases[] = {
        {"myhub.azure-devices.net/devices/dev1", 1750003600,
         "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig="
         "knmDwDwut4H8J6ktb6UfrTymNicP%2BdQvATqX0TG%2BgiE%3D&se=1750003600"},
        {"myhub.azure-devices.net/devices/dev1/modules/edge-mod", 1750000060,
         "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fedge-mod"
         "&sig=Ynrrm4ZoEmEKBTYSiItNaAUQcHY4vw0QO9V3Uel5OyE%3D&se=1750000060"},
        {"myhub.azure-devices.net/devices/dev$1(a)", 1750003600,
         "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev%241%28a%29&sig="
         "x6TN6tNT2LnU7pm6yOEpmYjZoCxDYO1fmI6vPsQs8Xs%3D&se=1750003600"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.uri);
        auto token = makeSasToken(c.uri, key, c.expiry);
        ASSERT_TRUE(token.ok()) << token.error().message;
        EXPECT_EQ(*token, c.expected);
    }
}

TEST(SasCoding, UrlEncode) {
    const std::pair<std::string, std::string> cases[] = {
        {"", ""},
        {"AZaz09-_.~", "AZaz09-_.~"},
        {"a/b c", "a%2Fb%20c"},
        {"+/=", "%2B%2F%3D"},
        {"$.ct", "%24.ct"},
        {"°C", "%C2%B0C"},
        {std::string("\0\xff", 2), "%00%FF"},
    };
    for (const auto& [in, out] : cases) {
        EXPECT_EQ(urlEncode(in), out) << in;
    }
}

TEST(SasCoding, UrlDecode) {
    const std::pair<std::string, std::string> good[] = {
        {"a%2Fb", "a/b"}, {"a%2fb", "a/b"}, {"a+b", "a+b"}, {"%C2%B0", "°"}, {"", ""}};
    for (const auto& [in, out] : good) {
        auto r = urlDecode(in);
        ASSERT_TRUE(r.ok()) << in;
        EXPECT_EQ(*r, out);
    }
    for (const char* bad : {"%", "%2", "a%zz", "%g0"}) {
        auto r = urlDecode(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, "bad_encoding");
    }
}

TEST(SasCoding, Base64RoundTrips) {
    const std::pair<std::string, std::string> cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"password", "cGFzc3dvcmQ="},
        {std::string("\xfb\xff", 2), "+/8="},
    };
    for (const auto& [bytes, text] : cases) {
        EXPECT_EQ(base64Encode(bytes), text);
        auto back = base64Decode(text);
        ASSERT_TRUE(back.ok()) << text;
        EXPECT_EQ(*back, bytes);
    }
}

TEST(SasCoding, Base64DecodeLeniencyAndErrors) {
    // Missing padding is accepted (RFC 4648 §3.2); unused low bits are ignored (as Node).
    const std::pair<std::string, std::string> lenient[] = {
        {"Zg", "f"}, {"Zm8", "fo"}, {"Zh", "f"}, {"key", "\x91\xec"}};
    for (const auto& [text, bytes] : lenient) {
        auto r = base64Decode(text);
        ASSERT_TRUE(r.ok()) << text;
        EXPECT_EQ(*r, bytes);
    }
    for (const char* bad :
         {"Z", "Zm9vY", "Zg=", "Zg===", "=Zg=", "Zm9v YmFy", "Zm9v\n", "Zm-v", "Zm_v", "Z=g="}) {
        auto r = base64Decode(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, "bad_base64") << bad;
    }
}

TEST(SasParse, Errors) {
    struct Case {
        const char* token;
        const char* message_part;
    };
    const Case cases[] = {
        {"sr=a&sig=b&se=1", "starts with \"SharedAccessSignature \""},
        {"SharedAccessSignature  sr=a&sig=b&se=1", "unknown field \" sr\""},
        {"sharedaccesssignature sr=a&sig=b&se=1", "starts with"},
        {"HostName=h;DeviceId=d;SharedAccessKey=k", "connection string"},
        {"SharedAccessSignature sr=a&sig=b", "lacks se"},
        {"SharedAccessSignature se=1", "lacks sr, sig"},
        {"SharedAccessSignature sr=a&sr=a&sig=b&se=1", "appears twice"},
        {"SharedAccessSignature sr=a&sig=b&se=1&foo=2", "unknown field \"foo\""},
        {"SharedAccessSignature sr=a&sig=b&se=12a", "seconds since 1970"},
        {"SharedAccessSignature sr=a&sig=b&se=-5", "seconds since 1970"},
        {"SharedAccessSignature sr=a&sig=&se=1", "\"sig\" is empty"},
        {"SharedAccessSignature sr=a%2&sig=b&se=1", "not URL-encoded correctly"},
        {"SharedAccessSignature sr=a&sig=b&se", "without '='"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.token);
        auto r = parseSasToken(c.token);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, "sas_malformed");
        EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
    }
}

TEST(SasParse, FieldsInAnyOrder) {
    auto r = parseSasToken("SharedAccessSignature sig=abc%3D&se=99&skn=owner&sr=h%2fdevices%2fd");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->sr_as_sent, "h%2fdevices%2fd");
    EXPECT_EQ(r->resource_uri, "h/devices/d");
    EXPECT_EQ(r->signature, "abc=");
    EXPECT_EQ(r->expiry_text, "99");
    EXPECT_EQ(r->expiry_unix, 99);
    EXPECT_EQ(r->policy_name, "owner");
}

TEST(SasVerify, ChecksSignatureOverSrAsSentAndExpiry) {
    const std::string key = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";
    const std::string good = *makeSasToken("h.azure-devices.net/devices/d", key, 2000);
    // The C SDK signs and sends an unencoded sr; lower-case hex also occurs. Both verify when
    // the signed bytes are the bytes sent.
    const std::string raw_sr = "h.azure-devices.net/devices/d";
    const std::string raw = formatSasToken(raw_sr, *sasSign(key, raw_sr + "\n2000"), 2000);
    const std::string lower_sr = "h.azure-devices.net%2fdevices%2fd";
    const std::string lower = formatSasToken(lower_sr, *sasSign(key, lower_sr + "\n2000"), 2000);
    std::string lower_hex_sig = good;  // %2B/%3D written as %2b/%3d
    for (size_t p = 0; (p = lower_hex_sig.find("%3D", p)) != std::string::npos;) {
        lower_hex_sig.replace(p, 3, "%3d");
    }
    // Re-encoding sr after signing breaks the signature even though it decodes the same.
    std::string reencoded = good;
    reencoded.replace(reencoded.find("%2Fdevices"), 3, "%2f");

    struct Case {
        const char* name;
        std::string token;
        std::string key;
        int64_t now;
        const char* code;  // empty: valid
    };
    const Case cases[] = {
        {"good", good, key, 1999, ""},
        {"unencoded sr", raw, key, 1000, ""},
        {"lower-case sr", lower, key, 1000, ""},
        {"lower-case sig escapes", lower_hex_sig, key, 1000, ""},
        {"expired at se", good, key, 2000, "sas_expired"},
        {"expired", good, key, 5000, "sas_expired"},
        {"wrong key", good, "cGFzc3dvcmQ=", 1000, "sas_bad_signature"},
        {"sr re-encoded", reencoded, key, 1000, "sas_bad_signature"},
        {"se changed",
         formatSasToken(urlEncode("h.azure-devices.net/devices/d"), *sasSign(key, "x"), 2001), key,
         1000, "sas_bad_signature"},
        {"key not base64", good, "not base64!", 1000, "sas_key"},
        {"garbage", "hello", key, 1000, "sas_malformed"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = parseAndVerifySasToken(c.token, c.key, c.now);
        if (std::string(c.code).empty()) {
            EXPECT_TRUE(r.ok()) << r.error().message;
        } else {
            ASSERT_FALSE(r.ok());
            EXPECT_EQ(r.error().code, c.code) << r.error().message;
        }
    }
}

TEST(SasVerify, ResourceCoverage) {
    struct Case {
        const char* granted;
        const char* resource;
        bool covers;
    };
    const Case cases[] = {
        {"h.net/devices/d", "h.net/devices/d", true},
        {"H.NET/devices/d", "h.net/devices/d", true},
        {"h.net/devices/D", "h.net/devices/d", false},
        {"h.net/devices/d", "h.net/devices/d/modules/m", true},
        {"h.net/devices/d/", "h.net/devices/d/modules/m", true},
        {"h.net/devices/d", "h.net/devices/dx", false},
        {"h.net/devices/d/modules/m", "h.net/devices/d", false},
        {"h.net", "h.net/devices/d", true},
        {"h.net/", "h.net/devices/d", true},
        {"other.net/devices/d", "h.net/devices/d", false},
        {"h.net/devices", "h.net/devices/d", true},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(sasResourceCovers(c.granted, c.resource), c.covers)
            << c.granted << " for " << c.resource;
    }
}

}  // namespace
