// SPDX-License-Identifier: Apache-2.0
// The MQTT text rules every cloud profile and the local API share: strict UTF-8, what makes a
// topic to publish on or a topic filter, broker host names and the "host[:port]" of
// endpoint_override. Cloud profiles add their own limits (lengths, levels, reserved prefixes,
// their words for refusing an address) after these. Pure (the
// ConfigTable reader only reports through the table). Thread: any.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "uplinkd/config_table.hpp"
#include "uplinkd/message.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::mqtt {

/// The most bytes an MQTT UTF-8 string (topic, filter, client id, ...) can hold.
inline constexpr size_t kMaxStringBytes = 65535;

/// True when `bytes` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
/// (U+D800-U+DFFF), nothing above U+10FFFF, no truncated sequence. NUL is allowed here.
bool validUtf8(std::string_view bytes);

/// True when `bytes` is valid UTF-8 without NUL: what MQTT allows in its UTF-8 strings.
bool isUtf8Text(std::string_view bytes);

/// A character that brokers refuse (often by closing the connection) although MQTT's UTF-8
/// rule lets it through: a control character (U+0000-U+001F, U+007F-U+009F) or a Unicode
/// noncharacter (U+FDD0-U+FDEF, and U+xFFFE / U+xFFFF of every plane).
struct ForbiddenChar {
    uint32_t code_point = 0;
    size_t position = 0;     ///< which character, counting from 1
    size_t byte_offset = 0;  ///< where it starts, counting bytes from 0
};

/// True for the code points described at ForbiddenChar.
bool isForbiddenCodePoint(uint32_t cp);

/// The first forbidden character of `text`, or nothing. Scanning stops at the first byte that is
/// not well-formed UTF-8 (validUtf8 reports those).
std::optional<ForbiddenChar> findForbiddenChar(std::string_view text);

/// "U+0001 (a control character) at character 3 (byte 2)".
std::string describeForbiddenChar(const ForbiddenChar& c);

/// Why `topic` cannot be a topic to publish on, or nothing: empty, '+' or '#' in it, longer
/// than 65535 bytes, not UTF-8 text, or a forbidden character (ForbiddenChar) in it.
std::optional<std::string> publishTopicProblem(std::string_view topic);

/// The check every front end (socket, D-Bus) runs before a message is queued: the topic
/// (publishTopicProblem, error "bad_topic") and every user-property key and value (UTF-8 text
/// without forbidden characters, error "bad_property"). The message names the character and
/// its position.
Status checkPublishText(std::string_view topic, const Properties& properties);

/// Why `filter` cannot be a topic filter, or nothing: empty, longer than 65535 bytes, not UTF-8
/// text, a '#' that is not a whole last level, or a '+' that is not a whole level.
std::optional<std::string> topicFilterProblem(std::string_view filter);

/// True when `topic` matches the MQTT topic filter `filter` ('+' one level, '#' the rest); a
/// leading wildcard does not match a '$' topic.
bool topicMatches(std::string_view filter, std::string_view topic);

/// Why `host` cannot be a broker's host name, or nothing: empty, with a scheme ("mqtts://"), with
/// a port ("write the host name only" + `port_note`, e.g. "; the port goes in port"), or with a
/// character that no host name has. An IPv4 address gets `ip_refusal` as the reason, unless that
/// is empty (addresses allowed). The reasons read after the key ("endpoint: is empty").
std::optional<std::string> hostNameProblem(std::string_view host, std::string_view port_note,
                                           std::string_view ip_refusal);

/// A host name or IPv4 address with an optional port.
struct HostPort {
    std::string host;
    std::optional<uint16_t> port;
};

/// Reads `key` = "host" or "host:port" (test brokers, private endpoints): a host name or IPv4
/// address without a scheme, a port from 1 to 65535. Absent: nothing. Malformed: reported on
/// `key`, nothing returned.
std::optional<HostPort> readHostPort(ConfigTable& table, std::string_view key);

}  // namespace uplinkd::mqtt
