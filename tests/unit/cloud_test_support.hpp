// SPDX-License-Identifier: Apache-2.0
// What the cloud plugin unit tests share: secret files in a temporary directory, and creating a
// profile from the body of a [routes.r.cloud] table the way the daemon does (diagnostics with
// file, line and column). Thread: test.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "uplinkd/cloud_profile.hpp"
#include "uplinkd/config_table.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::testing {

/// Files for a test (secret files with chosen modes) in a new temporary directory, removed
/// afterwards. Thread: test.
class TempFiles {
  public:
    TempFiles() {
        std::string pattern = std::filesystem::temp_directory_path() / "uplinkd-cloud-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
        }
        dir_ = pattern;
    }
    ~TempFiles() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    TempFiles(const TempFiles&) = delete;
    TempFiles& operator=(const TempFiles&) = delete;

    /// Writes `content` to `name` with `mode`; returns its path.
    std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) {
        const auto p = dir_ / name;
        std::ofstream(p) << content;
        ::chmod(p.c_str(), mode);
        return p.string();
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

  private:
    std::filesystem::path dir_;
};

/// The outcome of creating a profile from the body of a [routes.r.cloud] table.
struct Loaded {
    std::vector<std::string> diagnostics;
    CloudProfilePtr profile;
};

/// Parses "[routes.r.cloud]\ntype = \"<type>\"\n" + body (so the body starts on line 3) and runs
/// `create` on the table, as the daemon does. A failure must be "config" with a diagnostic.
inline Loaded loadCloud(std::string_view type, Result<CloudProfilePtr> (*create)(ConfigTable&),
                        const std::string& body) {
    const std::string text = "[routes.r.cloud]\ntype = \"" + std::string(type) + "\"\n" + body;
    Loaded out;
    auto doc = toml::parse(text, std::string_view("test.toml"));
    if (!doc) {
        ADD_FAILURE() << "bad TOML in test: " << doc.error().description();
        return out;
    }
    Diagnostics diags;
    ConfigTable root(&doc.table(), "", doc.table().source(), diags);
    ConfigTable cloud = root.table("routes").table("r").table("cloud");
    (void)cloud.string("type");  // the daemon reads it before handing the table over
    auto result = create(cloud);
    out.diagnostics = diags.items();
    if (result) {
        out.profile = std::move(*result);
    } else {
        EXPECT_EQ(result.error().code, "config");
        EXPECT_FALSE(out.diagnostics.empty()) << "an error without a diagnostic";
    }
    return out;
}

/// One cloud plugin under test: load(body) is loadCloud() with its type and create function.
struct CloudUnderTest {
    std::string_view type;
    Result<CloudProfilePtr> (*create)(ConfigTable&);

    Loaded operator()(const std::string& body) const { return loadCloud(type, create, body); }
};

/// `loaded` made no profile, and its first diagnostic is `expected` (the whole line).
inline void expectRefused(const Loaded& loaded, const std::string& expected) {
    EXPECT_FALSE(loaded.profile);
    ASSERT_FALSE(loaded.diagnostics.empty());
    EXPECT_EQ(loaded.diagnostics.front(), expected);
}

/// The profile of `loaded`; a test failure with the diagnostics when there is none.
inline CloudProfilePtr expectProfile(Loaded loaded) {
    EXPECT_TRUE(loaded.profile) << ::testing::PrintToString(loaded.diagnostics);
    return std::move(loaded.profile);
}

/// The descriptor is a cloud plugin of this ABI named `name`, whose api creates with `create`.
inline void expectCloudDescriptor(const PluginDescriptor* d, const char* name,
                                  Result<CloudProfilePtr> (*create)(ConfigTable&)) {
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->abi_version, kPluginAbiVersion);
    EXPECT_EQ(d->kind, PluginKind::Cloud);
    EXPECT_STREQ(d->name, name);
    ASSERT_NE(d->api, nullptr);
    EXPECT_EQ(static_cast<const CloudPluginApi*>(d->api)->create, create);
}

/// mapSubscribe(filter, qos) on `profile` gives `expected` (the broker filter) with
/// `expected_qos`, or, when `error`, fails with the code `expected`.
struct SubscribeCase {
    const CloudProfile* profile;
    std::string filter;
    int qos;
    std::string expected;
    int expected_qos;
    bool error;
};

inline void expectSubscriptions(const std::vector<SubscribeCase>& cases) {
    for (const auto& c : cases) {
        SCOPED_TRACE(c.filter);
        auto r = c.profile->mapSubscribe(c.filter, c.qos);
        if (c.error) {
            ASSERT_FALSE(r.ok()) << r->broker_filter;
            EXPECT_EQ(r.error().code, c.expected);
        } else {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->broker_filter, c.expected);
            EXPECT_EQ(r->qos, c.expected_qos);
        }
    }
}

/// Each of `parts` occurs in `text` (what it is about: `what`).
inline void expectMentions(const std::string& text, const std::vector<std::string>& parts,
                           const std::string& what = "") {
    for (const auto& part : parts) {
        EXPECT_NE(text.find(part), std::string::npos) << what << part << " in: " << text;
    }
}

/// explainConnack(code) of `profile` mentions each of the parts.
struct ConnackCase {
    int code;
    std::vector<std::string> parts;
};

inline void expectConnackExplained(const CloudProfile& profile,
                                   const std::vector<ConnackCase>& cases) {
    for (const auto& c : cases) {
        expectMentions(profile.explainConnack(c.code), c.parts, std::to_string(c.code) + ": ");
    }
}

/// `got` is `want`, field by field (host, port, TLS, SNI, ALPN, WebSocket path).
inline void expectEndpoint(const BrokerEndpoint& got, const BrokerEndpoint& want) {
    EXPECT_EQ(got.host, want.host);
    EXPECT_EQ(got.port, want.port);
    EXPECT_EQ(got.tls, want.tls);
    EXPECT_EQ(got.sni, want.sni);
    EXPECT_EQ(got.alpn, want.alpn);
    EXPECT_EQ(got.websocket_path, want.websocket_path);
}

/// How a profile with credentials that never expire connects.
struct ConnectsWith {
    std::string kind;
    BrokerEndpoint endpoint;
    int mqtt_version;
    int keepalive_seconds;
    std::string client_id;
    std::string username;
    std::string password;
};

/// `p` connects as `want` says, with credentials that do not expire and no standing
/// subscriptions.
inline void expectConnectsWith(const CloudProfile& p, const ConnectsWith& want) {
    EXPECT_EQ(p.kind(), want.kind);
    expectEndpoint(p.endpoint(), want.endpoint);
    EXPECT_EQ(p.mqttVersion(), want.mqtt_version);
    EXPECT_EQ(p.keepAliveSeconds(), want.keepalive_seconds);
    auto cred = p.credentials(SystemTime{});
    ASSERT_TRUE(cred.ok());
    EXPECT_EQ(cred->client_id, want.client_id);
    EXPECT_EQ(cred->username, want.username);
    EXPECT_EQ(cred->password, want.password);
    EXPECT_FALSE(cred->valid_until.has_value());
    EXPECT_TRUE(p.standingSubscriptions().empty());
}

/// A message to `topic` with `payload_size` bytes, as a local app publishes it.
inline Message outgoing(const std::string& topic, size_t payload_size, int qos, bool retain,
                        Properties properties) {
    Message m;
    m.topic = topic;
    m.payload.assign(payload_size, 'x');
    m.qos = qos;
    m.retain = retain;
    m.properties = std::move(properties);
    return m;
}

}  // namespace uplinkd::testing
