// SPDX-License-Identifier: Apache-2.0
// The doctor's report: verdict, text form, JSON form and back, malformed JSON named by field.
#include <gtest/gtest.h>

#include <functional>

#include "doctor/report.hpp"

namespace uplinkd::doctor {
namespace {

Finding finding(CheckLayer layer, const std::string& id, CheckOutcome outcome,
                const std::string& found, const std::string& fix = "") {
    return Finding{layer, id, outcome, found, fix};
}

RouteReport sample() {
    RouteReport r;
    r.route = "aws";
    r.findings = {
        finding(CheckLayer::Config, "config.load", CheckOutcome::Ok, "loaded /etc/uplinkd.toml"),
        finding(CheckLayer::Files, "files.cert_validity", CheckOutcome::Warn,
                "CN=gw-1 expires in 12 days", "renew [routes.aws.tls] cert_file"),
        finding(CheckLayer::Files, "files.ca_root", CheckOutcome::Fail,
                "CA file holds an intermediate: CN=Amazon RSA 2048 M01",
                "put the root CA in [routes.aws.tls] ca_file"),
        finding(CheckLayer::Network, "network.reach", CheckOutcome::Skipped,
                "skipped: the files failed"),
    };
    return r;
}

TEST(DoctorReport, VerdictNamesTheFirstFailureOrSaysReady) {
    struct Case {
        std::vector<CheckOutcome> outcomes;
        bool ready;
        std::string verdict;
    };
    const std::vector<Case> cases{
        {{}, true, "route r: ready"},
        {{CheckOutcome::Ok, CheckOutcome::Warn, CheckOutcome::Skipped}, true, "route r: ready"},
        {{CheckOutcome::Ok, CheckOutcome::Fail, CheckOutcome::Fail},
         false,
         "route r: will not connect: found 1"},
    };
    for (const auto& c : cases) {
        RouteReport r;
        r.route = "r";
        for (size_t i = 0; i < c.outcomes.size(); ++i) {
            r.findings.push_back(
                finding(CheckLayer::Files, "files.x", c.outcomes[i], "found " + std::to_string(i)));
        }
        EXPECT_EQ(r.ready(), c.ready);
        EXPECT_EQ(r.verdict(), c.verdict);
    }
}

TEST(DoctorReport, TextHasOneLinePerCheckTheFixUnderWarnAndFailAndTheVerdictLast) {
    const std::string text = toText(sample());
    EXPECT_EQ(text,
              "ok      config.load              loaded /etc/uplinkd.toml\n"
              "warn    files.cert_validity      CN=gw-1 expires in 12 days\n"
              "        fix: renew [routes.aws.tls] cert_file\n"
              "FAIL    files.ca_root            CA file holds an intermediate: CN=Amazon RSA "
              "2048 M01\n"
              "        fix: put the root CA in [routes.aws.tls] ca_file\n"
              "skipped network.reach            skipped: the files failed\n"
              "route aws: will not connect: CA file holds an intermediate: CN=Amazon RSA 2048 "
              "M01\n");
}

TEST(DoctorReport, JsonCarriesTheSchemaAndRoundTrips) {
    RouteReport healthy;
    healthy.route = "hive";
    healthy.findings = {finding(CheckLayer::Mqtt, "mqtt.connect", CheckOutcome::Ok, "CONNACK 0")};
    const auto json = toJson({sample(), healthy});
    EXPECT_EQ(json["schema"], "uplinkd.doctor/1");
    EXPECT_EQ(json["ready"], false);
    EXPECT_EQ(json["routes"][0]["ready"], false);
    EXPECT_EQ(json["routes"][1]["verdict"], "route hive: ready");
    EXPECT_EQ(json["routes"][0]["checks"][2]["outcome"], "FAIL");
    EXPECT_EQ(json["routes"][0]["checks"][2]["layer"], "files");

    auto back = fromJson(json);
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), 2u);
    const RouteReport& r = (*back)[0];
    EXPECT_EQ(r.route, "aws");
    const RouteReport expected = sample();
    ASSERT_EQ(r.findings.size(), expected.findings.size());
    for (size_t i = 0; i < r.findings.size(); ++i) {
        const Finding& a = r.findings[i];
        const Finding& b = expected.findings[i];
        EXPECT_EQ(a.layer, b.layer);
        EXPECT_EQ(a.id, b.id);
        EXPECT_EQ(a.outcome, b.outcome);
        EXPECT_EQ(a.found, b.found);
        EXPECT_EQ(a.fix, b.fix);
    }
    EXPECT_EQ(toJson(*back), json);
}

TEST(DoctorReport, MalformedJsonIsRefusedNamingTheField) {
    const auto good = toJson({sample()});
    struct Case {
        std::function<void(nlohmann::json&)> spoil;
        std::string named;
    };
    const std::vector<Case> cases{
        {[](nlohmann::json& j) { j = nlohmann::json::array(); }, "schema"},
        {[](nlohmann::json& j) { j["schema"] = 7; }, "schema"},
        {[](nlohmann::json& j) { j["schema"] = "uplinkd.doctor/2"; }, "schema"},
        {[](nlohmann::json& j) { j.erase("routes"); }, "routes"},
        {[](nlohmann::json& j) { j["routes"][0].erase("checks"); }, "checks"},
        {[](nlohmann::json& j) { j["routes"][0]["route"] = 1; }, "route"},
        {[](nlohmann::json& j) { j["routes"][0]["checks"][1] = "x"; }, "check"},
        {[](nlohmann::json& j) { j["routes"][0]["checks"][1].erase("fix"); }, "fix"},
        {[](nlohmann::json& j) { j["routes"][0]["checks"][1]["found"] = nullptr; }, "found"},
        {[](nlohmann::json& j) { j["routes"][0]["checks"][1]["layer"] = "kernel"; }, "layer"},
        {[](nlohmann::json& j) { j["routes"][0]["checks"][1]["outcome"] = "fine"; }, "outcome"},
    };
    for (const auto& c : cases) {
        nlohmann::json j = good;
        c.spoil(j);
        auto r = fromJson(j);
        ASSERT_FALSE(r) << j.dump();
        EXPECT_EQ(r.error().code, "bad_report");
        EXPECT_NE(r.error().message.find(c.named), std::string::npos)
            << c.named << ": " << r.error().message;
    }
}

}  // namespace
}  // namespace uplinkd::doctor
