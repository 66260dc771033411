// SPDX-License-Identifier: Apache-2.0
// ControlServer: the UNIX stream socket through which tests drive the emulator (--control).
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>

namespace uplinkd::emulator {

/// A control request split as `<cmd> <arg> <rest>`: its first two words, and what follows the
/// second word as written (leading blanks included). Pure.
struct ControlLine {
    std::string cmd;
    std::string arg;
    std::string rest;
};
ControlLine splitControlLine(const std::string& line);

/// Serves the control socket; loop-bound (single thread).
/// Accepts any number of clients; each request line gets exactly one reply line from the
/// handler ("ok ..." / "error ..."). Removes its socket file when closed.
class ControlServer {
  public:
    using Handler = std::function<std::string(const std::string& line)>;

    ControlServer(asio::io_context& io, Handler handler);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    /// Binds and listens at `path` (a stale socket file there is replaced); returns an empty
    /// string on success, else what went wrong.
    std::string listen(const std::string& path);
    void close();

  private:
    class Client;
    void acceptNext();

    asio::io_context& io_;
    asio::local::stream_protocol::acceptor acceptor_;
    Handler handler_;
    std::string path_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd::emulator
