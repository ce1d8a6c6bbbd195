#include "storage/s3_test_env.h"

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>

#include "storage/s3/s3_client.h"
#include "support/service_env.h"

namespace up::storage::s3_test {
namespace {

std::mutex mu;
std::optional<Rgw> started;

s3::Client client(const std::string& bucket) {
  s3::Endpoint e;
  const Rgw& r = *started;
  e.scheme = "http";
  e.host = "127.0.0.1";
  e.port = r.endpoint.substr(r.endpoint.rfind(':') + 1);
  e.bucket = bucket;
  e.region = r.region;
  e.path_style = true;
  e.access_key = r.access_key;
  e.secret_key = r.secret_key;
  return s3::Client(e);
}

Status expect_2xx(const Result<s3::Response>& res, const std::string& what) {
  if (!res) return fail(res.error());
  if (res->status / 100 != 2 && res->status != 404) return fail(s3::error_from(*res, what));
  return ok();
}

}  // namespace

Result<Rgw> rgw() {
  std::lock_guard lock(mu);
  if (started) return *started;
  // Started here (not already running): objects in a sparse file, not in RAM.
  // One run of the suites stores several GB (the 1 GiB round trip, the 200 MiB
  // tus uploads and their composed copies), and RGW frees what is deleted only
  // after its garbage-collection delay (2 h): the default 4 GB in RAM filled up
  // within a run and a half, and then every S3 write hung until timeout.
  auto out = up::testing::services::run("s3-up.sh", "S3_STORE=bluestore S3_CAPACITY_GB=32 ");
  if (!out) return fail(out.error());
  Rgw r{up::testing::services::exported(*out, "S3_ENDPOINT"),
        up::testing::services::exported(*out, "S3_ACCESS_KEY"),
        up::testing::services::exported(*out, "S3_SECRET_KEY"),
        up::testing::services::exported(*out, "S3_REGION")};
  if (r.endpoint.empty()) return fail(Errc::kUnavailable, "s3-up.sh printed no S3_ENDPOINT");
  started = r;
  return r;
}

Status stop_rgw() {
  auto out = up::testing::services::run("s3-down.sh");
  return out ? ok() : fail(out.error());
}

Status start_rgw() {
  {
    std::lock_guard lock(mu);
    started.reset();
  }
  auto r = rgw();
  return r ? ok() : fail(r.error());
}

std::string blobs_url(const Rgw& rgw, const std::string& bucket, const std::string& prefix) {
  return "s3://" + bucket + "/" + prefix + "?endpoint=" + rgw.endpoint + "&region=" + rgw.region +
         "&path_style=true";
}

void export_keys(const Rgw& rgw) {
  ::setenv("UPGATE_S3_ACCESS_KEY", rgw.access_key.c_str(), 1);
  ::setenv("UPGATE_S3_SECRET_KEY", rgw.secret_key.c_str(), 1);
}

S3BlobStoreOptions options(const std::string& bucket, const std::string& prefix) {
  S3BlobStoreOptions o;
  auto r = rgw();
  if (!r) return o;
  o.endpoint = r->endpoint;
  o.region = r->region;
  o.bucket = bucket;
  o.prefix = prefix;
  o.path_style = true;
  o.access_key = r->access_key;
  o.secret_key = r->secret_key;
  return o;
}

Result<std::string> create_bucket(std::string name) {
  static std::atomic<int> serial{0};
  auto r = rgw();
  if (!r) return fail(r.error());
  std::string bucket = !name.empty()
                           ? std::move(name)
                           : "test-" + std::to_string(getpid()) + "-" + std::to_string(++serial);
  auto res = client(bucket).send(s3::make_request("PUT"));
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "CreateBucket " + bucket));
  return bucket;
}

Result<std::vector<std::string>> list_uploads(const std::string& bucket,
                                              const std::string& prefix) {
  s3::Request r = s3::make_request("GET", {}, true);
  r.query = {{"uploads", ""}, {"prefix", prefix}};
  auto res = client(bucket).send(r);
  if (!res) return fail(res.error());
  std::vector<std::string> keys;
  if (res->status == 404) return keys;  // no bucket (RGW restarted): nothing in it
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "ListMultipartUploads"));
  // A test's uploads fit in one page (1,000).
  for (size_t at = res->body.find("<Upload>"); at != std::string::npos;
       at = res->body.find("<Upload>", at + 1))
    keys.push_back(s3::xml_text(res->body, "Key", at));
  return keys;
}

Result<std::vector<std::string>> list_objects(const std::string& bucket,
                                              const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    s3::Request r = s3::make_request("GET", {}, true);
    r.query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    auto res = client(bucket).send(r);
    if (!res) return fail(res.error());
    if (res->status == 404) return keys;  // no bucket (RGW restarted): nothing in it
    if (res->status / 100 != 2) return fail(s3::error_from(*res, "ListObjectsV2"));
    for (size_t at = res->body.find("<Contents>"); at != std::string::npos;
         at = res->body.find("<Contents>", at + 1))
      keys.push_back(s3::xml_text(res->body, "Key", at));
    token = s3::xml_text(res->body, "NextContinuationToken");
  } while (!token.empty());
  return keys;
}

Result<uint64_t> count_uploads(const std::string& bucket) {
  auto keys = list_uploads(bucket);
  if (!keys) return fail(keys.error());
  return keys->size();
}

Result<uint64_t> count_objects(const std::string& bucket) {
  auto keys = list_objects(bucket);
  if (!keys) return fail(keys.error());
  return keys->size();
}

Status put_object(const std::string& bucket, const std::string& key, const std::string& bytes) {
  s3::Request r = s3::make_request("PUT", key);
  r.body = bytes;
  auto res = client(bucket).send(r);
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "PUT " + key));
  return ok();
}

Result<std::string> get_object(const std::string& bucket, const std::string& key) {
  std::string bytes;
  s3::Request r = s3::make_request("GET", key, true);
  r.restart = [&bytes] { bytes.clear(); };
  r.sink = [&bytes](std::string_view piece) {
    bytes.append(piece);
    return true;
  };
  auto res = client(bucket).send(r);
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "GET " + key));
  return bytes;
}

Result<std::string> object_etag(const std::string& bucket, const std::string& key) {
  auto res = client(bucket).send(s3::make_request("HEAD", key, true));
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "HEAD " + key));
  return res->header("etag");
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

Status leave_upload(const std::string& bucket, const std::string& key) {
  s3::Request r = s3::make_request("POST", key);
  r.query = {{"uploads", ""}};
  return expect_2xx(client(bucket).send(r), "CreateMultipartUpload");
}

Status remove_bucket(const std::string& bucket) {
  if (!rgw()) return ok();
  s3::Client c = client(bucket);
  // Everything in a test bucket fits in one listing of uploads.
  s3::Request uploads = s3::make_request("GET", {}, true);
  uploads.query = {{"uploads", ""}};
  auto u = c.send(uploads);
  UP_TRY(expect_2xx(u, "ListMultipartUploads"));
  for (size_t at = u->body.find("<Upload>"); u->status == 200 && at != std::string::npos;
       at = u->body.find("<Upload>", at + 1)) {
    s3::Request abort = s3::make_request("DELETE", s3::xml_text(u->body, "Key", at), true);
    abort.query = {{"uploadId", s3::xml_text(u->body, "UploadId", at)}};
    UP_TRY(expect_2xx(c.send(abort), "AbortMultipartUpload"));
  }
  auto keys = list_objects(bucket);
  if (!keys) return fail(keys.error());
  for (const auto& key : *keys)
    UP_TRY(expect_2xx(c.send(s3::make_request("DELETE", key, true)), "DeleteObject"));
  return expect_2xx(c.send(s3::make_request("DELETE", {}, true)), "DeleteBucket");
}

}  // namespace up::storage::s3_test
