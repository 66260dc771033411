// SPDX-License-Identifier: Apache-2.0
// A76xxModel's CCH TLS sessions: AT+CCHSET/CCHSTART/CCHOPEN/CCHSEND/CCHRECV/CCHCLOSE.
#include <openssl/ssl.h>

#include <algorithm>
#include <iterator>

#include "model_a76xx.hpp"

namespace uplinkd::emulator {
namespace {

constexpr size_t kMaxCchSend = 2048;
constexpr size_t kCchChunk = 1500;
constexpr int kCchTimeout = 5;
constexpr int kCchDns = 13;
constexpr int kCchNoNet = 17;
constexpr int kCchConnect = 14;
constexpr int kCchHandshake = 15;
constexpr int kCchNoCerts = 19;
/// AT+CSSLCFG "sslversion" 0-3: the one protocol version it allows (4, the default: any).
constexpr int kSslVersions[] = {SSL3_VERSION, TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION};

}  // namespace

void A76xxModel::onCchData(int s, HostSocket* sock) {
    CchSession& cs = cch_[static_cast<size_t>(s)];
    if (cs.sock.get() != sock) {
        return;
    }
    if (cch_recv_mode_ == 1) {
        if (!cs.data_reported) {
            cs.data_reported = true;
            urc("+CCHEVENT: " + std::to_string(s) + ",RECV EVENT");
        }
        return;
    }
    pushCch(s);
}

void A76xxModel::pushCch(int s) {
    CchSession& cs = cch_[static_cast<size_t>(s)];
    while (cs.sock && cs.sock->available() > 0) {
        std::string data = cs.sock->take(kCchChunk);
        urc("+CCHRECV: DATA," + std::to_string(s) + "," + std::to_string(data.size()), data);
    }
}

void A76xxModel::onCchClosed(int s, HostSocket* sock) {
    CchSession& cs = cch_[static_cast<size_t>(s)];
    if (cs.sock.get() != sock) {
        return;
    }
    cs.open = false;
    urc("+CCH_PEER_CLOSED: " + std::to_string(s));
}

std::optional<TlsOptions> A76xxModel::tlsFromContext(int ctx_id, const std::string& host) const {
    const SslContext& ctx = ssl_[static_cast<size_t>(ctx_id)];
    TlsOptions tls;
    tls.enabled = true;
    bool need_ca = ctx.authmode == 1 || ctx.authmode == 2;
    bool need_client = ctx.authmode == 2 || ctx.authmode == 3;
    auto ca = need_ca && !ctx.cacert.empty() ? certs_.get(ctx.cacert) : std::nullopt;
    auto cert = need_client && !ctx.clientcert.empty() ? certs_.get(ctx.clientcert) : std::nullopt;
    auto key = need_client && !ctx.clientkey.empty() ? certs_.get(ctx.clientkey) : std::nullopt;
    if ((need_ca && !ca) || (need_client && (!cert || !key))) {
        return std::nullopt;
    }
    if (ctx.enable_sni == 1) {
        tls.sni = host;  // SNI only when enableSNI is 1 for this context
    }
    tls.verify_server = need_ca;
    if (ca) {
        tls.ca_pems.push_back(*ca);
        tls.check_host = host;
    }
    if (need_client) {
        tls.client_cert_pem = *cert;
        tls.client_key_pem = *key;
    }
    tls.ignore_time = ctx.ignorelocaltime == 1;
    if (ctx.sslversion >= 0 && ctx.sslversion < static_cast<int>(std::size(kSslVersions))) {
        tls.min_version = tls.max_version = kSslVersions[ctx.sslversion];
    }
    return tls;
}

void A76xxModel::openCch(int s) {
    CchSession& cs = cch_[static_cast<size_t>(s)];
    int ctx_id = cs.ctx.value_or(s);
    const SslContext& ctx = ssl_[static_cast<size_t>(ctx_id)];
    std::string prefix = "+CCHOPEN: " + std::to_string(s) + ",";
    if (!radioOn() || !registered()) {
        log_.note("cch " + std::to_string(s) + ": not registered");
        cs = CchSession{};
        urc(prefix + std::to_string(kCchNoNet));
        return;
    }
    TlsOptions tls;
    if (cs.type == 2) {
        auto from_ctx = tlsFromContext(ctx_id, cs.host);
        if (!from_ctx) {
            log_.note("cch " + std::to_string(s) + ": certificates not set for authmode " +
                      std::to_string(ctx.authmode));
            cs = CchSession{};
            urc(prefix + std::to_string(kCchNoCerts));
            return;
        }
        tls = *from_ctx;
    }
    auto sock = std::make_shared<HostSocket>(io_);
    cs.sock = sock;
    HostSocket* raw = sock.get();
    sock->onData([this, s, raw] { onCchData(s, raw); });
    sock->onClosed([this, s, raw] { onCchClosed(s, raw); });
    auto timeout =
        cs.type == 2 ? std::chrono::milliseconds(ctx.negotiatetime * 1000) : opts_.connect_timeout;
    sock->connect(
        cs.host, cs.port, tls, timeout,
        [this, s, raw, prefix](ConnectError e, const std::string& detail) {
            CchSession& c2 = cch_[static_cast<size_t>(s)];
            if (c2.sock.get() != raw) {
                return;
            }
            if (e == ConnectError::None) {
                c2.open = true;
                urc(prefix + "0");
                return;
            }
            log_.note("cch " + std::to_string(s) + " failed: " + toString(e) + ": " + detail);
            int code = e == ConnectError::Dns       ? kCchDns
                       : e == ConnectError::Refused ? kCchConnect
                       : e == ConnectError::Timeout ? kCchTimeout
                                                    : kCchHandshake;
            c2 = CchSession{};  // also clears the CCHSSLCFG setting
            urc(prefix + std::to_string(code));
        });
}

void A76xxModel::addCchCommands() {
    addCommand("+CCHSET", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CCHSET: " + std::to_string(cch_report_send_) + "," +
                    std::to_string(cch_recv_mode_));
            return Final::ok();
        }
        auto report = inRange(c, 0, 0, 1);
        auto mode = c.has(1) ? inRange(c, 1, 0, 1) : std::optional<int>(0);
        if (c.kind != AtKind::Set || !report || !mode || cch_started_) {
            return Final::error();
        }
        cch_report_send_ = *report;
        cch_recv_mode_ = *mode;
        return Final::ok();
    });
    addCommand("+CCHMODE", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CCHMODE: 0");
            return Final::ok();
        }
        // Transparent mode is not emulated.
        return c.kind == AtKind::Set && c.str(0) == "0" && !cch_started_ ? Final::ok()
                                                                         : Final::error();
    });
    addCommand("+CCHSTART", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec || cch_started_) {
            return Final::error();
        }
        cch_started_ = true;
        urc("+CCHSTART: 0");
        return Final::ok();
    });
    addCommand("+CCHSTOP", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec || !cch_started_) {
            return Final::error();
        }
        for (auto& s : cch_) {
            release(s);
        }
        cch_started_ = false;
        urc("+CCHSTOP: 0");
        return Final::ok();
    });
    addCommand("+CCHSSLCFG", [this](const AtCommand& c) {
        auto s = inRange(c, 0, 0, 1);
        auto ctx = inRange(c, 1, 0, 9);
        if (c.kind != AtKind::Set || !s || !ctx) {
            return Final::error();
        }
        cch_[static_cast<size_t>(*s)].ctx = *ctx;
        return Final::ok();
    });
    addCommand("+CCHCFG", [this](const AtCommand& c) {
        auto s = inRange(c, 1, 0, 1);
        if (c.kind != AtKind::Set || !s) {
            return Final::error();
        }
        if (c.str(0) == "sslctx") {
            auto ctx = inRange(c, 2, 0, 9);
            if (!ctx) {
                return Final::error();
            }
            cch_[static_cast<size_t>(*s)].ctx = *ctx;
            return Final::ok();
        }
        if (c.str(0) == "sendtimeout") {
            return inRange(c, 2, 60, 150) ? Final::ok() : Final::error();
        }
        return Final::error();
    });
    addCommand("+CCHOPEN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (size_t i = 0; i < cch_.size(); ++i) {
                const CchSession& s = cch_[i];
                if (s.open) {
                    respond("+CCHOPEN: " + std::to_string(i) + ",\"" + s.host + "\"," +
                            std::to_string(s.port) + "," + std::to_string(s.type) + ",");
                } else {
                    respond("+CCHOPEN: " + std::to_string(i) + ",\"\",,,");
                }
            }
            return Final::ok();
        }
        auto s = inRange(c, 0, 0, 1);
        auto port = inRange(c, 2, 1, 65535);
        auto type = c.has(3) ? inRange(c, 3, 1, 2) : std::optional<int>(2);
        std::string host = c.str(1);
        if (c.kind != AtKind::Set || !s || !port || !type || host.empty() || host.size() > 256 ||
            !cch_started_) {
            return Final::error();
        }
        CchSession& cs = cch_[static_cast<size_t>(*s)];
        if (cs.open || (cs.sock && !cs.sock->peerClosed())) {
            misuse("AT+CCHOPEN on session " + std::to_string(*s) + ", which is in use");
            return Final::error();
        }
        closeAndReset(cs.sock);
        auto ctx = cs.ctx;
        cs = CchSession{};
        cs.ctx = ctx;
        cs.in_use = true;
        cs.host = host;
        cs.port = static_cast<uint16_t>(*port);
        cs.type = *type;
        openCch(*s);
        return Final::ok();
    });
    addCommand("+CCHSEND", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CCHSEND: 0,0,1,0");
            return Final::ok();
        }
        auto s = inRange(c, 0, 0, 1);
        auto len = inRange(c, 1, 1, kMaxCchSend);
        if (c.kind != AtKind::Set || !s || !len) {
            if (c.kind == AtKind::Set && !len) {
                misuse("AT+CCHSEND length '" + c.str(1) + "' outside 1-2048");
            }
            return Final::error();
        }
        CchSession& cs = cch_[static_cast<size_t>(*s)];
        if (!cs.open || !cs.sock) {
            misuse("AT+CCHSEND on session " + std::to_string(*s) + ", which is not open");
            return Final::error();
        }
        int id = *s;
        startDataPhase(DataPhase::count(static_cast<size_t>(*len)), kDataPrompt,
                       [this, id](const DataPhase& p) {
                           CchSession& c2 = cch_[static_cast<size_t>(id)];
                           bool sent = c2.open && c2.sock && c2.sock->send(p.data());
                           if (cch_report_send_ == 1 || !sent) {
                               urc("+CCHSEND: " + std::to_string(id) + "," + (sent ? "0" : "4"));
                           }
                           return Final::ok();
                       });
        return Final::pending();
    });
    addCommand("+CCHRECV", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            auto avail = [this](size_t i) {
                return std::to_string(cch_[i].sock ? cch_[i].sock->available() : 0);
            };
            respond("+CCHRECV: LEN," + avail(0) + "," + avail(1));
            return Final::ok();
        }
        auto s = inRange(c, 0, 0, 1);
        auto max = c.has(1) ? inRange(c, 1, 0, 2048) : std::optional<int>(0);
        if (c.kind != AtKind::Set || !s || !max || cch_recv_mode_ != 1) {
            return Final::error();
        }
        CchSession& cs = cch_[static_cast<size_t>(*s)];
        size_t avail = cs.sock ? cs.sock->available() : 0;
        if (avail == 0) {
            misuse("AT+CCHRECV on session " + std::to_string(*s) +
                   " with an empty cache (check AT+CCHRECV? first)");
            return Final::error();  // reading an empty cache is not allowed
        }
        size_t want = *max == 0 ? avail : std::min(avail, static_cast<size_t>(*max));
        while (want > 0) {
            std::string data = cs.sock->take(std::min(want, kCchChunk));
            want -= data.size();
            urc("+CCHRECV: DATA," + std::to_string(*s) + "," + std::to_string(data.size()), data);
        }
        urc("+CCHRECV: " + std::to_string(*s) + ",0");
        if (cs.sock->available() == 0) {
            cs.data_reported = false;
        }
        return Final::ok();
    });
    addCommand("+CCHCLOSE", [this](const AtCommand& c) {
        auto s = inRange(c, 0, 0, 1);
        if (c.kind != AtKind::Set || !s) {
            return Final::error();
        }
        CchSession& cs = cch_[static_cast<size_t>(*s)];
        if (!cs.in_use) {
            return Final::error();
        }
        release(cs);
        urc("+CCHCLOSE: " + std::to_string(*s) + ",0");
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
