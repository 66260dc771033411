// SPDX-License-Identifier: Apache-2.0
#include "modem/serial_port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/baud_rates.hpp"

namespace uplinkd {

namespace {

std::string groupOf(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return {};
    }
    if (const group* g = ::getgrgid(st.st_gid)) {
        return g->gr_name;
    }
    return std::to_string(st.st_gid);
}

Failure openError(const std::string& device, int err) {
    switch (err) {
        case ENOENT:
        case ENODEV:
        case ENXIO:
            return fail("serial", "serial device " + device +
                                      " does not exist (is the module connected and powered, and "
                                      "its USB serial driver loaded?)");
        case EACCES:
        case EPERM: {
            const std::string grp = groupOf(device);
            const bool usual = grp.empty() || grp == "root" || grp == "dialout";
            return fail("serial", "no permission to open " + device +
                                      (usual ? ": add the user uplinkd runs as to the \"dialout\" "
                                               "group (uplinkd.service has "
                                               "SupplementaryGroups=dialout)"
                                             : ": it belongs to group \"" + grp +
                                                   "\"; add the user uplinkd runs as to that "
                                                   "group (serial ports usually belong to "
                                                   "\"dialout\")"));
        }
        case EBUSY:
            return fail("serial", device +
                                      " is held exclusively by another program (ModemManager, a "
                                      "terminal program?); stop it or tell it to leave the port");
        default:
            return fail("serial", "cannot open " + device + ": " + std::strerror(err));
    }
}

}  // namespace

SerialPort::SerialPort(asio::io_context& loop, int fd, Options options)
    : stream_(loop, fd), options_(std::move(options)) {}

SerialPort::~SerialPort() {
    if (stream_.is_open()) {
        // The exclusive flag belongs to the tty, which can outlive this descriptor.
        ::ioctl(stream_.native_handle(), TIOCNXCL);
        asio::error_code ignored;
        stream_.close(ignored);
    }
}

Result<std::unique_ptr<SerialPort>> SerialPort::open(asio::io_context& loop,
                                                     const Options& options) {
    const auto speed = termiosSpeed(options.baud);
    if (!speed) {
        return fail("serial", std::to_string(options.baud) + " is not a baud rate of this system");
    }
    const int fd = ::open(options.device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return openError(options.device, errno);
    }
    auto fail_with = [&](const std::string& message) {
        ::close(fd);
        return fail("serial", message);
    };
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err == EWOULDBLOCK) {
            return fail_with(options.device +
                             " is locked by another program (flock); is a second uplinkd or a "
                             "terminal program using it?");
        }
        return fail_with("cannot lock " + options.device + ": " + std::strerror(err));
    }
    termios tio{};
    if (::tcgetattr(fd, &tio) != 0) {
        const int err = errno;
        return fail_with(options.device + " is not a serial line (" + std::strerror(err) + ")");
    }
    if (::ioctl(fd, TIOCEXCL) != 0) {
        const int err = errno;
        return fail_with("cannot open " + options.device +
                         " exclusively (TIOCEXCL): " + std::strerror(err));
    }
    ::cfmakeraw(&tio);
    tio.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB | CSTOPB | CRTSCTS);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    if (options.flow_control) {
        tio.c_cflag |= CRTSCTS;
    }
    tio.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    ::cfsetispeed(&tio, *speed);
    ::cfsetospeed(&tio, *speed);
    // TCSANOW, not TCSAFLUSH: what the module sent before we opened (boot URCs) stays readable.
    if (::tcsetattr(fd, TCSANOW, &tio) != 0) {
        const int err = errno;
        ::ioctl(fd, TIOCNXCL);
        return fail_with("cannot configure " + options.device + " (" +
                         std::to_string(options.baud) + " 8N1): " + std::strerror(err));
    }
    return std::unique_ptr<SerialPort>(new SerialPort(loop, fd, options));
}

std::string SerialPort::describe() const {
    return options_.device + " " + std::to_string(options_.baud) + " 8N1" +
           (options_.flow_control ? " RTS/CTS" : "");
}

}  // namespace uplinkd
