// SPDX-License-Identifier: Apache-2.0
// Bg9xModel: AT+QMTCFG, the MQTT client settings (version, ssl, keepalive, session, timeout,
// will, recv/mode, pdpcid), set or queried per client.
#include "model_bg9x.hpp"

namespace uplinkd::emulator {

void Bg9xModel::addMqttConfigCommand() {
    const std::vector<std::string> qmtcfg_test = {
        "+QMTCFG: \"version\",(0-5),(3,4)",
        "+QMTCFG: \"pdpcid\",(0-5),(1-16)",
        "+QMTCFG: \"ssl\",(0-5),(0,1),(0-5)",
        "+QMTCFG: \"keepalive\",(0-5),(0-3600)",
        "+QMTCFG: \"session\",(0-5),(0,1)",
        "+QMTCFG: \"timeout\",(0-5),(1-60),(0-10),(0,1)",
        "+QMTCFG: \"will\",(0-5),(0,1),(0-2),(0,1),\"<will_topic>\",\"<will_msg>\"",
        "+QMTCFG: \"recv/mode\",(0-5),(0,1),(0,1)"};
    addCommand("+QMTCFG", qmtcfg_test, [this](const AtCommand& c) {
        auto id = c.intArg(1);
        if (c.kind != AtKind::Set || !c.quoted(0) || !id || *id < 0 || *id >= kMqttClients) {
            return Final::error();
        }
        MqttClient& m = mqtt_[static_cast<size_t>(*id)];
        const std::string key = c.str(0);
        const std::string head = "+QMTCFG: \"" + key + "\",";
        const bool query = c.argc() == 2;
        // Integer fields from argument 2 on, each with its range; all or none must be given.
        auto numbers = [&](std::initializer_list<std::tuple<int*, long, long>> fields) {
            if (query) {
                std::string line = head;
                bool first = true;
                for (const auto& f : fields) {
                    line += (first ? "" : ",") + std::to_string(*std::get<0>(f));
                    first = false;
                }
                respond(line);
                return Final::ok();
            }
            if (c.argc() != 2 + fields.size()) {
                return Final::error();
            }
            size_t i = 2;
            for (const auto& f : fields) {
                auto v = c.intArg(i++);
                if (!v || *v < std::get<1>(f) || *v > std::get<2>(f)) {
                    return Final::error();
                }
            }
            i = 2;
            for (const auto& f : fields) {
                *std::get<0>(f) = static_cast<int>(*c.intArg(i++));
            }
            return Final::ok();
        };
        if (key == "version") {
            return numbers({{&m.version, 3, 4}});
        }
        if (key == "pdpcid") {
            return numbers({{&m.pdp, 1, kPdpContexts}});
        }
        if (key == "keepalive") {
            return numbers({{&m.keepalive, 0, 3600}});
        }
        if (key == "ssl") {
            int enable = m.ssl ? 1 : 0;
            int ctx = m.ssl_ctx;
            Final f = c.argc() == 3 ? numbers({{&enable, 0, 1}})  // "ssl",c,0 without a context
                                    : numbers({{&enable, 0, 1}, {&ctx, 0, kSslContexts - 1}});
            m.ssl = enable == 1;
            m.ssl_ctx = ctx;
            return f;
        }
        if (key == "session") {
            int clean = m.clean ? 1 : 0;
            Final f = numbers({{&clean, 0, 1}});
            m.clean = clean == 1;
            return f;
        }
        if (key == "timeout") {
            int notice = 0;
            return numbers({{&m.pkt_timeout, 1, 60}, {&m.retries, 0, 10}, {&notice, 0, 1}});
        }
        if (key == "recv/mode") {
            if (!query && c.argc() == 3) {
                return numbers({{&m.recv_mode, 0, 1}});
            }
            return numbers({{&m.recv_mode, 0, 1}, {&m.recv_len, 0, 1}});
        }
        if (key == "will") {
            if (query) {
                respond(head + (m.will ? "1," + std::to_string(m.will->qos) + "," +
                                             (m.will->retain ? "1" : "0") + ",\"" + m.will->topic +
                                             "\",\"" + m.will->payload + "\""
                                       : std::string("0")));
                return Final::ok();
            }
            auto flag = c.intArg(2);
            if (flag && *flag == 0 && c.argc() == 3) {
                m.will.reset();
                return Final::ok();
            }
            auto qos = c.intArg(3);
            auto retain = c.intArg(4);
            if (!flag || *flag != 1 || !qos || *qos < 0 || *qos > 2 || !retain || *retain < 0 ||
                *retain > 1 || c.argc() != 7 || !c.quoted(5) || c.str(5).empty() || !c.quoted(6)) {
                return Final::error();
            }
            m.will = MqttWill{c.str(5), c.str(6), static_cast<int>(*qos), *retain == 1};
            return Final::ok();
        }
        return Final::error();
    });
}

}  // namespace uplinkd::emulator
