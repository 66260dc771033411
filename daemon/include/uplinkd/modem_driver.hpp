// ModemDriver: one module family's AT dialect (plugin): bring-up, registration, sockets (plain
// or TLS by the module), certificate store, and what its error codes mean. Drivers do their I/O
// only through the AtChannel they are given. Thread: loop.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uplinkd/at_channel.hpp"
#include "uplinkd/byte_stream.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

/// What `uplinkctl modem info` shows.
struct ModemInfo {
    std::string manufacturer;
    std::string model;
    std::string firmware;
    std::string imei;
    std::string iccid;
    std::string sim;           ///< "ready", "PIN required", "not inserted", ...
    std::string registration;  ///< "registered (home)", "searching", "denied", ...
    int signal_dbm = 0;        ///< 0 when unknown
};

/// Settings common to every modem, from [uplinks.<name>] (the driver reads its own extras).
struct ModemSettings {
    std::string apn;
    std::string apn_user;
    std::string apn_password;  ///< secret
    std::string pin;           ///< secret; empty: no PIN
};

/// A connection the module should open.
struct ModemSocketRequest {
    std::string host;
    uint16_t port = 0;
    bool tls = false;         ///< the module does TLS (certificates provisioned before)
    std::string server_name;  ///< SNI / certificate name when tls
};

/// Certificates for TLS by the module (PEM text; the key is a secret).
struct ModemCredentials {
    std::string ca_pem;
    std::string cert_pem;
    std::string key_pem;
};

class ModemDriver {
  public:
    virtual ~ModemDriver() = default;
    using StatusDone = std::function<void(Status)>;

    /// From a module that answers "AT" to a usable data bearer: echo off, errors as codes, SIM,
    /// registration, PDP context / network open. Runs again after a module reset.
    virtual void start(StatusDone done) = 0;
    virtual void info(std::function<void(Result<ModemInfo>)> done) = 0;
    /// Writes the certificates into the module's store and reads them back to compare.
    virtual void provision(const ModemCredentials& creds, StatusDone done) = 0;
    /// Opens a socket through the module. The stream sends and receives with AT commands.
    virtual void open(const ModemSocketRequest& request,
                      std::function<void(Result<ByteStreamPtr>)> done) = 0;
    /// Plain words for a module error line ("+CME ERROR: 913", "+CCHOPEN: 0,15", ...).
    virtual std::string explain(const std::string& error_line) const = 0;
    /// The largest payload one send command takes.
    virtual size_t maxSendChunk() const = 0;
};

using ModemDriverPtr = std::unique_ptr<ModemDriver>;

/// How a modem plugin recognises its module (apart from how it drives it).
struct ModemMatch {
    std::vector<std::string> model_patterns;  ///< substrings of ATI / AT+CGMM answers
    bool supports_tls_offload = false;
};

/// Entry points of a modem plugin (PluginDescriptor::api for PluginKind::Modem).
struct ModemPluginApi {
    const ModemMatch* match;
    /// Makes a driver that talks through `at` (which outlives it).
    Result<ModemDriverPtr> (*create)(asio::io_context& loop, AtChannel& at,
                                     const ModemSettings& settings);
};

}  // namespace uplinkd
