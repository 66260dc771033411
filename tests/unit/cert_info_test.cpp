// SPDX-License-Identifier: Apache-2.0
// What `uplinkctl certs` and the doctor read from certificates and keys: roles, validity, key
// type, fingerprints, which key belongs to which certificate, and the problems of a file set.
#include <gtest/gtest.h>

#include <chrono>

#include "test_certs.hpp"
#include "test_env.hpp"
#include "tls/cert_check.hpp"

namespace uplinkd {
namespace {

using testing::readFile;

int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class CertInfo : public ::testing::Test {
  protected:
    testing::TempDir dir;
    testing::TestCert root =
        testing::makeCert(dir.path(), "root", "Test Root", "", "", -10, 3650, true);
    testing::TestCert inter = testing::makeCert(dir.path(), "inter", "Test Intermediate", root.cert,
                                                root.key, -5, 1000, true);
    testing::TestCert device =
        testing::makeCert(dir.path(), "device", "gw-1", inter.cert, inter.key, -1, 365);
    PemFile file(const std::string& path) { return {path, readFile(path)}; }
};

TEST_F(CertInfo, RolesSubjectsValidityKeyAndFingerprint) {
    auto certs =
        describeCertificates(readFile(device.cert) + readFile(inter.cert) + readFile(root.cert));
    ASSERT_EQ(certs.size(), 3u);
    struct Expect {
        CertificateRole role;
        std::string subject, issuer, cn;
    };
    const std::vector<Expect> table{
        {CertificateRole::Leaf, "CN=gw-1", "CN=Test Intermediate", "gw-1"},
        {CertificateRole::Intermediate, "CN=Test Intermediate", "CN=Test Root",
         "Test Intermediate"},
        {CertificateRole::Root, "CN=Test Root", "CN=Test Root", "Test Root"},
    };
    for (size_t i = 0; i < table.size(); ++i) {
        EXPECT_EQ(certs[i].role, table[i].role) << i;
        EXPECT_EQ(certs[i].subject, table[i].subject);
        EXPECT_EQ(certs[i].issuer, table[i].issuer);
        EXPECT_EQ(certs[i].subject_cn, table[i].cn);
        EXPECT_EQ(certs[i].key_type, "EC");
        EXPECT_EQ(certs[i].key_bits, 256);
        EXPECT_EQ(certs[i].sha256.size(), 32u * 3 - 1);
    }
    EXPECT_NEAR(static_cast<double>(certs[0].not_before), static_cast<double>(now() - 86400),
                120.0);
    EXPECT_NEAR(static_cast<double>(certs[0].not_after), static_cast<double>(now() + 365 * 86400),
                120.0);
    EXPECT_STREQ(roleName(CertificateRole::Root), "root CA");
    EXPECT_EQ(formatUtc(0), "1970-01-01 00:00:00 UTC");
}

TEST_F(CertInfo, KeysAreDescribedAndMatchedToTheirCertificate) {
    auto key = describePrivateKey(readFile(device.key));
    ASSERT_TRUE(key);
    EXPECT_EQ(key->key_type, "EC");
    EXPECT_FALSE(describePrivateKey(readFile(device.cert)));
    auto certs = describeCertificates(readFile(device.cert));
    ASSERT_EQ(certs.size(), 1u);
    EXPECT_TRUE(keyMatchesCertificate(certs[0], readFile(device.key)));
    EXPECT_FALSE(keyMatchesCertificate(certs[0], readFile(inter.key)));
}

TEST_F(CertInfo, TheThreeFilesOfACloudConsolePassAndEachMistakeIsNamed) {
    const auto expired =
        testing::makeCert(dir.path(), "old", "gw-old", root.cert, root.key, -400, -35);
    const auto future =
        testing::makeCert(dir.path(), "future", "gw-future", root.cert, root.key, 2, 300);
    const auto soon = testing::makeCert(dir.path(), "soon", "gw-soon", root.cert, root.key, -1, 10);
    struct Case {
        std::vector<std::string> files;
        std::vector<std::string> problems;  ///< substrings, in order
        size_t warnings;
    };
    const std::vector<Case> cases{
        {{device.cert, device.key, inter.cert, root.cert}, {}, 0},
        {{soon.cert, soon.key, root.cert}, {}, 1},
        {{device.cert, device.key, inter.cert},
         {"\"CN=Test Intermediate\", an intermediate CA, and no file holds a root: the root CA "
          "\"CN=Test Root\" is missing"},
         0},
        {{device.cert, inter.key, root.cert},
         {"the key in " + inter.key + " matches none of the certificates given"},
         0},
        {{expired.cert, expired.key, root.cert}, {"\"CN=gw-old\" expired on"}, 0},
        {{future.cert, future.key, root.cert}, {"\"CN=gw-future\" is not valid before"}, 0},
        {{device.cert + ".missing"}, {"holds no PEM certificate"}, 0},
    };
    for (const auto& c : cases) {
        std::vector<PemFile> files;
        for (const auto& f : c.files) {
            files.push_back(file(f));
        }
        const auto set = examinePemFiles(files, now());
        ASSERT_EQ(set.problems.size(), c.problems.size()) << c.files.front();
        for (size_t i = 0; i < c.problems.size(); ++i) {
            EXPECT_NE(set.problems[i].find(c.problems[i]), std::string::npos) << set.problems[i];
        }
        EXPECT_EQ(set.warnings.size(), c.warnings) << c.files.front();
    }
    // the pairing: the device key belongs to the device certificate
    const auto set = examinePemFiles({file(root.cert), file(device.cert), file(device.key)}, now());
    ASSERT_EQ(set.keys.size(), 1u);
    ASSERT_TRUE(set.keys[0].matches);
    EXPECT_EQ(set.certs[*set.keys[0].matches].file, device.cert);
}

}  // namespace
}  // namespace uplinkd
