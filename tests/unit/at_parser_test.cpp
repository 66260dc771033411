// SPDX-License-Identifier: Apache-2.0
// AtParser from tables: each case is fed whole, byte by byte and in random chunks, and must give
// the same transcript of events every time.
#include "modem/at_parser.hpp"

#include <gtest/gtest.h>

#include <random>

#include "modem/at_channel_impl.hpp"
#include "test_param_names.hpp"

namespace uplinkd {
namespace {

std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (u < 0x20 || u >= 0x7f) {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

/// Writes every event as text; begins the next command of the case when one ends.
class Recorder final : public AtParser::Sink {
  public:
    Recorder(AtParser& parser, std::vector<AtParser::Expect> commands)
        : parser_(parser), commands_(std::move(commands)) {
        next();
    }
    void prompt() override { out += "PROMPT;"; }
    void done(AtResponse r, AtParser::Outcome o) override {
        out += std::string("DONE(") +
               (o == AtParser::Outcome::Ok        ? "ok"
                : o == AtParser::Outcome::Error   ? "error"
                : o == AtParser::Outcome::Framing ? "framing"
                : o == AtParser::Outcome::Stalled ? "stalled"
                                                  : "noprompt") +
               ") final='" + escape(r.final) + "' lines=[";
        for (size_t i = 0; i < r.lines.size(); ++i) {
            out += (i ? "|" : "") + escape(r.lines[i]);
        }
        out += "]";
        if (!r.data.empty()) {
            out += " data='" + escape(r.data) + "'";
        }
        out += ";";
        next();
    }
    void urc(size_t index, const std::string& line, std::string data) override {
        out += "URC" + std::to_string(index) + " '" + escape(line) + "'";
        if (!data.empty()) {
            out += " data='" + escape(data) + "'";
        }
        out += ";";
    }
    void boot(size_t index, const std::string& line) override {
        out += "BOOT" + std::to_string(index) + " '" + escape(line) + "';";
        next();
    }
    void stray(const std::string&) override { out += "STRAY;"; }

    std::string out;

  private:
    void next() {
        if (!commands_.empty()) {
            parser_.begin(std::move(commands_.front()));
            commands_.erase(commands_.begin());
        }
    }
    AtParser& parser_;
    std::vector<AtParser::Expect> commands_;
};

struct UrcSpec {
    std::string prefix;
    bool with_data = false;  ///< the count is the last number of the line
    bool boot = false;       ///< a boot indication (AtParser::addBoot)
};

struct Case {
    const char* name;
    std::vector<AtParser::Expect> commands;
    std::vector<UrcSpec> urcs;
    std::string input;
    std::string expected;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

/// The last comma-separated number of a line ("+CCHRECV: DATA,0,12" → 12).
size_t lastNumber(const std::string& line) {
    return static_cast<size_t>(std::stoul(line.substr(line.rfind(',') + 1)));
}

/// The third number of "+CIPRXGET: 2,<link>,<read>,<rest>".
size_t ciprxgetRead(const std::string& line) {
    size_t pos = line.find(',');
    pos = line.find(',', pos + 1);
    return static_cast<size_t>(std::stoul(line.substr(pos + 1)));
}

AtParser::Expect cmd(std::string command, std::string prompt = "") {
    return AtParser::Expect{std::move(command), std::move(prompt), std::nullopt};
}

AtParser::Expect counted(std::string command, std::string header,
                         std::function<size_t(const std::string&)> count) {
    AtDataRead r;
    r.kind = AtDataRead::Kind::CountedAfterHeader;
    r.header = std::move(header);
    r.count = std::move(count);
    return AtParser::Expect{std::move(command), "", r};
}

AtParser::Expect pattern(std::string command, std::string terminator) {
    AtDataRead r;
    r.kind = AtDataRead::Kind::UntilPattern;
    r.terminator = std::move(terminator);
    return AtParser::Expect{std::move(command), "", r};
}

const std::string kEof = "--EOF--Pattern--";

/// AT+KTCPRCV-style: CONNECT, exactly `n` bytes, the pattern, the final result.
AtParser::Expect countedConnect(std::string command, size_t n) {
    AtDataRead r;
    r.kind = AtDataRead::Kind::CountedAfterConnect;
    r.length = n;
    r.terminator = kEof;
    return AtParser::Expect{std::move(command), "", r};
}

/// What a peer may send to make a pattern-scanning reader lose the frame.
const std::string kHostile = kEof + "\r\n+KTCP_NOTIF: 1,4\r\n\r\nOK\r\nERROR\r\n> CONNECT\r\n+++" +
                             "\r\n+KSUP: 0\r\n--EOF--Patt";

std::vector<Case> cases() {
    std::string garbage("\xff\x00\x13noise\x01\x80", 10);
    return {
        // Final results
        {"ok", {cmd("AT")}, {}, "\r\nOK\r\n", "DONE(ok) final='OK' lines=[];"},
        {"error", {cmd("AT+FOO")}, {}, "\r\nERROR\r\n", "DONE(error) final='ERROR' lines=[];"},
        {"cme error",
         {cmd("AT+KTCPCNX=9")},
         {},
         "\r\n+CME ERROR: 910\r\n",
         "DONE(error) final='+CME ERROR: 910' lines=[];"},
        {"cms error",
         {cmd("AT+CMGS=1")},
         {},
         "\r\n+CMS ERROR: 500\r\n",
         "DONE(error) final='+CMS ERROR: 500' lines=[];"},
        {"no carrier",
         {cmd("ATD*99#")},
         {},
         "\r\nNO CARRIER\r\n",
         "DONE(error) final='NO CARRIER' lines=[];"},
        {"information lines",
         {cmd("AT+CSQ")},
         {},
         "\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CSQ: 20,99];"},
        {"error after information (IP ERROR)",
         {cmd("AT+NETOPEN")},
         {},
         "\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n",
         "DONE(error) final='ERROR' lines=[+IP ERROR: Network is already opened];"},
        {"LF-only line ends",
         {cmd("AT+CSQ")},
         {},
         "\n+CSQ: 1,2\nOK\n",
         "DONE(ok) final='OK' lines=[+CSQ: 1,2];"},
        // Echo
        {"echo skipped",
         {cmd("AT+CSQ")},
         {},
         "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CSQ: 20,99];"},
        {"echo of ATE0", {cmd("ATE0")}, {}, "ATE0\r\r\nOK\r\n", "DONE(ok) final='OK' lines=[];"},
        {"echo after a URC",
         {cmd("AT+CSQ")},
         {{"+CEREG:"}},
         "\r\n+CEREG: 2\r\nAT+CSQ\r\r\n+CSQ: 9,9\r\n\r\nOK\r\n",
         "URC0 '+CEREG: 2';DONE(ok) final='OK' lines=[+CSQ: 9,9];"},
        // URCs
        {"URC between lines",
         {cmd("AT+CSQ")},
         {{"+CEREG:"}},
         "\r\n+CSQ: 20,99\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n",
         "URC0 '+CEREG: 1';DONE(ok) final='OK' lines=[+CSQ: 20,99];"},
        {"URC while idle", {}, {{"+KSUP:"}}, "\r\n+KSUP: 0\r\n", "URC0 '+KSUP: 0';"},
        {"unregistered line while idle", {}, {}, "\r\nRDY\r\n", "STRAY;"},
        {"late OK while idle is stray", {}, {}, "\r\nOK\r\n", "STRAY;"},
        {"own line is not a URC, the result after OK is",
         {cmd("AT+CIPOPEN=0,\"TCP\",\"h\",1")},
         {{"+CIPOPEN:"}},
         "\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n",
         "DONE(ok) final='OK' lines=[];URC0 '+CIPOPEN: 0,0';"},
        {"immediate refusal stays with the command",
         {cmd("AT+CIPOPEN=0,\"TCP\",\"h\",1")},
         {{"+CIPOPEN:"}},
         "\r\n+CIPOPEN: 0,2\r\n\r\nERROR\r\n",
         "DONE(error) final='ERROR' lines=[+CIPOPEN: 0,2];"},
        {"a more specific URC prefix wins over the command's own",
         {cmd("AT+CIPRXGET=4,0")},
         {{"+CIPRXGET: 1,"}},
         "\r\n+CIPRXGET: 1,0\r\n\r\n+CIPRXGET: 4,0,10\r\n\r\nOK\r\n",
         "URC0 '+CIPRXGET: 1,0';DONE(ok) final='OK' lines=[+CIPRXGET: 4,0,10];"},
        {"the longest URC prefix is chosen",
         {},
         {{"+KTCP"}, {"+KTCP_DATA:"}},
         "\r\n+KTCP_DATA: 1,5\r\n",
         "URC1 '+KTCP_DATA: 1,5';"},
        // Prompts
        {"prompt without CR LF",
         {cmd("AT+CIPSEND=0,5", ">")},
         {{"+CIPSEND:"}},
         "\r\n> \r\nOK\r\n\r\n+CIPSEND: 0,5,5\r\n",
         "PROMPT;DONE(ok) final='OK' lines=[];URC0 '+CIPSEND: 0,5,5';"},
        {"prompt after the echo",
         {cmd("AT+CCHSEND=0,3", ">")},
         {},
         "AT+CCHSEND=0,3\r\r\n>\r\nOK\r\n",
         "PROMPT;DONE(ok) final='OK' lines=[];"},
        {"CONNECT prompt",
         {cmd("AT+KTCPSND=1,5", "CONNECT")},
         {},
         "\r\nCONNECT\r\n\r\nOK\r\n",
         "PROMPT;DONE(ok) final='OK' lines=[];"},
        {"URC in a data phase waits for the final result",
         {cmd("AT+KTCPSND=1,5", "CONNECT")},
         {{"+KTCP_DATA:"}},
         "\r\nCONNECT\r\n\r\n+KTCP_DATA: 1,10\r\n\r\nOK\r\n",
         "PROMPT;DONE(ok) final='OK' lines=[];URC0 '+KTCP_DATA: 1,10';"},
        {"URC before the prompt is delivered at once",
         {cmd("AT+CIPSEND=0,5", ">")},
         {{"+CEREG:"}},
         "\r\n+CEREG: 5\r\n\r\n> \r\nOK\r\n",
         "URC0 '+CEREG: 5';PROMPT;DONE(ok) final='OK' lines=[];"},
        {"OK without the prompt",
         {cmd("AT+CIPSEND=0,5", ">")},
         {},
         "\r\nOK\r\n",
         "DONE(noprompt) final='OK' lines=[];"},
        {"error instead of the prompt",
         {cmd("AT+KTCPSND=9,5", "CONNECT")},
         {},
         "\r\n+CME ERROR: 910\r\n",
         "DONE(error) final='+CME ERROR: 910' lines=[];"},
        // Counted data
        {"counted data containing CR LF OK CR LF",
         {counted("AT+CIPRXGET=2,0,10", "+CIPRXGET: 2,", ciprxgetRead)},
         {},
         "\r\n+CIPRXGET: 2,0,10,0\r\nab\r\nOK\r\nxy\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CIPRXGET: 2,0,10,0] data='ab\\r\\nOK\\r\\nxy';"},
        {"counted data that starts with LF",
         {counted("AT+CIPRXGET=2,0,4", "+CIPRXGET: 2,", ciprxgetRead)},
         {},
         "\r\n+CIPRXGET: 2,0,4,0\r\n\nabc\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CIPRXGET: 2,0,4,0] data='\\nabc';"},
        {"counted binary data with every byte value",
         {counted("AT+CIPRXGET=2,0,6", "+CIPRXGET: 2,", ciprxgetRead)},
         {},
         "\r\n+CIPRXGET: 2,0,6,0\r\n" + std::string("\x00\xff\r\x1a>\n", 6) + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CIPRXGET: 2,0,6,0] data='\\x00\\xff\\r\\x1a>\\n';"},
        {"URC with data",
         {cmd("AT+CCHRECV=0")},
         {{"+CCHRECV:"}, {"+CCHRECV: DATA,", true}},
         "\r\nOK\r\n\r\n+CCHRECV: DATA,0,6\r\n\r\nOK\r\n\r\n+CCHRECV: 0,0\r\n",
         "DONE(ok) final='OK' lines=[];URC1 '+CCHRECV: DATA,0,6' data='\\r\\nOK\\r\\n';URC0 "
         "'+CCHRECV: 0,0';"},
        {"URC with data during a command",
         {cmd("AT+CSQ")},
         {{"+CCHRECV: DATA,", true}},
         "\r\n+CCHRECV: DATA,1,3\r\nOK\r\n+CSQ: 1,1\r\n\r\nOK\r\n",
         "URC0 '+CCHRECV: DATA,1,3' data='OK\\r';DONE(ok) final='OK' lines=[+CSQ: 1,1];"},
        // Pattern-terminated data
        {"pattern-terminated data",
         {pattern("AT+KTCPRCV=1,100", kEof)},
         {},
         "\r\nCONNECT\r\nhello\r\nOK\r\n" + kEof + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[] data='hello\\r\\nOK\\r\\n';"},
        {"pattern-terminated data with a near miss",
         {pattern("AT+KTCPRCV=1,100", kEof)},
         {},
         "\r\nCONNECT\r\n--EOF--Patter!--" + kEof + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[] data='--EOF--Patter!--';"},
        {"pattern-terminated, nothing buffered",
         {pattern("AT+KTCPRCV=1,100", kEof)},
         {},
         "\r\nCONNECT\r\n" + kEof + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[];"},
        // Counted after CONNECT: the count decides, never the bytes
        {"counted after CONNECT: pattern, URCs and results inside the data",
         {countedConnect("AT+KTCPRCV=1," + std::to_string(kHostile.size()), kHostile.size())},
         {{"+KTCP_NOTIF:"}, {"+KSUP:", false, true}},
         "\r\nCONNECT\r\n" + kHostile + kEof + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[] data='" + escape(kHostile) + "';"},
        {"counted after CONNECT: data that is just the pattern",
         {countedConnect("AT+KTCPRCV=1,16", 16)},
         {},
         "\r\nCONNECT\r\n" + kEof + kEof + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[] data='" + kEof + "';"},
        {"counted after CONNECT: a URC after the frame is delivered after OK",
         {countedConnect("AT+KTCPRCV=1,3", 3)},
         {{"+KTCP_DATA:"}},
         "\r\nCONNECT\r\nabc" + kEof + "\r\n+KTCP_DATA: 1,9\r\n\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[] data='abc';URC0 '+KTCP_DATA: 1,9';"},
        {"counted after CONNECT: no pattern after the count is a framing error",
         {countedConnect("AT+KTCPRCV=1,3", 3), cmd("AT")},
         {{"+KTCP_NOTIF:"}},
         "\r\nCONNECT\r\nabcde\r\n+KTCP_NOTIF: 1,4\r\nOK\r\n\r\nOK\r\n",
         "STRAY;STRAY;DONE(framing) final='the module did not end the 3 data bytes of "
         "AT+KTCPRCV=1,3 with --EOF--Pattern-- (then OK)' lines=[] data='abc';DONE(ok) "
         "final='OK' lines=[];"},
        {"counted after CONNECT: an error instead of CONNECT",
         {countedConnect("AT+KTCPRCV=9,3", 3)},
         {},
         "\r\n+CME ERROR: 910\r\n",
         "DONE(error) final='+CME ERROR: 910' lines=[];"},
        {"a restart inside a counted read: the boot indication where the pattern belongs",
         {countedConnect("AT+KTCPRCV=1,4", 4), cmd("ATE0")},
         {{"+KSUP:", false, true}},
         "\r\nCONNECT\r\nx\r\n+KSUP: 0\r\nATE0\r\r\nOK\r\n",
         "BOOT0 '+KSUP: 0';DONE(ok) final='OK' lines=[];"},
        // Boot indications
        {"boot indication while idle",
         {},
         {{"*ATREADY:", false, true}},
         "\r\n*ATREADY: 1\r\n",
         "BOOT0 '*ATREADY: 1';"},
        {"boot indication fails the command in its data phase and drops held URCs",
         {cmd("AT+KTCPSND=1,5", "CONNECT"), cmd("ATE0")},
         {{"+KTCP_DATA:"}, {"+KSUP:", false, true}},
         "\r\nCONNECT\r\n\r\n+KTCP_DATA: 1,3\r\n\r\n+KSUP: 0\r\nATE0\r\r\nOK\r\n",
         "PROMPT;BOOT0 '+KSUP: 0';DONE(ok) final='OK' lines=[];"},
        {"boot indication after restart noise",
         {cmd("AT+CSQ")},
         {{"+KSUP:", false, true}},
         std::string("\r\n\x00\xff\xfe+KSUP: 0\r\n", 15),
         "BOOT0 '" + escape(std::string("\x00\xff\xfe+KSUP: 0", 11)) + "';"},
        {"boot indication inside counted data is data",
         {counted("AT+CIPRXGET=2,0,13", "+CIPRXGET: 2,", ciprxgetRead)},
         {{"*ATREADY:", false, true}},
         "\r\n+CIPRXGET: 2,0,13,0\r\n*ATREADY: 1\r\n\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CIPRXGET: 2,0,13,0] data='*ATREADY: 1\\r\\n';"},
        // Noise
        {"garbage before a response",
         {cmd("AT+CSQ")},
         {},
         garbage + "\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
         "STRAY;DONE(ok) final='OK' lines=[+CSQ: 20,99];"},
        {"garbage glued to the echo",
         {cmd("AT+CSQ")},
         {},
         "\x80\x81\x82"
         "AT+CSQ\r\r\n+CSQ: 1,1\r\n\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[+CSQ: 1,1];"},
        {"an overlong line is dropped",
         {cmd("AT")},
         {},
         std::string(5000, 'x') + "\r\nOK\r\n",
         "STRAY;DONE(ok) final='OK' lines=[];"},
        {"the LF of a final result arrives after the next command was sent",
         {cmd("AT"), countedConnect("AT+KTCPRCV=1,4", 4)},
         {},
         "\r\nOK\r\nAT+KTCPRCV=1,4\r\r\nCONNECT\r\n\nOK\r" + kEof + "\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[];DONE(ok) final='OK' lines=[] data='\\nOK\\r';"},
        // Queue
        {"commands one after another",
         {cmd("AT"), cmd("AT+CSQ")},
         {},
         "\r\nOK\r\n\r\n+CSQ: 1,1\r\n\r\nOK\r\n",
         "DONE(ok) final='OK' lines=[];DONE(ok) final='OK' lines=[+CSQ: 1,1];"},
    };
}

std::string run(const Case& c, const std::vector<size_t>& chunks) {
    AtParser parser;
    for (const auto& u : c.urcs) {
        if (u.boot) {
            parser.addBoot(u.prefix);
        } else if (u.with_data) {
            parser.addUrc(u.prefix, lastNumber);
        } else {
            parser.addUrc(u.prefix);
        }
    }
    Recorder rec(parser, c.commands);
    size_t pos = 0;
    for (size_t n : chunks) {
        parser.feed(std::string_view(c.input).substr(pos, n), rec);
        pos += n;
    }
    return rec.out;
}

class AtParserTable : public ::testing::TestWithParam<Case> {};

TEST_P(AtParserTable, GivesTheSameEventsInAnyChunking) {
    const Case& c = GetParam();
    const size_t n = c.input.size();
    EXPECT_EQ(run(c, {n}), c.expected) << "whole";
    EXPECT_EQ(run(c, std::vector<size_t>(n, 1)), c.expected) << "byte by byte";
    std::mt19937 rng(12345);
    for (int round = 0; round < 50; ++round) {
        std::vector<size_t> chunks;
        size_t left = n;
        while (left > 0) {
            const size_t k = std::min(left, std::uniform_int_distribution<size_t>(1, 9)(rng));
            chunks.push_back(k);
            left -= k;
        }
        EXPECT_EQ(run(c, chunks), c.expected) << "random chunks, round " << round;
    }
}

INSTANTIATE_TEST_SUITE_P(Table, AtParserTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& p) {
                             return testing::paramName(p.param.name);
                         });

TEST(AtParser, FinalResultTable) {
    const std::vector<std::pair<std::string, std::optional<AtFinalKind>>> table{
        {"OK", AtFinalKind::Success},
        {"OK  ", AtFinalKind::Success},
        {"ERROR", AtFinalKind::Failure},
        {"+CME ERROR: 10", AtFinalKind::Failure},
        {"+CME ERROR: SIM not inserted", AtFinalKind::Failure},
        {"+CMS ERROR: 500", AtFinalKind::Failure},
        {"NO CARRIER", AtFinalKind::Failure},
        {"BUSY", AtFinalKind::Failure},
        {"SEND OK", AtFinalKind::Success},
        {"SEND FAIL", AtFinalKind::Failure},
        {"SEND OKAY", std::nullopt},
        {"+IP ERROR: No data", std::nullopt},
        {"OKAY", std::nullopt},
        {"CONNECT", std::nullopt},
        {"+CSQ: 20,99", std::nullopt},
    };
    for (const auto& [line, kind] : table) {
        EXPECT_EQ(atFinalResult(line), kind) << line;
    }
}

TEST(AtParser, DeclaredFinalResultFormsComeBeforeTheStandardTable) {
    AtParser parser;
    EXPECT_EQ(parser.finalResult("AT-S.OK"), std::nullopt) << "not declared: not final";
    EXPECT_EQ(parser.finalResult("OK"), AtFinalKind::Success);
    parser.addFinal(AtFinalForm{"AT-S.OK", false, true});
    parser.addFinal(AtFinalForm{"AT-S.ERROR:", true, false});
    const std::vector<std::pair<std::string, std::optional<AtFinalKind>>> table{
        {"AT-S.OK", AtFinalKind::Success},
        {"AT-S.OK ", AtFinalKind::Success},
        {"AT-S.ERROR:44:Network not ready", AtFinalKind::Failure},
        {"AT-S.ERROR:77:Pending data", AtFinalKind::Failure},
        {"AT-S.OKAY", std::nullopt},
        {"AT-S.On:10.0.0.1:0", std::nullopt},
        {"AT-S.Reading:5:5", std::nullopt},
        {"AT-S.Var:ip_ipaddr=1.2.3.4", std::nullopt},
        {"+WIND:24:WiFi Up:1:10.0.0.5", std::nullopt},
        {"OK", AtFinalKind::Success},
        {"+CME ERROR: 3", AtFinalKind::Failure},
    };
    for (const auto& [line, kind] : table) {
        EXPECT_EQ(parser.finalResult(line), kind) << line;
    }
    parser.clearUrcs();
    EXPECT_EQ(parser.finalResult("AT-S.OK"), std::nullopt) << "forgotten with the URCs";
}

TEST(AtParser, ADialectsFinalsEndCommandsInAnyChunking) {
    // SPWF04-style: an information line, a counted read whose data holds the dialect's finals,
    // a failure with its code, and a URC in between.
    const std::string input =
        "\r\nAT-S.Var:ip_ipaddr=1.2.3.4\r\nAT-S.OK\r\n"
        "\r\nAT-S.Reading:9:9\r\nAT-S.OK\r\n\r\nAT-S.OK\r\n"
        "\r\n+WIND:55:Pending Data:0:3:3\r\n\r\nAT-S.ERROR:77:Pending data\r\n";
    const std::string expected =
        "DONE(ok) final='AT-S.OK' lines=[AT-S.Var:ip_ipaddr=1.2.3.4];"
        "DONE(ok) final='AT-S.OK' lines=[AT-S.Reading:9:9] data='AT-S.OK\\r\\n';"
        "URC0 '+WIND:55:Pending Data:0:3:3';"
        "DONE(error) final='AT-S.ERROR:77:Pending data' lines=[];";
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
        AtParser parser;
        parser.addFinal(AtFinalForm{"AT-S.OK", false, true});
        parser.addFinal(AtFinalForm{"AT-S.ERROR:", true, false});
        parser.addUrc("+WIND:55:");
        AtDataRead r;
        r.kind = AtDataRead::Kind::CountedAfterHeader;
        r.header = "AT-S.Reading:";
        r.count = [](const std::string& line) {
            return static_cast<size_t>(std::stoul(line.substr(line.find(':') + 1)));
        };
        Recorder rec(parser, {cmd("AT+S.GCFG=ip_ipaddr"), AtParser::Expect{"AT+S.SOCKR=0,9", "", r},
                              cmd("AT+S.SOCKC=0")});
        size_t pos = 0;
        while (pos < input.size()) {
            const size_t k =
                round == 0 ? input.size() : std::uniform_int_distribution<size_t>(1, 7)(rng);
            parser.feed(std::string_view(input).substr(pos, k), rec);
            pos += std::min(k, input.size() - pos);
        }
        EXPECT_EQ(rec.out, expected) << "round " << round;
    }
}

TEST(AtParser, CommandNamesAndRedaction) {
    EXPECT_EQ(atCommandName("AT+CIPOPEN=0,\"TCP\",\"h\",1"), "+CIPOPEN");
    EXPECT_EQ(atCommandName("at+csq"), "+CSQ");
    EXPECT_EQ(atCommandName("AT+CSSLCFG?"), "+CSSLCFG");
    EXPECT_EQ(atCommandName("ATE0"), "");
    EXPECT_EQ(atCommandName("AT"), "");
    EXPECT_EQ(redactAtCommand("AT+CPIN=\"1234\""), "AT+CPIN=…");
    EXPECT_EQ(redactAtCommand("AT+KCNXCFG=1,\"GPRS\",\"apn\",\"user\",\"secret\""), "AT+KCNXCFG=…");
    EXPECT_EQ(redactAtCommand("AT+CGAUTH=1,1,\"u\",\"p\""), "AT+CGAUTH=…");
    EXPECT_EQ(redactAtCommand("AT+SRWSTACFG=\"net\",\"passphrase\",1"), "AT+SRWSTACFG=…");
    EXPECT_EQ(redactAtCommand("AT+CPIN?"), "AT+CPIN?");
    EXPECT_EQ(redactAtCommand("AT+CSQ"), "AT+CSQ");
    EXPECT_EQ(redactAtCommand("AT+S.SCFG=wifi_wpa_psk_text,secret"), "AT+S.SCFG=…");
    EXPECT_EQ(redactAtCommand("AT+S.MQTTCONN=h,8883,,1,u,secret,c,60,,,,"), "AT+S.MQTTCONN=…");
}

TEST(AtParser, CancelForgetsThePendingCommandAndPartialInput) {
    AtParser parser;
    Recorder rec(parser, {counted("AT+CIPRXGET=2,0,10", "+CIPRXGET: 2,", ciprxgetRead)});
    parser.feed("\r\n+CIPRXGET: 2,0,10,0\r\nabc", rec);  // stuck in the middle of the data
    parser.cancel();
    EXPECT_FALSE(parser.pending());
    parser.begin(cmd("AT"));
    parser.feed("\r\nOK\r\n", rec);
    EXPECT_EQ(rec.out, "DONE(ok) final='OK' lines=[];");
}

TEST(AtParser, AStalledBlockIsAbandonedAndABootInsideItIsTheRestart) {
    AtParser parser;
    parser.addBoot("+KSUP:");
    Recorder rec(parser, {countedConnect("AT+KTCPRCV=1,100", 100), cmd("AT")});
    // The module restarted after 5 of 100 bytes: its boot indication arrives as "data".
    parser.feed("\r\nCONNECT\r\nhello\r\n+KSUP: 0\r\n", rec);
    EXPECT_TRUE(parser.inRawData());
    EXPECT_EQ(rec.out, "");
    parser.abandonRaw(rec);
    EXPECT_EQ(rec.out, "BOOT0 '+KSUP: 0';");
    EXPECT_FALSE(parser.inRawData());
    parser.feed("\r\nOK\r\n", rec);
    EXPECT_EQ(rec.out, "BOOT0 '+KSUP: 0';DONE(ok) final='OK' lines=[];");
}

TEST(AtParser, AStalledBlockWithoutABootEndsTheCommandAsStalled) {
    AtParser parser;
    parser.addBoot("+KSUP:");
    Recorder rec(parser, {countedConnect("AT+KTCPRCV=1,100", 100)});
    // "+KSUP: 0" inside the data but not at a line start: not a restart.
    parser.feed("\r\nCONNECT\r\nab+KSUP: 0", rec);
    parser.abandonRaw(rec);
    EXPECT_EQ(rec.out,
              "DONE(stalled) final='the module stopped sending in the middle of the data of "
              "AT+KTCPRCV=1,100 (after 10 bytes)' lines=[];");
    EXPECT_FALSE(parser.inRawData());
}

TEST(AtParser, GarbageDetection) {
    EXPECT_FALSE(atLineIsGarbage("+COPS: 0,0,\"Telekom.de\",7"));
    EXPECT_FALSE(atLineIsGarbage("Opérateur"));
    EXPECT_TRUE(atLineIsGarbage(std::string("a\0b", 3)));
    EXPECT_TRUE(atLineIsGarbage("\xff\xfe"));
    EXPECT_TRUE(atLineIsGarbage("abc\x1b[0m"));
}

}  // namespace
}  // namespace uplinkd
