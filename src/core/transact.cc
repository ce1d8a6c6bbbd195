#include "core/transact.h"

#include "meta/meta_store.h"

namespace up::core {
namespace {

bool conflicted(const Status& s) { return !s && retry_transaction(s.error().code); }

}  // namespace

Status transact(meta::MetaStore& store, const TransactionFn& body) {
  Status s = store.transact(body);
  // No back-off: a conflict means another transaction committed, so the
  // next run sees its writes and usually goes through.
  for (int attempt = 1; attempt < kMaxTransactionAttempts && conflicted(s); ++attempt)
    s = store.transact(body);
  return s;
}

void transact_each(meta::MetaStore& store, std::span<meta::TransactionBody> bodies) {
  store.transact_each(bodies);
  for (meta::TransactionBody& b : bodies) {
    // Runs 2..kMaxTransactionAttempts, one by one: conflicts are rare, so
    // regrouping the losers is not worth it.
    for (int attempt = 1; attempt < kMaxTransactionAttempts && conflicted(b.result); ++attempt)
      b.result = store.transact(b.run);
  }
}

}  // namespace up::core
