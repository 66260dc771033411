// SPDX-License-Identifier: Apache-2.0
// Fuzz target: bytes from a module's UART, as the AT parser sees them. The first byte picks
// what the pending command expects (nothing, a ">" prompt, CONNECT with raw bytes up to an end
// pattern, a counted read after a header line, or CONNECT with a counted read then the end
// pattern) and the chunking; URCs of each kind (plain, and with counted raw bytes) and boot
// indications are registered. A command that ends is followed by the next, and one input may
// cancel halfway (a timeout) or go silent inside a raw block.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "modem/at_parser.hpp"

namespace {

/// The number after the last ',' of a header line ("+CIPRXGET: 2,0,12,0" → 0, "...: 2,0,12" →
/// 12): a count taken from the module, as the drivers take it.
size_t countAfterLastComma(const std::string& line) {
    const size_t comma = line.rfind(',');
    if (comma == std::string::npos) {
        return 0;
    }
    return std::strtoul(line.c_str() + comma + 1, nullptr, 10);
}

uplinkd::AtParser::Expect expectFor(unsigned mode) {
    uplinkd::AtParser::Expect e;
    switch (mode % 5) {
        case 0:
            e.command = "AT+CSQ";
            break;
        case 1:
            e.command = "AT+CIPSEND=0,5";
            e.prompt = ">";
            break;
        case 2: {
            e.command = "AT+KTCPRCV=1,32";
            e.prompt = "CONNECT";
            uplinkd::AtDataRead r;
            r.kind = uplinkd::AtDataRead::Kind::UntilPattern;
            r.terminator = "--EOF--Pattern--";
            e.read = std::move(r);
            break;
        }
        case 3: {
            e.command = "AT+KTCPRCV=1,12";
            e.prompt = "CONNECT";
            uplinkd::AtDataRead r;
            r.kind = uplinkd::AtDataRead::Kind::CountedAfterConnect;
            r.length = 12;
            r.terminator = "--EOF--Pattern--";
            e.read = std::move(r);
            break;
        }
        default: {
            e.command = "AT+CIPRXGET=2,0,32";
            uplinkd::AtDataRead r;
            r.kind = uplinkd::AtDataRead::Kind::CountedAfterHeader;
            r.header = "+CIPRXGET: 2,";
            r.count = countAfterLastComma;
            e.read = std::move(r);
            break;
        }
    }
    return e;
}

class Sink final : public uplinkd::AtParser::Sink {
  public:
    Sink(uplinkd::AtParser& parser, unsigned mode) : parser_(parser), mode_(mode) {}
    void prompt() override {}
    void done(uplinkd::AtResponse, uplinkd::AtParser::Outcome) override {
        if (++commands_ < 8) {
            parser_.begin(expectFor(mode_ + commands_));
        }
    }
    void urc(size_t, const std::string&, std::string) override {}
    void boot(size_t, const std::string&) override {
        // As the channel does: the command written before the reboot will not be answered.
        parser_.dropPending();
        if (++commands_ < 8) {
            parser_.begin(expectFor(mode_ + commands_));
        }
    }

  private:
    uplinkd::AtParser& parser_;
    unsigned mode_;
    int commands_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) {
        return 0;
    }
    const unsigned mode = data[0];
    const size_t chunk = 1 + data[1] % 32;
    const bool cancel_halfway = (data[1] & 0x80) != 0;
    std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
    const size_t half = in.size() / 2;

    uplinkd::AtParser parser;
    parser.addUrc("+CIPRXGET: 1");
    parser.addUrc("+QIURC:");
    parser.addUrc("+KTCP_DATA:", countAfterLastComma);
    parser.addBoot("+KSUP:");
    parser.addBoot("RDY");
    Sink sink(parser, mode);
    parser.begin(expectFor(mode));
    size_t fed = 0;
    while (!in.empty()) {
        const size_t n = std::min(chunk, in.size());
        parser.feed(in.substr(0, n), sink);
        in.remove_prefix(n);
        if (cancel_halfway && fed < half && fed + n >= half) {
            if (parser.inRawData() && (mode & 0x80) != 0) {
                parser.abandonRaw(sink);  // the module went silent inside the block
            } else {
                parser.cancel();
                parser.begin(expectFor(mode + 1));
            }
        }
        fed += n;
    }
    return 0;
}
