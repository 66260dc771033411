#include "uplinkd/secret_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace uplinkd {

std::optional<std::string> readSecretFile(ConfigTable& table, std::string_view key, bool required) {
    auto path = table.string(key, required);
    if (!path) {
        return std::nullopt;
    }
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
        table.error(key, "cannot read \"" + *path + "\": " + std::strerror(errno));
        return std::nullopt;
    }
    if ((st.st_mode & S_IROTH) != 0) {
        table.error(
            key, "\"" + *path + "\" is readable by every user; a secret must not be (chmod o-r)");
        return std::nullopt;
    }
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
        table.error(key, "cannot open \"" + *path + "\": " + std::strerror(errno));
        return std::nullopt;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string content = buf.str();
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
        content.pop_back();
    }
    if (content.empty()) {
        table.error(key, "\"" + *path + "\" is empty");
        return std::nullopt;
    }
    return content;
}

}  // namespace uplinkd
