// SPDX-License-Identifier: Apache-2.0
#include "test_env.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/api_client.hpp"

namespace uplinkd::testing {

TempDir::TempDir() {
    char tmpl[] = "/tmp/uplt-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p == nullptr) {
        ADD_FAILURE() << "mkdtemp failed";
        return;
    }
    path_ = p;
    ::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

uint16_t freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool waitForPort(uint16_t port, std::chrono::milliseconds timeout) {
    return waitUntil(
        [port] {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
            ::close(fd);
            return ok;
        },
        timeout);
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void writeFile(const std::string& path, const std::string& content, unsigned mode) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    ::chmod(path.c_str(), mode);
}

size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

CommandRun runCommand(const std::string& cmd) {
    CommandRun r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        ADD_FAILURE() << "cannot run " << cmd;
        return r;
    }
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        r.out.append(buf, n);
    }
    const int st = ::pclose(p);
    r.exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

std::string sourceDir() {
    return UPLINKD_SOURCE_DIR;
}
std::string buildDir() {
    return UPLINKD_BUILD_DIR;
}
std::string pluginDir() {
    return UPLINKD_BUILD_PLUGIN_DIR;
}

// ---------------------------------------------------------------------------------------------

Process::Process(std::vector<std::string> argv, std::string log_file)
    : log_file_(std::move(log_file)) {
    pid_ = ::fork();
    if (pid_ == 0) {
        const int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        const int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::setpgid(0, 0);
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    if (pid_ < 0) {
        ADD_FAILURE() << "fork failed";
    }
}

Process::~Process() {
    if (running()) {
        stop(5s);
    }
}

bool Process::running() {
    if (status_ || pid_ <= 0) {
        return false;
    }
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

void Process::signal(int sig) {
    if (running()) {
        ::kill(pid_, sig);
    }
}

std::optional<int> Process::waitExit(std::chrono::milliseconds timeout) {
    waitUntil([this] { return !running(); }, timeout);
    return status_;
}

int Process::stop(std::chrono::milliseconds timeout) {
    signal(SIGTERM);
    if (!waitExit(timeout)) {
        signal(SIGKILL);
        waitExit(5s);
    }
    return status_.value_or(-1);
}

// ---------------------------------------------------------------------------------------------

Pki makePki(const std::string& dir, const std::string& client_name) {
    const std::string cmd = "bash " + sourceDir() + "/tools/make-test-ca.sh " + dir + " " +
                            client_name + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "cannot make test certificates (openssl missing?)";
    Pki p;
    p.dir = dir;
    p.ca = dir + "/ca.crt";
    p.server_cert = dir + "/server.crt";
    p.server_key = dir + "/server.key";
    if (!client_name.empty()) {
        p.client_cert = dir + "/client.crt";
        p.client_key = dir + "/client.key";
    }
    return p;
}

Mosquitto::Mosquitto(const TempDir& dir, const Pki& pki, Options o, std::string preload)
    : preload_(std::move(preload)), port_(o.port != 0 ? o.port : freePort()) {
    std::ostringstream c;
    // Unlimited queues: a slow test subscriber must not lose QoS 1 messages at the broker.
    c << "per_listener_settings true\nmax_queued_messages 0\nmax_inflight_messages 0\n"
      << "listener " << port_ << " 127.0.0.1\n"
      << "allow_anonymous true\n";
    if (o.tls) {
        c << "cafile " << pki.ca << "\ncertfile " << pki.server_cert << "\nkeyfile "
          << pki.server_key << "\n";
        if (o.require_certificate)
            c << "require_certificate true\n";
        if (o.identity_as_username)
            c << "use_identity_as_username true\n";
    }
    c << o.extra << "\n";
    conf_ = dir.file("mosquitto-" + std::to_string(port_) + ".conf");
    log_file_ = dir.file("mosquitto-" + std::to_string(port_) + ".log");
    writeFile(conf_, c.str());
    launch();
}

void Mosquitto::launch() {
    std::vector<std::string> argv{"mosquitto", "-c", conf_};
    if (!preload_.empty()) {
        argv.insert(argv.begin(), {"env", "LD_PRELOAD=" + preload_, "ASAN_OPTIONS=detect_leaks=0"});
    }
    process_ = std::make_unique<Process>(argv, log_file_);
    if (!waitForPort(port_, 10s)) {
        ADD_FAILURE() << "mosquitto did not start (is it installed?):\n" << process_->log();
    }
}

void Mosquitto::stop() {
    if (process_)
        process_->stop();
}

void Mosquitto::restart() {
    stop();
    launch();
}

// ---------------------------------------------------------------------------------------------

Haproxy::Haproxy(const TempDir& dir, uint16_t backend_port, const std::string& frontend_rules)
    : port_(freePort()) {
    std::ostringstream c;
    c << "global\n"
      << "  log stderr format raw local0 info\n"
      << "defaults\n"
      << "  mode tcp\n  log global\n  option tcplog\n"
      << "  timeout connect 5s\n  timeout client 10m\n  timeout server 10m\n"
      << "frontend gate\n"
      << "  bind 127.0.0.1:" << port_ << "\n"
      << frontend_rules << "\n"
      << "  default_backend broker\n"
      << "backend broker\n"
      << "  server broker 127.0.0.1:" << backend_port << "\n";
    const std::string conf = dir.file("haproxy-" + std::to_string(port_) + ".cfg");
    writeFile(conf, c.str());
    process_ = std::make_unique<Process>(std::vector<std::string>{"haproxy", "-db", "-f", conf},
                                         dir.file("haproxy-" + std::to_string(port_) + ".log"));
    if (!waitForPort(port_, 10s) || !process_->running()) {
        ADD_FAILURE() << "haproxy did not start (is it installed?):\n" << process_->log();
        return;
    }
    // The probe that found the port open sent no ClientHello: the rules refused it too. Its log
    // line is not counted (gates without a final reject have none: then nothing is waited for).
    if (frontend_rules.find("content reject") != std::string::npos &&
        !waitUntil([this] { return refused() >= 1; }, 5s)) {
        ADD_FAILURE() << "haproxy logged no line for the start-up probe:\n" << process_->log();
    }
    probes_ = refused();
}

size_t Haproxy::refused() const {
    const std::string text = log();
    size_t n = 0;
    for (size_t at = text.find("<NOSRV>"); at != std::string::npos;
         at = text.find("<NOSRV>", at + 1)) {
        ++n;
    }
    return n - std::min(n, probes_);
}

namespace {

/// Frontend rules that let through only a TLS ClientHello that meets `condition` (an HAProxy
/// ACL on the hello), and reject every other connection.
std::string helloGate(const std::string& condition) {
    return "  tcp-request inspect-delay 5s\n"
           "  tcp-request content accept if { req.ssl_hello_type 1 } { " +
           condition +
           " }\n"
           "  tcp-request content reject\n";
}

}  // namespace

std::string Haproxy::alpnGate(const std::string& protocol) {
    return helloGate("req.ssl_alpn " + protocol);
}

std::string Haproxy::sniGate(const std::string& name) {
    return helloGate("req.ssl_sni -i " + name);
}

// ---------------------------------------------------------------------------------------------

Subscriber::Subscriber(const Pki& pki, uint16_t port, const std::string& filter, bool tls,
                       const std::string& client_cert, const std::string& client_key)
    : Subscriber(pki, port, filter,
                 Options{.tls = tls,
                         .client_cert = client_cert,
                         .client_key = client_key,
                         .username = "",
                         .password = "",
                         .client_id = ""}) {}

Subscriber::Subscriber(const Pki& pki, uint16_t port, const std::string& filter, const Options& o) {
    mosquitto_lib_init();
    mosq_ =
        mosquitto_new(o.client_id.empty() ? nullptr : o.client_id.c_str(), o.clean_session, this);
    mosquitto_message_callback_set(mosq_, &Subscriber::onMessage);
    mosquitto_subscribe_callback_set(mosq_, &Subscriber::onSubscribe);
    if (o.tls) {
        EXPECT_EQ(mosquitto_tls_set(mosq_, pki.ca.c_str(), nullptr,
                                    o.client_cert.empty() ? nullptr : o.client_cert.c_str(),
                                    o.client_key.empty() ? nullptr : o.client_key.c_str(), nullptr),
                  MOSQ_ERR_SUCCESS);
    }
    if (!o.username.empty()) {
        EXPECT_EQ(mosquitto_username_pw_set(mosq_, o.username.c_str(),
                                            o.password.empty() ? nullptr : o.password.c_str()),
                  MOSQ_ERR_SUCCESS);
    }
    EXPECT_EQ(mosquitto_connect(mosq_, "localhost", port, 30), MOSQ_ERR_SUCCESS);
    EXPECT_EQ(mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1), MOSQ_ERR_SUCCESS);
    mosquitto_loop_start(mosq_);
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, 10s, [this] { return subscribed_; }))
        << "the test subscriber got no SUBACK";
}

Subscriber::~Subscriber() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, true);
    mosquitto_destroy(mosq_);
}

void Subscriber::onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m) {
    auto* s = static_cast<Subscriber*>(self);
    std::lock_guard lock(s->mu_);
    s->messages_.push_back(
        {m->topic,
         std::string(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen)),
         m->qos});
    s->cv_.notify_all();
}

void Subscriber::onSubscribe(struct mosquitto*, void* self, int, int, const int*) {
    auto* s = static_cast<Subscriber*>(self);
    std::lock_guard lock(s->mu_);
    s->subscribed_ = true;
    s->cv_.notify_all();
}

bool Subscriber::waitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
}

std::vector<Subscriber::Received> Subscriber::messages() {
    std::lock_guard lock(mu_);
    return messages_;
}

std::map<std::string, std::string> Subscriber::payloadsByTopic() {
    std::map<std::string, std::string> by_topic;
    for (const auto& m : messages()) {
        by_topic[m.topic] = m.payload;
    }
    return by_topic;
}

void Subscriber::publish(const std::string& topic, const std::string& payload, int qos) {
    EXPECT_EQ(mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                payload.data(), qos, false),
              MOSQ_ERR_SUCCESS);
}

// ---------------------------------------------------------------------------------------------

Daemon::Daemon(const TempDir& dir, const std::string& toml, std::vector<std::string> extra_args,
               std::vector<std::string> prefix) {
    socket_ = dir.file("api.sock");
    config_ = dir.file("uplinkd.toml");
    std::ostringstream c;
    c << "[daemon]\nstate_dir = \"" << dir.file("state") << "\"\nlog_level = \"debug\"\n"
      << "[api]\nsocket = \"" << socket_ << "\"\n"
      << toml;
    writeFile(config_, c.str());
    argv_ = {buildDir() + "/daemon/uplinkd", "--config", config_, "--plugin-dir", pluginDir()};
    argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
    argv_.insert(argv_.begin(), prefix.begin(), prefix.end());
    log_file_ = dir.file("uplinkd.log");
    launch();
}

void Daemon::launch() {
    process_ = std::make_unique<Process>(argv_, log_file_);
    const bool up = waitUntil(
        [&] {
            ApiClient probe;
            return process_->running() && probe.connect(socket_).ok();
        },
        30s);  // an ASan build on two busy cores may take this long to load its plugins
    if (!up) {
        ADD_FAILURE() << "uplinkd did not start:\n" << process_->log();
    }
}

void Daemon::restart() {
    if (process_->running()) {
        process_->stop();
    }
    launch();
}

Daemon::~Daemon() {
    process_->stop();
    if (::testing::Test::HasFailure()) {
        std::cerr << "---- uplinkd log ----\n" << process_->log() << "---------------------\n";
    }
}

nlohmann::json Daemon::routeStatus(const std::string& route) {
    ApiClient c;
    if (!c.connect(socket_))
        return {};
    if (!c.send({{"op", "status"}, {"id", 1}, {"route", route}}))
        return {};
    auto r = c.receive(5s);
    if (!r || (*r)["status"] != "ok" || (*r)["routes"].empty())
        return {};
    return (*r)["routes"][0];
}

bool Daemon::waitRoute(const std::string& route,
                       const std::function<bool(const nlohmann::json&)>& pred,
                       std::chrono::milliseconds timeout) {
    return waitUntil(
        [&] {
            auto s = routeStatus(route);
            return !s.is_null() && pred(s);
        },
        timeout);
}

std::string genericRoute(const std::string& route, uint16_t port, const std::string& ca_file,
                         const std::string& extra_tls, const std::string& extra_cloud) {
    std::ostringstream c;
    c << "[routes." << route << ".cloud]\n"
      << "type = \"generic-mqtt\"\nhost = \"localhost\"\nport = " << port << "\n"
      << "client_id = \"uplinkd-" << route << "\"\n"
      << extra_cloud << "\n"
      << "[routes." << route << ".tls]\n"
      << "ca_file = \"" << ca_file << "\"\n"
      << extra_tls << "\n"
      << "[routes." << route << ".delivery]\nbackoff_min_ms = 100\nbackoff_max_ms = 1000\n"
      << "refused_backoff_ms = 1000\n";
    return c.str();
}

Tmpfs::Tmpfs(std::string path, const std::string& size) : path_(std::move(path)) {
    ::mkdir(path_.c_str(), 0750);
    const std::string options = "size=" + size + ",mode=0750";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
        ADD_FAILURE() << "cannot mount a tmpfs on " << path_ << ": " << std::strerror(errno)
                      << " (this test needs root)";
    } else {
        mounted_ = true;
    }
}

Tmpfs::~Tmpfs() {
    if (mounted_) {
        ::umount2(path_.c_str(), MNT_DETACH);
    }
}

}  // namespace uplinkd::testing
