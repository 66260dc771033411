#include "model_a76xx.hpp"

#include <openssl/ssl.h>

#include <algorithm>

namespace uplinkd::emulator {
namespace {

const char* const kPrompt = "\r\n> ";
const char* const kIpAddress = "10.64.12.7";
constexpr size_t kMaxCipSend = 1500;
constexpr size_t kMaxRxGet = 1500;
constexpr size_t kMaxCchSend = 2048;
constexpr size_t kCchChunk = 1500;
constexpr long kMaxCertFile = 10240;

// <err> of +NETOPEN/+CIPOPEN/+CIPCLOSE.
constexpr int kIpNetworkFailure = 1;
constexpr int kIpNotOpened = 2;
constexpr int kIpNotSupported = 4;
constexpr int kIpTimeout = 10;
constexpr int kIpDns = 11;

// <err> of the CCH commands.
constexpr int kCchTimeout = 5;
constexpr int kCchDns = 13;
constexpr int kCchConnect = 14;
constexpr int kCchHandshake = 15;
constexpr int kCchNoCerts = 19;

bool validCertName(const std::string& name) {
    if (name.size() < 5 || name.size() > 108) {
        return false;
    }
    std::string ext = name.substr(name.size() - 4);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".pem" || ext == ".der";
}

std::string hex(std::string_view data) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : data) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0x0f]);
    }
    return out;
}

std::optional<int> inRange(const AtCommand& c, size_t i, long lo, long hi) {
    auto v = c.intArg(i);
    if (!v || *v < lo || *v > hi) {
        return std::nullopt;
    }
    return static_cast<int>(*v);
}

}  // namespace

A76xxModel::A76xxModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                       ModemOptions opts)
    : Modem(io, port, certs, log, std::move(opts)) {
    manufacturer_ = "SIMCOM INCORPORATED";
    model_id_ = opts_.variant.empty() ? "A7670E-LASE" : opts_.variant;
    revision_ = "A011B07A7670M7";
    imei_ = "862636050000001";
    addTcpCommands();
    addSslCommands();
    addCchCommands();
}

A76xxModel::~A76xxModel() {
    for (auto& l : links_) {
        closeSock(l.sock);
    }
    for (auto& s : cch_) {
        closeSock(s.sock);
    }
}

std::vector<std::string> A76xxModel::bootUrcs() const {
    return {"*ATREADY: 1", "+CPIN: READY", "SMS DONE", "PB DONE"};
}

std::vector<std::string> A76xxModel::identify() const {
    return {"Manufacturer: " + manufacturer_, "Model: " + model_id_, "Revision: " + revision_,
            "IMEI: " + imei_, "+GCAP: +CGSM,+FCLASS,+DS"};
}

void A76xxModel::closeSock(HostSocketPtr& sock) {
    if (sock) {
        sock->close();
        sock.reset();
    }
}

void A76xxModel::onPowerLoss() {
    for (auto& l : links_) {
        closeSock(l.sock);
        l = Link{};
    }
    for (auto& s : cch_) {
        closeSock(s.sock);
        s = CchSession{};
    }
    ssl_.fill(SslContext{});
    net_open_ = false;
    rxget_mode_ = 0;
    cch_started_ = false;
    cch_report_send_ = 0;
    cch_recv_mode_ = 0;
}

void A76xxModel::dropLinks() {
    for (auto& l : links_) {
        if (l.sock) {
            auto sock = l.sock;
            sock->dropAsRemote();
        }
    }
    for (auto& s : cch_) {
        if (s.sock) {
            auto sock = s.sock;
            sock->dropAsRemote();
        }
    }
}

void A76xxModel::addStatus(nlohmann::json& j) const {
    int open = 0;
    nlohmann::json list = nlohmann::json::array();
    auto add = [&](const char* kind, int id, const std::string& host, uint16_t port, bool tls,
                   const HostSocketPtr& sock, bool is_open) {
        open += is_open ? 1 : 0;
        list.push_back({{"kind", kind},
                        {"id", id},
                        {"host", host},
                        {"port", port},
                        {"tls", tls},
                        {"connected", is_open},
                        {"rx_buffered", sock ? sock->available() : 0},
                        {"bytes_sent", sock ? sock->bytesSent() : 0},
                        {"bytes_received", sock ? sock->bytesReceived() : 0}});
    };
    for (int i = 0; i < static_cast<int>(links_.size()); ++i) {
        const Link& l = links_[static_cast<size_t>(i)];
        if (l.in_use) {
            add("cip", i, l.host, l.port, false, l.sock, l.open);
        }
    }
    for (int i = 0; i < static_cast<int>(cch_.size()); ++i) {
        const CchSession& s = cch_[static_cast<size_t>(i)];
        if (s.in_use) {
            add("cch", i, s.host, s.port, s.type == 2, s.sock, s.open);
        }
    }
    j["open_sockets"] = open;
    j["sockets"] = list;
    j["net_open"] = net_open_;
    j["cch_started"] = cch_started_;
}

// ---------------------------------------------------------------------------------------------
// TCP/IP: NETOPEN, CIPOPEN, CIPSEND, CIPRXGET, CIPCLOSE

void A76xxModel::onLinkData(int link, HostSocket* sock) {
    Link& l = links_[static_cast<size_t>(link)];
    if (l.sock.get() != sock) {
        return;
    }
    if (rxget_mode_ == 1) {
        if (!l.data_reported) {
            l.data_reported = true;
            urc("+CIPRXGET: 1," + std::to_string(link));
        }
        return;
    }
    std::string data = sock->take(sock->available());
    urc("RECV FROM:" + sock->remoteAddress() + ":" + std::to_string(sock->remotePort()) +
            "\r\n+IPD" + std::to_string(data.size()),
        data);
}

void A76xxModel::onLinkClosed(int link, HostSocket* sock) {
    Link& l = links_[static_cast<size_t>(link)];
    if (l.sock.get() != sock) {
        return;
    }
    l.open = false;
    if (sock->available() == 0) {
        l.in_use = false;
    }
    urc("+IPCLOSE: " + std::to_string(link) + ",1");
}

Final A76xxModel::cipRead(const AtCommand& c, int mode) {
    auto link = inRange(c, 1, 0, 9);
    if (!link || rxget_mode_ != 1) {
        return Final::error();
    }
    Link& l = links_[static_cast<size_t>(*link)];
    size_t avail = l.sock ? l.sock->available() : 0;
    std::string prefix = "+CIPRXGET: " + std::to_string(mode) + "," + std::to_string(*link);
    if (mode == 4) {
        respond(prefix + "," + std::to_string(avail));
        return Final::ok();
    }
    auto want = inRange(c, 2, 1, kMaxRxGet);
    if (!want) {
        return Final::error();
    }
    if (avail == 0) {
        respond("+IP ERROR: No data");
        return Final::error();
    }
    size_t cap = mode == 3 ? kMaxRxGet / 2 : kMaxRxGet;
    std::string data = l.sock->take(std::min({static_cast<size_t>(*want), avail, cap}));
    size_t rest = l.sock->available();
    respond(prefix + "," + std::to_string(data.size()) + "," + std::to_string(rest));
    if (mode == 3) {
        respond(hex(data));
    } else {
        respondRaw(data, "[data " + std::to_string(data.size()) + " bytes]");
    }
    if (rest == 0) {
        l.data_reported = false;
        if (!l.open) {
            closeSock(l.sock);
            l = Link{};
        }
    }
    return Final::ok();
}

void A76xxModel::addTcpCommands() {
    auto ok = [](const AtCommand&) { return Final::ok(); };
    for (const char* name : {"+CIPCCFG", "+CIPTIMEOUT", "+CTCPKA", "+CDNSCFG", "+CIPSRIP",
                             "+CIPHEAD", "+CSOCKSETPN", "+CGSOCKCONT", "+CNMP", "+CMNB"}) {
        addCommand(name, ok);
    }
    addCommand("+CPOF", [this](const AtCommand&) {
        powerOffSoon();
        return Final::ok();
    });
    addCommand("+CRESET", [this](const AtCommand&) {
        rebootSoon();
        return Final::ok();
    });
    addCommand("+CICCID", [this](const AtCommand&) {
        respond("+ICCID: " + iccid_);
        return Final::ok();
    });
    addCommand("+CIPMODE", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CIPMODE: 0");
            return Final::ok();
        }
        // Transparent mode is not emulated.
        return c.kind == AtKind::Set && c.str(0) == "0" ? Final::ok() : Final::error();
    });
    addCommand("+CIPRXGET", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CIPRXGET: " + std::to_string(rxget_mode_));
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+CIPRXGET: (0-4),(0-9),(1-1500)");
            return Final::ok();
        }
        auto mode = inRange(c, 0, 0, 4);
        if (!mode) {
            return Final::error();
        }
        if (*mode <= 1) {
            if (net_open_ && *mode != rxget_mode_) {
                return Final::error();  // must be chosen before AT+NETOPEN
            }
            rxget_mode_ = *mode;
            return Final::ok();
        }
        return cipRead(c, *mode);
    });
    addCommand("+NETOPEN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond(std::string("+NETOPEN: ") + (net_open_ ? "1" : "0"));
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            return Final::ok();
        }
        if (net_open_) {
            respond("+IP ERROR: Network is already opened");
            return Final::error();
        }
        if (!radioOn() || !registered()) {
            urc("+NETOPEN: " + std::to_string(kIpNetworkFailure));
            return Final::ok();
        }
        net_open_ = true;
        urc("+NETOPEN: 0");
        return Final::ok();
    });
    addCommand("+NETCLOSE", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return Final::ok();
        }
        if (!net_open_) {
            respond("+NETCLOSE: " + std::to_string(kIpNotOpened));
            return Final::error();
        }
        for (auto& l : links_) {
            closeSock(l.sock);
            l = Link{};
        }
        net_open_ = false;
        urc("+NETCLOSE: 0");
        return Final::ok();
    });
    addCommand("+IPADDR", [this](const AtCommand&) {
        if (!net_open_) {
            respond("+IPADDR: Network not opened");
            return Final::error();
        }
        respond(std::string("+IPADDR: ") + kIpAddress);
        return Final::ok();
    });
    addCommand("+CIPOPEN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (size_t i = 0; i < links_.size(); ++i) {
                const Link& l = links_[i];
                if (l.open && l.sock) {
                    respond("+CIPOPEN: " + std::to_string(i) + ",\"TCP\",\"" +
                            l.sock->remoteAddress() + "\"," + std::to_string(l.port) + ",-1");
                } else {
                    respond("+CIPOPEN: " + std::to_string(i));
                }
            }
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+CIPOPEN: (0-9),(\"TCP\",\"UDP\")");
            return Final::ok();
        }
        auto link = inRange(c, 0, 0, 9);
        auto port = inRange(c, 3, 1, 65535);
        if (!link || !port || c.str(2).empty()) {
            return Final::error();
        }
        std::string prefix = "+CIPOPEN: " + std::to_string(*link) + ",";
        if (c.str(1) != "TCP") {
            respond(prefix + std::to_string(kIpNotSupported));
            return Final::error();
        }
        if (!net_open_) {
            respond(prefix + std::to_string(kIpNotOpened));
            return Final::error();
        }
        Link& l = links_[static_cast<size_t>(*link)];
        if (l.in_use && (l.open || (l.sock && !l.sock->peerClosed()))) {
            respond(prefix + std::to_string(kIpNotSupported));
            return Final::error();
        }
        closeSock(l.sock);
        l = Link{};
        l.in_use = true;
        l.host = c.str(2);
        l.port = static_cast<uint16_t>(*port);
        auto sock = std::make_shared<HostSocket>(io_);
        l.sock = sock;
        HostSocket* raw = sock.get();
        int id = *link;
        sock->onData([this, id, raw] { onLinkData(id, raw); });
        sock->onClosed([this, id, raw] { onLinkClosed(id, raw); });
        sock->connect(
            l.host, l.port, TlsOptions{}, opts_.connect_timeout,
            [this, id, raw](ConnectError e, const std::string& detail) {
                Link& ll = links_[static_cast<size_t>(id)];
                if (ll.sock.get() != raw) {
                    return;
                }
                std::string p = "+CIPOPEN: " + std::to_string(id) + ",";
                if (e == ConnectError::None) {
                    ll.open = true;
                    urc(p + "0");
                    return;
                }
                log_.note("link " + std::to_string(id) + " failed: " + toString(e) + ": " + detail);
                int code = e == ConnectError::Dns       ? kIpDns
                           : e == ConnectError::Timeout ? kIpTimeout
                                                        : kIpNetworkFailure;
                ll = Link{};
                urc(p + std::to_string(code));
            });
        return Final::ok();
    });
    addCommand("+CIPSEND", [this](const AtCommand& c) {
        if (c.kind == AtKind::Test) {
            respond("+CIPSEND: (0-9),(1-1500)");
            return Final::ok();
        }
        auto link = inRange(c, 0, 0, 9);
        if (c.kind != AtKind::Set || !link) {
            return Final::error();
        }
        Link& l = links_[static_cast<size_t>(*link)];
        if (!l.open || !l.sock) {
            return Final::error();
        }
        int id = *link;
        auto done = [this, id](const DataPhase& p) {
            if (p.outcome() == DataPhase::Outcome::Cancelled) {
                return Final::ok();
            }
            if (p.outcome() != DataPhase::Outcome::Complete) {
                return Final::error();
            }
            Link& ll = links_[static_cast<size_t>(id)];
            bool sent = ll.open && ll.sock && ll.sock->send(p.data());
            std::string req = std::to_string(p.data().size());
            urc("+CIPSEND: " + std::to_string(id) + "," + req + "," + (sent ? req : "-1"));
            return Final::ok();
        };
        if (c.argc() >= 2 && !c.has(1)) {
            startDataPhase(DataPhase::ctrlZ(kMaxCipSend), kPrompt, done);  // "AT+CIPSEND=0,"
            return Final::pending();
        }
        auto len = inRange(c, 1, 1, kMaxCipSend);
        if (!len) {
            return Final::error();
        }
        startDataPhase(DataPhase::count(static_cast<size_t>(*len)), kPrompt, done);
        return Final::pending();
    });
    addCommand("+CIPCLOSE", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            std::string line = "+CIPCLOSE: ";
            for (size_t i = 0; i < links_.size(); ++i) {
                line += (i ? "," : "") + std::string(links_[i].open ? "1" : "0");
            }
            respond(line);
            return Final::ok();
        }
        auto link = inRange(c, 0, 0, 9);
        if (!link) {
            return Final::error();
        }
        Link& l = links_[static_cast<size_t>(*link)];
        if (!l.in_use) {
            respond("+CIPCLOSE: " + std::to_string(*link) + "," + std::to_string(kIpNotSupported));
            return Final::error();
        }
        closeSock(l.sock);
        l = Link{};
        urc("+CIPCLOSE: " + std::to_string(*link) + ",0");
        return Final::ok();
    });
}

// ---------------------------------------------------------------------------------------------
// SSL contexts and certificate files

std::string A76xxModel::csslcfgLine(int ctx) const {
    const SslContext& s = ssl_[static_cast<size_t>(ctx)];
    return "+CSSLCFG: " + std::to_string(ctx) + "," + std::to_string(s.sslversion) + "," +
           std::to_string(s.authmode) + "," + std::to_string(s.ignorelocaltime) + "," +
           std::to_string(s.negotiatetime) + ",\"" + s.cacert + "\",\"" + s.clientcert + "\",\"" +
           s.clientkey + "\",\"" + s.password + "\"," + std::to_string(s.enable_sni);
}

void A76xxModel::addSslCommands() {
    addCommand("+CSSLCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (int i = 0; i < static_cast<int>(ssl_.size()); ++i) {
                respond(csslcfgLine(i));
            }
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+CSSLCFG: \"sslversion\",(0-9),(0-4)");
            respond("+CSSLCFG: \"authmode\",(0-9),(0-3)");
            respond("+CSSLCFG: \"ignorelocaltime\",(0-9),(0-1)");
            respond("+CSSLCFG: \"negotiatetime\",(0-9),(10-300)");
            respond("+CSSLCFG: \"cacert\",(0-9),(5-108)");
            respond("+CSSLCFG: \"clientcert\",(0-9),(5-108)");
            respond("+CSSLCFG: \"clientkey\",(0-9),(5-108)");
            respond("+CSSLCFG: \"password\",(0-9),(5-108)");
            respond("+CSSLCFG: \"enableSNI\",(0-9),(0-1)");
            return Final::ok();
        }
        auto ctx = inRange(c, 1, 0, 9);
        if (c.kind != AtKind::Set || !c.quoted(0) || !ctx || !c.has(2)) {
            return Final::error();
        }
        SslContext& s = ssl_[static_cast<size_t>(*ctx)];
        const std::string key = c.str(0);  // keywords are case-sensitive, as documented
        auto number = [&](int* field, long lo, long hi) {
            auto v = inRange(c, 2, lo, hi);
            if (!v) {
                return Final::error();
            }
            *field = *v;
            return Final::ok();
        };
        auto file = [&](std::string* field) {
            std::string name = c.str(2);
            if (!validCertName(name)) {
                return Final::error();
            }
            *field = name;
            return Final::ok();
        };
        if (key == "sslversion") {
            return number(&s.sslversion, 0, 4);
        }
        if (key == "authmode") {
            return number(&s.authmode, 0, 3);
        }
        if (key == "ignorelocaltime") {
            return number(&s.ignorelocaltime, 0, 1);
        }
        if (key == "negotiatetime") {
            return number(&s.negotiatetime, 10, 300);
        }
        if (key == "enableSNI") {
            return number(&s.enable_sni, 0, 1);
        }
        if (key == "cacert") {
            return file(&s.cacert);
        }
        if (key == "clientcert") {
            return file(&s.clientcert);
        }
        if (key == "clientkey") {
            return file(&s.clientkey);
        }
        if (key == "password") {
            return file(&s.password);
        }
        return Final::error();
    });
    addCommand("+CCERTDOWN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Test) {
            respond("+CCERTDOWN: (5-108),(1-10240)");
            return Final::ok();
        }
        auto len = inRange(c, 1, 1, kMaxCertFile);
        std::string name = c.str(0);
        if (c.kind != AtKind::Set || !validCertName(name) || !len) {
            return Final::error();
        }
        startDataPhase(
            DataPhase::count(static_cast<size_t>(*len)), kPrompt, [this, name](const DataPhase& p) {
                certs_.put(name, p.data());
                log_.note("stored " + name + " (" + std::to_string(p.data().size()) + " bytes)");
                return Final::ok();
            });
        return Final::pending();
    });
    addCommand("+CCERTLIST", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return Final::ok();
        }
        for (const auto& name : certs_.names()) {
            respond("+CCERTLIST: \"" + name + "\"");
        }
        return Final::ok();
    });
    addCommand("+CCERTDELE", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || !certs_.erase(c.str(0))) {
            return Final::error();
        }
        return Final::ok();
    });
    addCommand("+CCERTMOVE", [](const AtCommand&) {
        return Final::error();  // no file system is emulated
    });
}

// ---------------------------------------------------------------------------------------------
// CCH TLS sessions

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

void A76xxModel::openCch(int s) {
    CchSession& cs = cch_[static_cast<size_t>(s)];
    int ctx_id = cs.ctx.value_or(s);
    const SslContext& ctx = ssl_[static_cast<size_t>(ctx_id)];
    std::string prefix = "+CCHOPEN: " + std::to_string(s) + ",";
    TlsOptions tls;
    if (cs.type == 2) {
        tls.enabled = true;
        bool need_ca = ctx.authmode == 1 || ctx.authmode == 2;
        bool need_client = ctx.authmode == 2 || ctx.authmode == 3;
        auto ca = need_ca && !ctx.cacert.empty() ? certs_.get(ctx.cacert) : std::nullopt;
        auto cert =
            need_client && !ctx.clientcert.empty() ? certs_.get(ctx.clientcert) : std::nullopt;
        auto key = need_client && !ctx.clientkey.empty() ? certs_.get(ctx.clientkey) : std::nullopt;
        if ((need_ca && !ca) || (need_client && (!cert || !key))) {
            log_.note("cch " + std::to_string(s) + ": certificates not set for authmode " +
                      std::to_string(ctx.authmode));
            cs = CchSession{};
            urc(prefix + std::to_string(kCchNoCerts));
            return;
        }
        if (ctx.enable_sni == 1) {
            tls.sni = cs.host;
        }
        tls.verify_server = need_ca;
        if (ca) {
            tls.ca_pems.push_back(*ca);
            tls.check_host = cs.host;
        }
        if (need_client) {
            tls.client_cert_pem = *cert;
            tls.client_key_pem = *key;
        }
        tls.ignore_time = ctx.ignorelocaltime == 1;
        switch (ctx.sslversion) {
            case 0:
                tls.min_version = tls.max_version = SSL3_VERSION;
                break;
            case 1:
                tls.min_version = tls.max_version = TLS1_VERSION;
                break;
            case 2:
                tls.min_version = tls.max_version = TLS1_1_VERSION;
                break;
            case 3:
                tls.min_version = tls.max_version = TLS1_2_VERSION;
                break;
            default:
                break;
        }
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
            closeSock(s.sock);
            s = CchSession{};
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
            return Final::error();
        }
        closeSock(cs.sock);
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
            return Final::error();
        }
        CchSession& cs = cch_[static_cast<size_t>(*s)];
        if (!cs.open || !cs.sock) {
            return Final::error();
        }
        int id = *s;
        startDataPhase(DataPhase::count(static_cast<size_t>(*len)), kPrompt,
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
        closeSock(cs.sock);
        cs = CchSession{};
        urc("+CCHCLOSE: " + std::to_string(*s) + ",0");
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
