// SPDX-License-Identifier: Apache-2.0
// The A76xx driver's plain links: TcpSocket (AT+CIPSEND out, AT+CIPRXGET=2 in), opening one
// (AT+CIPOPEN), their URCs, and closing the links a hung module left open. Thread: loop.
//
// A link the module closed itself ("+IPCLOSE: <link>,<reason>": SC-TCP, the link is closed, and
// AT+CIPCLOSE on it only answers "+CIPCLOSE: <link>,4" and ERROR) is not closed again once its
// buffered bytes were read: a reconnect after the peer dropped the link saves those ~40 bytes.
// While the module still holds bytes for it, AT+CIPCLOSE is what frees the link.
#include <algorithm>
#include <optional>

#include "a76xx_core.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::commandThenUrc;
using modem_common::Fetched;
using modem_common::hostPort;

namespace {

using modem_common::OpenFailure;

/// What the <err> of a "+CIPOPEN: <link>,<err>" that ends an open means.
constexpr modem_common::OpenFailureRow kTcpOpenFailures[] = {
    {11, OpenFailure::Dns},
    {10, OpenFailure::Timeout},
    {1,
     {},
     "connect",
     "the module could not connect to {to} (network failure, refused or unreachable)"},
    {2, {}, "network", "the module's network is not open"},
};

/// The error for a CIPOPEN that ended in "+CIPOPEN: <link>,<err>".
Error tcpOpenError(int err, const std::string& line, const ModemSocketRequest& req) {
    return modem_common::openFailure(kTcpOpenFailures, err, req, line, explainLine);
}

}  // namespace

/// A plain TCP link: AT+CIPSEND out, AT+CIPRXGET=2 on "+CIPRXGET: 1,<link>". Thread: loop.
class TcpSocket final : public modem_common::RetryingSocket<A76xxCore> {
  public:
    using RetryingSocket::RetryingSocket;
    ~TcpSocket() override { close(); }

    /// "+CIPRXGET: 1,<link>": the module holds bytes for the link.
    void onDataUrc() {
        ++data_urcs_;
        held_ = true;
        dataWaiting();
    }
    /// "+IPCLOSE: <link>,<reason>": the module closed the link itself.
    void onModuleClosed(const std::string& line, int reason) {
        module_closed_ = true;
        if (reason == 2) {
            breakWith(makeError("io", explainLine(line)));
        } else {
            peerClosed();
        }
    }

  protected:
    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        auto header = std::make_shared<std::optional<CipRxGetRead>>();
        const uint64_t urcs_before = data_urcs_;
        AtDataRead rd;
        rd.kind = AtDataRead::Kind::CountedAfterHeader;
        rd.header = "+CIPRXGET: 2,";
        rd.count = [header](const std::string& line) -> size_t {
            auto h = parseCipRxGetRead(line);
            if (!h) {
                return 0;
            }
            *header = *h;
            return h->read;
        };
        core->at.commandReadingData(
            ciprxgetCommand(id(), kSocketLimits.max_read_chunk), rd, core->timing.receive,
            [alive = token(), this, header, urcs_before,
             done = std::move(done)](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                // A data URC during the read announced bytes it may not have taken.
                done(fetched(std::move(r), *header, data_urcs_ != urcs_before));
            });
    }

    void closeSocket() override {
        auto core = leave(&A76xxCore::links, this);
        if (core && (!module_closed_ || held_)) {
            core->closeInModule(false, id(), cipcloseCommand(id()));
        }
    }

  private:
    /// What one AT+CIPRXGET=2 brought; notes whether the module still holds bytes.
    Result<Fetched> fetched(Result<AtResponse> r, std::optional<CipRxGetRead> header,
                            bool announced) {
        if (!r) {
            if (r.error().code == "at_error") {
                held_ = announced;  // "+IP ERROR: No data"
            }
            return failedFetch("AT+CIPRXGET", r.error());
        }
        if (!header) {
            for (const auto& line : r->lines) {
                if (auto h = parseCipRxGetRead(line)) {
                    header = *h;
                }
            }
        }
        const bool more = header && header->rest > 0;
        held_ = more || announced;
        return Fetched{std::move(r->data), more};
    }

    /// AT+CIPSEND with the chunk after the ">" prompt; "+CIPSEND: <link>,<n>,0" is a full
    /// buffer.
    void trySend(A76xxCore& core, const std::string& payload,
                 std::function<void(Result<size_t>)> done,
                 std::function<void(const std::string&)> full) override {
        const std::string cmd = cipsendCommand(id(), payload.size());
        const size_t n = payload.size();
        commandThenUrc(core.loop, core.urcs, core.promptedWrite(cmd, payload), cmd,
                       {"+CIPSEND: " + std::to_string(id()) + ","}, core.timing.send_result,
                       explainLine,
                       [alive = token(), n, done = std::move(done),
                        full = std::move(full)](Result<std::string> r) {
                           if (alive.expired()) {
                               return;
                           }
                           if (!r) {
                               done(r.failure());
                               return;
                           }
                           const auto s = parseCipSend(*r);
                           if (!s) {
                               done(s.failure());
                               return;
                           }
                           if (s->confirmed < 0) {
                               done(fail("eof", "the link is disconnected (" + *r + ")"));
                               return;
                           }
                           if (s->confirmed == 0) {
                               full(*r);
                               return;
                           }
                           done(std::min(static_cast<size_t>(s->confirmed), n));
                       });
    }

    uint64_t data_urcs_ = 0;      // "+CIPRXGET: 1,<link>" seen so far
    bool held_ = false;           // the module holds bytes for the link, as far as known
    bool module_closed_ = false;  // "+IPCLOSE" came: the module closed the link itself
};

// ---- the core's link side ---------------------------------------------------------------------

void A76xxCore::openTcp(int link, const ModemSocketRequest& req, OpenDone done) {
    const std::string what = "a76xx link " + std::to_string(link) + ": tcp " + hostPort(req);
    connect(link,
            Opening{.tls = false,
                    .open = {cipopenCommand(link, req.host, req.port), timing.command},
                    .result = "+CIPOPEN:",
                    .timeout = timing.connect,
                    .close = cipcloseCommand(link),
                    .error = &tcpOpenError,
                    .make =
                        [link, what](const std::shared_ptr<A76xxCore>& c) {
                            return ByteStreamPtr(modem_common::makeSocket(
                                c, &A76xxCore::links, link, what, kSocketLimits.max_send_chunk));
                        }},
            req, std::move(done));
}

bool A76xxCore::onLinkUrc(const std::string& line) {
    if (line.starts_with("+CIPRXGET:")) {
        if (const auto link = parseCipRxGetUrc(line)) {
            if (auto* sock = links.find(*link)) {
                sock->onDataUrc();
            }
        }
        return true;
    }
    if (line.starts_with("+IPCLOSE:")) {
        if (const auto r = parseIdResult(line, "+IPCLOSE:")) {
            if (auto* sock = links.find(r->id)) {
                sock->onModuleClosed(line, r->err);
            }
        }
        return true;
    }
    if (line.starts_with("+CIPEVENT:")) {
        net.ready = false;
        links.breakAll(makeError("network", explainLine(line)));
        return true;
    }
    return false;
}

void A76xxCore::reconcileLinks(std::function<void()> then) {
    reconcile(
        kLinkList,
        [](A76xxCore& c, const std::vector<std::string>& lines) {
            std::vector<AtCommandStep> steps;
            for (const int link : parseOpenLinks(lines)) {
                if (!c.links.owns(link)) {
                    steps.push_back({cipcloseCommand(link), c.timing.command,
                                     modem_common::StepPolicy::Optional});
                }
            }
            return steps;
        },
        std::move(then));
}

void A76xxCore::breakLinks(const Error& e) {
    links.breakAll(e);
}

}  // namespace uplinkd::plugins::simcom_a76xx
