// SPDX-License-Identifier: Apache-2.0
// The certificates the sierra-bx310x unit tests provision and check, made once per test program
// with the project's scripts (needs UPLINKD_SOURCE_DIR). Thread: the test's.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace uplinkd::plugins::sierra_bx310x {

/// The text of the file at `path`.
inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A root CA, a device certificate "dev1" with its key, an intermediate CA and a stray key, made
/// once with the project's scripts.
struct Certs {
    std::string root, root_key, cert, key, inter, other_key;
};

inline const Certs& certs() {
    static const Certs c = [] {
        char tmpl[] = "/tmp/bx-certs-XXXXXX";
        const std::string dir = mkdtemp(tmpl);
        const std::string src = UPLINKD_SOURCE_DIR;
        const std::string cmd = "bash " + src + "/tools/make-test-ca.sh " + dir + " dev1 && bash " +
                                src + "/tools/make-test-chain.sh " + dir;
        EXPECT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << "openssl missing?";
        Certs out{slurp(dir + "/ca.crt"),     slurp(dir + "/ca.key"),    slurp(dir + "/client.crt"),
                  slurp(dir + "/client.key"), slurp(dir + "/inter.crt"), slurp(dir + "/other.key")};
        std::system(("rm -rf " + dir).c_str());
        return out;
    }();
    return c;
}

/// `pem` with CR+LF line ends, as the module stores it.
inline std::string crlf(const std::string& pem) {
    std::string out;
    for (char ch : pem) {
        if (ch == '\n') {
            out += "\r\n";
        } else {
            out += ch;
        }
    }
    return out;
}

/// The non-empty lines of `pem`.
inline std::vector<std::string> pemLines(const std::string& pem) {
    std::vector<std::string> lines;
    std::istringstream in(pem);
    for (std::string l; std::getline(in, l);) {
        if (!l.empty()) {
            lines.push_back(l);
        }
    }
    return lines;
}

}  // namespace uplinkd::plugins::sierra_bx310x
