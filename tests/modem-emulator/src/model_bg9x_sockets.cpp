// SPDX-License-Identifier: Apache-2.0
// Bg9xModel: the 12 sockets: AT+QIOPEN/QISEND/QIRD/QISTATE/QICLOSE (TCP) and
// AT+QSSLOPEN/QSSLSEND/QSSLRECV/QSSLSTATE/QSSLCLOSE (TLS).
#include <algorithm>

#include "bg9x_codes.hpp"
#include "model_bg9x.hpp"

namespace uplinkd::emulator {

namespace {

constexpr long kMaxSend = 1460;
constexpr long kMaxRead = 1500;

}  // namespace

void Bg9xModel::resetSocket(int id) {
    Socket& s = sockets_[static_cast<size_t>(id)];
    if (s.sock) {
        s.sock->close();
    }
    s = Socket{};
}

void Bg9xModel::onSocketData(int id, HostSocket* sock) {
    Socket& s = sockets_[static_cast<size_t>(id)];
    if (s.sock.get() != sock) {
        return;
    }
    const std::string prefix = s.tls ? "+QSSLURC: \"recv\"," : "+QIURC: \"recv\",";
    if (s.access == 1) {
        // Direct push: the data follows the URC.
        while (sock->available() > 0) {
            std::string data = sock->take(kMaxRead);
            s.read += data.size();
            urc(prefix + std::to_string(id) + "," + std::to_string(data.size()), data);
        }
        return;
    }
    if (!s.data_reported) {
        s.data_reported = true;
        urc(prefix + std::to_string(id));
    }
}

void Bg9xModel::onSocketClosed(int id, HostSocket* sock) {
    Socket& s = sockets_[static_cast<size_t>(id)];
    if (s.sock.get() != sock) {
        return;
    }
    s.state = Socket::State::Closing;  // the host still reads what is left, then closes
    log_.note("socket " + std::to_string(id) + " closed by the peer");
    urc(std::string(s.tls ? "+QSSLURC: " : "+QIURC: ") + "\"closed\"," + std::to_string(id));
}

void Bg9xModel::openSocket(int id, bool tls, const std::string& host, uint16_t port) {
    Socket& s = sockets_[static_cast<size_t>(id)];
    const std::string result =
        std::string(tls ? "+QSSLOPEN: " : "+QIOPEN: ") + std::to_string(id) + ",";
    if (!pdps_[static_cast<size_t>(s.pdp)].active) {
        log_.note("socket " + std::to_string(id) + ": PDP context " + std::to_string(s.pdp) +
                  " is not active");
        resetSocket(id);
        urc(result + std::to_string(bg9x::kOpenPdpFailed));
        return;
    }
    TlsOptions opts;
    if (tls) {
        std::string why;
        auto t = tlsFor(s.ssl_ctx, host, why);
        if (!t) {
            log_.note("socket " + std::to_string(id) + ": " + why);
            resetSocket(id);
            urc(result + std::to_string(bg9x::kConnectFailed));
            return;
        }
        opts = std::move(*t);
    }
    s.local_port = next_local_port_++;
    if (next_local_port_ < 40000) {
        next_local_port_ = 40000;
    }
    auto sock = std::make_shared<HostSocket>(io_);
    s.sock = sock;
    HostSocket* raw = sock.get();
    sock->onData([this, id, raw] { onSocketData(id, raw); });
    sock->onClosed([this, id, raw] { onSocketClosed(id, raw); });
    sock->connect(
        host, port, std::move(opts), opts_.connect_timeout,
        [this, id, raw, result](ConnectError e, const std::string& detail) {
            Socket& ss = sockets_[static_cast<size_t>(id)];
            if (ss.sock.get() != raw) {
                return;
            }
            if (e == ConnectError::None) {
                ss.state = Socket::State::Connected;
                urc(result + "0");
                return;
            }
            log_.note("socket " + std::to_string(id) + " failed: " + toString(e) + ": " + detail);
            const int code = e == ConnectError::Dns       ? bg9x::kDnsFailed
                             : e == ConnectError::Timeout ? bg9x::kTimeout
                                                          : bg9x::kConnectFailed;
            resetSocket(id);
            urc(result + std::to_string(code));
        });
}

Final Bg9xModel::sendData(const AtCommand& c, bool tls) {
    const char* cmd = tls ? "AT+QSSLSEND" : "AT+QISEND";
    auto id = inRange(c, 0, 0, kSockets - 1);
    if (c.kind != AtKind::Set || !id) {
        return Final::error();
    }
    Socket& s = sockets_[static_cast<size_t>(*id)];
    if (s.state == Socket::State::Initial || s.tls != tls) {
        misuse(std::string(cmd) + " on socket " + std::to_string(*id) + ", which is not open" +
               (s.state != Socket::State::Initial ? " with this command set" : ""));
        return Final::error();
    }
    if (c.has(1) && c.intArg(1) == 0) {
        respond(std::string(tls ? "+QSSLSEND: " : "+QISEND: ") + std::to_string(s.sent) + "," +
                std::to_string(s.sent) + ",0");
        return Final::ok();
    }
    if (s.state != Socket::State::Connected) {
        return Final::error();  // opening, or closed by the peer
    }
    const int sid = *id;
    auto done = whenComplete([this, sid](const DataPhase& p) {
        Socket& ss = sockets_[static_cast<size_t>(sid)];
        if (ss.state != Socket::State::Connected || !ss.sock || !ss.sock->send(p.data())) {
            return Final::line("SEND FAIL");
        }
        ss.sent += p.data().size();
        return Final::line("SEND OK");
    });
    if (!c.has(1)) {
        startDataPhase(DataPhase::ctrlZ(kMaxSend), kDataPrompt, done);  // ended by Ctrl-Z
        return Final::pending();
    }
    return countedSend(c, 1, 1, kMaxSend, cmd, done);
}

Final Bg9xModel::readData(const AtCommand& c, bool tls) {
    const std::string prefix = tls ? "+QSSLRECV: " : "+QIRD: ";
    auto id = inRange(c, 0, 0, kSockets - 1);
    if (c.kind != AtKind::Set || !id) {
        return Final::error();
    }
    Socket& s = sockets_[static_cast<size_t>(*id)];
    if (s.state == Socket::State::Initial || s.tls != tls || s.access != 0) {
        misuse(std::string(tls ? "AT+QSSLRECV" : "AT+QIRD") + " on socket " + std::to_string(*id) +
               ", which is not open in buffer mode with this command set");
        return Final::error();
    }
    const size_t avail = s.sock ? s.sock->available() : 0;
    if (c.has(1) && c.intArg(1) == 0) {
        respond(prefix + std::to_string(s.read + avail) + "," + std::to_string(s.read) + "," +
                std::to_string(avail));
        return Final::ok();
    }
    auto want = c.has(1) ? inRange(c, 1, 1, kMaxRead) : std::optional<int>(kMaxRead);
    if (!want) {
        return Final::error();
    }
    if (avail == 0) {
        s.data_reported = false;
        respond(prefix + "0");
        return Final::ok();
    }
    std::string data = s.sock->take(std::min(static_cast<size_t>(*want), avail));
    s.read += data.size();
    respond(prefix + std::to_string(data.size()));
    respondData(data);
    if (s.sock->available() == 0) {
        s.data_reported = false;
    }
    return Final::ok();
}

Final Bg9xModel::closeSocket(const AtCommand& c, bool tls) {
    auto id = inRange(c, 0, 0, kSockets - 1);
    if (c.kind != AtKind::Set || !id || (c.has(1) && !inRange(c, 1, 0, 65535))) {
        return Final::error();
    }
    Socket& s = sockets_[static_cast<size_t>(*id)];
    if (s.state != Socket::State::Initial && s.tls != tls) {
        misuse(std::string(tls ? "AT+QSSLCLOSE" : "AT+QICLOSE") + " on socket " +
               std::to_string(*id) + ", which the other command set opened");
        return Final::error();
    }
    resetSocket(*id);
    return Final::ok();
}

std::string Bg9xModel::stateLine(int id) const {
    const Socket& s = sockets_[static_cast<size_t>(id)];
    const std::string ip =
        s.sock && !s.sock->remoteAddress().empty() ? s.sock->remoteAddress() : s.host;
    std::string line = std::string(s.tls ? "+QSSLSTATE: " : "+QISTATE: ") + std::to_string(id) +
                       (s.tls ? ",\"SSLClient\",\"" : ",\"TCP\",\"") + ip + "\"," +
                       std::to_string(s.port) + "," + std::to_string(s.local_port) + "," +
                       std::to_string(static_cast<int>(s.state)) + "," + std::to_string(s.pdp) +
                       ",0," + std::to_string(s.access) + ",\"uart1\"";
    if (s.tls) {
        line += "," + std::to_string(s.ssl_ctx);
    }
    return line;
}

void Bg9xModel::addSocketCommands() {
    const std::vector<std::string> qiopen_test = {
        "+QIOPEN: (1-16),(0-11),\"TCP/UDP/TCP LISTENER/UDP "
        "SERVICE\",\"<IP_address>/<domain_name>\",<remote_port>,<local_port>,(0-2)"};
    addCommand("+QIOPEN", qiopen_test, [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || c.argc() < 5 || !c.quoted(2) || !c.quoted(3)) {
            return Final::error();
        }
        auto ctx = inRange(c, 0, 1, kPdpContexts);
        auto id = inRange(c, 1, 0, kSockets - 1);
        auto port = inRange(c, 4, 1, 65535);
        auto lport = c.has(5) ? inRange(c, 5, 0, 65535) : std::optional<int>(0);
        auto access = c.has(6) ? inRange(c, 6, 0, 2) : std::optional<int>(0);
        if (!ctx || !id || !port || !lport || !access || c.str(3).empty()) {
            return Final::cme(bg9x::kInvalidParam);
        }
        if (c.str(2) != "TCP" || *access == 2) {
            log_.note("QIOPEN: only TCP client sockets in buffer or push mode are emulated");
            return Final::cme(bg9x::kNotSupported);
        }
        Socket opening;
        opening.pdp = *ctx;
        opening.access = *access;
        opening.host = c.str(3);
        opening.port = static_cast<uint16_t>(*port);
        return startOpening("AT+QIOPEN", *id, std::move(opening));
    });
    // The plain (QI*) and the TLS (QSSL*) sockets share the data and close commands' handlers.
    struct DataCommands {
        const char* send;
        const char* read;
        const char* close;
        bool tls;
    };
    for (const auto& d : {DataCommands{"+QISEND", "+QIRD", "+QICLOSE", false},
                          DataCommands{"+QSSLSEND", "+QSSLRECV", "+QSSLCLOSE", true}}) {
        addCommand(d.send, [this, tls = d.tls](const AtCommand& c) { return sendData(c, tls); });
        addCommand(d.read, [this, tls = d.tls](const AtCommand& c) { return readData(c, tls); });
        addCommand(d.close,
                   [this, tls = d.tls](const AtCommand& c) { return closeSocket(c, tls); });
    }
    addCommand("+QISTATE", [this](const AtCommand& c) {
        std::optional<int> only_id;
        std::optional<int> only_ctx;
        if (c.kind == AtKind::Set) {
            auto type = inRange(c, 0, 0, 1);
            if (!type || !c.has(1)) {
                return Final::error();
            }
            if (*type == 1) {
                only_id = inRange(c, 1, 0, kSockets - 1);
                if (!only_id) {
                    return Final::error();
                }
            } else {
                only_ctx = inRange(c, 1, 1, kPdpContexts);
                if (!only_ctx) {
                    return Final::error();
                }
            }
        } else if (c.kind == AtKind::Test) {
            return Final::ok();
        }
        respondStates(false, only_id, only_ctx);
        return Final::ok();
    });
    addCommand("+QIGETERROR", [this](const AtCommand&) {
        respond("+QIGETERROR: 0,operation successful");
        return Final::ok();
    });
}

Final Bg9xModel::startOpening(const char* cmd, int id, Socket opening) {
    Socket& s = sockets_[static_cast<size_t>(id)];
    if (s.state != Socket::State::Initial) {
        misuse(std::string(cmd) + " on socket " + std::to_string(id) + ", which is in use");
        return Final::cme(bg9x::kSocketUsed);
    }
    s = std::move(opening);
    s.state = Socket::State::Opening;
    openSocket(id, s.tls, s.host, s.port);
    return Final::ok();
}

void Bg9xModel::respondStates(bool tls, std::optional<int> only_id, std::optional<int> only_ctx) {
    for (int i = 0; i < kSockets; ++i) {
        const Socket& s = sockets_[static_cast<size_t>(i)];
        if (s.state == Socket::State::Initial || s.tls != tls || (only_id && *only_id != i) ||
            (only_ctx && *only_ctx != s.pdp)) {
            continue;
        }
        respond(stateLine(i));
    }
}

void Bg9xModel::addSslSocketCommands() {
    const std::vector<std::string> qsslopen_test = {
        "+QSSLOPEN: (1-16),(0-5),(0-11),\"<serveraddr>\",(1-65535),(0-2)"};
    addCommand("+QSSLOPEN", qsslopen_test, [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || c.argc() < 5 || !c.quoted(3)) {
            return Final::error();
        }
        auto pdp = inRange(c, 0, 1, kPdpContexts);
        auto ctx = inRange(c, 1, 0, kSslContexts - 1);
        auto id = inRange(c, 2, 0, kSockets - 1);
        auto port = inRange(c, 4, 1, 65535);
        auto access = c.has(5) ? inRange(c, 5, 0, 2) : std::optional<int>(0);
        if (!pdp || !ctx || !id || !port || !access || c.str(3).empty()) {
            return Final::cme(bg9x::kInvalidParam);
        }
        if (*access == 2) {
            log_.note("QSSLOPEN: transparent mode is not emulated");
            return Final::cme(bg9x::kNotSupported);
        }
        Socket opening;
        opening.tls = true;
        opening.pdp = *pdp;
        opening.ssl_ctx = *ctx;
        opening.access = *access;
        opening.host = c.str(3);
        opening.port = static_cast<uint16_t>(*port);
        return startOpening("AT+QSSLOPEN", *id, std::move(opening));
    });
    addCommand("+QSSLSTATE", [this](const AtCommand& c) {
        std::optional<int> only_id;
        if (c.kind == AtKind::Set) {
            only_id = c.argc() >= 2 ? inRange(c, 1, 0, kSockets - 1) : inRange(c, 0, 0, 11);
            if (!only_id) {
                return Final::error();
            }
        } else if (c.kind == AtKind::Test) {
            return Final::ok();
        }
        respondStates(true, only_id, std::nullopt);
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
