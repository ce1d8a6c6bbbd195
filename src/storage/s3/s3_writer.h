#pragma once
// The S3 store's writer (s3_blob_store.h describes its parts and limits).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/blocking.h"
#include "storage/blob_store.h"
#include "storage/s3/s3_blob_store.h"
#include "storage/s3/s3_client.h"

namespace up::storage::s3 {

// What the store, its writers and their pool jobs share; immutable.
struct Context {
  Context(Client c, S3BlobStoreOptions o, core::BlockingPool& p)
      : client(std::move(c)), options(std::move(o)), pool(p) {}
  Client client;
  S3BlobStoreOptions options;
  core::BlockingPool& pool;
  // The object key of a blob, and the key prefix every blob key starts with.
  std::string key(std::string_view locator) const { return key_prefix() + std::string(locator); }
  std::string key_prefix() const { return options.prefix.empty() ? "" : options.prefix + "/"; }
  // Streamed single PUTs running (options.single_puts bounds it): the one
  // thing here that changes, shared by the store's writers.
  mutable std::atomic<unsigned> single_puts_running{0};
};
using ContextPtr = std::shared_ptr<const Context>;

// A streamed single PUT when `size_hint` is over the part size and at most
// single_put_max (and fewer than single_puts run); else the part-buffering writer.
BlobWriterPtr make_writer(ContextPtr context, std::string_view locator,
                          std::optional<uint64_t> size_hint);

// The blocking calls a writer and compose() make (each one request, or two).
// A single PUT of a new key (If-None-Match: *); kAlreadyExists when it exists.
Status put_new(const Context& context, const std::string& key, std::string_view body);
// CreateMultipartUpload: the upload id.
Result<std::string> initiate_upload(const Context& context, const std::string& key);
// UploadPart: the part's ETag. `retry`: as an idempotent call (sending a part
// number again replaces the part).
Result<std::string> upload_part(const Context& context, const std::string& key,
                                const std::string& upload_id, int number, std::string_view body,
                                bool retry);
// CompleteMultipartUpload of parts 1..etags.size(); kAlreadyExists (and
// nothing completed) when `key` exists.
Status complete_upload(const Context& context, const std::string& key, const std::string& upload_id,
                       const std::vector<std::string>& etags);
// Aborts a multipart upload (blocking); errors are only logged.
void abort_upload(const Context& context, const std::string& key, const std::string& upload_id);

// Appends bytes [offset, offset + n) of object `key` to `data` (one ranged
// GET, streamed, retried). `stop`, when set meanwhile, cuts the transfer
// short (an error). REQUIRES: n > 0.
Status fetch_range(const Context& ctx, const std::string& key, uint64_t offset, uint64_t n,
                   std::string& data, const std::atomic<bool>* stop = nullptr);

// BlobStore::compose on S3 (s3_compose.cc). Blocking.
Status compose(const Context& context, std::string_view locator, std::span<const BlobRange> ranges);

}  // namespace up::storage::s3
