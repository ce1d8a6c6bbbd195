#pragma once
// Running core's rules as metadata transactions, with the retry of
// serialization conflicts written once (see kTransactionConflict, core/errors.h).

#include <functional>
#include <span>

#include "core/result.h"

namespace up::meta {
class MetaStore;
class MetaTransaction;
struct TransactionBody;
}  // namespace up::meta

namespace up::core {

// How many times a body runs at most before its conflict reaches the caller.
inline constexpr int kMaxTransactionAttempts = 5;

using TransactionFn = std::function<Status(meta::MetaTransaction&)>;

// MetaStore::transact, run again while it fails with kTransactionConflict
// (up to kMaxTransactionAttempts runs). `body` must be safe to run again: it
// may keep nothing from a failed run. Blocking.
Status transact(meta::MetaStore& store, const TransactionFn& body);
// MetaStore::transact_each (group commit), then the conflicted bodies again,
// each on its own, as transact() does.
void transact_each(meta::MetaStore& store, std::span<meta::TransactionBody> bodies);

}  // namespace up::core
