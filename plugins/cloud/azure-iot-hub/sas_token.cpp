// SPDX-License-Identifier: Apache-2.0
#include "sas_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cctype>

#include "uplinkd/text_fields.hpp"

namespace uplinkd::plugins::azure_iot_hub {

namespace {

constexpr std::string_view kTokenPrefix = "SharedAccessSignature ";

bool isUnreserved(unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~';
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool parseExpiry(std::string_view text, int64_t& out) {
    if (text.empty() || text.size() > 18) {
        return false;
    }
    int64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

std::string lowerAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace

std::string urlEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3);
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (isUnreserved(c)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0F]);
        }
    }
    return out;
}

Result<std::string> urlDecode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) {
            return fail("bad_encoding", "a '%' escape is cut short");
        }
        const int hi = hexValue(text[i + 1]);
        const int lo = hexValue(text[i + 2]);
        if (hi < 0 || lo < 0) {
            return fail("bad_encoding", "a '%' is not followed by two hex digits");
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

Result<std::string> base64Decode(std::string_view text) {
    return uplinkd::base64Decode(text, Base64Padding::optional);
}

std::string sasResourceUri(std::string_view host, std::string_view device,
                           std::string_view module) {
    std::string uri(host);
    uri += "/devices/";
    uri += device;
    if (!module.empty()) {
        uri += "/modules/";
        uri += module;
    }
    return uri;
}

std::string sasStringToSign(std::string_view sr_as_sent, std::string_view expiry_text) {
    std::string s(sr_as_sent);
    s += '\n';
    s += expiry_text;
    return s;
}

Result<std::string> sasSign(std::string_view base64_key, std::string_view message) {
    auto key = base64Decode(base64_key);
    if (!key) {
        return fail("sas_key", "the key is not base64: " + key.error().message);
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    static const unsigned char kEmpty = 0;
    const auto* key_bytes =
        key->empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key->data());
    if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key->size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
             &mac_len) == nullptr) {
        return fail("crypto", "HMAC-SHA256 failed in OpenSSL");
    }
    return base64Encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_len));
}

std::string formatSasToken(std::string_view sr_as_sent, std::string_view signature_base64,
                           int64_t expiry_unix, std::string_view policy_name) {
    std::string token(kTokenPrefix);
    token += "sr=";
    token += sr_as_sent;
    token += "&sig=";
    token += urlEncode(signature_base64);
    token += "&se=";
    token += std::to_string(expiry_unix);
    if (!policy_name.empty()) {
        token += "&skn=";
        token += urlEncode(policy_name);
    }
    return token;
}

Result<std::string> makeSasToken(std::string_view resource_uri, std::string_view base64_key,
                                 int64_t expiry_unix, std::string_view policy_name) {
    if (resource_uri.empty()) {
        return fail("sas_malformed", "the resource URI is empty");
    }
    if (expiry_unix <= 0) {
        return fail("sas_malformed", "the expiry must be after 1970");
    }
    const std::string sr = urlEncode(resource_uri);
    auto sig = sasSign(base64_key, sasStringToSign(sr, std::to_string(expiry_unix)));
    if (!sig) {
        return sig.failure();
    }
    return formatSasToken(sr, *sig, expiry_unix, policy_name);
}

Result<SasToken> parseSasToken(std::string_view token) {
    if (!token.starts_with(kTokenPrefix)) {
        if (token.starts_with("HostName=")) {
            return fail("sas_malformed",
                        "this is a connection string, not a SAS token (a token starts with "
                        "\"SharedAccessSignature sr=\")");
        }
        return fail("sas_malformed",
                    "a SAS token starts with \"SharedAccessSignature \" (one space, this case)");
    }
    std::string_view rest = token.substr(kTokenPrefix.size());
    SasToken out;
    bool have_sr = false;
    bool have_sig = false;
    bool have_se = false;
    bool have_skn = false;
    while (!rest.empty()) {
        const std::string_view field = takeField(rest, "&");
        const size_t eq = field.find('=');
        if (eq == std::string_view::npos) {
            return fail("sas_malformed", "a field without '=' in the token");
        }
        const std::string_view name = field.substr(0, eq);
        const std::string_view value = field.substr(eq + 1);
        bool* seen = nullptr;
        if (name == "sr") {
            seen = &have_sr;
        } else if (name == "sig") {
            seen = &have_sig;
        } else if (name == "se") {
            seen = &have_se;
        } else if (name == "skn") {
            seen = &have_skn;
        } else {
            return fail("sas_malformed", "unknown field \"" + std::string(name) +
                                             "\" in the token (expected sr, sig, se, skn)");
        }
        if (*seen) {
            return fail("sas_malformed", "field \"" + std::string(name) + "\" appears twice");
        }
        *seen = true;
        if (value.empty()) {
            return fail("sas_malformed", "field \"" + std::string(name) + "\" is empty");
        }
        if (name == "se") {
            if (!parseExpiry(value, out.expiry_unix)) {
                return fail("sas_malformed", "se must be the expiry in seconds since 1970");
            }
            out.expiry_text = std::string(value);
            continue;
        }
        auto decoded = urlDecode(value);
        if (!decoded) {
            return fail("sas_malformed",
                        "field \"" + std::string(name) +
                            "\" is not URL-encoded correctly: " + decoded.error().message);
        }
        if (name == "sr") {
            out.sr_as_sent = std::string(value);
            out.resource_uri = std::move(*decoded);
        } else if (name == "sig") {
            out.signature = std::move(*decoded);
        } else {
            out.policy_name = std::move(*decoded);
        }
    }
    if (!have_sr || !have_sig || !have_se) {
        std::string missing;
        for (const auto& [present, name] :
             {std::pair{have_sr, "sr"}, std::pair{have_sig, "sig"}, std::pair{have_se, "se"}}) {
            if (!present) {
                missing += missing.empty() ? name : std::string(", ") + name;
            }
        }
        return fail("sas_malformed", "the token lacks " + missing);
    }
    return out;
}

Result<SasToken> parseAndVerifySasToken(std::string_view token, std::string_view base64_key,
                                        int64_t now_unix) {
    auto parsed = parseSasToken(token);
    if (!parsed) {
        return parsed;
    }
    auto given = base64Decode(parsed->signature);
    if (!given) {
        return fail("sas_malformed", "sig is not base64: " + given.error().message);
    }
    auto expected_b64 =
        sasSign(base64_key, sasStringToSign(parsed->sr_as_sent, parsed->expiry_text));
    if (!expected_b64) {
        return expected_b64.failure();
    }
    auto expected = base64Decode(*expected_b64);
    if (!expected || expected->size() != given->size() ||
        CRYPTO_memcmp(expected->data(), given->data(), given->size()) != 0) {
        return fail("sas_bad_signature",
                    "the signature does not match (wrong key, or sr/se changed after signing)");
    }
    if (parsed->expiry_unix <= now_unix) {
        return fail("sas_expired", "the token expired " +
                                       std::to_string(now_unix - parsed->expiry_unix) +
                                       " s ago (se=" + parsed->expiry_text + ")");
    }
    return parsed;
}

bool sasResourceCovers(std::string_view granted, std::string_view resource_uri) {
    const size_t g_slash = granted.find('/');
    const size_t r_slash = resource_uri.find('/');
    const std::string_view g_host = granted.substr(0, g_slash);
    const std::string_view r_host = resource_uri.substr(0, r_slash);
    if (lowerAscii(g_host) != lowerAscii(r_host)) {
        return false;
    }
    if (g_slash == std::string_view::npos) {
        return true;  // the whole hub
    }
    if (r_slash == std::string_view::npos) {
        return false;
    }
    std::string_view g_path = granted.substr(g_slash);
    const std::string_view r_path = resource_uri.substr(r_slash);
    while (!g_path.empty() && g_path.back() == '/') {
        g_path.remove_suffix(1);
    }
    if (g_path.empty()) {
        return true;  // "host/" is the whole hub too
    }
    if (!r_path.starts_with(g_path)) {
        return false;
    }
    return r_path.size() == g_path.size() || r_path[g_path.size()] == '/';
}

}  // namespace uplinkd::plugins::azure_iot_hub
