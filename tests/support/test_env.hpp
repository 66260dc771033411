// SPDX-License-Identifier: Apache-2.0
// Helpers for tests that run real programs: temporary directories, free ports, child
// processes, a Mosquitto broker with TLS, an uplinkd daemon, and an MQTT subscriber on the
// broker. Every helper fails the test (never skips) when what it needs is missing.
// Thread: the test's.
#pragma once

#include <gtest/gtest.h>
#include <mosquitto.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace uplinkd {
class ApiClient;
}

namespace uplinkd::testing {

using namespace std::chrono_literals;

/// A directory removed with its contents at the end of the test. Short path (UNIX sockets).
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t freePort();
/// Polls until something accepts TCP connections on 127.0.0.1:port.
bool waitForPort(uint16_t port, std::chrono::milliseconds timeout);
/// Polls `condition` every 10 ms until it holds or the timeout passes.
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content, unsigned mode = 0644);
/// How many times `what` stands in `text` (overlapping ones too).
size_t occurrences(const std::string& text, const std::string& what);

/// What a shell command wrote on its standard output, and its exit status (128: it did not
/// exit by itself).
struct CommandRun {
    int exit = -1;
    std::string out;
};
/// Runs `cmd` with /bin/sh and collects its standard output (fails the test when it cannot).
CommandRun runCommand(const std::string& cmd);

/// Paths of the programs and files built or shipped with the project.
std::string sourceDir();
std::string buildDir();
std::string pluginDir();

/// A child process; killed (SIGTERM, then SIGKILL) when destroyed. Output goes to `log_file`.
/// A tmpfs of `size` ("16m") mounted on `path` (created 0750), unmounted when this goes: a small
/// disk to fill. Fails the test when it cannot mount (tests run as root).
class Tmpfs {
  public:
    Tmpfs(std::string path, const std::string& size);
    ~Tmpfs();
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;
    bool mounted() const { return mounted_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
    bool mounted_ = false;
};

class Process {
  public:
    Process(std::vector<std::string> argv, std::string log_file);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    void signal(int sig);
    /// Sends SIGTERM and waits; returns the exit status (or 128+signal).
    int stop(std::chrono::milliseconds timeout = 10s);
    /// Waits for the process to exit by itself.
    std::optional<int> waitExit(std::chrono::milliseconds timeout);
    std::string log() const { return readFile(log_file_); }

  private:
    pid_t pid_ = -1;
    std::string log_file_;
    std::optional<int> status_;
};

/// A CA with a server certificate for "localhost" and optionally a client certificate.
struct Pki {
    std::string dir, ca, server_cert, server_key, client_cert, client_key;
};
Pki makePki(const std::string& dir, const std::string& client_name = "");

/// The fixture of most tests with a broker: a directory of their own and a test PKI in it.
class PkiTest : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

/// The same for a parameterized test (`Param`: a driver, a mode, ...).
template <class Param>
class PkiTestWithParam : public ::testing::TestWithParam<Param> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

/// Mosquitto on an ephemeral port of 127.0.0.1.
class Mosquitto {
  public:
    struct Options {
        bool tls = true;
        bool require_certificate = false;  ///< mutual TLS
        bool identity_as_username = false;
        std::string extra;  ///< more mosquitto.conf lines for the listener
        uint16_t port = 0;  ///< 0: a free port
    };
    /// `preload`: a library to LD_PRELOAD into the broker (the ASan runtime that a sanitized
    /// broker plugin needs); empty: none.
    Mosquitto(const TempDir& dir, const Pki& pki, Options options, std::string preload = "");
    Mosquitto(const TempDir& dir, const Pki& pki) : Mosquitto(dir, pki, Options{}) {}
    uint16_t port() const { return port_; }
    /// Stops and starts the broker on the same port.
    void stop();
    void restart();
    std::string log() const { return process_ ? process_->log() : ""; }

  private:
    void launch();
    std::string conf_;
    std::string log_file_;
    std::string preload_;
    uint16_t port_;
    std::unique_ptr<Process> process_;
};

/// HAProxy in TCP mode on an ephemeral port of 127.0.0.1 that forwards the connections its
/// frontend rules accept to 127.0.0.1:backend_port, like the TLS front ends of the clouds.
/// Runs in the foreground (-db) with its configuration in the test's directory; logs one line
/// per connection (refused ones show "<NOSRV>" and the flags "PR").
class Haproxy {
  public:
    Haproxy(const TempDir& dir, uint16_t backend_port, const std::string& frontend_rules);
    uint16_t port() const { return port_; }
    std::string log() const { return process_ ? process_->log() : ""; }
    /// How many connections the rules refused since it started.
    size_t refused() const;
    /// Rules that pass only a TLS ClientHello that offers ALPN `protocol` (AWS IoT on 443).
    static std::string alpnGate(const std::string& protocol);
    /// Rules that pass only a TLS ClientHello with SNI `name`, any case (HiveMQ Cloud).
    static std::string sniGate(const std::string& name);

  private:
    uint16_t port_;
    size_t probes_ = 0;  ///< refusals of the start-up probe
    std::unique_ptr<Process> process_;
};

/// An MQTT client on the broker (libmosquitto) that records what it receives.
class Subscriber {
  public:
    struct Received {
        std::string topic;
        std::string payload;
        int qos;
    };
    struct Options {
        bool tls = true;
        std::string client_cert, client_key;
        std::string username, password;  ///< empty: none
        std::string client_id;           ///< empty: a random one
        /// false: a persistent session (needs client_id): after a broker restart with
        /// persistence, the client gets what the broker accepted for it meanwhile.
        bool clean_session = true;
    };
    Subscriber(const Pki& pki, uint16_t port, const std::string& filter, bool tls = true,
               const std::string& client_cert = "", const std::string& client_key = "");
    Subscriber(const Pki& pki, uint16_t port, const std::string& filter, const Options& options);
    ~Subscriber();
    /// Waits until at least `n` messages have arrived.
    bool waitFor(size_t n, std::chrono::milliseconds timeout);
    std::vector<Received> messages();
    /// The payload that arrived last on each topic.
    std::map<std::string, std::string> payloadsByTopic();
    /// Publishes from this client (messages to the gateway).
    void publish(const std::string& topic, const std::string& payload, int qos = 1);

  private:
    static void onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m);
    static void onSubscribe(struct mosquitto*, void* self, int, int, const int*);
    struct mosquitto* mosq_ = nullptr;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Received> messages_;
    bool subscribed_ = false;
};

/// uplinkd started from a TOML text (the socket and state paths are added by the helper).
class Daemon {
  public:
    /// `prefix`: a command that runs uplinkd (e.g. {"ip", "netns", "exec", "<ns>"}); empty: none.
    Daemon(const TempDir& dir, const std::string& toml, std::vector<std::string> extra_args = {},
           std::vector<std::string> prefix = {});
    ~Daemon();
    const std::string& socket() const { return socket_; }
    const std::string& configFile() const { return config_; }
    Process& process() { return *process_; }
    std::string log() const { return readFile(log_file_); }
    /// Starts the daemon again with the same configuration and state (after stop or kill).
    void restart();
    /// Route status as the API returns it.
    nlohmann::json routeStatus(const std::string& route);
    /// Waits until the route's status satisfies `pred`.
    bool waitRoute(const std::string& route, const std::function<bool(const nlohmann::json&)>& pred,
                   std::chrono::milliseconds timeout);

  private:
    void launch();
    std::string socket_;
    std::string config_;
    std::string log_file_;
    std::vector<std::string> argv_;
    std::unique_ptr<Process> process_;
};

/// Queues `n` QoS 1 messages of 200 bytes on route "cloud" under `topic`, up to 256 unanswered
/// at a time (a backlog for the route to drain); returns how many were answered "queued".
int queueMessages(const std::string& socket, int n, const std::string& topic);

/// Reads the API's replies until one for `id` with `status` (or "error") arrives; events and
/// other ids' replies are skipped. Empty, and the test fails, after `timeout`.
nlohmann::json awaitApiReply(ApiClient& c, const nlohmann::json& id, const std::string& status,
                             std::chrono::milliseconds timeout = 90s);

/// Waits until the status of `route` satisfies `pred` and keeps that status (the last one seen
/// when it did not come in `timeout`) in `*status`; a failure shows it.
::testing::AssertionResult routeReaches(Daemon& d, const std::string& route,
                                        const std::function<bool(const nlohmann::json&)>& pred,
                                        std::chrono::milliseconds timeout, nlohmann::json* status);
/// The entry of `uplink` in a route status's "uplinks" (null when it has none).
nlohmann::json uplinkIn(const nlohmann::json& route_status, const std::string& uplink);

/// Waits until `route` of `d` is online; its status when it did not come online in `timeout`.
::testing::AssertionResult routeOnline(Daemon& d, const std::string& route,
                                       std::chrono::milliseconds timeout);

/// The TOML of a generic-mqtt route named `route` to 127.0.0.1:port with TLS by `pki`'s CA.
std::string genericRoute(const std::string& route, uint16_t port, const std::string& ca_file,
                         const std::string& extra_tls = "", const std::string& extra_cloud = "");

}  // namespace uplinkd::testing
