#pragma once
// The real Ceph RGW the S3 store tests run against, started through
// ../shared/services/s3-up.sh (through support/service_env.h), and a fresh
// bucket per test, removed afterwards. The tests fail (never skip) when the
// script is missing or fails.

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "storage/s3/s3_blob_store.h"

namespace up::storage::s3_test {

struct Rgw {
  std::string endpoint;  // http://127.0.0.1:7480
  std::string access_key;
  std::string secret_key;
  std::string region;
};

// Starts RGW on first use in this process (or after restart_rgw()).
Result<Rgw> rgw();
// Runs s3-down.sh (RGW stops and forgets everything), or s3-up.sh again.
Status stop_rgw();
Status start_rgw();

// The --blobs value for `prefix` in `bucket` on `rgw` (path-style).
std::string blobs_url(const Rgw& rgw, const std::string& bucket, const std::string& prefix);
// Puts the RGW keys in this process's environment (UPGATE_S3_ACCESS_KEY,
// UPGATE_S3_SECRET_KEY), where the servers and CLI runs it starts read them:
// never on their command line.
void export_keys(const Rgw& rgw);

// Store options for `bucket` on the test RGW (path-style, keys set).
S3BlobStoreOptions options(const std::string& bucket, const std::string& prefix = "blobs");
// Creates a new bucket with a name unique to this process and call (or `name`).
Result<std::string> create_bucket(std::string name = {});
// Aborts its multipart uploads, deletes its objects, then the bucket.
Status remove_bucket(const std::string& bucket);
// Objects in `bucket`.
Result<uint64_t> count_objects(const std::string& bucket);
// Multipart uploads in progress in `bucket`.
Result<uint64_t> count_uploads(const std::string& bucket);
// Keys of the objects (all pages) / of the multipart uploads in progress
// under `prefix` ("" for all).
Result<std::vector<std::string>> list_objects(const std::string& bucket,
                                              const std::string& prefix = {});
Result<std::vector<std::string>> list_uploads(const std::string& bucket,
                                              const std::string& prefix = {});
// Writes object `key` in one PUT; reads it whole (kObjectNotFound when
// missing); its ETag as HEAD gives it (a multipart object's ends in -<parts>).
Status put_object(const std::string& bucket, const std::string& key, const std::string& bytes);
Result<std::string> get_object(const std::string& bucket, const std::string& key);
Result<std::string> object_etag(const std::string& bucket, const std::string& key);
// `n` bytes from a generator seeded with `seed` (a body that compresses badly).
std::string random_bytes(size_t n, uint32_t seed);
// Starts a multipart upload of `key` and leaves it (a crashed writer).
Status leave_upload(const std::string& bucket, const std::string& key);

}  // namespace up::storage::s3_test
