#include "modem/serial_port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uplinkd {

namespace {

struct BaudEntry {
    unsigned baud;
    speed_t speed;
};

/// The rates Linux termios has a constant for (no custom divisors).
constexpr BaudEntry kBauds[] = {
    {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
    {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
    {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
    {2000000, B2000000}, {3000000, B3000000}, {4000000, B4000000},
};

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

std::optional<speed_t> SerialPort::speedFor(unsigned baud) {
    for (const auto& b : kBauds) {
        if (b.baud == baud) {
            return b.speed;
        }
    }
    return std::nullopt;
}

std::vector<unsigned> SerialPort::supportedBauds() {
    std::vector<unsigned> out;
    for (const auto& b : kBauds) {
        out.push_back(b.baud);
    }
    return out;
}

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
    const auto speed = speedFor(options.baud);
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
