// SPDX-License-Identifier: Apache-2.0
#include "bx_refusal.hpp"

#include <vector>

namespace uplinkd::plugins::sierra_bx310x {

std::string refusalWords(const RefusalFacts& f) {
    const bool mutual = f.tls && f.client.has_value();
    std::vector<std::string> checked;
    std::vector<std::string> causes;
    if (mutual) {
        checked.push_back("the key matches the certificate \"" + f.client->subject + "\"");
    }
    if (f.tls && !f.root_subject.empty()) {
        checked.push_back("tls.ca_file is a root CA (\"" + f.root_subject + "\", self-signed)");
    }
    bool clock_bad = false;
    std::string clock_words;
    if (mutual) {
        const std::string validity =
            isoTime(f.client->not_before) + " to " + isoTime(f.client->not_after);
        if (!f.clock) {
            clock_words =
                "the module's clock could not be read (AT+CCLK?); if it is outside the "
                "certificate's validity (" +
                validity + "), TLS fails";
        } else if (*f.clock < f.client->not_before || *f.clock > f.client->not_after) {
            clock_bad = true;
            clock_words = "the module's clock (" + isoTime(*f.clock) +
                          ") is outside the certificate's validity (" + validity +
                          "): set the module's clock (AT+CCLK) or renew the certificate";
        } else {
            checked.push_back("the module's clock (" + isoTime(*f.clock) +
                              ") is within the certificate's validity");
        }
    }
    if (clock_bad) {
        causes.push_back(clock_words);  // known to be wrong: the likeliest cause
    }
    if (mutual) {
        causes.push_back("the certificate \"" + f.client->subject +
                         "\" is not registered or not active in the cloud, or the cloud's policy "
                         "refuses client id \"" +
                         f.client_id +
                         "\" (AWS IoT closes the connection without a reason in both cases): "
                         "register and activate the certificate and attach a policy that allows "
                         "this client id to connect");
    } else {
        causes.push_back("the broker refused the client id \"" + f.client_id +
                         "\" or the credentials (username/password), or wants a client "
                         "certificate (tls.cert_file and tls.key_file)");
    }
    if (!clock_bad && !clock_words.empty()) {
        causes.push_back(clock_words);
    }
    causes.push_back(
        "port " + std::to_string(f.port) + " is not the broker's " +
        (f.tls ? "MQTT over TLS port (usually 8883)" : "plain MQTT port (usually 1883)"));

    std::string msg = "the connection to " + f.endpoint +
                      " was closed right after the module opened it (" + f.line + ").";
    if (!checked.empty()) {
        msg += " Checked by uplinkd:";
        for (size_t i = 0; i < checked.size(); ++i) {
            msg += (i == 0 ? " " : "; ") + checked[i];
        }
        msg += ".";
    }
    msg += " Probable causes, most likely first:";
    for (size_t i = 0; i < causes.size(); ++i) {
        msg += " " + std::to_string(i + 1) + ") " + causes[i] + (i + 1 < causes.size() ? ";" : ".");
    }
    return msg;
}

}  // namespace uplinkd::plugins::sierra_bx310x
