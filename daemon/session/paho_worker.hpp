// SPDX-License-Identifier: Apache-2.0
// PahoWorker: one thread that runs queued tasks in the order they were posted; the only thread
// that calls into Paho (create, connect, is_connected, publish, subscribe, disconnect, destroy).
// Paho takes one process-wide mutex in those calls, and its receive thread holds that mutex for
// up to 10 s while it waits for the tunnel's answer to its CONNECT; the tunnel answers from the
// loop thread, so a loop thread that waited for the mutex would stall every route and the API.
// Thread: post() from any thread; tasks run on the worker thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace uplinkd {

class PahoWorker {
  public:
    PahoWorker();
    /// Runs the tasks still queued, then joins the thread.
    ~PahoWorker();
    PahoWorker(const PahoWorker&) = delete;
    PahoWorker& operator=(const PahoWorker&) = delete;

    /// Queues `task`; never blocks on what the worker is doing.
    void post(std::function<void()> task);

  private:
    void run();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace uplinkd
