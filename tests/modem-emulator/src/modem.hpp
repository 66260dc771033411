// SPDX-License-Identifier: Apache-2.0
// Modem: the emulated module's AT engine: power/boot, command dispatch from a table, data
// phases, URC holding, 27.007 basics. Models (HL78, A76xx) derive from it.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "at_command.hpp"
#include "cert_store.hpp"
#include "data_phase.hpp"
#include "fault_plan.hpp"
#include "line_assembler.hpp"
#include "pty_port.hpp"
#include "trace_log.hpp"

namespace uplinkd::emulator {

/// The data prompt of the SIMCom and Quectel send commands: the host then writes the data.
inline constexpr const char* kDataPrompt = "\r\n> ";

/// Settings common to every model.
struct ModemOptions {
    std::string variant;                           ///< "HL7802", "A7670E", ... ("" = model default)
    std::chrono::milliseconds boot_time{100};      ///< power-on / reboot to boot URCs
    std::chrono::milliseconds register_time{300};  ///< boot URCs (or radio on) to registration
    std::chrono::milliseconds bearer_time{100};    ///< KCNXUP / NETOPEN to bearer up
    int max_sessions = 6;                          ///< HL78 KTCPCFG sessions at once
    std::chrono::milliseconds connect_timeout{20000};
    std::chrono::milliseconds tls_fail_delay{20000};  ///< A76xx MQTT: handshake failure report
};

/// Who a model says it is (AT+CGMI; AT+CGMM unless ModemOptions::variant names another).
struct ModemMaker {
    std::string manufacturer;
    std::string model;  ///< the default variant
};

/// A command's final result: OK, ERROR, +CME ERROR: <code>, a model's own final line (Quectel
/// `SEND OK`), or Pending (a data phase runs and its completion decides).
struct Final {
    enum class Kind { Ok, Error, Cme, Pending, Text, Deferred };
    Kind kind = Kind::Ok;
    int code = 0;
    std::string text;  ///< Kind::Text: the final result line

    static Final ok() { return {Kind::Ok, 0, {}}; }
    static Final error() { return {Kind::Error, 0, {}}; }
    static Final cme(int code) { return {Kind::Cme, code, {}}; }
    static Final pending() { return {Kind::Pending, 0, {}}; }
    static Final line(std::string text) { return {Kind::Text, 0, std::move(text)}; }
    /// The command waits for something (a connect): no final result yet, URCs stay held and
    /// further input waits until the model calls finishDeferred().
    static Final deferred() { return {Kind::Deferred, 0, {}}; }
};

/// The AT engine of an emulated module, base of the models; loop-bound (single thread).
/// Bytes come in from the PtyPort, lines are dispatched through a table (name → handler),
/// answers and URCs go back out. URCs are held while a command runs or a data phase
/// (`CONNECT` / `>`) is open, then emitted.
class Modem {
  public:
    Modem(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log, ModemOptions opts,
          ModemMaker maker);
    virtual ~Modem();
    Modem(const Modem&) = delete;
    Modem& operator=(const Modem&) = delete;

    /// Bytes from the host (the client of the pty).
    void onBytes(std::string_view bytes);

    // Control (fault injection and power), see the control socket.
    void powerOn();
    void powerOff();
    void reset();
    /// An unexpected reboot (crash): the command in flight is abandoned, queued output still
    /// drains. False when the module is off.
    bool reboot();
    void setSilent(bool silent);
    /// Arms a hang or reboot after `n` more data-phase bytes in one direction.
    void armDataFault(FaultPlan::Direction d, FaultPlan::Action a, size_t n);
    /// Final results lose their LF for `ms` (0 = off).
    void setSplitFinal(unsigned ms);
    /// `fault none`: clears silent, armed data faults and split-final.
    void clearFaults();
    /// `set register-ms|bearer-ms|boot-ms N`; false for an unknown key.
    bool setTime(const std::string& key, unsigned ms);
    /// `set max-sessions N`; false when the model has no such limit.
    virtual bool setMaxSessions(int n);
    void injectGarbage(size_t n);
    void injectUrc(const std::string& line);
    void setRegistration(int stat);
    void setSignal(int rssi);
    /// `sim absent|present`: without a SIM, AT+CPIN? answers +CME ERROR: 10 and the module does
    /// not register (stat 0). The card stays out across reboots, as a physical one would.
    void setSim(bool present);
    /// Closes every host connection as if the far end had: remote-close URCs follow.
    virtual void dropLinks() = 0;

    virtual const char* modelName() const = 0;
    /// A control-socket line the model handles itself (model faults and settings); nullopt
    /// when the model does not know it (the emulator's own commands apply).
    virtual std::optional<std::string> modelControl(const std::string& line);
    /// Status for the control socket (model, power, counters, sockets, certificates).
    nlohmann::json status() const;

  protected:
    using Handler = std::function<Final(const AtCommand&)>;
    using PhaseDone = std::function<Final(const DataPhase&)>;

    /// Registers (or replaces) the handler for a command name ("+CSQ", "E", "" for bare AT).
    void addCommand(const std::string& name, Handler handler);
    /// The same for a command whose Test form (AT<name>=?) has a fixed answer: the `test` lines
    /// (none: OK alone), then OK. `handler` runs for the other forms.
    void addCommand(const std::string& name, std::vector<std::string> test, Handler handler);
    /// Unregisters a command (a model without it answers ERROR, as for any unknown command).
    void removeCommand(const std::string& name) { commands_.erase(name); }
    /// The final result of a command line that does not parse (default: ERROR); a model may
    /// answer some malformed lines its own way.
    virtual Final malformedLine(const std::string& body);
    /// One response line, framed "\r\n<line>\r\n", sent now.
    void respond(std::string_view line);
    /// Raw bytes sent now (framing the model writes itself); `trace` describes them.
    void respondRaw(std::string_view bytes, std::string_view trace);
    /// Socket payload read back to the host, sent now (subject to downlink faults).
    void respondData(std::string_view data);
    /// Logs a protocol misuse by the host loudly and counts it (`status`).
    void misuse(const std::string& what);
    /// An unsolicited line, optionally followed by raw bytes; held while busy.
    void urc(std::string line, std::string raw_after = {});
    /// Opens a data phase: sends `prompt` (raw), then collects bytes; `done` gives the final.
    void startDataPhase(DataPhase phase, std::string prompt, PhaseDone done);
    /// The data phase of a byte-counted send after kDataPrompt: argument `i` of `c` is the count,
    /// in [lo, hi]; a count outside is a misuse of `cmd` and answers ERROR. Pending otherwise.
    Final countedSend(const AtCommand& c, size_t i, long lo, long hi, const std::string& cmd,
                      PhaseDone done);
    /// A send's phase end that lets `send` run only when all the data came: a send cancelled
    /// with ESC answers OK (nothing sent), one cut short otherwise ERROR.
    static PhaseDone whenComplete(PhaseDone send);
    /// Runs `fn` later unless the module lost power or rebooted in between.
    void after(std::chrono::milliseconds delay, std::function<void()> fn);
    /// Reboots after the current answer (AT+CFUN=1,1, AT+CRESET, AT+KSRAT change).
    void rebootSoon();
    /// Powers off after the current answer (AT+CPWROFF, AT+CPOF).
    void powerOffSoon();
    bool busy() const { return executing_ || phase_.has_value(); }
    uint64_t generation() const { return generation_; }
    std::weak_ptr<bool> aliveToken() const { return alive_; }

    /// Lines sent when the module has booted.
    virtual std::vector<std::string> bootUrcs() const = 0;
    /// Power loss / reboot: drop sockets and volatile settings (flash = CertStore stays).
    virtual void onPowerLoss() = 0;
    /// ATI answer lines.
    virtual std::vector<std::string> identify() const = 0;
    /// +CME ERROR text for AT+CMEE=2.
    virtual std::string cmeText(int code) const;
    /// Model part of `status`.
    virtual void addStatus(nlohmann::json& j) const = 0;
    /// The text of a final result line (default: OK, ERROR, +CME ERROR per AT+CMEE).
    virtual std::string finalText(const Final& f) const;
    /// Splits a command line (after "AT"); default: 27.007 syntax (parseCommandLine).
    virtual std::optional<std::vector<AtCommand>> parseLine(const std::string& body) const;
    /// The command line as written to the trace (a model may hide secrets); default as is.
    virtual std::string traceText(const std::string& body) const;
    /// Runs after the boot URCs were sent (auto-join, ...).
    virtual void onBooted() {}
    /// Ends a command that returned Final::deferred(); stalled input is then processed.
    void finishDeferred(Final f);
    bool deferredPending() const { return awaiting_; }
    /// Removes every registered command (a model without the 27.007 basics).
    void clearCommands() { commands_.clear(); }

    /// Sends +CREG/+CGREG/+CEREG URCs for the current registration, per their report modes.
    void reportRegistration();
    /// Runs after every registration change (reportRegistration), for the model's reaction.
    virtual void onRegistrationChanged() {}
    bool radioOn() const { return cfun_ == 1; }
    int rssi() const { return rssi_; }
    bool registered() const { return reg_stat_ == 1 || reg_stat_ == 5; }
    /// Starts a network search: stat 2 now, the target stat after `register_time`.
    void searchNetwork();

    asio::io_context& io_;
    PtyPort& port_;
    CertStore& certs_;
    TraceLog& log_;
    ModemOptions opts_;

    // Identity: manufacturer and model from the ModemMaker, the rest set by the model.
    std::string manufacturer_;
    std::string model_id_;
    std::string revision_ = "0.0";
    std::string imei_ = "356000000000001";
    std::string iccid_ = "8944500000000000001";
    std::string imsi_ = "001010123456789";
    int access_tech_ = 7;  ///< <AcT> in +CEREG: 7 LTE/LTE-M, 9 NB-IoT

    // 27.007 state, reset at boot.
    bool echo_ = true;
    int cmee_ = 0;
    int cfun_ = 1;
    int reg_stat_ = 1;
    int creg_n_ = 0;
    int cgreg_n_ = 0;
    int cereg_n_ = 0;
    std::map<int, std::pair<std::string, std::string>> pdp_;  ///< cid → (type, apn)

  private:
    /// One queued unsolicited output: its framed line(s), socket payload after it, trace text.
    struct Out {
        std::string head;
        std::string data;
        std::string trace;
    };

    void emit(const Out& o);
    void writeData(std::string_view data);
    void fire(FaultPlan::Direction d, FaultPlan::Action a);
    void respondFinal(std::string_view line);
    void execute(const std::string& body);
    void emitFinal(Final f);
    void flushHeld();
    void endPhase();
    void armTrailerTimer();
    void armEscapeTimer();
    void write(std::string_view bytes);
    void boot();
    void loseState();
    void addBasics();
    std::string registrationLine(const char* prefix, int n, bool urc) const;

    std::map<std::string, Handler> commands_;
    LineAssembler assembler_;
    std::optional<DataPhase> phase_;
    PhaseDone phase_done_;
    asio::steady_timer trailer_timer_;
    bool executing_ = false;
    bool awaiting_ = false;      ///< a command returned Final::deferred() and is not finished
    std::string stalled_input_;  ///< input that arrived meanwhile
    bool swallow_ctrlz_ = false;
    std::deque<Out> held_;  ///< URCs held while busy
    std::deque<Out> own_;   ///< URCs of the running command
    bool powered_ = false;
    bool booted_ = false;
    bool silent_ = false;
    bool halted_ = false;  ///< a fault reboot is under way: nothing goes in or out
    FaultPlan faults_;
    unsigned split_final_ms_ = 0;
    bool split_pending_ = false;  ///< a final result's LF is still to come
    std::string deferred_;        ///< output waiting behind that LF
    uint64_t boots_ = 0;
    uint64_t search_seq_ = 0;
    uint64_t misuse_count_ = 0;
    std::string last_misuse_;
    int forced_reg_ = 1;
    bool sim_present_ = true;
    int rssi_ = 20;
    uint64_t generation_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::mt19937 rng_{std::random_device{}()};
};

}  // namespace uplinkd::emulator
