// SPDX-License-Identifier: Apache-2.0
#include "pty_port.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace uplinkd::emulator {
namespace {

std::string errnoText(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

PtyPort::PtyPort(asio::io_context& io, unsigned long baud)
    : master_(io), in_pacer_(baud), out_pacer_(baud), in_timer_(io), out_timer_(io) {}

PtyPort::~PtyPort() {
    close();
}

std::string PtyPort::open(const std::string& link) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return errnoText("posix_openpt");
    }
    if (grantpt(fd) != 0 || unlockpt(fd) != 0) {
        std::string err = errnoText("grantpt/unlockpt");
        ::close(fd);
        return err;
    }
    char name[128] = {};
    if (ptsname_r(fd, name, sizeof(name)) != 0) {
        std::string err = errnoText("ptsname_r");
        ::close(fd);
        return err;
    }
    slave_path_ = name;
    // Holding the slave open keeps the master readable (no EIO) while no client has it open.
    slave_fd_ = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave_fd_ < 0) {
        std::string err = errnoText("open slave");
        ::close(fd);
        return err;
    }
    termios tio{};
    if (tcgetattr(slave_fd_, &tio) == 0) {
        cfmakeraw(&tio);
        tio.c_cflag |= CLOCAL | CREAD;
        cfsetispeed(&tio, B115200);
        cfsetospeed(&tio, B115200);
        tcsetattr(slave_fd_, TCSANOW, &tio);
    }
    master_.assign(fd);
    master_.non_blocking(true);

    if (!link.empty()) {
        struct stat st {};
        if (lstat(link.c_str(), &st) == 0) {
            if (!S_ISLNK(st.st_mode)) {
                return "refusing to replace " + link + ": it exists and is not a symlink";
            }
            ::unlink(link.c_str());
        }
        if (symlink(name, link.c_str()) != 0) {
            return errnoText(("symlink " + link).c_str());
        }
        link_ = link;
    }
    return {};
}

void PtyPort::start(BytesHandler handler) {
    handler_ = std::move(handler);
    readSome();
}

void PtyPort::readSome() {
    if (!master_.is_open()) {
        return;
    }
    size_t want = std::min(in_buf_.size(), in_pacer_.chunk(in_buf_.size()));
    master_.async_read_some(asio::buffer(in_buf_.data(), want),
                            [this](std::error_code ec, size_t n) {
                                if (ec == asio::error::operation_aborted || !master_.is_open()) {
                                    return;
                                }
                                if (ec) {
                                    // EIO cannot happen while we hold the slave; anything else:
                                    // retry a little later.
                                    in_timer_.expires_after(std::chrono::milliseconds(50));
                                    in_timer_.async_wait([this](std::error_code tec) {
                                        if (!tec) {
                                            readSome();
                                        }
                                    });
                                    return;
                                }
                                bytes_in_ += n;
                                auto now = Pacer::Clock::now();
                                auto next = in_pacer_.account(n, now);
                                if (handler_) {
                                    handler_(std::string_view(in_buf_.data(), n));
                                }
                                if (next <= now) {
                                    readSome();
                                } else {
                                    in_timer_.expires_at(next);
                                    in_timer_.async_wait([this](std::error_code tec) {
                                        if (!tec) {
                                            readSome();
                                        }
                                    });
                                }
                            });
}

void PtyPort::write(std::string_view bytes) {
    if (!master_.is_open() || bytes.empty()) {
        return;
    }
    out_.append(bytes);
    if (!writing_) {
        writeSome();
    }
}

void PtyPort::clearOutput() {
    // Keep what is being written right now (the kernel owns that buffer); drop the rest.
    out_.resize(std::min(out_.size(), out_pos_ + in_flight_));
}

void PtyPort::writeSome() {
    if (out_pos_ >= out_.size()) {
        out_.clear();
        out_pos_ = 0;
        writing_ = false;
        return;
    }
    writing_ = true;
    auto now = Pacer::Clock::now();
    if (out_pacer_.nextFree() > now) {
        out_timer_.expires_at(out_pacer_.nextFree());
        out_timer_.async_wait([this](std::error_code ec) {
            if (!ec) {
                writeSome();
            }
        });
        return;
    }
    in_flight_ = std::min(out_.size() - out_pos_, out_pacer_.chunk(out_.size()));
    master_.async_write_some(asio::buffer(out_.data() + out_pos_, in_flight_),
                             [this](std::error_code ec, size_t n) {
                                 in_flight_ = 0;
                                 if (ec == asio::error::operation_aborted || !master_.is_open()) {
                                     writing_ = false;
                                     return;
                                 }
                                 if (ec) {
                                     // Not expected while we hold the slave open; retry after a
                                     // pause.
                                     out_timer_.expires_after(std::chrono::milliseconds(50));
                                     out_timer_.async_wait([this](std::error_code tec) {
                                         if (!tec) {
                                             writeSome();
                                         }
                                     });
                                     return;
                                 }
                                 bytes_out_ += n;
                                 out_pos_ += n;
                                 out_pacer_.account(n, Pacer::Clock::now());
                                 writeSome();
                             });
}

void PtyPort::close() {
    in_timer_.cancel();
    out_timer_.cancel();
    if (master_.is_open()) {
        std::error_code ec;
        master_.close(ec);
    }
    if (slave_fd_ >= 0) {
        ::close(slave_fd_);
        slave_fd_ = -1;
    }
    if (!link_.empty()) {
        char target[256] = {};
        ssize_t n = readlink(link_.c_str(), target, sizeof(target) - 1);
        if (n > 0 && slave_path_ == std::string(target, static_cast<size_t>(n))) {
            ::unlink(link_.c_str());
        }
        link_.clear();
    }
}

}  // namespace uplinkd::emulator
