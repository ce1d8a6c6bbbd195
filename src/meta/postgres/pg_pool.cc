#include "meta/postgres/pg_pool.h"

#include <utility>

#include "core/log.h"

namespace up::meta {

PgLease::~PgLease() {
  if (!conn_) return;
  conn_->rollback_if_open();
  pool_->give_back(std::move(conn_));
}

PgPool::PgPool(std::string url, uint32_t size, std::unique_ptr<PgConn> first)
    : url_(std::move(url)), size_(size < 1 ? 1 : size) {
  if (first) {
    idle_.push_back(std::move(first));
    open_ = 1;
  }
}

Result<PgLease> PgPool::acquire() {
  std::unique_ptr<PgConn> conn;
  {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // a slot for the connection opened below, outside the lock
    }
  }
  if (!conn) {
    auto opened = pg_connect(url_);
    if (!opened) {
      std::lock_guard lock(mu_);
      --open_;
      freed_.notify_one();
      note_failure(opened.error());
      return fail(std::move(opened.error()));
    }
    note_success();
    return PgLease(this, std::move(*opened));
  }
  // Reconnect a connection the server dropped (restart, failover, idle
  // timeout) before lending it, so one outage fails only the calls made
  // while the database is down.
  if (!conn->healthy()) {
    if (auto r = conn->reset(); !r) {
      give_back(std::move(conn));
      note_failure(r.error());
      return fail(std::move(r.error()));
    }
    note_success();
  }
  return PgLease(this, std::move(conn));
}

void PgPool::note_failure(const Error& e) {
  if (!down_.exchange(true))
    log::error("metadata database unreachable (requests that need it get 503): " + e.message);
}

void PgPool::note_success() {
  if (down_.exchange(false)) log::error("metadata database reachable again");
}

void PgPool::give_back(std::unique_ptr<PgConn> conn) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(conn));
  freed_.notify_one();
}

}  // namespace up::meta
