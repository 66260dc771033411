// SPDX-License-Identifier: Apache-2.0
#include "session/uplink_health.hpp"

#include <algorithm>

#include "session/mqtt_session.hpp"
#include "tls/tls_session.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

int64_t steadyNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

TrafficSink trafficSink(std::shared_ptr<UplinkTraffic> traffic) {
    TrafficSink sink;
    sink.sent = [traffic](size_t n) { traffic->bytes_sent += n; };
    sink.received = [traffic](size_t n) {
        traffic->bytes_received += n;
        traffic->last_received_ms = steadyNowMs();
    };
    return sink;
}

/// One probe: a stream to the broker over one uplink, then the TLS handshake; answered once.
struct UplinkHealth::Probe : std::enable_shared_from_this<Probe> {
    explicit Probe(asio::io_context& l) : loop(l), timer(l) {}
    asio::io_context& loop;
    asio::steady_timer timer;
    ByteStreamPtr stream;
    std::unique_ptr<TlsSession> tls;
    std::function<void(bool, std::string)> done;

    void finish(bool ok, const std::string& reason) {
        if (!done) {
            return;
        }
        auto d = std::move(done);
        done = nullptr;
        timer.cancel();
        // This may run inside the TLS session's own callback: let it unwind first.
        asio::post(loop, [self = shared_from_this()] {
            self->tls.reset();
            self->stream.reset();
        });
        d(ok, reason);
    }
};

UplinkHealth::UplinkHealth(asio::io_context& loop, const RouteConfig& config,
                           std::vector<Uplink*> uplinks, UplinkSelector& selector, Events events)
    : loop_(loop),
      config_(config),
      uplinks_(std::move(uplinks)),
      selector_(selector),
      events_(std::move(events)),
      links_(loop),
      watch_timer_(loop),
      probe_timer_(loop),
      probes_(uplinks_.size()) {
    const BrokerEndpoint ep = config_.cloud->endpoint();
    if (ep.tls) {
        TlsOptions o = routeTlsOptions(config_, ep);
        o.ciphers_tls12 = config_.tls.ciphers_tls12;
        if (auto ctx = TlsContext::create(o)) {
            tls_ = *ctx;
        }
        // Otherwise the route itself reports the bad TLS settings and never gets online.
    }
    const bool bound = std::any_of(uplinks_.begin(), uplinks_.end(),
                                   [](Uplink* u) { return !u->interfaceName().empty(); });
    if (bound) {
        std::weak_ptr<bool> alive = alive_;
        auto st = links_.start([this, alive](const LinkEvent& ev) {
            if (!alive.expired()) {
                onLink(ev);
            }
        });
        if (!st) {
            logWarning("route " + config_.name + ": " + st.error().message +
                       "; a dead interface is noticed by its silence only");
        }
    }
}

UplinkHealth::~UplinkHealth() {
    alive_.reset();
    offline();
}

void UplinkHealth::online() {
    online_ = true;
    watch();
    scheduleProbes();
}

void UplinkHealth::offline() {
    online_ = false;
    watch_timer_.cancel();
    probe_timer_.cancel();
    for (auto& p : probes_) {
        if (p) {
            p->done = nullptr;
            p->timer.cancel();
            if (p->stream) {
                p->stream->close();
            }
            if (p->tls) {
                p->tls->close();
            }
            asio::post(loop_, [dead = std::move(p)] {});
        }
    }
}

void UplinkHealth::watch() {
    // Checked four times per detection time: a dead uplink is noticed within 1.25 times it.
    const auto step = std::chrono::milliseconds(
        std::max<int64_t>(50, selector_.settings().failover_after_ms / 4));
    watch_timer_.expires_after(step);
    std::weak_ptr<bool> alive = alive_;
    watch_timer_.async_wait([this, alive](asio::error_code ec) {
        if (ec || alive.expired() || !online_) {
            return;
        }
        if (selector_.silent(steadyNowMs())) {
            const int64_t s = selector_.settings().failover_after_ms;
            events_.dead("nothing received for " + (s % 1000 == 0 ? std::to_string(s / 1000) + " s"
                                                                  : std::to_string(s) + " ms"));
            return;
        }
        watch();
    });
}

void UplinkHealth::scheduleProbes() {
    if (!online_) {
        return;
    }
    const auto next = selector_.nextProbeAt();
    if (!next) {
        return;
    }
    const int64_t wait = std::max<int64_t>(0, *next - steadyNowMs());
    probe_timer_.expires_after(std::chrono::milliseconds(wait));
    std::weak_ptr<bool> alive = alive_;
    probe_timer_.async_wait([this, alive](asio::error_code ec) {
        if (ec || alive.expired() || !online_) {
            return;
        }
        for (size_t i : selector_.probesDue(steadyNowMs())) {
            probe(i);
        }
        scheduleProbes();
    });
}

void UplinkHealth::probe(size_t index) {
    if (probes_[index]) {
        return;
    }
    selector_.probeStarted(index, steadyNowMs());
    auto p = std::make_shared<Probe>(loop_);
    probes_[index] = p;
    std::weak_ptr<bool> alive = alive_;
    p->done = [this, alive, index](bool ok, std::string reason) {
        if (!alive.expired()) {
            onProbeDone(index, ok, reason);
        }
    };
    const int timeout_ms = config_.delivery.connect_timeout_ms;
    p->timer.expires_after(std::chrono::milliseconds(timeout_ms));
    std::weak_ptr<Probe> weak = p;
    p->timer.async_wait([weak, timeout_ms](asio::error_code ec) {
        if (auto self = weak.lock(); self && !ec) {
            self->finish(
                false, "no answer from the broker in " + std::to_string(timeout_ms / 1000) + " s");
        }
    });
    Uplink* up = uplinks_[index];
    const BrokerEndpoint ep = config_.cloud->endpoint();
    auto traffic = selector_.traffic(index);
    auto on_stream = [weak, traffic, tls = tls_,
                      offload = up->offloadsTls()](Result<ByteStreamPtr> r) {
        auto self = weak.lock();
        if (!self || !self->done) {
            return;
        }
        if (!r) {
            self->finish(false, r.error().message);
            return;
        }
        ByteStreamPtr s =
            std::make_unique<CountingStream>(std::move(r.value()), trafficSink(traffic));
        if (!tls || offload) {
            self->stream = std::move(s);
            self->finish(true, "");
            return;
        }
        self->tls = std::make_unique<TlsSession>(tls, std::move(s));
        self->tls->handshake([weak](Status st) {
            if (auto me = weak.lock()) {
                me->finish(st.ok(), st.ok() ? "" : "TLS: " + st.error().message);
            }
        });
    };
    if (tls_ && up->offloadsTls()) {
        up->connectTls(ep.host, ep.port, tls_->options(), std::move(on_stream));
    } else {
        up->connect(ep.host, ep.port, std::move(on_stream));
    }
}

void UplinkHealth::onProbeDone(size_t index, bool ok, const std::string& reason) {
    if (probes_[index]) {
        asio::post(loop_, [dead = std::move(probes_[index])] {});
    }
    const auto before = selector_.entries()[index].state;
    selector_.probeResult(index, ok, reason, steadyNowMs());
    const auto after = selector_.entries()[index].state;
    if (before != after) {
        logInfo("route " + config_.name + ": uplink " + uplinks_[index]->name() + ": probe " +
                (ok ? "answered, healthy again" : "failed: " + reason));
    }
    if (!online_) {
        return;
    }
    if (auto back = selector_.failbackCandidate(steadyNowMs())) {
        events_.failback(*back);
        return;
    }
    scheduleProbes();
}

void UplinkHealth::onLink(const LinkEvent& ev) {
    for (size_t i = 0; i < uplinks_.size(); ++i) {
        if (uplinks_[i]->interfaceName() != ev.interface) {
            continue;
        }
        const std::string reason =
            "interface " + ev.interface + (ev.up ? " up" : " down (or carrier lost)");
        logInfo("route " + config_.name + ": uplink " + uplinks_[i]->name() + ": " + reason);
        if (!ev.up && online_ && selector_.active() == i) {
            events_.dead(reason);
            continue;
        }
        selector_.linkChanged(i, ev.up, reason, steadyNowMs());
        scheduleProbes();
    }
}

}  // namespace uplinkd
