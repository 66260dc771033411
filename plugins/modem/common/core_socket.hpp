// SPDX-License-Identifier: Apache-2.0
// The sockets of an AT modem driver (see driver_core.hpp for the core they are worked through):
//  - SocketTable: the sockets a core has open, by the module's id, the ids still being opened or
//    closed, and the data the module announced before a socket object existed;
//  - CoreSocket and RetryingSocket: the socket side of the driver's bookkeeping (weak hold on
//    the core, detach on a module reset, leaving the table on close, counted reads and writes,
//    sends tried again while the module's buffer is full);
//  - makeSocket(): a socket made and entered in its table.
// Thread: loop.
#pragma once

#include <algorithm>
#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "common/at_socket_stream.hpp"
#include "common/at_steps.hpp"
#include "uplinkd/at_channel.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

/// "closed: the modem driver is gone": AT work for a socket whose driver (or module socket) is
/// gone.
Error driverGone();

// ---- sockets ----------------------------------------------------------------------------------

/// The sockets of one kind a driver core has open, by the module's id, and the ids that are
/// still being opened or closed (not free yet). `Socket` derives from CoreSocket. Thread: loop.
template <class Socket>
class SocketTable {
  public:
    void add(int id, Socket* s) { open_[id] = s; }
    /// Takes `s` out, when `id` still names it.
    void remove(int id, const Socket* s) {
        if (auto it = open_.find(id); it != open_.end() && it->second == s) {
            open_.erase(it);
        }
    }
    Socket* find(int id) const {
        auto it = open_.find(id);
        return it == open_.end() ? nullptr : it->second;
    }
    bool contains(int id) const { return open_.contains(id); }
    /// Whether `id` is this table's: open, opening or closing.
    bool owns(int id) const { return contains(id) || busy.contains(id); }

    /// The module's sockets are gone: each is detached (nothing is sent for it any more) and
    /// broken with `e`; the table forgets them, the busy ids and the early data.
    void breakAll(const Error& e) {
        auto current = open_;
        open_.clear();
        busy.clear();
        early_data.clear();
        for (auto& [id, s] : current) {
            s->detach();
            s->breakWith(e);
        }
    }

    std::set<int> busy;  ///< opening or closing
    /// Bytes the module said it holds for ids that have no socket object yet (the URC came
    /// before the open finished); forgotten by breakAll.
    std::map<int, size_t> early_data;

  private:
    std::map<int, Socket*> open_;
};

/// An AtSocketStream for socket `id()` of the module, worked through a driver core that it
/// holds weakly (the driver may go first). Thread: loop.
template <class Core>
class CoreSocket : public AtSocketStream {
  public:
    /// Made by makeSocket(), which enters it in its core's table (the class is abstract).
    CoreSocket(const std::shared_ptr<Core>& core, int id, std::string description, size_t max_chunk)
        : AtSocketStream(core->loop, std::move(description), max_chunk), core_(core), id_(id) {}

    /// The module's socket is gone (reset): nothing is sent for this one any more.
    void detach() { detached_ = true; }

  protected:
    int id() const { return id_; }
    /// The core, or null when the driver is gone.
    std::shared_ptr<Core> lockCore() const { return core_.lock(); }

    /// The core when commands may go to the module for this socket (the driver lives, the
    /// socket is attached); else null, and `done` got driverGone().
    template <class Done>
    std::shared_ptr<Core> attachedOr(Done& done) const {
        auto c = detached_ ? nullptr : core_.lock();
        if (!c) {
            done(Failure{driverGone()});
        }
        return c;
    }

    /// For a read of the `held` bytes the module holds: the core when there are some and
    /// commands may go to the module for this socket; else null, and `done` got driverGone()
    /// or (nothing held) an empty Fetched.
    template <class Done>
    std::shared_ptr<Core> readableOr(size_t held, Done& done) const {
        auto c = attachedOr(done);
        if (c && held == 0) {
            done(Fetched{});
            return nullptr;
        }
        return c;
    }

    /// sendChunk() by one command with a data phase: `command` with `write` (its prompt and
    /// terminator), which gets `chunk` as its payload; `done` gets the chunk's size on OK, else
    /// the command's error, or driverGone() when the socket cannot send. Nothing once the socket
    /// is gone.
    void sendData(const std::string& command, std::span<const uint8_t> chunk, AtDataWrite write,
                  std::function<void(Result<size_t>)> done) {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        write.payload.assign(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        const size_t n = chunk.size();
        core->at.commandWithData(command, write, core->timing.send,
                                 [alive = token(), command, explain = core->explain,
                                  done = std::move(done), n](Result<AtResponse> r) {
                                     if (alive.expired()) {
                                         return;
                                     }
                                     if (!r) {
                                         done(Failure{commandError(command, r.error(), explain)});
                                         return;
                                     }
                                     done(n);
                                 });
    }

    /// fetch() by one read by count of the `held` bytes the module holds, at most `max_chunk` of
    /// them: `command(want)` asks for `want` bytes, `read` is its data phase (its `length`, the
    /// count after CONNECT, is set to `want`). `settle(got)` runs once when the read ends, or at
    /// once when none is sent (`got` 0 then, and when it failed), and says whether the module
    /// still holds bytes; `done` gets the bytes with that, or the command's error. Nothing held:
    /// an empty Fetched at once. Nothing once the socket is gone.
    void readHeld(size_t held, size_t max_chunk,
                  const std::function<std::string(size_t want)>& command, AtDataRead read,
                  std::function<bool(size_t got)> settle,
                  std::function<void(Result<Fetched>)> done) {
        auto core = readableOr(held, done);
        if (!core) {
            settle(0);
            return;
        }
        const size_t want = std::min(held, max_chunk);
        read.length = want;
        readData(*core, command(want), std::move(read),
                 [settle = std::move(settle), done = std::move(done)](Result<std::string> bytes) {
                     const size_t got = bytes ? bytes->size() : 0;
                     const bool more = settle(got);
                     if (!bytes) {
                         done(bytes.failure());
                         return;
                     }
                     done(Fetched{std::move(*bytes), more});
                 });
    }

    /// A read by count for fetch(): `command` with its data phase `read`; `then` gets the bytes
    /// or the command's error. Nothing once the socket is gone.
    void readData(Core& core, const std::string& command, AtDataRead read,
                  std::function<void(Result<std::string>)> then) {
        core.at.commandReadingData(command, read, core.timing.receive,
                                   [alive = token(), command, explain = core.explain,
                                    then = std::move(then)](Result<AtResponse> r) {
                                       if (alive.expired()) {
                                           return;
                                       }
                                       if (!r) {
                                           then(Failure{commandError(command, r.error(), explain)});
                                           return;
                                       }
                                       then(std::move(r->data));
                                   });
    }

    /// For closeSocket(): takes `self` out of the core's `table`; returns the core when close
    /// commands are to be sent (the driver lives, the socket is attached), else null.
    template <class Socket>
    std::shared_ptr<Core> leave(SocketTable<Socket> Core::*table, const Socket* self) {
        auto c = core_.lock();
        if (!c) {
            return nullptr;
        }
        ((*c).*table).remove(id_, self);
        return detached_ ? nullptr : c;
    }

  private:
    std::weak_ptr<Core> core_;
    int id_;
    bool detached_ = false;
};

/// A CoreSocket whose module refuses a send while its send buffer is full: the chunk is tried
/// again after the core's timing.send_retry, at most timing.send_retries times, then the write
/// fails with "timeout". Thread: loop.
template <class Core>
class RetryingSocket : public CoreSocket<Core> {
  public:
    RetryingSocket(const std::shared_ptr<Core>& core, int id, std::string description,
                   size_t max_chunk)
        : CoreSocket<Core>(core, id, std::move(description), max_chunk), retry_(core->loop) {}

  protected:
    /// One try to send `payload` (the socket is attached): `done` gets how many bytes the module
    /// took or an error; `full` gets the module's words when its send buffer was full. Neither
    /// is called once the socket is gone.
    virtual void trySend(Core& core, const std::string& payload,
                         std::function<void(Result<size_t>)> done,
                         std::function<void(const std::string& words)> full) = 0;

    void sendChunk(std::span<const uint8_t> chunk, std::function<void(Result<size_t>)> done) final {
        auto core = this->lockCore();
        attempt(std::string(reinterpret_cast<const char*>(chunk.data()), chunk.size()),
                core ? core->timing.send_retries : 0, std::move(done));
    }

  private:
    void attempt(std::string payload, int retries, std::function<void(Result<size_t>)> done) {
        auto core = this->attachedOr(done);
        if (!core) {
            return;
        }
        trySend(
            *core, payload, done,
            [alive = this->token(), this, payload, retries, done](const std::string& words) {
                if (retries <= 0) {
                    done(fail("timeout", "the module's send buffer stayed full (" + words + ")"));
                    return;
                }
                auto owner = this->lockCore();
                if (!owner) {
                    done(Failure{driverGone()});
                    return;
                }
                retry_.expires_after(owner->timing.send_retry);
                retry_.async_wait(
                    [alive, this, payload, retries, done](const asio::error_code& ec) {
                        if (ec || alive.expired()) {
                            return;
                        }
                        attempt(payload, retries - 1, done);
                    });
            });
    }

    asio::steady_timer retry_;
};

/// Makes a `Socket` (a CoreSocket) for the module's socket `id`, from the core, the id and
/// `args`, and enters it in the core's `table` (it leaves the table when it closes).
template <class Socket, class Core, class... Args>
std::unique_ptr<Socket> makeSocket(const std::shared_ptr<Core>& core,
                                   SocketTable<Socket> Core::*table, int id, Args&&... args) {
    auto s = std::make_unique<Socket>(core, id, std::forward<Args>(args)...);
    ((*core).*table).add(id, s.get());
    return s;
}

}  // namespace uplinkd::plugins::modem_common
