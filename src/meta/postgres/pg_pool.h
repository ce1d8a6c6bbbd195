#pragma once
// A fixed-size pool of PostgreSQL connections. A connection is lent for one
// store call or one transaction and comes back when its PgLease ends.
// Connections are opened on demand up to the size, checked (cheaply) before
// each loan and reopened when the server dropped them, so the store recovers
// by itself after a database restart. Thread-safe.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "meta/postgres/pg_conn.h"

namespace up::meta {

class PgPool;

// A borrowed connection. Movable; gives the connection back on destruction.
class PgLease {
 public:
  PgLease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
  PgLease(PgLease&&) noexcept = default;
  PgLease& operator=(PgLease&&) = delete;
  ~PgLease();

  PgConn& operator*() { return *conn_; }
  PgConn* operator->() { return conn_.get(); }

 private:
  PgPool* pool_;
  std::unique_ptr<PgConn> conn_;
};

class PgPool {
 public:
  // REQUIRES: size >= 1. `first` (already open, may be null) joins the pool.
  PgPool(std::string url, uint32_t size, std::unique_ptr<PgConn> first);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Waits for a free connection (or opens one). kUnavailable if the database
  // cannot be reached.
  Result<PgLease> acquire();

 private:
  friend class PgLease;
  void give_back(std::unique_ptr<PgConn> conn);
  // The server log says when the database became unreachable (with libpq's
  // reason, which clients are not shown) and when it is back: once each.
  void note_failure(const Error& e);
  void note_success();

  const std::string url_;
  const uint32_t size_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  uint32_t open_ = 0;  // idle + lent + being opened
  std::atomic<bool> down_{false};
};

}  // namespace up::meta
