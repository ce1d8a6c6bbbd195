#pragma once
// A BlobStore that forwards to another and adds a fixed latency to every call,
// as a network store would (each append a part upload, each read a request).
// For tests: a caller that awaits the store once per small piece, or blocks an
// I/O thread on it, becomes visibly slow. The awaitable calls wait on a timer
// (no thread is held); the blocking calls sleep.

#include <chrono>

#include "storage/blob_store.h"

namespace up::storage {

BlobStorePtr make_slow_blob_store(BlobStorePtr inner, std::chrono::milliseconds latency);

}  // namespace up::storage
