// SPDX-License-Identifier: Apache-2.0
#include "model_a76xx.hpp"

#include <openssl/ssl.h>

#include <algorithm>

#include "peer_drop.hpp"

namespace uplinkd::emulator {
namespace {

const char* const kIpAddress = "10.64.12.7";
constexpr size_t kMaxCipSend = 1500;
constexpr size_t kMaxRxGet = 1500;
constexpr long kMaxCertFile = 10240;

// <err> of +NETOPEN/+CIPOPEN/+CIPCLOSE.
constexpr int kIpNetworkFailure = 1;
constexpr int kIpNotOpened = 2;
constexpr int kIpNotSupported = 4;
constexpr int kIpTimeout = 10;
constexpr int kIpDns = 11;

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

}  // namespace

A76xxModel::A76xxModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                       ModemOptions opts)
    : Modem(io, port, certs, log, std::move(opts), {"SIMCOM INCORPORATED", "A7670E-LASE"}) {
    revision_ = "A011B07A7670M7";
    imei_ = "862636050000001";
    addTcpCommands();
    addSslCommands();
    addCchCommands();
    addMqttCommands();
}

A76xxModel::~A76xxModel() {
    closeAll(links_);
    closeAll(cch_);
    for (auto& cl : mqtt_) {
        if (cl.link) {
            cl.link->close();
        }
    }
}

std::vector<std::string> A76xxModel::bootUrcs() const {
    return {"*ATREADY: 1", "+CPIN: READY", "SMS DONE", "PB DONE"};
}

std::vector<std::string> A76xxModel::identify() const {
    return {"Manufacturer: " + manufacturer_, "Model: " + model_id_, "Revision: " + revision_,
            "IMEI: " + imei_, "+GCAP: +CGSM,+FCLASS,+DS"};
}

void A76xxModel::onPowerLoss() {
    for (auto& l : links_) {
        release(l);
    }
    for (auto& s : cch_) {
        release(s);
    }
    ssl_.fill(SslContext{});
    net_open_ = false;
    net_opening_ = false;
    rxget_mode_ = 0;
    cch_started_ = false;
    cch_report_send_ = 0;
    cch_recv_mode_ = 0;
    resetMqtt();
}

void A76xxModel::dropLinks() {
    for (auto& l : links_) {
        dropPeer(l.sock);
    }
    for (auto& s : cch_) {
        dropPeer(s.sock);
    }
    for (auto& cl : mqtt_) {
        dropPeer(cl.link);
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
    j["sessions_used"] = list.size();
    j["sessions_max"] = links_.size() + cch_.size();
    j["net_open"] = net_open_;
    j["cch_started"] = cch_started_;
    j["mqtt"] = mqttStatus();
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
    // <len> is optional (SC-MAN): left out, mode 2 reads up to 1500 bytes, mode 3 up to 750.
    size_t cap = mode == 3 ? kMaxRxGet / 2 : kMaxRxGet;
    if (c.argc() > 3 || (c.argc() == 3 && !c.has(2))) {
        return Final::error();
    }
    auto want =
        c.argc() == 3 ? inRange(c, 2, 1, kMaxRxGet) : std::optional<int>(static_cast<int>(cap));
    if (!want) {
        return Final::error();
    }
    if (avail == 0) {
        if (!l.in_use) {
            misuse("AT+CIPRXGET on link " + std::to_string(*link) + ", which is not open");
        }
        respond("+IP ERROR: No data");
        return Final::error();
    }
    std::string data = l.sock->take(std::min({static_cast<size_t>(*want), avail, cap}));
    size_t rest = l.sock->available();
    respond(prefix + "," + std::to_string(data.size()) + "," + std::to_string(rest));
    if (mode == 3) {
        respondRaw("\r\n", "[hex data follows]");
        respondData(hex(data));
        respondRaw("\r\n", "[end of hex data]");
    } else {
        respondData(data);
    }
    if (rest == 0) {
        l.data_reported = false;
        if (!l.open) {
            release(l);
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
    addCommand("+CIPRXGET", {"+CIPRXGET: (0-4),(0-9),(1-1500)"}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CIPRXGET: " + std::to_string(rxget_mode_));
            return Final::ok();
        }
        auto mode = inRange(c, 0, 0, 4);
        if (!mode) {
            return Final::error();
        }
        if (*mode <= 1) {
            if ((net_open_ || net_opening_) && *mode != rxget_mode_) {
                return Final::error();  // must be chosen before AT+NETOPEN
            }
            rxget_mode_ = *mode;
            return Final::ok();
        }
        return cipRead(c, *mode);
    });
    addCommand("+NETOPEN", {}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond(std::string("+NETOPEN: ") + (net_open_ ? "1" : "0"));
            return Final::ok();
        }
        if (net_open_ || net_opening_) {
            respond("+IP ERROR: Network is already opened");
            return Final::error();
        }
        if (!radioOn() || !registered()) {
            log_.note("NETOPEN: not registered");
            urc("+NETOPEN: " + std::to_string(kIpNetworkFailure));
            return Final::ok();
        }
        net_opening_ = true;
        after(opts_.bearer_time, [this] {
            net_opening_ = false;
            if (!radioOn() || !registered()) {
                urc("+NETOPEN: " + std::to_string(kIpNetworkFailure));
                return;
            }
            net_open_ = true;
            log_.note("network open");
            urc("+NETOPEN: 0");
        });
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
            release(l);
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
    addCommand("+CIPOPEN", {"+CIPOPEN: (0-9),(\"TCP\",\"UDP\")"}, [this](const AtCommand& c) {
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
        // A link stays in use while it is open or connecting, and after "+IPCLOSE" while it
        // still holds received bytes: AT+CIPCLOSE (or reading them all) frees it.
        if (l.in_use) {
            misuse("AT+CIPOPEN on link " + std::to_string(*link) + ", which is in use");
            respond(prefix + std::to_string(kIpNotSupported));
            return Final::error();
        }
        release(l);
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
    addCommand("+CIPSEND", {"+CIPSEND: (0-9),(1-1500)"}, [this](const AtCommand& c) {
        auto link = inRange(c, 0, 0, 9);
        if (c.kind != AtKind::Set || !link) {
            return Final::error();
        }
        Link& l = links_[static_cast<size_t>(*link)];
        if (!l.open || !l.sock) {
            misuse("AT+CIPSEND on link " + std::to_string(*link) + ", which is not open");
            return Final::error();
        }
        int id = *link;
        auto done = whenComplete([this, id](const DataPhase& p) {
            Link& ll = links_[static_cast<size_t>(id)];
            bool sent = ll.open && ll.sock && ll.sock->send(p.data());
            std::string req = std::to_string(p.data().size());
            urc("+CIPSEND: " + std::to_string(id) + "," + req + "," + (sent ? req : "-1"));
            return Final::ok();
        });
        if (c.argc() >= 2 && !c.has(1)) {
            startDataPhase(DataPhase::ctrlZ(kMaxCipSend), kDataPrompt, done);  // "AT+CIPSEND=0,"
            return Final::pending();
        }
        return countedSend(c, 1, 1, kMaxCipSend, "AT+CIPSEND", done);
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
        release(l);
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
    const std::vector<std::string> csslcfg_test = {
        "+CSSLCFG: \"sslversion\",(0-9),(0-4)",      "+CSSLCFG: \"authmode\",(0-9),(0-3)",
        "+CSSLCFG: \"ignorelocaltime\",(0-9),(0-1)", "+CSSLCFG: \"negotiatetime\",(0-9),(10-300)",
        "+CSSLCFG: \"cacert\",(0-9),(5-108)",        "+CSSLCFG: \"clientcert\",(0-9),(5-108)",
        "+CSSLCFG: \"clientkey\",(0-9),(5-108)",     "+CSSLCFG: \"password\",(0-9),(5-108)",
        "+CSSLCFG: \"enableSNI\",(0-9),(0-1)"};
    addCommand("+CSSLCFG", csslcfg_test, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (int i = 0; i < static_cast<int>(ssl_.size()); ++i) {
                respond(csslcfgLine(i));
            }
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
    addCommand("+CCERTDOWN", {"+CCERTDOWN: (5-108),(1-10240)"}, [this](const AtCommand& c) {
        auto len = inRange(c, 1, 1, kMaxCertFile);
        std::string name = c.str(0);
        if (c.kind != AtKind::Set || !validCertName(name) || !len) {
            return Final::error();
        }
        startDataPhase(
            DataPhase::count(static_cast<size_t>(*len)), kDataPrompt,
            [this, name](const DataPhase& p) {
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

}  // namespace uplinkd::emulator
