// SPDX-License-Identifier: Apache-2.0
#include "session/paho_worker.hpp"

#include <utility>

namespace uplinkd {

PahoWorker::PahoWorker() : thread_([this] { run(); }) {}

PahoWorker::~PahoWorker() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

void PahoWorker::post(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
}

void PahoWorker::run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) {
            return;  // stopping, and everything queued has run
        }
        std::function<void()> task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        task = nullptr;  // what the task held (a client, say) goes away on this thread
        lock.lock();
    }
}

}  // namespace uplinkd
