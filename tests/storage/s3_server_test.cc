// The real server on S3: `upgate serve --blobs s3://...` against the test RGW,
// through the native API; and its one-line start-up errors.

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "integration/harness.h"
#include "storage/s3_test_env.h"

namespace up::testing {
namespace {

namespace s3_test = storage::s3_test;

std::string blobs_flag(const std::string& bucket, const std::string& endpoint) {
  return "s3://" + bucket + "/upgate?endpoint=" + endpoint + "&region=us-east-1&path_style=true";
}

class S3ServerTest : public ServerTest {
 protected:
  void SetUp() override {
    auto rgw = s3_test::rgw();
    ASSERT_TRUE(rgw) << rgw.error().message;
    endpoint_ = rgw->endpoint;
    s3_test::export_keys(*rgw);
    auto b = s3_test::create_bucket();
    ASSERT_TRUE(b) << b.error().message;
    bucket_ = *b;
  }
  void TearDown() override {
    if (server_) server_->terminate();
    if (!bucket_.empty()) {
      EXPECT_TRUE(s3_test::remove_bucket(bucket_));
    }
  }

  // `upgate serve` with `blobs`; its exit code and output (it must not start).
  std::string serve_fails(const std::string& blobs, const std::string& env, int* code) {
    const char* bin = std::getenv("UPGATE_BIN");
    TempDir dir;
    return run_command(env + " timeout 30 '" + std::string(bin ? bin : "upgate") +
                           "' serve --listen 127.0.0.1:0 --data '" + dir.path() + "' --blobs '" +
                           blobs + "' 2>&1",
                       code);
  }

  std::string endpoint_;
  std::string bucket_;
};

TEST_F(S3ServerTest, UploadDownloadDeleteThroughTheNativeApi) {
  start_server({"--blobs", blobs_flag(bucket_, endpoint_)});
  for (uint64_t size : {uint64_t{11}, uint64_t{20} << 20}) {  // one PUT; multipart
    auto r = client_->upload("POST", "/v1/files?name=f.bin", admin(), size, pattern_bytes);
    ASSERT_EQ(r.status, 201) << r.body;
    auto file = parse(r.body);
    const std::string id = str(file, "id");
    const std::string sha = str(file, "sha256");
    EXPECT_EQ(file["size"].as_int64(), static_cast<int64_t>(size));

    auto got = client_->download("/v1/files/" + id + "/content", admin());
    ASSERT_EQ(got.status, 200);
    EXPECT_EQ(got.bytes, size);
    EXPECT_EQ(got.sha256, sha);
    auto part = client_->request("GET", "/v1/files/" + id + "/content",
                                 {{"Authorization", admin()[0].second}, {"Range", "bytes=3-9"}});
    EXPECT_EQ(part.status, 206);
    std::string want(7, '\0');
    pattern_bytes(want.data(), want.size(), 3);
    EXPECT_EQ(part.body, want);
    EXPECT_EQ(*s3_test::count_objects(bucket_), 1u);  // the bytes are in the bucket

    EXPECT_EQ(client_->request("DELETE", "/v1/files/" + id, admin()).status, 204);
    EXPECT_EQ(client_->request("GET", "/v1/files/" + id + "/content", admin()).status, 404);
    // The sweep removes the blob of a deleted file (the CLI on the same stores).
    cli({"sweep", "--blobs", blobs_flag(bucket_, endpoint_)});
    EXPECT_EQ(*s3_test::count_objects(bucket_), 0u);
  }
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 0u);
  EXPECT_TRUE(server_->blob_files().empty());  // nothing on the local disk
}

TEST_F(S3ServerTest, StartUpErrorsAreOneLine) {
  int code = 0;
  std::string out = serve_fails(blobs_flag("no-such-" + bucket_, endpoint_), "", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("bucket no-such-" + bucket_ + " does not exist"), std::string::npos) << out;

  out = serve_fails(blobs_flag(bucket_, endpoint_), "UPGATE_S3_SECRET_KEY=wrong", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("refused the keys"), std::string::npos) << out;

  out = serve_fails(blobs_flag(bucket_, "http://127.0.0.1:1"), "", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("unreachable"), std::string::npos) << out;

  out = serve_fails(blobs_flag(bucket_, endpoint_), "UPGATE_S3_ACCESS_KEY=", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("UPGATE_S3_ACCESS_KEY"), std::string::npos) << out;
}

// --blobs local:<dir> puts the blobs in <dir>, the rest stays in --data.
class LocalBlobsFlagTest : public ServerTest {
 protected:
  void SetUp() override {}
  TempDir blobs_;
};

TEST_F(LocalBlobsFlagTest, BlobsGoToTheNamedFolder) {
  const std::string dir = blobs_.path() + "/elsewhere";
  start_server({"--blobs", "local:" + dir});
  const std::string content = pattern_string(200'000);  // a file, not the small-blob pack
  auto r = client_->request("POST", "/v1/files?name=f.bin", admin(), content);
  ASSERT_EQ(r.status, 201) << r.body;
  auto got = client_->request("GET", "/v1/files/" + str(parse(r.body), "id") + "/content", admin());
  EXPECT_TRUE(got.body == content);
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/blobs"))
    files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  EXPECT_TRUE(server_->blob_files().empty());  // nothing under --data
}

}  // namespace
}  // namespace up::testing
