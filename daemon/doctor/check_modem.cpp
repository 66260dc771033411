// SPDX-License-Identifier: Apache-2.0
// The doctor's modem checks (layer modem): for each modem uplink of the route, waits (bounded)
// until the module's bring-up settled, asks the ModemUplink to examine the module (through its
// own AT channel: the serial port is never opened twice), reads the route's certificate files,
// and lets modem_findings judge. Offline, the uplinks are started here. Thread: loop.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "core/file_text.hpp"
#include "doctor/doctor.hpp"
#include "doctor/modem_findings.hpp"
#include "modem/modem_uplink.hpp"
#include "session/mqtt_session.hpp"
#include "tls/cert_check.hpp"
#include "uplinkd/cert_fingerprint.hpp"

namespace uplinkd::doctor {

namespace {

/// How long the module's first bring-up may take before the doctor looks anyway.
constexpr std::chrono::seconds kSettleBound{30};
constexpr std::chrono::milliseconds kSettlePoll{100};
constexpr std::chrono::seconds kProbeTimeout{3};

int64_t unixTime(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return static_cast<int64_t>(timegm(&tm));
}

/// The file behind `setting` as the module must hold it; nullopt when it is not set.
std::optional<ConfiguredCert> configuredCert(const std::string& setting, const std::string& path) {
    if (path.empty()) {
        return std::nullopt;
    }
    ConfiguredCert c;
    c.setting = setting;
    c.path = path;
    auto text = readFileText(path);
    if (!text) {
        return c;  // the files group reports unreadable files
    }
    c.size = static_cast<int64_t>(text->size());
    c.subject = certificateSubject(*text);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(text->data(), static_cast<int>(text->size())), &BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
    if (!cert) {
        return c;
    }
    c.sha256 = sha256Fingerprint(cert.get());
    c.not_before = unixTime(X509_get0_notBefore(cert.get()));
    c.not_after = unixTime(X509_get0_notAfter(cert.get()));
    c.parsed = c.not_after != 0;
    return c;
}

struct Job {
    RouteUnderTest route;
    std::vector<ModemUplink*> modems;
    size_t next = 0;
    std::vector<Finding> findings;
    std::function<void(std::vector<Finding>)> done;
    std::unique_ptr<asio::steady_timer> timer;
};

void examineNext(const std::shared_ptr<Job>& job);

void judge(const std::shared_ptr<Job>& job, ModemUplink& up, bool still_starting,
           ModemUplink::Examination x) {
    const RouteUnderTest& r = job->route;
    const UplinkConfig& uc = up.config();
    ModemFacts f;
    f.uplink = uc.name;
    f.route = r.route ? r.route->name : std::string();
    f.driver = uc.driver;
    f.device = uc.device;
    f.wifi = !uc.ssid.empty() || (x.info && !x.info->ssid.empty());
    f.state = std::move(x.state);
    f.problem = std::move(x.problem);
    f.line_open = x.line_open;
    f.answered = x.answered;
    f.info = std::move(x.info);
    f.info_error = std::move(x.info_error);
    f.still_starting = still_starting;
    f.system_now =
        std::chrono::duration_cast<std::chrono::seconds>(r.now.time_since_epoch()).count();
    if (r.route != nullptr && r.cloud != nullptr) {
        const BrokerEndpoint ep = r.cloud->endpoint();
        f.module_tls = ep.tls && (uc.tls == "modem" || r.route->mqtt == "modem");
        if (f.module_tls) {
            const std::string sec = "[routes." + r.route->name + ".tls]";
            f.ca = configuredCert(sec + " ca_file", r.route->tls.ca_file);
            f.client_cert = configuredCert(sec + " cert_file", r.route->tls.cert_file);
            f.uplinkd_wrote = up.wroteCredentials(routeTlsOptions(*r.route, ep));
        }
    }
    for (auto& finding : modemFindings(f)) {
        job->findings.push_back(std::move(finding));
    }
    examineNext(job);
}

void waitSettled(const std::shared_ptr<Job>& job, ModemUplink& up,
                 std::chrono::steady_clock::time_point deadline) {
    const bool timed_out = std::chrono::steady_clock::now() >= deadline;
    if (up.settled() || timed_out) {
        up.examine(kProbeTimeout, [job, &up, timed_out](ModemUplink::Examination x) {
            judge(job, up, timed_out && !up.settled(), std::move(x));
        });
        return;
    }
    job->timer->expires_after(kSettlePoll);
    job->timer->async_wait(
        [job, &up, deadline](asio::error_code) { waitSettled(job, up, deadline); });
}

void examineNext(const std::shared_ptr<Job>& job) {
    if (job->next == job->modems.size()) {
        auto done = std::move(job->done);
        done(std::move(job->findings));
        return;
    }
    ModemUplink& up = *job->modems[job->next++];
    if (!job->route.inside_daemon) {
        up.start();  // offline: nobody else brings the module up (a second call does nothing)
    }
    waitSettled(job, up, std::chrono::steady_clock::now() + kSettleBound);
}

}  // namespace

void checkModem(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                std::function<void(std::vector<Finding>)> done) {
    (void)so_far;  // nothing before this layer decides whether the module can be examined
    auto job = std::make_shared<Job>();
    job->route = route;
    job->done = std::move(done);
    for (Uplink* u : route.uplinks) {
        if (auto* m = dynamic_cast<ModemUplink*>(u)) {
            job->modems.push_back(m);
        }
    }
    job->timer = std::make_unique<asio::steady_timer>(*route.loop);
    examineNext(job);
}

}  // namespace uplinkd::doctor
