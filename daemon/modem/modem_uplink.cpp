// SPDX-License-Identifier: Apache-2.0
#include "modem/modem_uplink.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/file_text.hpp"
#include "tls/cert_check.hpp"
#include "uplinkd/log.hpp"

namespace uplinkd {

namespace {

Result<std::string> readPem(const std::string& path, const char* key) {
    auto text = readFileText(path);
    if (!text) {
        return fail("tls_files", std::string("tls.") + key + ": " + text.error().message);
    }
    return text;
}

std::string sha256Hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// The module refused the server's certificate (or has none to check it with).
bool certificateProblem(const Error& e) {
    const std::string text = lower(e.code + " " + e.message);
    return text.find("cert") != std::string::npos || text.find("verif") != std::string::npos;
}

PowerSettings powerSettings(const UplinkConfig& c) {
    PowerSettings p{c.power, defaultPowerTimings(c.driver)};
    if (c.power.power_pulse_ms) {
        p.timings.power_pulse = std::chrono::milliseconds(*c.power.power_pulse_ms);
    }
    if (c.power.reset_pulse_ms) {
        p.timings.reset_pulse = std::chrono::milliseconds(*c.power.reset_pulse_ms);
    }
    if (c.power.boot_wait_ms) {
        p.timings.boot_wait = std::chrono::milliseconds(*c.power.boot_wait_ms);
    }
    return p;
}

/// What the driver needs from the uplink's configuration.
ModemSettings modemSettings(const UplinkConfig& c) {
    return {.apn = c.apn,
            .apn_user = c.apn_user,
            .apn_password = c.apn_password,
            .pin = c.pin,
            .ssid = c.ssid,
            .psk = c.psk,
            .mqtt_offload = c.mqtt_offload};
}

}  // namespace

ModemUplink::ModemUplink(asio::io_context& loop, const UplinkConfig& config,
                         const ModemPluginApi& api)
    : loop_(loop), config_(config), channel_(std::make_unique<SerialAtChannel>(loop)) {
    auto driver = api.create(loop_, *channel_, modemSettings(config_));
    if (driver) {
        driver_ = std::move(driver.value());
    } else {
        driver_error_ = driver.error().withContext("the " + config_.driver + " driver");
    }
    auto power = makePowerControl(loop_, powerSettings(config_));
    if (!power) {
        // Without its power control the module still works; recovery stops at soft restarts.
        power_error_ = power.error().message;
        PowerSettings none = powerSettings(config_);
        none.backend = "none";
        power = makePowerControl(loop_, none);
    }
    power_ = std::move(power.value());
    if (driver_) {
        ModemSupervisor::Options opts;
        opts.uplink = config_.name;
        opts.health_interval = std::chrono::milliseconds(config_.health_check_ms);
        supervisor_ = std::make_unique<ModemSupervisor>(
            loop_, *channel_, *driver_, *power_, [this] { return openLine(); }, opts);
    }
}

ModemUplink::~ModemUplink() {
    alive_.reset();
    supervisor_.reset();
    // The driver's URC handlers point into it: forget them before it goes.
    channel_->clearUrcHandlers();
    driver_.reset();
    channel_->detach();
    port_.reset();
}

void ModemUplink::start() {
    if (!driver_) {
        logError("uplink " + config_.name + ": " + driver_error_.message +
                 "; this uplink cannot be used");
        return;
    }
    if (!power_error_.empty()) {
        logWarning("uplink " + config_.name + ": power control not available (" + power_error_ +
                   "); the module can only be restarted with AT commands");
    }
    supervisor_->start();
}

Status ModemUplink::openLine() {
    channel_->detach();
    port_.reset();
    SerialPort::Options o;
    o.device = config_.device;
    o.baud = config_.baud;
    o.flow_control = config_.flow_control;
    auto port = SerialPort::open(loop_, o);
    if (!port) {
        return port.failure();
    }
    port_ = std::move(port.value());
    channel_->attach(*port_);
    return {};
}

bool ModemUplink::ready() const {
    return driver_ && supervisor_->ready();
}

std::string ModemUplink::describe() const {
    return "modem " + config_.name + " (" + config_.driver + " on " + config_.device +
           (offloadsTls() ? ", TLS by the module)" : ")");
}

Status ModemUplink::usable() const {
    if (!driver_) {
        return Failure{driver_error_};
    }
    if (!supervisor_->ready()) {
        return uplinkd::fail("modem_not_ready", supervisor_->notReady());
    }
    return {};
}

void ModemUplink::fail(ConnectHandler handler, Error error) {
    asio::post(loop_, [handler = std::move(handler), error = std::move(error)] {
        handler(Failure{error});
    });
}

Error ModemUplink::explain(const Error& error) const {
    if (!driver_) {
        return error;
    }
    const std::string words = driver_->explain(error.message);
    if (words.empty() || words == error.message || error.message.find(words) != std::string::npos) {
        return error;
    }
    return Error{error.code, error.message + ": " + words};
}

void ModemUplink::connect(const std::string& host, uint16_t port, ConnectHandler handler) {
    if (auto st = usable(); !st) {
        fail(std::move(handler), st.error());
        return;
    }
    ModemSocketRequest req;
    req.host = host;
    req.port = port;
    req.tls = false;
    open(req, std::move(handler));
}

void ModemUplink::open(const ModemSocketRequest& request, ConnectHandler handler) {
    std::weak_ptr<bool> alive = alive_;
    driver_->open(request, [this, alive, tls = request.tls,
                            handler = std::move(handler)](Result<ByteStreamPtr> r) mutable {
        if (alive.expired()) {
            return;
        }
        if (!r) {
            Error e = explain(r.error());
            if (tls && certificateProblem(e)) {
                provisioned_.clear();  // write the certificates again next time
            }
            if (e.code == "modem_no_sessions") {
                supervisor_->exhausted(e.message);
            }
            handler(Failure{e});
            return;
        }
        supervisor_->sessionOpened();
        handler(std::move(r));
    });
}

void ModemUplink::connectTls(const std::string& host, uint16_t port, const TlsOptions& tls,
                             ConnectHandler handler) {
    tls_jobs_.push_back(TlsJob{host, port, tls, std::move(handler)});
    if (!tls_running_) {
        nextTls();
    }
}

void ModemUplink::nextTls() {
    if (tls_jobs_.empty()) {
        tls_running_ = false;
        return;
    }
    tls_running_ = true;
    TlsJob job = std::move(tls_jobs_.front());
    tls_jobs_.pop_front();
    std::weak_ptr<bool> alive = alive_;
    startTls(job.host, job.port, job.tls,
             [this, alive, handler = std::move(job.handler)](Result<ByteStreamPtr> r) mutable {
                 handler(std::move(r));
                 if (!alive.expired()) {
                     asio::post(loop_, [this, alive] {
                         if (!alive.expired()) {
                             nextTls();
                         }
                     });
                 }
             });
}

void ModemUplink::startTls(const std::string& host, uint16_t port, const TlsOptions& tls,
                           ConnectHandler handler) {
    if (!offloadsTls()) {
        fail(std::move(handler),
             makeError("unsupported", "uplink " + config_.name + " does not do TLS itself"));
        return;
    }
    if (auto st = usable(); !st) {
        fail(std::move(handler), st.error());
        return;
    }
    if (!tls.alpn.empty()) {
        fail(std::move(handler),
             makeError("tls_config", "the module's TLS cannot offer ALPN (" + tls.alpn.front() +
                                         "); use tls = \"local\" on uplink " + config_.name +
                                         " or a port that needs no ALPN"));
        return;
    }
    auto loaded = credentialsFor(tls);
    if (!loaded) {
        fail(std::move(handler), loaded.error());
        return;
    }
    ModemCredentials creds = std::move(*loaded);
    ModemSocketRequest req;
    req.host = host;
    req.port = port;
    req.tls = true;
    req.server_name = tls.server_name.empty() ? host : tls.server_name;
    const std::string ca_subject = certificateSubject(creds.ca_pem);
    const std::string ca_file = tls.ca_file;
    // Name the CA the module needs when it refuses the server's certificate.
    auto with_ca = [this, ca_subject, ca_file](ConnectHandler h) {
        return [this, ca_subject, ca_file, h = std::move(h)](Result<ByteStreamPtr> r) mutable {
            if (!r && certificateProblem(r.error())) {
                Error e = r.error();
                e.message += "; the module must hold the root CA \"" +
                             (ca_subject.empty() ? std::string("?") : ca_subject) +
                             "\" from tls.ca_file \"" + ca_file +
                             "\" (uplinkd writes it into the module again on the next attempt)";
                provisioned_.clear();
                h(Failure{e});
                return;
            }
            h(std::move(r));
        };
    };
    std::weak_ptr<bool> alive = alive_;
    provisionIfChanged(
        creds, ca_file,
        [this, alive, req, with_ca, handler = std::move(handler)](Status st) mutable {
            if (alive.expired()) {
                return;
            }
            if (!st) {
                handler(Failure{st.error()});
                return;
            }
            open(req, with_ca(std::move(handler)));
        });
}

Result<ModemCredentials> ModemUplink::credentialsFor(const TlsOptions& tls) const {
    if (tls.ca_file.empty()) {
        return uplinkd::fail("tls_config",
                             "the module does TLS here and needs tls.ca_file: it has no trust "
                             "store of its own; give the root CA of the broker's certificate "
                             "chain");
    }
    ModemCredentials creds;
    auto ca = readPem(tls.ca_file, "ca_file");
    if (!ca) {
        return ca.failure();
    }
    creds.ca_pem = std::move(*ca);
    // Mistakes that the module would only show as an opaque refusal, found before the upload.
    if (auto st = checkRootCa(creds.ca_pem, tls.ca_file); !st) {
        return st.failure();
    }
    if (!tls.cert_file.empty()) {
        auto cert = readPem(tls.cert_file, "cert_file");
        auto key = readPem(tls.key_file, "key_file");
        if (!cert || !key) {
            return Failure{cert ? key.error() : cert.error()};
        }
        creds.cert_pem = std::move(*cert);
        creds.key_pem = std::move(*key);
        if (auto st = checkKeyMatches(creds.cert_pem, creds.key_pem, tls.cert_file, tls.key_file);
            !st) {
            return st.failure();
        }
    }
    return creds;
}

void ModemUplink::provisionIfChanged(const ModemCredentials& creds, const std::string& ca_file,
                                     ModemDriver::StatusDone done) {
    const std::string hash = sha256Hex(creds.ca_pem + '\0' + creds.cert_pem + '\0' + creds.key_pem);
    if (hash == provisioned_) {
        done({});
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    driver_->provision(creds, [this, alive, hash, ca_file, done = std::move(done)](Status st) {
        if (alive.expired()) {
            return;
        }
        if (!st) {
            done(Failure{
                explain(st.error())
                    .withContext("writing the certificates from " + ca_file + " into the module")});
            return;
        }
        provisioned_ = hash;
        done({});
    });
}

void ModemUplink::openMqtt(const std::optional<TlsOptions>& tls,
                           std::function<void(Result<ModemMqtt*>)> handler) {
    auto answer = [this, handler](Result<ModemMqtt*> r) {
        asio::post(loop_, [handler, r = std::move(r)]() mutable { handler(std::move(r)); });
    };
    if (auto st = usable(); !st) {
        answer(Failure{st.error()});
        return;
    }
    ModemMqtt* client = driver_->mqtt();
    if (client == nullptr) {
        answer(uplinkd::fail("mqtt_unsupported", "the " + config_.driver +
                                                     " driver has no MQTT client of the module; "
                                                     "use mqtt = \"uplinkd\""));
        return;
    }
    if (!tls) {
        answer(client);
        return;
    }
    if (!tls->alpn.empty()) {
        // Sent by modules that can; the others connect without it (documented per plugin).
        logDebug("uplink " + config_.name + ": ALPN " + tls->alpn.front() +
                 " is left to the module's MQTT client");
    }
    auto creds = credentialsFor(*tls);
    if (!creds) {
        answer(creds.failure());
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    provisionIfChanged(*creds, tls->ca_file, [alive, client, answer](Status st) {
        if (alive.expired()) {
            return;
        }
        if (!st) {
            answer(Failure{st.error()});
            return;
        }
        answer(client);
    });
}

const ModemMqtt* ModemUplink::moduleMqtt() const {
    return driver_ ? driver_->mqtt() : nullptr;
}

void ModemUplink::info(std::function<void(Result<nlohmann::json>)> done) {
    nlohmann::json j{{"uplink", config_.name},
                     {"driver", config_.driver},
                     {"device", config_.device},
                     {"baud", config_.baud},
                     {"flow_control", config_.flow_control},
                     {"tls", config_.tls},
                     {"power", power_->describe()},
                     {"bytes_written", channel_->bytesWritten()},
                     {"bytes_read", channel_->bytesRead()},
                     {"at_timeouts", channel_->timeouts()}};
    if (!power_error_.empty()) {
        j["power_error"] = power_error_;
    }
    if (!driver_) {
        j["state"] = "unavailable";
        j["problem"] = driver_error_.message;
        done(j);
        return;
    }
    j["state"] = ModemSupervisor::stateName(supervisor_->state());
    j["problem"] = supervisor_->notReady();
    j["recoveries"] = supervisor_->recoveries();
    j["last_recovery"] = supervisor_->lastRecovery();
    if (!supervisor_->ready()) {
        done(j);
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    driver_->info([this, alive, j, done = std::move(done)](Result<ModemInfo> r) mutable {
        if (alive.expired()) {
            return;
        }
        if (!r) {
            j["info_error"] = explain(r.error()).message;
        } else {
            j["manufacturer"] = r->manufacturer;
            j["model"] = r->model;
            j["firmware"] = r->firmware;
            j["imei"] = r->imei;
            j["iccid"] = r->iccid;
            j["sim"] = r->sim;
            j["registration"] = r->registration;
            j["signal_dbm"] = r->signal_dbm;
            const std::pair<const char*, const std::string*> extras[] = {
                {"operator", &r->operator_name},
                {"access_technology", &r->access_technology},
                {"band", &r->band},
                {"ssid", &r->ssid},
                {"association", &r->association},
                {"ip_address", &r->ip_address}};
            for (const auto& [key, value] : extras) {
                if (!value->empty()) {
                    j[key] = *value;
                }
            }
            if (r->wifi_rssi_dbm != 0) {
                j["wifi_rssi_dbm"] = r->wifi_rssi_dbm;
            }
            if (!r->store.empty()) {
                auto& store = j["store"] = nlohmann::json::array();
                for (const auto& e : r->store) {
                    store.push_back({{"slot", e.slot},
                                     {"kind", e.kind},
                                     {"subject", e.subject},
                                     {"not_after", e.not_after},
                                     {"note", e.note}});
                }
            }
        }
        done(j);
    });
}

bool ModemUplink::settled() const {
    if (!driver_) {
        return true;
    }
    const auto state = supervisor_->state();
    return state == ModemSupervisor::State::Ready || state == ModemSupervisor::State::Waiting;
}

bool ModemUplink::wroteCredentials(const TlsOptions& tls) const {
    if (provisioned_.empty()) {
        return false;
    }
    auto creds = credentialsFor(tls);
    return creds && sha256Hex(creds->ca_pem + '\0' + creds->cert_pem + '\0' + creds->key_pem) ==
                        provisioned_;
}

void ModemUplink::examine(std::chrono::milliseconds probe_timeout,
                          std::function<void(Examination)> done) {
    Examination x;
    x.line_open = channel_->attached();
    if (!driver_) {
        x.state = "unavailable";
        x.problem = driver_error_.message;
    } else {
        x.state = ModemSupervisor::stateName(supervisor_->state());
        x.problem = supervisor_->notReady();
    }
    if (!driver_ || !x.line_open) {
        asio::post(loop_, [done = std::move(done), x = std::move(x)]() mutable { done(x); });
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    channel_->probe(probe_timeout, [this, alive, x = std::move(x),
                                    done = std::move(done)](Result<AtResponse> r) mutable {
        if (alive.expired()) {
            return;
        }
        // An error line is an answer too (a module that refuses AT is still there).
        x.answered = r || r.error().code == "at_error";
        if (!x.answered) {
            x.info_error = r.error().message;
            done(std::move(x));
            return;
        }
        driver_->info([this, alive, x = std::move(x),
                       done = std::move(done)](Result<ModemInfo> info) mutable {
            if (alive.expired()) {
                return;
            }
            if (info) {
                x.info = std::move(*info);
            } else {
                x.info_error = explain(info.error()).message;
            }
            done(std::move(x));
        });
    });
}

void ModemUplink::at(const std::string& command, std::chrono::milliseconds timeout,
                     std::function<void(Result<nlohmann::json>)> done) {
    const bool starts_at =
        command.size() >= 2 && std::toupper(command[0]) == 'A' && std::toupper(command[1]) == 'T';
    if (!starts_at || command.find_first_of("\r\n") != std::string::npos) {
        done(uplinkd::fail("bad_request",
                           "an AT command starts with \"AT\" and is one line, e.g. AT+CSQ"));
        return;
    }
    if (!channel_->attached()) {
        done(uplinkd::fail("modem_not_ready",
                           "the serial line " + config_.device + " is not open" +
                               (supervisor_ ? " (" + supervisor_->notReady() + ")" : "")));
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    channel_->command(
        command, timeout, [this, alive, done = std::move(done)](Result<AtResponse> r) {
            if (alive.expired()) {
                return;
            }
            if (r) {
                done(nlohmann::json{{"lines", r->lines}, {"final", r->final}});
            } else if (r.error().code == "at_error") {
                nlohmann::json j{{"lines", nlohmann::json::array()}, {"final", r.error().message}};
                if (driver_) {
                    j["explanation"] = driver_->explain(r.error().message);
                }
                done(j);
            } else {
                done(r.failure());
            }
        });
}

}  // namespace uplinkd
