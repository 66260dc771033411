// SPDX-License-Identifier: Apache-2.0
// Certificate checks made before anything goes into a module's store: a root CA, a matching key.
#include "tls/cert_check.hpp"

#include <gtest/gtest.h>

#include "test_env.hpp"

namespace uplinkd {
namespace {

class CertCheck : public ::testing::Test {
  protected:
    testing::TempDir dir;
    testing::Pki pki = testing::makePki(dir.path(), "gw-1");
    std::string read(const std::string& path) { return testing::readFile(path); }
};

TEST_F(CertCheck, ARootCaPassesAndSoDoesAChainFileThatHoldsOne) {
    EXPECT_TRUE(checkRootCa(read(pki.ca), pki.ca));
    // intermediate first, root after it: the module finds the root
    EXPECT_TRUE(checkRootCa(read(pki.server_cert) + read(pki.ca), "chain.pem"));
    EXPECT_EQ(certificateSubject(read(pki.ca)), "CN=uplinkd test CA");
}

TEST_F(CertCheck, ACertificateThatIsNotARootIsRefusedNamingTheRootNeeded) {
    auto st = checkRootCa(read(pki.server_cert), "/etc/uplinkd/ca.pem");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_ca_not_root");
    EXPECT_NE(st.error().message.find("tls.ca_file \"/etc/uplinkd/ca.pem\" holds \"CN=localhost\""),
              std::string::npos)
        << st.error().message;
    EXPECT_NE(st.error().message.find("put the root CA \"CN=uplinkd test CA\" in tls.ca_file"),
              std::string::npos)
        << st.error().message;
}

TEST_F(CertCheck, AFileWithoutACertificateIsNamed) {
    auto st = checkRootCa("not a certificate", "ca.pem");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_files");
    EXPECT_NE(st.error().message.find("\"ca.pem\" holds no PEM certificate"), std::string::npos);
}

TEST_F(CertCheck, TheKeyOfTheCertificatePassesAnotherKeyIsRefusedWithoutShowingIt) {
    EXPECT_TRUE(checkKeyMatches(read(pki.client_cert), read(pki.client_key), "c.crt", "c.key"));
    const std::string other = read(pki.server_key);
    auto st = checkKeyMatches(read(pki.client_cert), other, "c.crt", "s.key");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_key_mismatch");
    EXPECT_NE(st.error().message.find(
                  "tls.key_file \"s.key\" is not the key of tls.cert_file \"c.crt\" (CN=gw-1)"),
              std::string::npos)
        << st.error().message;
    EXPECT_EQ(st.error().message.find("PRIVATE KEY"), std::string::npos);
    auto garbage = checkKeyMatches(read(pki.client_cert), "junk", "c.crt", "k.key");
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().code, "tls_files");
}

}  // namespace
}  // namespace uplinkd
