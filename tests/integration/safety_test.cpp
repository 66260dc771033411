// SPDX-License-Identifier: Apache-2.0
// A careless configuration or a second daemon cannot lose data or leak secrets: one uplinkd per
// state directory, files closed to other users whatever the umask, credentials never in clear
// text unless asked for, TLS 1.2 only with forward secrecy by default, and --check-config
// refusing what start-up would refuse. Everything runs the real uplinkd.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

std::string uplinkdPath() {
    return buildDir() + "/daemon/uplinkd";
}

/// Runs a command as the user nobody when the test runs as root (root may write anywhere), as
/// the test's user otherwise.
std::vector<std::string> asUnprivileged(std::vector<std::string> argv) {
    if (::geteuid() == 0) {
        argv.insert(argv.begin(),
                    {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"});
    }
    return argv;
}

/// Runs a program to its end; returns its exit status and output (stdout and stderr).
std::pair<int, std::string> run(const std::vector<std::string>& argv, const std::string& log) {
    std::filesystem::remove(log);
    Process p(argv, log);
    auto status = p.waitExit(60s);
    EXPECT_TRUE(status.has_value()) << "did not exit: " << argv[0];
    return {status.value_or(-1), p.log()};
}

unsigned modeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

// ---------------------------------------------------------------------------------------------
// One uplinkd per state directory

TEST(SecondDaemon, ExitsNamingThePidOfTheFirstAndLeavesItAlone) {
    TempDir dir;
    Daemon first(dir, "");
    // The second one has its own socket: only the state directory is shared.
    const std::string config = dir.file("second.toml");
    writeFile(config, "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n[api]\nsocket = \"" +
                          dir.file("second.sock") + "\"\n");
    Process second(
        {uplinkdPath(), "--config", config, "--plugin-dir", pluginDir(), "--dbus", "none"},
        dir.file("second.log"));
    const auto status = second.waitExit(30s);
    ASSERT_TRUE(status.has_value()) << "a second uplinkd runs on the same state directory:\n"
                                    << second.log();
    EXPECT_EQ(*status, 75) << "EX_TEMPFAIL: not a configuration error\n" << second.log();
    const std::string expected = "another uplinkd (pid " + std::to_string(first.process().pid()) +
                                 ") is using " + dir.file("state");
    EXPECT_NE(second.log().find(expected), std::string::npos) << second.log();
    EXPECT_FALSE(std::filesystem::exists(dir.file("second.sock")));

    // The first one still serves; once it is gone, another may start.
    ApiClient c;
    EXPECT_TRUE(c.connect(first.socket()).ok());
    first.process().stop();
    Process third(
        {uplinkdPath(), "--config", config, "--plugin-dir", pluginDir(), "--dbus", "none"},
        dir.file("third.log"));
    EXPECT_TRUE(waitUntil([&] { return ApiClient().connect(dir.file("second.sock")).ok(); }, 20s))
        << third.log();
    EXPECT_EQ(third.stop(), 0) << third.log();
}

// ---------------------------------------------------------------------------------------------
// File modes

/// Sets the umask for the scope (children started meanwhile inherit it).
class Umask {
  public:
    explicit Umask(mode_t mask) : old_(::umask(mask)) {}
    ~Umask() { ::umask(old_); }

  private:
    mode_t old_;
};

TEST(FileModes, StateDirectoryAndSpoolAreClosedToOtherUsersWhateverTheUmask) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Umask open_to_all(0);
    const uint16_t port = freePort();  // no broker: the message stays in the spool (and WAL)
    Daemon d(dir, genericRoute("cloud", port, pki.ca));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()).ok());
    ASSERT_TRUE(c.send({{"op", "publish"},
                        {"id", 1},
                        {"route", "cloud"},
                        {"topic", "t/secret"},
                        {"payload", "the payload other users must not read"}})
                    .ok());
    auto r = c.receive(20s);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ((*r)["status"], "queued") << r->dump();

    EXPECT_EQ(modeOf(dir.file("state")), 0750u);
    for (const char* name : {"spool.db", "spool.db-wal", "spool.db-shm", "lock"}) {
        const std::string path = dir.file("state/") + name;
        ASSERT_TRUE(std::filesystem::exists(path)) << path;
        EXPECT_EQ(modeOf(path) & 0027, 0u) << name << " mode " << std::oct << modeOf(path);
    }
    // And really: another user cannot read the WAL, where the payload is.
    if (::geteuid() == 0) {
        ::chmod(dir.file("state").c_str(), 0755);  // only the files' own modes are left
        auto [rc, out] =
            run(asUnprivileged({"cat", dir.file("state/spool.db-wal")}), dir.file("cat.log"));
        EXPECT_NE(rc, 0) << out;
        EXPECT_EQ(out.find("must not read"), std::string::npos);
        ::chmod(dir.file("state").c_str(), 0750);
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials in clear text

TEST(PlaintextCredentials, AreSentOnlyWhenTheRouteAllowsItAndThenWithAWarning) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    writeFile(dir.file("pw"), "pa55-w0rd-7q", 0600);
    const std::string route =
        "[routes.cloud]\nallow_plaintext_credentials = true\n"
        "[routes.cloud.cloud]\ntype = \"generic-mqtt\"\nhost = \"localhost\"\nport = " +
        std::to_string(freePort()) +
        "\ntls = false\nclient_id = \"gw\"\nusername = \"gw\"\npassword_file = \"" +
        dir.file("pw") + "\"\n";
    Daemon d(dir, route);
    EXPECT_TRUE(waitUntil([&] { return d.log().find("in clear text") != std::string::npos; }, 10s))
        << d.log();
    EXPECT_EQ(d.log().find("pa55-w0rd-7q"), std::string::npos) << "the password reached the log";
}

// ---------------------------------------------------------------------------------------------
// TLS 1.2 without forward secrecy

/// Mosquitto that speaks TLS 1.2 at most and offers only AES128-SHA (RSA key exchange, no
/// forward secrecy), with an RSA certificate signed by `pki`'s CA.
class OldBroker {
  public:
    OldBroker(const TempDir& dir, const Pki& pki) : port_(freePort()) {
        const std::string cmd =
            "cd " + pki.dir +
            " && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout rsa.key "
            "-out rsa.csr && openssl x509 -req -in rsa.csr -CA ca.crt -CAkey ca.key "
            "-CAcreateserial -days 30 -extfile server.ext -out rsa.crt && chmod 644 rsa.key";
        EXPECT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << "openssl failed";
        // Mosquitto 2.0 cannot switch TLS 1.3 off itself; OpenSSL's configuration can.
        writeFile(dir.file("tls12.cnf"),
                  "openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n"
                  "[sys]\nMaxProtocol = TLSv1.2\n");
        writeFile(dir.file("old-broker.conf"),
                  "per_listener_settings true\nlistener " + std::to_string(port_) +
                      " 127.0.0.1\nallow_anonymous true\ncafile " + pki.ca + "\ncertfile " +
                      pki.dir + "/rsa.crt\nkeyfile " + pki.dir + "/rsa.key\nciphers AES128-SHA\n");
        process_ = std::make_unique<Process>(
            std::vector<std::string>{"env", "OPENSSL_CONF=" + dir.file("tls12.cnf"), "mosquitto",
                                     "-c", dir.file("old-broker.conf")},
            dir.file("old-broker.log"));
        EXPECT_TRUE(waitForPort(port_, 10s)) << "mosquitto did not start:\n" << process_->log();
    }
    uint16_t port() const { return port_; }

  private:
    uint16_t port_;
    std::unique_ptr<Process> process_;
};

TEST(Tls12, ABrokerOfferingOnlySuitesWithoutForwardSecrecyIsRefusedInPlainWords) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    OldBroker broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    json st;
    ASSERT_TRUE(routeReaches(
        d, "cloud",
        [](const json& s) { return s["failures"].get<int>() >= 1 || s["state"] == "online"; }, 30s,
        &st));
    EXPECT_NE(st["state"], "online") << "connected with a cipher suite without forward secrecy";
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("offers only cipher suites without forward secrecy"), std::string::npos)
        << err;
    EXPECT_NE(err.find("ciphers_tls12"), std::string::npos) << err;

    // A route that accepts the risk in so many words connects.
    TempDir other;
    Daemon widened(other, genericRoute("cloud", broker.port(), pki.ca,
                                       "ciphers_tls12 = \"ECDHE+AESGCM:AES128-SHA\"\n"));
    EXPECT_TRUE(widened.waitRoute(
        "cloud", [](const json& s) { return s["state"] == "online"; }, 30s))
        << widened.routeStatus("cloud").dump();
}

// ---------------------------------------------------------------------------------------------
// --check-config refuses what start-up refuses

struct BadConfig {
    std::string name;
    /// Everything after the [daemon] and [api] tables that the case sets up itself.
    std::function<std::string(const TempDir&)> setup;
    std::string expected;   ///< in the output of both --check-config and the refused start
    std::string forbidden;  ///< must not be in the output (empty: nothing)
    std::vector<std::string> extra_args;
    bool unprivileged = false;
    bool config_is_dir = false;  ///< --config names a directory
};

/// [daemon] and [api] pointing into `dir`, with `daemon_extra`/`api_extra` lines.
std::string base(const TempDir& dir, const std::string& state_dir = "",
                 const std::string& socket = "", const std::string& api_extra = "") {
    return "[daemon]\nstate_dir = \"" + (state_dir.empty() ? dir.file("state") : state_dir) +
           "\"\n[api]\nsocket = \"" + (socket.empty() ? dir.file("api.sock") : socket) + "\"\n" +
           api_extra;
}

std::string route(const std::string& name, const std::string& client_id, uint16_t port,
                  const std::string& extra_cloud = "", const std::string& tls = "") {
    return "[routes." + name + ".cloud]\ntype = \"generic-mqtt\"\nhost = \"localhost\"\nport = " +
           std::to_string(port) + "\nclient_id = \"" + client_id + "\"\n" + extra_cloud +
           "[routes." + name + ".tls]\n" + tls;
}

std::vector<BadConfig> badConfigs() {
    return {
        {"state_dir is a file",
         [](const TempDir& d) {
             writeFile(d.file("statefile"), "x");
             return base(d, d.file("statefile"));
         },
         "exists and is not a directory",
         "",
         {},
         false,
         false},
        {"state_dir is not writable",
         [](const TempDir& d) {
             std::filesystem::create_directories(d.file("ro"));
             ::chmod(d.file("ro").c_str(), 0555);
             // The socket's directory is writable by everyone: only state_dir is wrong.
             std::filesystem::create_directories(d.file("run"));
             ::chmod(d.file("run").c_str(), 01777);
             return base(d, d.file("ro/state"), d.file("run/api.sock"));
         },
         "daemon.state_dir",
         "",
         {},
         true,
         false},
        {"the socket's parent is a file",
         [](const TempDir& d) {
             writeFile(d.file("notadir"), "x");
             return base(d, "", d.file("notadir/api.sock"));
         },
         "is not a directory",
         "",
         {},
         false,
         false},
        {"socket_group does not exist",
         [](const TempDir& d) {
             return base(d, "", "", "socket_group = \"no-such-group-uplinkd\"\n");
         },
         "no group \"no-such-group-uplinkd\"",
         "",
         {},
         false,
         false},
        {"a regular file is at the socket path",
         [](const TempDir& d) {
             writeFile(d.file("api.sock"), "precious data");
             return base(d);
         },
         "is not a socket",
         "",
         {},
         false,
         false},
        {"--config names a directory",
         [](const TempDir& d) { return base(d); },
         "is a directory",
         "",
         {},
         false,
         true},
        {"the host is a URL",
         [](const TempDir& d) {
             return base(d) +
                    "[routes.r.cloud]\ntype = \"generic-mqtt\"\n"
                    "host = \"mqtts://broker.example.com:8883\"\nclient_id = \"gw\"\n";
         },
         "is a URL",
         "",
         {},
         false,
         false},
        {"two routes, one client id, one broker",
         [](const TempDir& d) { return base(d) + route("a", "gw", 8883) + route("b", "gw", 8883); },
         "disconnecting each other",
         "",
         {},
         false,
         false},
        {"the key does not match the certificate",
         [](const TempDir& d) {
             Pki one = makePki(d.file("pki1"), "one");
             Pki two = makePki(d.file("pki2"), "two");
             return base(d) + route("r", "gw", 8883, "",
                                    "cert_file = \"" + one.client_cert + "\"\nkey_file = \"" +
                                        two.client_key + "\"\n");
         },
         "do not match",
         "PEM",
         {},
         false,
         false},
        {"a --set error",
         [](const TempDir& d) { return base(d); },
         "--set routes.x.cloud",
         "<config>:0:0",
         {"--set", "routes.x.cloud.type=\"generic-mqtt\""},
         false,
         false},
        {"tls = false with a password",
         [](const TempDir& d) {
             writeFile(d.file("pw"), "secret", 0600);
             return base(d) + route("r", "gw", 1883,
                                    "tls = false\nusername = \"gw\"\npassword_file = \"" +
                                        d.file("pw") + "\"\n");
         },
         "clear text",
         "",
         {},
         false,
         false},
        {"a key_file readable by every user",
         [](const TempDir& d) {
             Pki p = makePki(d.file("pki"), "gw");
             ::chmod(p.client_key.c_str(), 0644);
             return base(d) + route("r", "gw", 8883, "",
                                    "cert_file = \"" + p.client_cert + "\"\nkey_file = \"" +
                                        p.client_key + "\"\n");
         },
         "is readable by every user",
         "",
         {},
         false,
         false},
        {"a password_file that is a symbolic link",
         [](const TempDir& d) {
             writeFile(d.file("pw"), "secret", 0600);
             std::filesystem::create_symlink(d.file("pw"), d.file("pw-link"));
             return base(d) +
                    route("r", "gw", 8883,
                          "username = \"gw\"\npassword_file = \"" + d.file("pw-link") + "\"\n");
         },
         "is a symbolic link",
         "",
         {},
         false,
         false},
        {"a socket every user may write to",
         [](const TempDir& d) { return base(d, "", "", "socket_mode = \"0666\"\n"); },
         "socket_world_writable",
         "",
         {},
         false,
         false},
    };
}

TEST(CheckConfig, RefusesWhatStartUpRefusesAndStartUpExits78) {
    for (const auto& c : badConfigs()) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        std::string config = dir.file("uplinkd.toml");
        writeFile(config, c.setup(dir));
        if (c.config_is_dir) {
            config = dir.path();
        }
        std::vector<std::string> args{"--plugin-dir", pluginDir(), "--dbus", "none"};
        args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
        for (const std::string mode : {"--check-config", "--config"}) {
            std::vector<std::string> argv{uplinkdPath(), mode, config};
            argv.insert(argv.end(), args.begin(), args.end());
            if (c.unprivileged) {
                argv = asUnprivileged(argv);
            }
            auto [rc, out] = run(argv, dir.file("out.log"));
            EXPECT_EQ(rc, 78) << mode << ":\n" << out;
            EXPECT_NE(out.find(c.expected), std::string::npos) << mode << ":\n" << out;
            if (!c.forbidden.empty()) {
                EXPECT_EQ(out.find(c.forbidden), std::string::npos) << mode << ":\n" << out;
            }
        }
        if (c.name == "a regular file is at the socket path") {
            EXPECT_EQ(readFile(dir.file("api.sock")), "precious data");
        }
    }
}

TEST(CheckConfig, AcceptsWhatIsExplicitlyAllowed) {
    TempDir dir;
    writeFile(dir.file("pw"), "secret", 0600);
    const std::string config = dir.file("uplinkd.toml");
    writeFile(config, base(dir, "", "", "socket_mode = \"0666\"\nsocket_world_writable = true\n") +
                          "[routes.r]\nallow_plaintext_credentials = true\n" +
                          route("r", "gw", 1883,
                                "tls = false\nusername = \"gw\"\npassword_file = \"" +
                                    dir.file("pw") + "\"\n") +
                          route("s", "gw", 1884));
    auto [rc, out] = run({uplinkdPath(), "--check-config", config, "--plugin-dir", pluginDir()},
                         dir.file("out.log"));
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("configuration OK"), std::string::npos) << out;
}

}  // namespace
}  // namespace uplinkd::testing
