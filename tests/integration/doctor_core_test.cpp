// SPDX-License-Identifier: Apache-2.0
// `uplinkctl doctor` (core groups: config, files, clock, credentials, spool) end to end: offline
// with --config against the clouds' look-alikes (Mosquitto, the SAS-checking broker), through the
// running daemon's API, and each failure of the list that falls in these layers FAILs at
// its check with a fix that names the setting. Every test fails (never skips) when a program is
// missing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "broker_builder.hpp"
#include "test_certs.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

constexpr const char* kThing = "gateway-1";

struct CtlRun {
    int exit = -1;
    std::string out;
    std::string err;
};

/// Runs uplinkctl with `args` (shell words) and collects its exit status and output.
CtlRun uplinkctl(const TempDir& dir, const std::string& args) {
    const std::string err_file = dir.file("uplinkctl.err");
    const CommandRun run = runCommand(buildDir() + "/daemon/uplinkctl " + args + " 2>" + err_file);
    return CtlRun{run.exit, run.out, readFile(err_file)};
}

/// The check `id` of the first route of a --json report (null when absent).
json check(const json& report, const std::string& id) {
    for (const auto& c : report["routes"][0]["checks"]) {
        if (c["id"] == id) {
            return c;
        }
    }
    return nullptr;
}

bool contains(const json& value, const std::string& what) {
    return value.is_string() && value.get<std::string>().find(what) != std::string::npos;
}

class Doctor : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), kThing);

    /// Writes a configuration (state and socket in the test's directory) with `routes`.
    std::string config(const std::string& routes) {
        const std::string file = dir.file("uplinkd.toml");
        writeFile(file, "[daemon]\nstate_dir = \"" + dir.file("state") + "\"\n[api]\nsocket = \"" +
                            dir.file("api.sock") + "\"\n" + routes);
        return file;
    }

    /// `uplinkctl doctor --config FILE --json`: the parsed report (null when not JSON).
    json doctorOffline(const std::string& routes, CtlRun* run = nullptr) {
        const std::string file = config(routes);
        CtlRun r =
            uplinkctl(dir, "doctor --json --config " + file + " --plugin-dir " + pluginDir());
        if (run != nullptr) {
            *run = r;
        }
        json j = json::parse(r.out, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
        return j.is_discarded() ? json(nullptr) : j;
    }

    /// Expects check `id` to be `outcome` and, for a FAIL, the fix to name `setting`.
    void expectCheck(const json& report, const std::string& id, const std::string& outcome,
                     const std::string& setting = "") {
        const json c = check(report, id);
        ASSERT_TRUE(c.is_object()) << "no check " << id << " in " << report.dump(2);
        EXPECT_EQ(c["outcome"], outcome) << c.dump(2);
        if (!setting.empty()) {
            EXPECT_TRUE(contains(c["fix"], setting)) << setting << " not in " << c.dump(2);
        }
    }

    std::string azureRoute(uint16_t port, const std::string& auth) {
        return std::string("[routes.azure.cloud]\ntype = \"azure-iot-hub\"\nhub = \"") + kHub +
               "\"\ndevice_id = \"" + kDevice + "\"\n" + auth +
               "gateway_host = \"localhost\"\nport = " + std::to_string(port) +
               "\n[routes.azure.tls]\nca_file = \"" + pki.ca + "\"\n";
    }

    std::string sasKeyAuth() {
        writeFile(dir.file("dev1.key"), std::string(kDeviceKey) + "\n", 0600);
        return "sas_key_file = \"" + dir.file("dev1.key") + "\"\n";
    }

    std::string sasTokenAuth(const std::string& sr, int64_t se) {
        writeFile(
            dir.file("dev1.token"),
            "SharedAccessSignature sr=" + sr + "&sig=c2lnbmF0dXJl&se=" + std::to_string(se) + "\n",
            0600);
        return "sas_token_file = \"" + dir.file("dev1.token") + "\"\n";
    }

    static int64_t nowUnix() {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

// ---- the healthy set-ups of each cloud, offline ---------------------------------------------

TEST_F(Doctor, AHealthyGenericTlsRouteIsReadyAndEveryCoreLayerSaysOk) {
    Mosquitto broker(dir, pki);
    CtlRun run;
    const json r = doctorOffline(genericRoute("gen", broker.port(), pki.ca), &run);
    ASSERT_EQ(run.exit, 0) << run.out << run.err;
    EXPECT_EQ(r["schema"], "uplinkd.doctor/1");
    EXPECT_EQ(r["ready"], true);
    EXPECT_EQ(r["routes"][0]["verdict"], "route gen: ready");
    expectCheck(r, "config.load", "ok");
    expectCheck(r, "config.secret_files", "ok");
    expectCheck(r, "files.ca_root", "ok");
    expectCheck(r, "clock.build_date", "ok");
    expectCheck(r, "clock.certificates", "ok");
    expectCheck(r, "credentials.make", "ok");
    expectCheck(r, "spool.state_dir", "ok");

    // The text form: one line per check, the verdict last.
    CtlRun text = uplinkctl(
        dir, "doctor --config " + dir.file("uplinkd.toml") + " --plugin-dir " + pluginDir());
    EXPECT_EQ(text.exit, 0) << text.out << text.err;
    EXPECT_NE(text.out.find("ok      files.ca_root"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("route gen: ready\n"), std::string::npos) << text.out;
}

TEST_F(Doctor, AHealthyAwsLikeMutualTlsRouteIsReady) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    const std::string route =
        std::string(
            "[routes.aws.cloud]\ntype = \"aws-iot\"\nendpoint = "
            "\"a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com\"\nthing_name = \"") +
        kThing +
        "\"\nport = 8883\nendpoint_override = \"localhost:" + std::to_string(broker.port()) +
        "\"\n[routes.aws.tls]\nca_file = \"" + pki.ca + "\"\ncert_file = \"" + pki.client_cert +
        "\"\nkey_file = \"" + pki.client_key + "\"\n";
    CtlRun run;
    const json r = doctorOffline(route, &run);
    ASSERT_EQ(run.exit, 0) << run.out << run.err;
    expectCheck(r, "files.key_match", "ok");
    expectCheck(r, "credentials.client_id", "ok");
    EXPECT_TRUE(contains(check(r, "credentials.client_id")["found"], kThing));
}

TEST_F(Doctor, AHealthyAzureLikeSasRouteIsReadyAndTheTokenIsShownWithoutItsSignature) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens(false).start(pki);
    CtlRun run;
    const json r = doctorOffline(azureRoute(broker.port(), sasKeyAuth()), &run);
    ASSERT_EQ(run.exit, 0) << run.out << run.err;
    expectCheck(r, "credentials.identity", "ok");
    expectCheck(r, "credentials.sas_token", "ok");
    const json token = check(r, "credentials.sas_token");
    EXPECT_TRUE(contains(token["found"], "sr \"testhub.azure-devices.net/devices/dev1\""))
        << token.dump();
    EXPECT_TRUE(contains(token["found"], "valid for 60 min")) << token.dump();
    EXPECT_EQ(run.out.find("sig="), std::string::npos) << run.out;
    EXPECT_EQ(run.out.find(kDeviceKey), std::string::npos);
    expectCheck(r, "config.secret_files", "ok");
}

TEST_F(Doctor, AHealthyHivemqLikeRouteIsReady) {
    Mosquitto broker = BrokerBuilder(dir).passwords("gateway-01", "correct horse").start(pki);
    writeFile(dir.file("hive.password"), "correct horse\n", 0600);
    const std::string route =
        "[routes.hive.cloud]\ntype = \"hivemq-cloud\"\ncluster = "
        "\"0123456789abcdef0123456789abcdef.s1.eu.hivemq.cloud\"\nusername = \"gateway-01\"\n"
        "password_file = \"" +
        dir.file("hive.password") +
        "\"\nclient_id = \"gw-hivemq\"\nendpoint_override = \"localhost:" +
        std::to_string(broker.port()) + "\"\n[routes.hive.tls]\nca_file = \"" + pki.ca + "\"\n";
    CtlRun run;
    const json r = doctorOffline(route, &run);
    ASSERT_EQ(run.exit, 0) << run.out << run.err;
    expectCheck(r, "credentials.user", "ok");
    expectCheck(r, "config.secret_files", "ok");
}

// ---- the failures of the list in the core layers ------------------------------------

TEST_F(Doctor, AMissingCaFileFailsTheConfigurationNamingFileLineAndKey) {
    CtlRun run;
    const json r = doctorOffline(genericRoute("gen", 8883, dir.file("no-such-ca.pem")), &run);
    EXPECT_EQ(run.exit, 1) << run.out << run.err;
    expectCheck(r, "config.load", "FAIL",
                "[routes.gen.tls] ca_file at " + dir.file("uplinkd.toml"));
    const json c = check(r, "config.load");
    EXPECT_TRUE(contains(c["found"], "uplinkd.toml:")) << c.dump();
    EXPECT_TRUE(
        contains(c["found"], "ca_file: file \"" + dir.file("no-such-ca.pem") + "\" does not exist"))
        << c.dump();
    EXPECT_EQ(r["routes"][0]["checks"].size(), 1u) << "the run stops at a configuration that "
                                                      "does not load";
}

TEST_F(Doctor, AnIntermediateGivenInsteadOfTheRootFailsNamingTheRootAndCaFile) {
    const auto root = makeCert(dir.path(), "root", "Example Root CA", "", "", -10, 3650, true);
    const auto inter =
        makeCert(dir.path(), "inter", "Example Issuing CA 1", root.cert, root.key, -5, 1000, true);
    CtlRun run;
    const json r = doctorOffline(genericRoute("gen", 8883, inter.cert), &run);
    EXPECT_EQ(run.exit, 1);
    expectCheck(r, "files.ca_root", "FAIL", "[routes.gen.tls] ca_file");
    const json c = check(r, "files.ca_root");
    EXPECT_TRUE(contains(c["found"], "an intermediate CA")) << c.dump();
    EXPECT_TRUE(contains(c["fix"], "put the root CA \"CN=Example Root CA\"")) << c.dump();
    EXPECT_TRUE(contains(r["routes"][0]["verdict"], "route gen: will not connect: the CA file"));
}

TEST_F(Doctor, AKeyThatDoesNotMatchTheCertificateFailsNamingKeyFile) {
    Mosquitto broker = BrokerBuilder(dir).requireCertificate().start(pki);
    const auto other = makeCert(dir.path(), "other", kThing, pki.ca, pki.dir + "/ca.key", -1, 300);
    const std::string key = dir.file("device.key");
    writeFile(key, readFile(other.key), 0600);
    // Offline: the loader already refuses the pair; the finding names the setting.
    CtlRun run;
    json r = doctorOffline(
        genericRoute("gen", broker.port(), pki.ca,
                     "cert_file = \"" + pki.client_cert + "\"\nkey_file = \"" + key + "\"\n"),
        &run);
    EXPECT_EQ(run.exit, 1);
    expectCheck(r, "config.load", "FAIL", "[routes.gen.tls] key_file");
    EXPECT_EQ(run.out.find("PRIVATE KEY"), std::string::npos);

    // Inside the daemon: the key file was replaced after it started.
    writeFile(key, readFile(pki.client_key), 0600);
    Daemon d(dir,
             genericRoute("gen", broker.port(), pki.ca,
                          "cert_file = \"" + pki.client_cert + "\"\nkey_file = \"" + key + "\"\n"));
    ASSERT_TRUE(routeOnline(d, "gen", 30s));
    writeFile(key, readFile(other.key), 0600);
    run = uplinkctl(dir, "-s " + d.socket() + " doctor --json");
    EXPECT_EQ(run.exit, 1) << run.out << run.err;
    r = json::parse(run.out, nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << run.out << run.err;
    expectCheck(r, "files.key_match", "FAIL", "[routes.gen.tls] key_file");
    EXPECT_TRUE(contains(check(r, "files.key_match")["found"],
                         "is not the key of \"CN=" + std::string(kThing) + "\""));
}

TEST_F(Doctor, AnExpiredDeviceCertificateFailsNamingCertFile) {
    const auto expired =
        makeCert(dir.path(), "expired", kThing, pki.ca, pki.dir + "/ca.key", -400, -3);
    CtlRun run;
    const json r = doctorOffline(
        genericRoute("gen", 8883, pki.ca,
                     "cert_file = \"" + expired.cert + "\"\nkey_file = \"" + expired.key + "\"\n"),
        &run);
    EXPECT_EQ(run.exit, 1);
    expectCheck(r, "files.key_match", "ok");
    expectCheck(r, "files.cert_validity", "FAIL", "[routes.gen.tls] cert_file");
    EXPECT_TRUE(contains(check(r, "files.cert_validity")["found"], "expired on"));
}

TEST_F(Doctor, AClockBeforeTheCertificatesValidityFails) {
    // A device certificate that starts in two days: the clock or the certificate is wrong.
    const auto future = makeCert(dir.path(), "future", kThing, pki.ca, pki.dir + "/ca.key", 2, 300);
    CtlRun run;
    json r = doctorOffline(
        genericRoute("gen", 8883, pki.ca,
                     "cert_file = \"" + future.cert + "\"\nkey_file = \"" + future.key + "\"\n"),
        &run);
    EXPECT_EQ(run.exit, 1);
    expectCheck(r, "files.cert_validity", "FAIL", "cert_file");
    EXPECT_TRUE(contains(check(r, "files.cert_validity")["found"], "is not valid before"));
    EXPECT_TRUE(contains(check(r, "files.cert_validity")["fix"], "set the system clock"));

    // A root CA that starts in two days: CAs are made long before use, so the clock is behind.
    const auto root = makeCert(dir.path(), "root", "Tomorrow Root", "", "", 2, 3650, true);
    r = doctorOffline(genericRoute("gen", 8883, root.cert), &run);
    EXPECT_EQ(run.exit, 1);
    expectCheck(r, "clock.certificates", "FAIL", "timedatectl");
    EXPECT_TRUE(contains(check(r, "clock.certificates")["found"], "the clock is behind"));
}

TEST_F(Doctor, SasTokensForAnotherHubAnotherDeviceOrExpiredFailNamingTheTokenFile) {
    const int64_t later = nowUnix() + 7 * 86400;
    struct Case {
        std::string sr;
        int64_t se;
        std::string found;
    };
    const std::vector<Case> cases{
        {"otherhub.azure-devices.net%2Fdevices%2Fdev1", later,
         "it is for hub \"otherhub.azure-devices.net\""},
        {"testhub.azure-devices.net%2Fdevices%2Fdev2", later,
         "it is for another identity than \"testhub.azure-devices.net/devices/dev1\""},
        {"testhub.azure-devices.net/devices/dev1", later, "sr is not URL-encoded"},
        {"testhub.azure-devices.net%2Fdevices%2Fdev1", nowUnix() - 3000, "min ago"},
    };
    for (const auto& c : cases) {
        CtlRun run;
        const json r = doctorOffline(azureRoute(8883, sasTokenAuth(c.sr, c.se)), &run);
        EXPECT_EQ(run.exit, 1) << c.sr;
        expectCheck(r, "credentials.sas_token", "FAIL", "sas_token_file");
        EXPECT_TRUE(contains(check(r, "credentials.sas_token")["found"], c.found))
            << c.found << "\n"
            << check(r, "credentials.sas_token").dump();
        EXPECT_EQ(run.out.find("c2lnbmF0dXJl"), std::string::npos) << "the signature leaked";
    }
    // The same token, valid and for this device: ok, with its lifetime (not renewable: warn
    // under a day).
    CtlRun run;
    const json r = doctorOffline(
        azureRoute(8883, sasTokenAuth("testhub.azure-devices.net%2Fdevices%2Fdev1", later)), &run);
    expectCheck(r, "credentials.sas_token", "ok");
}

TEST_F(Doctor, AConfigurationThatDoesNotLoadIsOneFailAndUsageErrorsExitTwo) {
    writeFile(dir.file("bad.toml"), "[routes.x.cloud]\ntype = \"generic-mqtt\"\nhost = 5\n");
    CtlRun run = uplinkctl(
        dir, "doctor --json --config " + dir.file("bad.toml") + " --plugin-dir " + pluginDir());
    EXPECT_EQ(run.exit, 1);
    const json r = json::parse(run.out, nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << run.out;
    expectCheck(r, "config.load", "FAIL", "bad.toml");
    EXPECT_TRUE(contains(check(r, "config.load")["found"], "bad.toml:3:8:")) << r.dump();

    config(genericRoute("gen", 8883, pki.ca));
    run = uplinkctl(dir, "doctor --route nope --config " + dir.file("uplinkd.toml") +
                             " --plugin-dir " + pluginDir());
    EXPECT_EQ(run.exit, 2) << run.out << run.err;
    EXPECT_NE(run.err.find("no route \"nope\""), std::string::npos) << run.err;
}

// ---- through the running daemon -------------------------------------------------------------

TEST_F(Doctor, TheRunningDaemonExaminesItsRouteAndRefusesAnOfflineRunOnItsState) {
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("gen", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "gen", 30s));
    CtlRun run = uplinkctl(dir, "-s " + d.socket() + " doctor --route gen --json");
    ASSERT_EQ(run.exit, 0) << run.out << run.err;
    const json r = json::parse(run.out);
    EXPECT_EQ(r["routes"][0]["route"], "gen");
    expectCheck(r, "files.ca_root", "ok");
    expectCheck(r, "spool.queue", "ok");
    expectCheck(r, "spool.dead_letters", "ok");

    run = uplinkctl(dir, "-s " + d.socket() + " doctor --route nope");
    EXPECT_EQ(run.exit, 2) << run.out << run.err;
    EXPECT_NE(run.err.find("unknown_route"), std::string::npos) << run.err;

    // The daemon holds the state directory: an offline run would open its spool and uplinks.
    run = uplinkctl(dir, "doctor --config " + d.configFile() + " --plugin-dir " + pluginDir());
    EXPECT_EQ(run.exit, 1);
    EXPECT_NE(run.err.find("run uplinkctl doctor without --config"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace uplinkd::testing
