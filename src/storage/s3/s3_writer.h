#pragma once
// The S3 store's writer (s3_blob_store.h describes its parts and limits).

#include <memory>
#include <string>
#include <string_view>

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
};
using ContextPtr = std::shared_ptr<const Context>;

BlobWriterPtr make_writer(ContextPtr context, std::string_view locator);

// Aborts a multipart upload (blocking); errors are only logged.
void abort_upload(const Context& context, const std::string& key, const std::string& upload_id);

}  // namespace up::storage::s3
