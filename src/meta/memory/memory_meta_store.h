#pragma once
// An in-memory MetaStore with the same semantics as meta/sqlite, for unit and
// golden tests. Thread-safe (one mutex); nothing survives the process.

#include "meta/meta_store.h"

namespace up::meta {

MetaStorePtr make_memory_meta_store();

}  // namespace up::meta
