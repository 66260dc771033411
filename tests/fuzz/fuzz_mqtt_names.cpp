// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the MQTT name rules (UTF-8, topics, filters, host names) and topic matching. The
// input is split at its first NUL into a filter and a topic.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/protocol.hpp"
#include "uplinkd/mqtt_names.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    namespace m = uplinkd::mqtt;
    const bool utf8 = m::validUtf8(in);
    if (m::isUtf8Text(in) && !utf8) {
        __builtin_trap();
    }
    (void)m::publishTopicProblem(in);
    (void)m::topicFilterProblem(in);
    (void)m::hostNameProblem(in, "; the port goes in port", "an IP address is not allowed");
    (void)m::hostNameProblem(in, "", "");
    (void)uplinkd::api::isPrintableUtf8(in);
    const size_t nul = in.find('\0');
    const std::string_view filter = in.substr(0, nul);
    const std::string_view topic = nul == std::string_view::npos ? in : in.substr(nul + 1);
    const bool matches = uplinkd::api::topicMatches(filter, topic);
    // A valid topic always matches itself and "#".
    if (!m::publishTopicProblem(topic) && topic.front() != '$') {
        if (!uplinkd::api::topicMatches(topic, topic) || !uplinkd::api::topicMatches("#", topic)) {
            __builtin_trap();
        }
    }
    (void)matches;
    return 0;
}
