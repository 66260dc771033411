// SPDX-License-Identifier: Apache-2.0
// The doctor's file checks (layer files): the CA file holds a root, the device certificate and
// key match, every certificate is valid now (warn under 30 days left), and the device
// certificate's subject CN is what the cloud expects. The chain up to the broker's certificate
// is the tls group's. Thread: loop.
#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/file_text.hpp"
#include "doctor/doctor.hpp"
#include "tls/cert_check.hpp"

namespace uplinkd::doctor {

namespace {

constexpr int64_t kDay = 24 * 3600;
constexpr int64_t kWarnDays = 30;

/// The file's content, or nullopt with the reason in `why`.
std::optional<std::string> readText(const std::string& path, std::string& why) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        why = "does not exist";
        return std::nullopt;
    }
    auto text = readFileText(path);
    if (!text) {
        why = "cannot be read by this user";
        return std::nullopt;
    }
    return std::move(*text);
}

/// A certificate and the setting that names its file.
struct Named {
    std::string key;  ///< "ca_file" or "cert_file"
    CertificateInfo info;
};

class FileChecks {
  public:
    explicit FileChecks(const RouteUnderTest& route)
        : route_(route), section_("[routes." + route.route->name + ".tls]") {}

    std::vector<Finding> run() {
        caFile();
        clientFiles();
        validity();
        subjectCn();
        return std::move(out_);
    }

  private:
    void add(const char* id, CheckOutcome outcome, std::string found, std::string fix = "") {
        out_.push_back({CheckLayer::Files, id, outcome, std::move(found), std::move(fix)});
    }

    void caFile() {
        const std::string& ca = route_.route->tls.ca_file;
        if (ca.empty()) {
            add("files.ca_file", CheckOutcome::Ok,
                "no ca_file: the broker is checked against the system's trust store");
            return;
        }
        std::string why;
        auto pem = readText(ca, why);
        if (!pem) {
            add("files.ca_file", CheckOutcome::Fail, "the CA file " + ca + " " + why,
                "name the broker's root CA file in " + section_ + " ca_file");
            return;
        }
        auto infos = describeCertificates(*pem);
        if (infos.empty()) {
            add("files.ca_file", CheckOutcome::Fail,
                "the CA file " + ca + " holds no PEM certificate",
                "put the broker's root CA (PEM) in the file named by " + section_ + " ca_file");
            return;
        }
        add("files.ca_file", CheckOutcome::Ok,
            ca + " holds " + std::to_string(infos.size()) + " certificate(s)");
        std::optional<std::string> root;
        for (const auto& i : infos) {
            if (i.role == CertificateRole::Root && !root) {
                root = i.subject;
            }
            certs_.push_back({"ca_file", i});
        }
        if (root) {
            add("files.ca_root", CheckOutcome::Ok, "root CA \"" + *root + "\"");
            return;
        }
        const CertificateInfo& last = infos.back();
        add("files.ca_root", CheckOutcome::Fail,
            "the CA file " + ca + " holds \"" + last.subject + "\", " +
                (last.role == CertificateRole::Intermediate ? std::string("an intermediate CA")
                                                            : std::string("not a CA")) +
                ", and no root (self-signed) CA: its issuer \"" + last.issuer + "\" is missing",
            "put the root CA \"" + last.issuer + "\" in the file named by " + section_ +
                " ca_file");
    }

    void clientFiles() {
        const auto& tls = route_.route->tls;
        if (tls.cert_file.empty()) {
            return;  // no client certificate: the cloud authenticates otherwise
        }
        std::string why;
        auto cert = readText(tls.cert_file, why);
        if (!cert) {
            add("files.cert_file", CheckOutcome::Fail,
                "the certificate file " + tls.cert_file + " " + why,
                "name the device certificate in " + section_ + " cert_file");
            return;
        }
        auto infos = describeCertificates(*cert);
        if (infos.empty()) {
            add("files.cert_file", CheckOutcome::Fail,
                "the certificate file " + tls.cert_file + " holds no PEM certificate",
                "put the device certificate (PEM) in the file named by " + section_ + " cert_file");
            return;
        }
        device_ = infos.front();
        add("files.cert_file", CheckOutcome::Ok,
            "device certificate \"" + device_->subject + "\" issued by \"" + device_->issuer +
                "\"");
        for (const auto& i : infos) {
            certs_.push_back({"cert_file", i});
        }
        auto key = readText(tls.key_file, why);
        if (!key) {
            add("files.key_match", CheckOutcome::Fail, "the key file " + tls.key_file + " " + why,
                "name the device certificate's private key in " + section_ + " key_file");
            return;
        }
        auto key_info = describePrivateKey(*key);
        if (!key_info) {
            add("files.key_match", CheckOutcome::Fail,
                "the key file " + tls.key_file +
                    " holds no PEM private key (or one protected by a passphrase)",
                "put the device's unencrypted private key (PEM) in the file named by " + section_ +
                    " key_file");
            return;
        }
        if (!keyMatchesCertificate(*device_, *key)) {
            add("files.key_match", CheckOutcome::Fail,
                "the key in " + tls.key_file + " (" + key_info->key_type + " " +
                    std::to_string(key_info->key_bits) + " bits) is not the key of \"" +
                    device_->subject + "\" in " + tls.cert_file +
                    ": the broker would refuse the handshake",
                "name the key created with this certificate in " + section_ +
                    " key_file (or the certificate of this key in cert_file)");
            return;
        }
        add("files.key_match", CheckOutcome::Ok,
            tls.key_file + " is the key of \"" + device_->subject + "\" (" + key_info->key_type +
                " " + std::to_string(key_info->key_bits) + " bits)");
    }

    void validity() {
        if (certs_.empty()) {
            return;
        }
        const int64_t now =
            std::chrono::duration_cast<std::chrono::seconds>(route_.now.time_since_epoch()).count();
        std::vector<std::string> fails, warns;
        std::string fail_fix, warn_fix;
        for (const auto& [key, c] : certs_) {
            const std::string what = "\"" + c.subject + "\" (" + key + ")";
            if (c.not_after <= now) {
                fails.push_back(what + " expired on " + formatUtc(c.not_after));
                if (fail_fix.empty()) {
                    fail_fix = key == "cert_file"
                                   ? "get a new device certificate from the cloud and name it in " +
                                         section_ + " cert_file (with its key in key_file)"
                                   : "put the broker's current root CA in the file named by " +
                                         section_ + " ca_file";
                }
            } else if (c.not_before > now) {
                fails.push_back(what + " is not valid before " + formatUtc(c.not_before) +
                                " and the clock says " + formatUtc(now));
                if (fail_fix.empty()) {
                    fail_fix =
                        "set the system clock (NTP, timedatectl) if it is behind; else use "
                        "a certificate that is valid now in " +
                        section_ + " " + key;
                }
            } else if (c.not_after - now < kWarnDays * kDay) {
                warns.push_back(what + " expires in " + std::to_string((c.not_after - now) / kDay) +
                                " day(s), on " + formatUtc(c.not_after));
                if (warn_fix.empty()) {
                    warn_fix =
                        "renew it before then and name the new file in " + section_ + " " + key;
                }
            }
        }
        auto joined = [](const std::vector<std::string>& v) {
            std::string s;
            for (const auto& x : v) {
                s += (s.empty() ? "" : "; ") + x;
            }
            return s;
        };
        if (!fails.empty()) {
            add("files.cert_validity", CheckOutcome::Fail, joined(fails), fail_fix);
        } else if (!warns.empty()) {
            add("files.cert_validity", CheckOutcome::Warn, joined(warns), warn_fix);
        } else {
            int64_t first_end = certs_.front().info.not_after;
            for (const auto& n : certs_) {
                first_end = std::min(first_end, n.info.not_after);
            }
            add("files.cert_validity", CheckOutcome::Ok,
                std::to_string(certs_.size()) +
                    " certificate(s) valid now; the first to expire on " + formatUtc(first_end));
        }
    }

    void subjectCn() {
        if (!device_ || route_.cloud == nullptr) {
            return;
        }
        const CloudDiagnosis d = route_.cloud->diagnosis();
        if (d.expected_subject_cn.empty()) {
            return;
        }
        if (device_->subject_cn == d.expected_subject_cn) {
            add("files.subject_cn", CheckOutcome::Ok,
                "the device certificate's CN is \"" + device_->subject_cn + "\" as " +
                    route_.route->cloud_type + " expects");
            return;
        }
        const std::string found = "the device certificate's CN is \"" + device_->subject_cn +
                                  "\", " + route_.route->cloud_type + " expects \"" +
                                  d.expected_subject_cn + "\"";
        const std::string cloud_section = "[routes." + route_.route->name + ".cloud]";
        if (d.subject_cn_required) {
            add("files.subject_cn", CheckOutcome::Fail, found + ": the cloud refuses it",
                "use the certificate issued for \"" + d.expected_subject_cn + "\" in " + section_ +
                    " cert_file, or correct the identity in " + cloud_section);
        } else {
            add("files.subject_cn", CheckOutcome::Warn, found + " (allowed, but unusual)",
                "check that " + section_ + " cert_file is this device's certificate and " +
                    cloud_section + " names this device");
        }
    }

    const RouteUnderTest& route_;
    std::string section_;
    std::vector<Finding> out_;
    std::vector<Named> certs_;
    std::optional<CertificateInfo> device_;
};

}  // namespace

void checkFiles(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                std::function<void(std::vector<Finding>)> done) {
    (void)so_far;
    if (route.cloud != nullptr && !route.cloud->endpoint().tls) {
        done({{CheckLayer::Files, "files.ca_file", CheckOutcome::Skipped,
               "skipped: the route does not use TLS (tls = false)", ""}});
        return;
    }
    done(FileChecks(route).run());
}

}  // namespace uplinkd::doctor
