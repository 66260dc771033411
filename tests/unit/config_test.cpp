// SPDX-License-Identifier: Apache-2.0
// Configuration errors: each mistake is reported with its file, line and column.
#include "config/config.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "config_test_support.hpp"
#include "plugin/plugin_registry.hpp"
#include "test_env.hpp"
#include "test_param_names.hpp"

namespace uplinkd {
namespace {

Result<Config> load(const std::string& text) {
    return testing::loadConfigText(text);
}

const std::string kValidRoute = testing::minimalCloud("r1");

// A modem uplink (its driver plugin may not be built here: that is one more diagnostic).
const std::string kModem = "[uplinks.lte]\ntype = \"modem\"\ndriver = \"sierra-hl78\"\n";
const std::string kModemTty = kModem + "device = \"/dev/ttyUSB2\"\n";

TEST(Config, ValidMinimalConfigLoads) {
    auto cfg = load(kValidRoute);
    ASSERT_TRUE(cfg) << cfg.error().message;
    ASSERT_EQ(cfg->routes.size(), 1u);
    EXPECT_EQ(cfg->routes[0].cloud->endpoint().port, 8883);
    EXPECT_EQ(cfg->routes[0].uplinks, std::vector<std::string>{"network"});
}

TEST(Config, NoRouteIsValidSoThePackagedDefaultStarts) {
    auto cfg = load("[daemon]\nlog_level = \"info\"\n");
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_TRUE(cfg->routes.empty());
}

TEST(Config, ThePackagedDefaultConfigurationIsValid) {
    PluginRegistry plugins;
    ConfigSource src;
    src.main_file = testing::sourceDir() + "/config/uplinkd.toml";
    src.dropin_dir = "/nonexistent";  // only the file itself
    src.plugin_dir_override = testing::pluginDir();
    auto cfg = loadConfig(src, plugins);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_TRUE(cfg->routes.empty());
    EXPECT_EQ(cfg->api.socket, "/run/uplinkd/uplinkd.sock");
    EXPECT_EQ(cfg->api.socket_group, "uplinkd-clients");
    EXPECT_EQ(cfg->daemon.state_dir, "/var/lib/uplinkd");
}

struct Mistake {
    const char* what;
    std::string text;
    std::string expected;  // substring of the diagnostic, including the position
};

class ConfigMistakes : public ::testing::TestWithParam<Mistake> {};

TEST_P(ConfigMistakes, AreReportedWithPosition) {
    const Mistake& m = GetParam();
    testing::expectRefusedWith(load(m.text), m.what, m.expected, "config");
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigMistakes,
    ::testing::Values(
        Mistake{"TOML syntax error", "[daemon]\nlog_level = \"info\n", "test.toml:2:"},
        Mistake{"unknown top-level key", "colour = 1\n" + kValidRoute,
                "test.toml:1:1: colour: unknown key"},
        Mistake{"unknown key in a section", "[daemon]\nstate_directory = \"/x\"\n" + kValidRoute,
                "test.toml:2:1: daemon.state_directory: unknown key"},
        Mistake{"wrong type", "[api]\nmax_line_bytes = \"big\"\n" + kValidRoute,
                "test.toml:2:18: api.max_line_bytes: expected an integer, got a string"},
        Mistake{"value out of range", kValidRoute + "port = 70000\n",
                "test.toml:6:8: routes.r1.cloud.port: 70000 is out of range (1 to 65535)"},
        Mistake{"bad choice", "[daemon]\nlog_level = \"loud\"\n" + kValidRoute,
                "test.toml:2:13: daemon.log_level: \"loud\" is not one of"},
        Mistake{"missing required key",
                "[routes.r1.cloud]\ntype = \"generic-mqtt\"\nhost = \"h\"\n",
                "routes.r1.cloud.client_id: missing"},
        Mistake{"unknown cloud plugin", "[routes.r1.cloud]\ntype = \"acme-cloud\"\n",
                "test.toml:2:8: routes.r1.cloud.type: no cloud plugin \"acme-cloud\""},
        Mistake{"unknown uplink", "[routes.r1]\nuplinks = [\"lte\"]\n" + kValidRoute,
                "test.toml:2:11: routes.r1.uplinks: no uplink named \"lte\""},
        Mistake{"bad octal mode", "[api]\nsocket_mode = \"rw-rw----\"\n" + kValidRoute,
                "test.toml:2:15: api.socket_mode: expected an octal mode"},
        Mistake{"certificate without key",
                kValidRoute + "[routes.r1.tls]\ncert_file = \"/etc/hostname\"\n",
                "test.toml:7:13: routes.r1.tls.cert_file: a client certificate needs both"},
        Mistake{
            "missing CA file", kValidRoute + "[routes.r1.tls]\nca_file = \"/nonexistent/ca.pem\"\n",
            "test.toml:7:11: routes.r1.tls.ca_file: file \"/nonexistent/ca.pem\" does not exist"},
        Mistake{"array element of wrong type",
                kValidRoute + "[routes.r1.tls]\nalpn = [\"mqtt\", 3]\n",
                "test.toml:7:17: routes.r1.tls.alpn: every element must be a string"},
        Mistake{"backoff min above max",
                kValidRoute + "[routes.r1.delivery]\nbackoff_min_ms = 5000\nbackoff_max_ms = 100\n",
                "test.toml:7:18: routes.r1.delivery.backoff_min_ms: must not be larger"},
        Mistake{"bad route name",
                "[routes.\"my route\".cloud]\ntype = \"generic-mqtt\"\nhost = \"h\"\n"
                "client_id = \"c\"\n",
                "a route name may contain only letters"},
        Mistake{"password without username", kValidRoute + "password_file = \"/etc/hostname\"\n",
                "routes.r1.cloud.password_file:"},
        Mistake{"unknown uplink type", "[uplinks.x]\ntype = \"lte\"\n" + kValidRoute,
                "test.toml:2:8: uplinks.x.type: \"lte\" is not one of"},
        Mistake{"unknown modem driver",
                "[uplinks.lte]\ntype = \"modem\"\ndriver = \"acme-modem\"\ndevice = \"/dev/x\"\n" +
                    kValidRoute,
                "test.toml:3:10: uplinks.lte.driver: no modem plugin \"acme-modem\" in"},
        Mistake{"modem uplink without device", kModem + kValidRoute,
                "test.toml:1:1: uplinks.lte.device: missing"},
        Mistake{"unsupported baud rate", kModemTty + "baud = 115201\n" + kValidRoute,
                "test.toml:5:8: uplinks.lte.baud: 115201 is not a supported baud rate (1200, "},
        Mistake{"bad modem TLS mode", kModemTty + "tls = \"module\"\n" + kValidRoute,
                "test.toml:5:7: uplinks.lte.tls: \"module\" is not one of \"local\", \"modem\""},
        Mistake{
            "PIN file readable by everyone",
            kModemTty + "pin_file = \"/etc/hostname\"\n" + kValidRoute,
            "test.toml:5:12: uplinks.lte.pin_file: \"/etc/hostname\" is readable by every user"},
        Mistake{
            "missing APN password file",
            kModemTty + "apn_user = \"u\"\napn_password_file = \"/nonexistent/pw\"\n" + kValidRoute,
            "test.toml:6:21: uplinks.lte.apn_password_file: cannot read \"/nonexistent/pw\""},
        Mistake{"modem key on a network uplink",
                "[uplinks.eth]\ntype = \"network\"\nbaud = 9600\n" + kValidRoute,
                "test.toml:3:1: uplinks.eth.baud: unknown key"},
        Mistake{
            "gpiod power without a chip",
            kModemTty + "[uplinks.lte.power]\nbackend = \"gpiod\"\npower_line = 17\n" + kValidRoute,
            "uplinks.lte.power.chip: missing"},
        Mistake{
            "gpiod power without lines",
            kModemTty + "[uplinks.lte.power]\nbackend = \"gpiod\"\nchip = \"gpiochip0\"\n" +
                kValidRoute,
            "test.toml:5:1: uplinks.lte.power: backend \"gpiod\" needs power_line or reset_line"},
        Mistake{"GPIO key with another power backend",
                kModemTty + "[uplinks.lte.power]\nbackend = \"none\"\nchip = \"gpiochip0\"\n" +
                    kValidRoute,
                "test.toml:7:8: uplinks.lte.power.chip: only used with backend = \"gpiod\""},
        Mistake{"emulator power without its socket",
                kModemTty + "[uplinks.lte.power]\nbackend = \"emulator\"\n" + kValidRoute,
                "uplinks.lte.power.control_socket: missing"},
        Mistake{"power pulse out of range",
                kModemTty +
                    "[uplinks.lte.power]\nbackend = \"gpiod\"\nchip = \"0\"\n"
                    "reset_line = 4\nreset_pulse_ms = 0\n" +
                    kValidRoute,
                "test.toml:9:18: uplinks.lte.power.reset_pulse_ms: 0 is out of range (1 to 60000)"},
        Mistake{"module MQTT on the board's network",
                "[routes.r1]\nmqtt = \"modem\"\n" + kValidRoute,
                "test.toml:2:8: routes.r1.mqtt: mqtt = \"modem\" needs a modem uplink; uplink "
                "\"network\" is the board's network: use mqtt = \"uplinkd\""},
        Mistake{"module MQTT with a driver that has none",
                kModemTty + "[routes.r1]\nuplinks = [\"lte\"]\nmqtt = \"modem\"\n" + kValidRoute,
                "routes.r1.mqtt: the sierra-hl78 driver has no MQTT client of the module; use "
                "mqtt = \"uplinkd\""},
        Mistake{"module MQTT over two uplinks",
                kModemTty + "[routes.r1]\nuplinks = [\"lte\", \"lte\"]\nmqtt = \"modem\"\n" +
                    kValidRoute,
                "routes.r1.mqtt: mqtt = \"modem\" needs exactly one uplink"},
        Mistake{"unknown MQTT mode", "[routes.r1]\nmqtt = \"paho\"\n" + kValidRoute,
                "test.toml:2:8: routes.r1.mqtt: \"paho\" is not one of \"uplinkd\", \"modem\""},
        Mistake{"Wi-Fi network on a cellular module", kModemTty + "ssid = \"home\"\n" + kValidRoute,
                "test.toml:5:8: uplinks.lte.ssid: the sierra-hl78 driver drives a cellular module"},
        Mistake{"unknown power key",
                kModemTty + "[uplinks.lte.power]\npwr_line = 3\n" + kValidRoute,
                "test.toml:6:1: uplinks.lte.power.pwr_line: unknown key"}),
    [](const ::testing::TestParamInfo<Mistake>& p) { return testing::paramName(p.param.what); });

TEST(Config, NonAsciiTextIsKeptInStringsAndCommentsAndRefusedElsewhere) {
    // "Café" and "Straße" as a reader writes them (U+00E9 and U+00DF sit in the range that
    // toml++ 3.3 must not meet).
    auto ok = load("# caf\xc3\xa9 \xe2\x82\xac\n" + kValidRoute + "password_file = \"\"\n");
    EXPECT_FALSE(ok);  // (an empty password file is refused: the text itself was read)
    EXPECT_EQ(ok.error().message.find("character"), std::string::npos) << ok.error().message;
    auto in_string = load(R"([routes.r1.cloud]
type = "generic-mqtt"
host = "broker.example.com"
client_id = "Stra\u00dfe-caf)"
                          "\xc3\xa9\"\n");
    EXPECT_TRUE(in_string) << in_string.error().message;
    auto bare = load("x = 1\xc3\xa9\n" + kValidRoute);
    ASSERT_FALSE(bare);
    EXPECT_NE(bare.error().message.find("test.toml:1:6: the character U+00E9 outside a string or "
                                        "comment"),
              std::string::npos)
        << bare.error().message;
    auto literal = load("x = 'caf\xc3\xa9'\n" + kValidRoute);
    ASSERT_FALSE(literal);
    EXPECT_NE(literal.error().message.find("in a literal string"), std::string::npos);
    auto broken = load("# \xc3\n" + kValidRoute);
    ASSERT_FALSE(broken);
    EXPECT_NE(broken.error().message.find("test.toml:1:3: bytes that are not UTF-8"),
              std::string::npos)
        << broken.error().message;
}

TEST(Config, EveryMistakeIsReportedNotJustTheFirst) {
    auto cfg = load("[daemon]\nlog_level = 3\nfoo = 1\n" + kValidRoute + "port = \"x\"\n");
    ASSERT_FALSE(cfg);
    EXPECT_NE(cfg.error().message.find("test.toml:2:13"), std::string::npos);
    EXPECT_NE(cfg.error().message.find("test.toml:3:1"), std::string::npos);
    EXPECT_NE(cfg.error().message.find("test.toml:9:8"), std::string::npos);
}

TEST(Config, OverridesFromTheCommandLineWinAndAreNamedInErrors) {
    testing::TempDir dir;
    testing::writeFile(dir.file("main.toml"), kValidRoute);
    PluginRegistry plugins;
    ConfigSource src;
    src.main_file = dir.file("main.toml");
    src.plugin_dir_override = testing::pluginDir();
    src.overrides = {"routes.r1.cloud.port=1884"};
    auto cfg = loadConfig(src, plugins);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->routes[0].cloud->endpoint().port, 1884);

    src.overrides = {"routes.r1.cloud.port=\"high\""};
    PluginRegistry plugins2;
    auto bad = loadConfig(src, plugins2);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("--set routes.r1.cloud.port"), std::string::npos)
        << bad.error().message;
}

TEST(Config, DropInFilesAreReadInOrderAndNamedInErrors) {
    testing::TempDir dir;
    testing::writeFile(dir.file("uplinkd.toml"), kValidRoute);
    std::filesystem::create_directory(dir.file("conf.d"));
    testing::writeFile(dir.file("conf.d/10-port.toml"), "[routes.r1.cloud]\nport = 1000\n");
    testing::writeFile(dir.file("conf.d/20-port.toml"), "[routes.r1.cloud]\nport = 2000\n");
    PluginRegistry plugins;
    ConfigSource src;
    src.main_file = dir.file("uplinkd.toml");
    src.plugin_dir_override = testing::pluginDir();
    auto cfg = loadConfig(src, plugins);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->routes[0].cloud->endpoint().port, 2000);
    EXPECT_EQ(cfg->files.size(), 3u);

    testing::writeFile(dir.file("conf.d/30-bad.toml"), "[routes.r1.cloud]\nprot = 1\n");
    PluginRegistry plugins2;
    auto bad = loadConfig(src, plugins2);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("conf.d/30-bad.toml:2:1: routes.r1.cloud.prot: unknown key"),
              std::string::npos)
        << bad.error().message;
}

TEST(Config, APluginOfAnotherAbiIsRefusedWithAReason) {
    testing::TempDir dir;
    // A file that is not a loadable module at all.
    testing::writeFile(dir.file("broken.so"), "not an ELF file");
    PluginRegistry plugins;
    auto problems = plugins.loadDirectory(dir.path());
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("broken.so: cannot load"), std::string::npos) << problems[0];

    PluginRegistry other;
    auto abi = other.loadDirectory(UPLINKD_WRONG_ABI_PLUGIN_DIR);
    ASSERT_EQ(abi.size(), 1u);
    EXPECT_NE(abi[0].find("built for plugin ABI 999, this uplinkd needs 2"), std::string::npos)
        << abi[0];
    EXPECT_EQ(other.cloud("from-the-future"), nullptr);
}

TEST(Config, APluginWhoseDescriptorLacksItsFunctionsIsRefusedWithAReason) {
    PluginRegistry plugins;
    auto problems = plugins.loadDirectory(UPLINKD_MALFORMED_PLUGIN_DIR);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("its descriptor lacks a name, a known kind or its functions"),
              std::string::npos)
        << problems[0];
    EXPECT_EQ(plugins.cloud("no-functions"), nullptr);
    EXPECT_TRUE(plugins.names(PluginKind::Cloud).empty());
}

// A renamed copy of a plugin left beside it (or a driver of another version) gives the same
// name: the module named after the plugin is used, whatever order the directory is read in, and
// the other is reported.
TEST(Config, TwoModulesGivingOnePluginNameAreReportedAndTheOneNamedAfterItIsUsed) {
    testing::TempDir dir;
    const std::string plugins_dir = dir.file("plugins");
    std::filesystem::create_directory(plugins_dir);
    const std::string named = plugins_dir + "/uplinkd-cloud-generic-mqtt.so";
    // Read first when the whole directory is read: '-' sorts before '.'.
    const std::string copy = plugins_dir + "/uplinkd-cloud-generic-mqtt-old.so";
    std::filesystem::copy_file(testing::pluginDir() + "/uplinkd-cloud-generic-mqtt.so", named);
    std::filesystem::copy_file(named, copy);

    PluginRegistry whole;
    auto problems = whole.loadDirectory(plugins_dir);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0], "plugin " + copy + ": ignored, it gives plugin \"generic-mqtt\" as " +
                               named + " does, which is used; remove one of the two");

    const CloudPluginApi* used = whole.cloud("generic-mqtt");
    ASSERT_NE(used, nullptr);
    // Each module keeps its own descriptor (nothing of a module is shared with another), and the
    // one in use is not the copy's, which the registry still holds loaded.
    void* copy_module = ::dlopen(copy.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    ASSERT_NE(copy_module, nullptr);
    auto copy_entry = reinterpret_cast<UplinkdPluginEntry>(::dlsym(copy_module, "uplinkd_plugin"));
    ASSERT_NE(copy_entry, nullptr);
    EXPECT_NE(copy_entry()->api, used);
    ::dlclose(copy_module);

    // Read the other way round (the named module first, when the plugin is asked for), the
    // copy is still the one reported, and the same module is used.
    PluginRegistry by_name;
    by_name.useDirectory(plugins_dir);
    EXPECT_EQ(by_name.cloud("generic-mqtt"), used);
    EXPECT_TRUE(by_name.problems().empty());
    EXPECT_EQ(by_name.names(PluginKind::Cloud), std::vector<std::string>{"generic-mqtt"});
    ASSERT_EQ(by_name.problems().size(), 1u);
    EXPECT_EQ(by_name.problems()[0], problems[0]);
    EXPECT_EQ(by_name.cloud("generic-mqtt"), used);
}

// Memory (issue 14): the daemon loads only the plugins its configuration names, so a module left
// broken in the plugin directory (another version's, a driver for another modem) does not stop a
// configuration that does not use it, and is explained when one does.
TEST(Config, OnlyThePluginsTheConfigurationNamesAreLoaded) {
    testing::TempDir dir;
    const std::string plugins_dir = dir.file("plugins");
    std::filesystem::create_directory(plugins_dir);
    std::filesystem::copy_file(testing::pluginDir() + "/uplinkd-cloud-generic-mqtt.so",
                               plugins_dir + "/uplinkd-cloud-generic-mqtt.so");
    testing::writeFile(plugins_dir + "/uplinkd-modem-stale.so", "not an ELF file");

    PluginRegistry plugins;
    auto cfg = loadConfigFromString(kValidRoute, "test.toml", plugins, plugins_dir);
    ASSERT_TRUE(cfg) << cfg.error().message;

    PluginRegistry other;
    auto uses_it =
        loadConfigFromString(kValidRoute + "[uplinks.lte]\ntype = \"modem\"\ndriver = \"stale\"\n",
                             "test.toml", other, plugins_dir);
    ASSERT_FALSE(uses_it);
    EXPECT_NE(uses_it.error().message.find("no modem plugin \"stale\" in " + plugins_dir +
                                           " (available: none); plugin " + plugins_dir +
                                           "/uplinkd-modem-stale.so: cannot load"),
              std::string::npos)
        << uses_it.error().message;
}

}  // namespace
}  // namespace uplinkd
