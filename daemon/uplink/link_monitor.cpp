// SPDX-License-Identifier: Apache-2.0
#include "uplink/link_monitor.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uplinkd {

namespace {
/// IFF_LOWER_UP (the carrier) from <linux/if.h>, which clashes with <net/if.h>.
constexpr unsigned kLowerUp = 0x10000;
}  // namespace

std::vector<LinkEvent> parseLinkMessages(std::span<const uint8_t> buf) {
    std::vector<LinkEvent> out;
    size_t off = 0;
    while (buf.size() - off >= sizeof(nlmsghdr)) {
        nlmsghdr h;
        std::memcpy(&h, buf.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buf.size() - off) {
            break;
        }
        const uint8_t* body = buf.data() + off + NLMSG_HDRLEN;
        const size_t body_len = h.nlmsg_len - std::min<size_t>(h.nlmsg_len, NLMSG_HDRLEN);
        if ((h.nlmsg_type == RTM_NEWLINK || h.nlmsg_type == RTM_DELLINK) &&
            body_len >= sizeof(ifinfomsg)) {
            ifinfomsg ifi;
            std::memcpy(&ifi, body, sizeof ifi);
            LinkEvent ev;
            ev.up = h.nlmsg_type == RTM_NEWLINK && (ifi.ifi_flags & IFF_UP) != 0 &&
                    (ifi.ifi_flags & kLowerUp) != 0;
            size_t a = NLMSG_ALIGN(sizeof(ifinfomsg));
            while (a + sizeof(rtattr) <= body_len) {
                rtattr attr;
                std::memcpy(&attr, body + a, sizeof attr);
                if (attr.rta_len < sizeof(rtattr) || attr.rta_len > body_len - a) {
                    break;
                }
                if (attr.rta_type == IFLA_IFNAME) {
                    const char* p = reinterpret_cast<const char*>(body + a + RTA_LENGTH(0));
                    const size_t n = attr.rta_len - RTA_LENGTH(0);
                    ev.interface.assign(p, strnlen(p, n));
                }
                a += RTA_ALIGN(attr.rta_len);
            }
            if (!ev.interface.empty()) {
                out.push_back(std::move(ev));
            }
        }
        const size_t step = NLMSG_ALIGN(h.nlmsg_len);
        if (step > buf.size() - off) {
            break;
        }
        off += step;
    }
    return out;
}

LinkMonitor::LinkMonitor(asio::io_context& loop) : socket_(loop) {}

LinkMonitor::~LinkMonitor() {
    alive_.reset();
    asio::error_code ignored;
    socket_.close(ignored);
}

Status LinkMonitor::start(Handler changed) {
    changed_ = std::move(changed);
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0) {
        return fail("netlink",
                    std::string("cannot open a netlink socket: ") + std::strerror(errno));
    }
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        const int err = errno;
        ::close(fd);
        return fail("netlink",
                    std::string("cannot listen for link changes: ") + std::strerror(err));
    }
    socket_.assign(fd);
    read();
    return {};
}

bool LinkMonitor::isUp(const std::string& interface) const {
    auto it = state_.find(interface);
    return it == state_.end() || it->second;
}

void LinkMonitor::read() {
    std::weak_ptr<bool> alive = alive_;
    socket_.async_read_some(asio::buffer(buf_), [this, alive](asio::error_code ec, size_t n) {
        if (alive.expired() || (ec && ec != asio::error::no_buffer_space)) {
            return;  // closed; ENOBUFS (the kernel dropped messages) is not fatal
        }
        if (!ec) {
            for (const auto& ev : parseLinkMessages(std::span<const uint8_t>(buf_.data(), n))) {
                auto [it, inserted] = state_.try_emplace(ev.interface, ev.up);
                if (!inserted && it->second == ev.up) {
                    continue;  // another attribute changed
                }
                it->second = ev.up;
                if (changed_ && (!inserted || !ev.up)) {
                    changed_(ev);
                }
            }
        }
        read();
    });
}

}  // namespace uplinkd
