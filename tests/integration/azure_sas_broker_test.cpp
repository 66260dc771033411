// SPDX-License-Identifier: Apache-2.0
// Starts a real mosquitto with the azure-sas-auth plugin (an Azure IoT Hub look-alike) and
// connects to it with libmosquitto: valid, forged, expired and expiring SAS tokens, the
// azure-iot-hub profile's own credentials, and the per-device topic rules.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "azure_iot_hub.hpp"
#include "sas_token.hpp"
#include "uplinkd/config_table.hpp"

#ifndef UPLINKD_SAS_AUTH_PLUGIN
#error "UPLINKD_SAS_AUTH_PLUGIN must name the built mosquitto_azure_sas_auth module"
#endif
#ifndef UPLINKD_MOSQUITTO_EXECUTABLE
#error "UPLINKD_MOSQUITTO_EXECUTABLE must name the mosquitto broker"
#endif
#ifndef UPLINKD_SANITIZER_PRELOAD
#define UPLINKD_SANITIZER_PRELOAD ""
#endif

namespace {

namespace sas = uplinkd::plugins::azure_iot_hub;
using Clock = std::chrono::steady_clock;

constexpr const char* kHub = "testhub.azure-devices.net";
constexpr const char* kDevice = "dev1";
constexpr const char* kDeviceKey = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";
constexpr const char* kModuleKey = "bW9kdWxlLWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OQ==";
constexpr const char* kOtherKey = "cGFzc3dvcmQ=";
constexpr const char* kServiceUser = "service";
constexpr const char* kServicePassword = "service-secret";

int64_t nowUnix() {
    return static_cast<int64_t>(std::time(nullptr));
}

std::string userName(const std::string& identity) {
    return std::string(kHub) + "/" + identity + "/?api-version=2021-04-12";
}

std::string tokenFor(const std::string& identity, const char* key, int64_t expiry) {
    const size_t slash = identity.find('/');
    const std::string resource =
        sas::sasResourceUri(kHub, identity.substr(0, slash),
                            slash == std::string::npos ? "" : identity.substr(slash + 1));
    auto token = sas::makeSasToken(resource, key, expiry);
    EXPECT_TRUE(token.ok()) << token.error().message;
    return token ? *token : std::string();
}

/// A scratch directory, removed with everything in it. Thread: test.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "uplinkd-sas-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
        }
        path_ = pattern;
        // The broker may drop privileges before it opens its log; let it in.
        ::chmod(path_.c_str(), 0755);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

/// A free TCP port on 127.0.0.1 (bound to port 0 and released again).
uint16_t freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ADD_FAILURE() << "cannot find a free port: " << std::strerror(errno);
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool portAccepts(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
}

std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// A mosquitto process with the SAS plugin on an ephemeral port. Thread: test.
class Broker {
  public:
    Broker() = default;
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;
    ~Broker() { stop(); }

    /// Starts the broker and waits until it accepts connections. Fails the test if it cannot.
    void start(const std::vector<std::string>& extra_options = {}) {
        const std::string exe = UPLINKD_MOSQUITTO_EXECUTABLE;
        ASSERT_EQ(::access(exe.c_str(), X_OK), 0)
            << "mosquitto is needed for this test and was not found at \"" << exe
            << "\" (apt-get install mosquitto)";
        const std::string plugin = UPLINKD_SAS_AUTH_PLUGIN;
        ASSERT_EQ(::access(plugin.c_str(), R_OK), 0) << "plugin not built: " << plugin;
        port_ = freePort();
        ASSERT_NE(port_, 0);
        const passwd* pw = ::getpwuid(::geteuid());
        ASSERT_NE(pw, nullptr);
        log_path_ = dir_.path() / "mosquitto.log";
        const auto conf_path = dir_.path() / "mosquitto.conf";
        {
            std::ofstream conf(conf_path);
            conf << "per_listener_settings false\n"
                 << "user " << pw->pw_name << "\n"
                 << "persistence false\n"
                 << "log_dest stderr\n"
                 << "log_type all\n"
                 << "allow_anonymous false\n"
                 << "listener " << port_ << " 127.0.0.1\n"
                 << "plugin " << plugin << "\n"
                 << "plugin_opt_hub " << kHub << "\n"
                 << "plugin_opt_device." << kDevice << " " << kDeviceKey << "\n"
                 << "plugin_opt_device." << kDevice << "/mod1 " << kModuleKey << "\n"
                 << "plugin_opt_service_username " << kServiceUser << "\n"
                 << "plugin_opt_service_password " << kServicePassword << "\n";
            for (const auto& line : extra_options) {
                conf << line << "\n";
            }
        }
        pid_ = ::fork();
        ASSERT_GE(pid_, 0) << "fork failed";
        if (pid_ == 0) {
            const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (log >= 0) {
                ::dup2(log, STDOUT_FILENO);
                ::dup2(log, STDERR_FILENO);
            }
            const std::string preload = UPLINKD_SANITIZER_PRELOAD;
            if (!preload.empty()) {
                // The plugin is built with the sanitizers; their runtime must load first.
                ::setenv("LD_PRELOAD", preload.c_str(), 1);
                ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
            }
            const std::string conf_arg = conf_path.string();
            ::execl(exe.c_str(), "mosquitto", "-c", conf_arg.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        const auto deadline = Clock::now() + std::chrono::seconds(15);
        while (!portAccepts(port_)) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL() << "mosquitto exited during start-up:\n" << log();
            }
            ASSERT_LT(Clock::now(), deadline) << "mosquitto did not listen in time:\n" << log();
            ::poll(nullptr, 0, 20);  // poll again shortly
        }
    }

    void stop() {
        if (pid_ <= 0) {
            return;
        }
        ::kill(pid_, SIGTERM);
        const auto deadline = Clock::now() + std::chrono::seconds(5);
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (Clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            ::poll(nullptr, 0, 20);
        }
        pid_ = -1;
    }

    uint16_t port() const { return port_; }
    std::string log() const { return readFile(log_path_); }

  private:
    TempDir dir_;
    std::filesystem::path log_path_;
    uint16_t port_ = 0;
    pid_t pid_ = -1;
};

/// One libmosquitto client driven synchronously from the test. Thread: test.
class Client {
  public:
    explicit Client(const std::string& client_id) {
        mosq_ = mosquitto_new(client_id.c_str(), true, this);
        mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        mosquitto_connect_callback_set(mosq_, [](mosquitto*, void* self, int rc) {
            static_cast<Client*>(self)->connack_ = rc;
        });
        mosquitto_disconnect_callback_set(mosq_, [](mosquitto*, void* self, int) {
            static_cast<Client*>(self)->disconnected_ = true;
        });
        mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
            ++static_cast<Client*>(self)->subacks_;
        });
        mosquitto_message_callback_set(
            mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
                static_cast<Client*>(self)->messages_.emplace_back(
                    m->topic, std::string(static_cast<const char*>(m->payload),
                                          static_cast<size_t>(m->payloadlen)));
            });
    }
    ~Client() {
        if (mosq_ != nullptr) {
            mosquitto_disconnect(mosq_);
            mosquitto_destroy(mosq_);
        }
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Connects and returns the CONNACK code, or -1 when none came.
    int connect(uint16_t port, const std::string& username, const std::string& password) {
        mosquitto_username_pw_set(mosq_, username.c_str(), password.c_str());
        if (mosquitto_connect(mosq_, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
            return -1;
        }
        runUntil([this] { return connack_ >= 0 || disconnected_; }, std::chrono::seconds(10));
        return connack_;
    }

    /// Runs the network loop until `done` or the timeout; returns whether `done` held.
    bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!done()) {
            if (Clock::now() > deadline) {
                return false;
            }
            const int rc = mosquitto_loop(mosq_, 50, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                disconnected_ = true;
            }
        }
        return true;
    }

    /// Runs the network loop once (up to 10 ms), e.g. while waiting on another client.
    void pump() {
        if (mosquitto_loop(mosq_, 10, 1) != MOSQ_ERR_SUCCESS) {
            disconnected_ = true;
        }
    }

    bool subscribe(const std::string& filter) {
        const int before = subacks_;
        if (mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1) != MOSQ_ERR_SUCCESS) {
            return false;
        }
        return runUntil([&] { return subacks_ > before; }, std::chrono::seconds(5));
    }

    void publish(const std::string& topic, const std::string& payload) {
        ASSERT_EQ(mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                    payload.data(), 1, false),
                  MOSQ_ERR_SUCCESS);
    }

    bool disconnected() const { return disconnected_; }
    const std::vector<std::pair<std::string, std::string>>& messages() const { return messages_; }

  private:
    mosquitto* mosq_ = nullptr;
    int connack_ = -1;
    bool disconnected_ = false;
    int subacks_ = 0;
    std::vector<std::pair<std::string, std::string>> messages_;
};

/// Initialises libmosquitto once for the test program. Thread: test.
class MosquittoLibrary : public ::testing::Environment {
  public:
    void SetUp() override { mosquitto_lib_init(); }
    void TearDown() override { mosquitto_lib_cleanup(); }
};
[[maybe_unused]] auto* const g_mosquitto_library =
    ::testing::AddGlobalTestEnvironment(new MosquittoLibrary);

/// Each test gets its own broker on its own port. Thread: test.
class AzureSasBroker : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_NO_FATAL_FAILURE(broker_.start()); }
    void TearDown() override {
        if (HasFailure()) {
            std::cerr << "---- mosquitto log ----\n"
                      << broker_.log() << "-----------------------\n";
        }
    }
    Broker broker_;
};

TEST_F(AzureSasBroker, AcceptsAValidToken) {
    Client c(kDevice);
    EXPECT_EQ(c.connect(broker_.port(), userName(kDevice),
                        tokenFor(kDevice, kDeviceKey, nowUnix() + 3600)),
              0);
}

TEST_F(AzureSasBroker, AcceptsAModuleToken) {
    Client c("dev1/mod1");
    EXPECT_EQ(c.connect(broker_.port(), userName("dev1/mod1"),
                        tokenFor("dev1/mod1", kModuleKey, nowUnix() + 3600)),
              0);
}

TEST_F(AzureSasBroker, RefusesAWrongSignature) {
    Client c(kDevice);
    EXPECT_EQ(c.connect(broker_.port(), userName(kDevice),
                        tokenFor(kDevice, kOtherKey, nowUnix() + 3600)),
              5);
    EXPECT_NE(broker_.log().find("sas_bad_signature"), std::string::npos);
}

TEST_F(AzureSasBroker, RefusesAnExpiredToken) {
    Client c(kDevice);
    EXPECT_EQ(
        c.connect(broker_.port(), userName(kDevice), tokenFor(kDevice, kDeviceKey, nowUnix() - 10)),
        5);
    EXPECT_NE(broker_.log().find("sas_expired"), std::string::npos);
}

TEST_F(AzureSasBroker, RefusesMismatchedIdentities) {
    const std::string token = tokenFor(kDevice, kDeviceKey, nowUnix() + 3600);
    struct Case {
        const char* what;
        std::string client_id;
        std::string username;
    };
    const Case cases[] = {
        {"other hub in user name", kDevice,
         "otherhub.azure-devices.net/dev1/?api-version=2021-04-12"},
        {"no api-version", kDevice, std::string(kHub) + "/dev1/"},
        {"client id is not the device", "dev2", userName("dev2")},
        {"module id with a device token", "dev1/mod1", userName("dev1/mod1")},
    };
    for (const auto& tc : cases) {
        SCOPED_TRACE(tc.what);
        Client c(tc.client_id);
        EXPECT_EQ(c.connect(broker_.port(), tc.username, token), 5);
    }
}

TEST_F(AzureSasBroker, DisconnectsWhenTheTokenExpires) {
    const int64_t expiry = nowUnix() + 3;
    Client c(kDevice);
    ASSERT_EQ(c.connect(broker_.port(), userName(kDevice), tokenFor(kDevice, kDeviceKey, expiry)),
              0);
    ASSERT_TRUE(c.runUntil([&] { return c.disconnected(); }, std::chrono::seconds(15)))
        << "still connected " << nowUnix() - expiry << " s after the token expired";
    EXPECT_GE(nowUnix(), expiry) << "disconnected before the token expired";
    EXPECT_NE(broker_.log().find("expired; disconnecting"), std::string::npos);
}

TEST_F(AzureSasBroker, AcceptsTheAzureProfileCredentialsAndTopics) {
    TempDir dir;
    const auto key_path = dir.path() / "device.key";
    {
        std::ofstream key(key_path);
        key << kDeviceKey << "\n";
    }
    ::chmod(key_path.c_str(), 0600);
    const std::string toml_text = "[cloud]\nhub = \"" + std::string(kHub) +
                                  "\"\ndevice_id = \"dev1\"\nsas_key_file = '" + key_path.string() +
                                  "'\n";
    auto doc = toml::parse(toml_text, std::string_view("test.toml"));
    ASSERT_TRUE(doc) << doc.error().description();
    uplinkd::Diagnostics diags;
    uplinkd::ConfigTable root(&doc.table(), "", doc.table().source(), diags);
    uplinkd::ConfigTable cloud = root.table("cloud");
    auto profile = sas::create(cloud);
    ASSERT_TRUE(profile.ok()) << diags.text();
    auto creds = (*profile)->credentials(std::chrono::system_clock::now());
    ASSERT_TRUE(creds.ok()) << creds.error().message;

    Client service("service-side");
    ASSERT_EQ(service.connect(broker_.port(), kServiceUser, kServicePassword), 0);
    ASSERT_TRUE(service.subscribe("devices/#"));

    Client device(creds->client_id);
    ASSERT_EQ(device.connect(broker_.port(), creds->username, creds->password), 0);
    for (const auto& sub : (*profile)->standingSubscriptions()) {
        ASSERT_TRUE(device.subscribe(sub.broker_filter));
    }

    // Another device's topic is refused by the broker; the device's own telemetry goes through.
    // Both are QoS 1 on one connection, so the refused one would have arrived first.
    device.publish("devices/dev2/messages/events/", "not mine");
    uplinkd::Message msg;
    msg.topic = "sensors/temp";
    msg.payload = "21.5";
    msg.properties = {{"unit", "°C"}};
    auto mapped = (*profile)->mapOutgoing(msg);
    ASSERT_TRUE(mapped.ok()) << mapped.error().message;
    device.publish(mapped->topic, msg.payload);
    ASSERT_TRUE(service.runUntil(
        [&] {
            device.pump();
            return !service.messages().empty();
        },
        std::chrono::seconds(10)));
    ASSERT_EQ(service.messages().size(), 1u);
    EXPECT_EQ(service.messages()[0].first,
              "devices/dev1/messages/events/topic=sensors%2Ftemp&unit=%C2%B0C");
    EXPECT_EQ(service.messages()[0].second, "21.5");

    // Cloud to device, mapped back to the local topic by the profile.
    service.publish("devices/dev1/messages/devicebound/%24.mid=42&topic=cmd%2Freboot", "now");
    ASSERT_TRUE(
        device.runUntil([&] { return !device.messages().empty(); }, std::chrono::seconds(10)));
    const auto in = (*profile)->mapIncoming(device.messages()[0].first);
    EXPECT_EQ(in.topic, "cmd/reboot");
    ASSERT_EQ(in.properties.size(), 1u);
    EXPECT_EQ(in.properties[0].first, "$.mid");
    EXPECT_EQ(in.properties[0].second, "42");
}

}  // namespace
