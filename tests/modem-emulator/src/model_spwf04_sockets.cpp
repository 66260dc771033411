// SPDX-License-Identifier: Apache-2.0
// Spwf04Model: AT+S.SOCKON/SOCKW/SOCKQ/SOCKR/SOCKC sockets and the AT+S.TLSCERT store.
#include <algorithm>

#include "connect_error_codes.hpp"
#include "model_spwf04.hpp"
#include "peer_drop.hpp"
#include "spwf_tables.hpp"

namespace uplinkd::emulator {
namespace {

constexpr long kMaxSockWrite = 730;  // one AT+S.SOCKW (mbed splits its writes there)
constexpr long kMaxCredential = 8192;
const char* const kCredentialTypes[] = {"ca", "cert", "key"};

std::string storeName(const std::string& type) {
    return "spwf/" + type;
}

}  // namespace

int Spwf04Model::connectErrorCode(ConnectError e) {
    static constexpr ConnectErrorCodes kCodes{spwf::kDnsFailure,     spwf::kSocketTimeout,
                                              spwf::kTlsCredentials, spwf::kTlsCertificate,
                                              spwf::kTlsHandshake,   spwf::kConnectFailed};
    return codeFor(e, kCodes);
}

std::optional<TlsOptions> Spwf04Model::tlsFor(const std::string& domain, int& err) const {
    auto ca = certs_.get(storeName("ca"));
    auto cert = certs_.get(storeName("cert"));
    auto key = certs_.get(storeName("key"));
    if (!ca || (cert.has_value() != key.has_value())) {
        err = spwf::kTlsCredentials;  // no root to verify with, or half a client identity
        return std::nullopt;
    }
    TlsOptions tls;
    tls.enabled = true;
    tls.verify_server = true;
    tls.ca_pems = {*ca};
    tls.check_time = static_cast<int64_t>(moduleTime());
    if (!domain.empty()) {
        tls.check_host = domain;
        if (!isIpLiteral(domain)) {
            tls.sni = domain;
        }
    }
    if (cert) {
        tls.client_cert_pem = *cert;
        tls.client_key_pem = *key;
    }
    return tls;
}

Spwf04Model::Socket* Spwf04Model::findSocket(const AtCommand& c, size_t index, Final& err) {
    auto id = c.intArg(index);
    if (!id || *id < 0 || *id >= static_cast<long>(kSockets)) {
        err = Final::cme(spwf::kBadParameter);
        return nullptr;
    }
    Socket& s = socks_[static_cast<size_t>(*id)];
    if (!s.in_use) {
        misuse(c.name + " on socket " + std::to_string(*id) + ", which is not open");
        err = Final::cme(spwf::kInvalidSocket);
        return nullptr;
    }
    return &s;
}

void Spwf04Model::onSocketData(size_t id, HostSocket* sock) {
    Socket& s = socks_[id];
    if (s.sock.get() != sock) {
        return;
    }
    size_t avail = sock->available();
    if (avail <= s.reported) {
        return;
    }
    size_t burst = avail - s.reported;
    s.reported = avail;
    wind(55, "Pending Data:" + std::to_string(id) + ":" + std::to_string(burst) + ":" +
                 std::to_string(avail));
}

void Spwf04Model::onSocketClosed(size_t id, HostSocket* sock) {
    Socket& s = socks_[id];
    if (s.sock.get() != sock || !s.open) {
        return;
    }
    s.open = false;
    log_.note("socket " + std::to_string(id) + " closed by the peer");
    wind(58, "Socket Closed:" + std::to_string(id) + ":0");
}

void Spwf04Model::closeSockets(int reason) {
    for (size_t i = 0; i < socks_.size(); ++i) {
        Socket& s = socks_[i];
        if (!s.in_use || !s.open) {
            continue;
        }
        s.open = false;
        if (s.sock) {
            s.sock->close();  // buffered bytes stay readable
        }
        wind(58, "Socket Closed:" + std::to_string(i) + ":" + std::to_string(reason));
    }
}

void Spwf04Model::dropLinks() {
    for (auto& s : socks_) {
        dropPeer(s.sock);
    }
    std::vector<MqttLinkPtr> links;
    for (auto& [id, m] : mqtt_) {
        links.push_back(m.link);
    }
    for (auto& link : links) {
        link->dropAsRemote();  // +WIND:87 follows for a connected client
    }
}

void Spwf04Model::addSocketCommands() {
    addCommand("+S.SOCKON", [this](const AtCommand& c) {
        // AT+S.SOCKON=<host>,<port>,<NULL|domain|empty>,<t|s> (the 3rd field may be left empty,
        // as GHI's driver sends it: no domain, like NULL)
        auto port = c.intArg(1);
        std::string type = c.str(3);
        if (c.kind != AtKind::Set || c.argc() != 4 || c.str(0).empty() || !port || *port < 1 ||
            *port > 65535 || (type != "t" && type != "s")) {
            return Final::cme(spwf::kBadParameter);
        }
        if (!associated_) {
            return needNetwork();
        }
        auto free =
            std::find_if(socks_.begin(), socks_.end(), [](const Socket& s) { return !s.in_use; });
        if (free == socks_.end()) {
            misuse("AT+S.SOCKON with all 8 sockets in use");
            return Final::cme(spwf::kNoFreeSocket);
        }
        size_t id = static_cast<size_t>(free - socks_.begin());
        std::string domain = c.str(2) == "NULL" ? "" : c.str(2);  // empty: none either
        TlsOptions tls;
        if (type == "s") {
            int err = 0;
            auto t = tlsFor(domain, err);
            if (!t) {
                log_.note("SOCKON: TLS credentials missing (ca, or cert without key)");
                return Final::cme(err);
            }
            tls = *t;
        }
        Socket& s = *free;
        s = Socket{};
        s.host = c.str(0);
        s.port = static_cast<uint16_t>(*port);
        s.tls = type == "s";
        auto sock = std::make_shared<HostSocket>(io_);
        s.sock = sock;
        HostSocket* raw = sock.get();
        sock->onData([this, id, raw] { onSocketData(id, raw); });
        sock->onClosed([this, id, raw] { onSocketClosed(id, raw); });
        sock->connect(s.host, s.port, tls, opts_.connect_timeout,
                      [this, id, raw](ConnectError e, const std::string& detail) {
                          Socket& ss = socks_[id];
                          if (ss.sock.get() != raw) {
                              return;
                          }
                          if (e != ConnectError::None) {
                              log_.note("socket " + std::to_string(id) + " failed: " + toString(e) +
                                        ": " + detail);
                              ss = Socket{};
                              finishDeferred(Final::cme(connectErrorCode(e)));
                              return;
                          }
                          ss.in_use = true;
                          ss.open = true;
                          respond("AT-S.On:" + raw->remoteAddress() + ":" + std::to_string(id));
                          finishDeferred(Final::ok());
                      });
        return Final::deferred();  // the console answers once the connection is up
    });
    addCommand("+S.SOCKW", [this](const AtCommand& c) {
        Final err;
        Socket* s = findSocket(c, 0, err);
        if (s == nullptr) {
            return err;
        }
        auto len = c.intArg(1);
        if (c.argc() != 2 || !len || *len < 1 || *len > kMaxSockWrite) {
            misuse("AT+S.SOCKW length '" + c.str(1) + "' outside 1-730");
            return Final::cme(spwf::kBadParameter);
        }
        if (!s->open) {
            misuse("AT+S.SOCKW on a socket the peer closed");
            return Final::cme(spwf::kInvalidSocket);
        }
        size_t id = static_cast<size_t>(s - socks_.data());
        // No prompt: the bytes follow the command line right away.
        startDataPhase(DataPhase::count(static_cast<size_t>(*len)), "",
                       [this, id](const DataPhase& p) {
                           Socket& ss = socks_[id];
                           if (!ss.open || !ss.sock || !ss.sock->send(p.data())) {
                               return Final::cme(spwf::kConnectFailed);
                           }
                           return Final::ok();
                       });
        return Final::pending();
    });
    addCommand("+S.SOCKQ", [this](const AtCommand& c) {
        Final err;
        Socket* s = findSocket(c, 0, err);
        if (s == nullptr) {
            return err;
        }
        respond("AT-S.Query:" + std::to_string(s->sock ? s->sock->available() : 0));
        return Final::ok();
    });
    addCommand("+S.SOCKR", [this](const AtCommand& c) {
        Final err;
        Socket* s = findSocket(c, 0, err);
        if (s == nullptr) {
            return err;
        }
        size_t avail = s->sock ? s->sock->available() : 0;
        size_t want = avail;
        if (c.argc() == 2) {
            auto len = c.intArg(1);
            if (!len || *len < 1) {
                return Final::cme(spwf::kBadParameter);
            }
            want = std::min(avail, static_cast<size_t>(*len));
        } else if (c.argc() != 1) {
            return Final::cme(spwf::kBadParameter);
        }
        std::string data = want > 0 ? s->sock->take(want) : std::string();
        s->reported = s->sock ? s->sock->available() : 0;
        respond("AT-S.Reading:" + std::to_string(data.size()) + ":" + std::to_string(avail));
        respondData(data);
        return Final::ok();
    });
    addCommand("+S.SOCKC", [this](const AtCommand& c) {
        Final err;
        Socket* s = findSocket(c, 0, err);
        if (s == nullptr) {
            return err;
        }
        if (c.argc() != 1) {
            return Final::cme(spwf::kBadParameter);
        }
        if (s->sock && s->sock->available() > 0) {
            return Final::cme(spwf::kPendingData);
        }
        if (s->sock) {
            s->sock->close();
        }
        *s = Socket{};
        return Final::ok();
    });
}

void Spwf04Model::addCertCommands() {
    addCommand("+S.TLSCERT", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || c.argc() != 2) {
            return Final::cme(spwf::kBadParameter);
        }
        const std::string type = c.str(0);
        const std::string opt = c.str(1);
        if (type == "content") {
            if (opt != "1") {
                return Final::cme(spwf::kBadParameter);
            }
            for (const char* t : kCredentialTypes) {
                if (auto item = certs_.get(storeName(t))) {
                    respond(std::string("AT-S.Var:tlscert_") + t + "=" +
                            std::to_string(item->size()));
                }
            }
            return Final::ok();
        }
        if (type == "clean") {
            bool all = opt == "all";
            bool known = all;
            for (const char* t : kCredentialTypes) {
                if (all || opt == t) {
                    known = true;
                    certs_.erase(storeName(t));
                }
            }
            return known ? Final::ok() : Final::cme(spwf::kBadParameter);
        }
        if (type != "ca" && type != "cert" && type != "key") {
            return Final::cme(spwf::kBadParameter);
        }
        auto len = c.intArg(1);
        if (!len || *len < 1 || *len > kMaxCredential) {
            return Final::cme(spwf::kBadParameter);
        }
        startDataPhase(
            DataPhase::count(static_cast<size_t>(*len)), "", [this, type](const DataPhase& p) {
                bool valid =
                    type == "key" ? pemHasPrivateKey(p.data()) : countPemCertificates(p.data()) > 0;
                if (!valid) {
                    log_.note("TLSCERT " + type + ": not a PEM " +
                              (type == "key" ? "key" : "certificate"));
                    return Final::cme(spwf::kInvalidCredential);
                }
                certs_.put(storeName(type), p.data());
                log_.note("stored " + type + " (" + std::to_string(p.data().size()) + " bytes)");
                return Final::ok();
            });
        return Final::pending();
    });
}

}  // namespace uplinkd::emulator
