// SPDX-License-Identifier: Apache-2.0
// SqliteSpool, the durable Spool: forwards each call to its Impl. Thread: the loop.
#include "spool/sqlite_spool.hpp"

#include <utility>

#include "spool/sqlite_spool_impl.hpp"

namespace uplinkd {

SqliteSpool::SqliteSpool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteSpool::~SqliteSpool() = default;

SqliteSpool::OpenCheck SqliteSpool::openCheck() const {
    return impl_->open_check_;
}
bool SqliteSpool::countersRestored() const {
    return impl_->counters_restored_;
}

void SqliteSpool::configureRoute(const std::string& route, const SpoolLimits& limits) {
    impl_->routeFor(route).limits = limits;
}
void SqliteSpool::append(Message msg, AppendDone done) {
    impl_->append(std::move(msg), std::move(done));
}
std::vector<Message> SqliteSpool::lease(std::string_view route, size_t max,
                                        const std::vector<std::string>& only_topics) {
    return impl_->lease(route, max, only_topics);
}
void SqliteSpool::ack(std::string_view route, uint64_t seq) {
    impl_->ack(route, seq);
}
void SqliteSpool::releaseLeases(std::string_view route) {
    impl_->releaseLeases(route);
}
uint64_t SqliteSpool::expire(std::string_view route, int64_t now_ms) {
    return impl_->expire(route, now_ms);
}
SpoolStats SqliteSpool::stats(std::string_view route) const {
    return impl_->stats(route);
}
bool SqliteSpool::deadLetter(std::string_view route, uint64_t seq, std::string reason,
                             int attempts) {
    return impl_->deadLetter(route, seq, std::move(reason), attempts);
}
Result<std::vector<DeadLetter>> SqliteSpool::deadLetters(std::string_view route) {
    return impl_->deadLetters(route);
}
void SqliteSpool::retryDeadLetter(uint64_t seq, AppendDone done) {
    impl_->retryDeadLetter(seq, std::move(done));
}
Status SqliteSpool::dropDeadLetter(uint64_t seq) {
    return impl_->dropDeadLetter(seq);
}
void SqliteSpool::onDiskFull(DiskHandler handler) {
    impl_->disk_handler_ = std::move(handler);
}
uint64_t SqliteSpool::commitCountForTest() const {
    return impl_->commit_count_.load(std::memory_order_relaxed);
}

}  // namespace uplinkd
