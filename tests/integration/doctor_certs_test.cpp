// SPDX-License-Identifier: Apache-2.0
// `uplinkctl certs check FILE...` on the three files a cloud console hands out, and on each
// mistake people make with them; `uplinkctl certs --route` on a configuration.
#include <gtest/gtest.h>

#include "test_certs.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

/// `uplinkctl certs` with `args` (shell words): its exit status and output (both streams).
CommandRun certs(const std::string& args) {
    return runCommand(buildDir() + "/daemon/uplinkctl certs " + args + " 2>&1");
}

class Certs : public ::testing::Test {
  protected:
    TempDir dir;
    TestCert root =
        makeCert(dir.path(), "AmazonRootCA1", "Example Root CA", "", "", -10, 3650, true);
    TestCert inter =
        makeCert(dir.path(), "issuing", "Example Issuing CA", root.cert, root.key, -5, 1000, true);
    TestCert device = makeCert(dir.path(), "device", "gateway-1", inter.cert, inter.key, -1, 365);
};

TEST_F(Certs, TheThreeFilesOfACloudConsolePass) {
    // The console's device certificate carries its issuing CA; the root comes on its own.
    writeFile(dir.file("device-chain.pem"), readFile(device.cert) + readFile(inter.cert));
    const CommandRun o =
        certs("check " + dir.file("device-chain.pem") + " " + device.key + " " + root.cert);
    EXPECT_EQ(o.exit, 0) << o.out;
    EXPECT_NE(o.out.find(dir.file("device-chain.pem") + " #1: certificate"), std::string::npos)
        << o.out;
    EXPECT_NE(o.out.find(dir.file("device-chain.pem") + " #2: intermediate CA"), std::string::npos);
    EXPECT_NE(o.out.find(root.cert + " #1: root CA"), std::string::npos);
    EXPECT_NE(o.out.find(device.key + ": private key, EC 256 bits, the key of " +
                         dir.file("device-chain.pem") + " #1 (CN=gateway-1)"),
              std::string::npos)
        << o.out;
    EXPECT_NE(o.out.find("sha256    "), std::string::npos);
    EXPECT_NE(o.out.find("no problem found"), std::string::npos);
}

TEST_F(Certs, AnIntermediateGivenAsTheRootIsReported) {
    const CommandRun o = certs("check " + device.cert + " " + device.key + " " + inter.cert);
    EXPECT_EQ(o.exit, 1) << o.out;
    EXPECT_NE(o.out.find("PROBLEM: " + inter.cert +
                         " holds \"CN=Example Issuing CA\", an intermediate CA, and no file "
                         "holds a root: the root CA \"CN=Example Root CA\" is missing"),
              std::string::npos)
        << o.out;
}

TEST_F(Certs, AKeyThatMatchesNoCertificateIsReported) {
    const CommandRun o = certs("check " + device.cert + " " + inter.key + " " + root.cert);
    EXPECT_EQ(o.exit, 1) << o.out;
    EXPECT_NE(
        o.out.find("PROBLEM: the key in " + inter.key + " matches none of the certificates given"),
        std::string::npos)
        << o.out;
    EXPECT_EQ(o.out.find("BEGIN"), std::string::npos) << "no key material in the output";
}

TEST_F(Certs, AnExpiredCertificateIsReported) {
    const auto old = makeCert(dir.path(), "old", "gateway-1", root.cert, root.key, -400, -2);
    const CommandRun o = certs("check " + old.cert + " " + old.key + " " + root.cert);
    EXPECT_EQ(o.exit, 1) << o.out;
    EXPECT_NE(o.out.find("(EXPIRED)"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("\"CN=gateway-1\" expired on"), std::string::npos) << o.out;
}

TEST_F(Certs, TheRouteFilesOfAConfigurationAreShownAndACaFileWithoutRootFails) {
    writeFile(dir.file("u.toml"),
              "[routes.aws.cloud]\ntype = \"generic-mqtt\"\nhost = \"localhost\"\nclient_id = "
              "\"gw\"\n[routes.aws.tls]\nca_file = \"" +
                  root.cert + "\"\ncert_file = \"" + device.cert + "\"\nkey_file = \"" +
                  device.key + "\"\n");
    CommandRun o = certs("--config " + dir.file("u.toml") + " --plugin-dir " + pluginDir());
    EXPECT_EQ(o.exit, 0) << o.out;
    EXPECT_NE(o.out.find("route aws (generic-mqtt)"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find(root.cert + " #1: root CA"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("the key of " + device.cert + " #1"), std::string::npos) << o.out;

    writeFile(dir.file("u.toml"),
              "[routes.aws.cloud]\ntype = \"generic-mqtt\"\nhost = \"localhost\"\nclient_id = "
              "\"gw\"\n[routes.aws.tls]\nca_file = \"" +
                  inter.cert + "\"\n");
    o = certs("--route aws --config " + dir.file("u.toml") + " --plugin-dir " + pluginDir());
    EXPECT_EQ(o.exit, 1) << o.out;
    EXPECT_NE(o.out.find("an intermediate CA, and no root"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace uplinkd::testing
