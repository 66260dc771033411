// SPDX-License-Identifier: Apache-2.0
#include "core/file_text.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace uplinkd {

Result<std::string> readFileText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail("read", "cannot read \"" + path + "\": " + std::strerror(errno));
    }
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) {
        return fail("read", "cannot read \"" + path + "\": " + std::strerror(errno));
    }
    return s.str();
}

}  // namespace uplinkd
