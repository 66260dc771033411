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
#include <vector>

#include "uplinkd/config_table.hpp"
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

}  // namespace uplinkd::testing
