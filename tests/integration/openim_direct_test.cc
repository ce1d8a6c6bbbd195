// OpenIM's form upload straight to the object store (issue 15 item 4): with
// the app setting form_data_direct and S3 blobs, initiate_form_data hands out
// RGW's own presigned POST, the client posts the bytes to RGW, and
// complete_form_data records what RGW holds. Real RGW, real server.

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "integration/flows.h"
#include "integration/harness.h"
#include "storage/s3_test_env.h"

namespace up::testing {
namespace {

namespace json = boost::json;
namespace s3_test = storage::s3_test;
using flows::OpenIm;

class OpenImDirectTest : public ServerTest {
 protected:
  void SetUp() override {
    const std::string blobs = flows::rgw_blobs_flag(bucket_);
    ASSERT_FALSE(blobs.empty());
    endpoint_ = s3_test::rgw()->endpoint;
    start_server({"--blobs", blobs});
    im_.create(*client_, R"({"form_data_direct":true})");
  }
  void TearDown() override {
    if (server_) server_->terminate();
    if (!bucket_.empty()) {
      EXPECT_TRUE(s3_test::remove_bucket(bucket_));
    }
  }
  uint64_t objects() const { return *s3_test::count_objects(bucket_); }

  std::string endpoint_, bucket_;
  OpenIm im_;
};

TEST_F(OpenImDirectTest, FormGoesToRgwAndCompleteRecordsIt) {
  const std::string png = pattern_string(3000);
  auto init = im_.initiate(*client_, "avatar.png", png.size());
  // RGW's own form: its bucket URL, the blob's key under the store's prefix.
  EXPECT_EQ(str(init, "url"), endpoint_ + "/" + bucket_);
  const auto& fd = init.at("formData").as_object();
  EXPECT_TRUE(str(fd, "key").starts_with("upgate/")) << str(fd, "key");
  EXPECT_EQ(str(fd, "bucket"), bucket_);
  EXPECT_EQ(json::serialize(init.at("successCodes")), "[200]");
  std::string policy;
  ASSERT_TRUE(crypto::base64_decode(fd.at("policy").as_string(), policy));
  EXPECT_NE(policy.find(R"(["content-length-range", 0, 3000])"), std::string::npos) << policy;

  auto posted = flows::post_openim_form(init, png);
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(objects(), 1u);  // in RGW before upgate knows of it

  auto done = im_.complete(*client_, init);
  ASSERT_EQ(OpenIm::code(done), 0) << json::serialize(done);
  EXPECT_EQ(str(OpenIm::data(done), "url"), "http://im.example/object/avatar.png");
  EXPECT_EQ(im_.fetch(*client_, "avatar.png"), png);
  // A second completion finds the row: nothing added, nothing removed.
  const uint64_t stored = objects();  // the blob, and the name's alias
  EXPECT_EQ(OpenIm::code(im_.complete(*client_, init)), 0);
  EXPECT_EQ(im_.fetch(*client_, "avatar.png"), png);
  EXPECT_EQ(objects(), stored);
  // Recorded as the form endpoint records uploads: under the form's key,
  // hashed, typed, sized.
  const std::string key =
      str(admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"n"})", 201), "token");
  auto listed = client_->request("GET", "/v1/files?app=im", bearer(key));
  ASSERT_EQ(listed.status, 200) << listed.body;
  int found = 0;
  auto files = parse(listed.body);
  for (const auto& v : files["files"].as_array()) {
    const auto& f = v.as_object();
    if (f.at("size").as_int64() != 3000) continue;
    ++found;
    EXPECT_EQ(str(f, "sha256"), sha256_hex(png));
    EXPECT_EQ(str(f, "content_type"), "image/png");
  }
  EXPECT_EQ(found, 1) << listed.body;
}

TEST_F(OpenImDirectTest, SizesOutsideTheFormAreRefused) {
  auto init = im_.initiate(*client_, "doc.txt", 10, "text/plain");
  // Larger than the policy allows: RGW itself refuses.
  auto big = flows::post_openim_form(init, "12345678901");
  EXPECT_EQ(big.status, 400) << big.body;
  EXPECT_NE(big.body.find("EntityTooLarge"), std::string::npos) << big.body;
  EXPECT_EQ(objects(), 0u);
  // Within the range but not the declared size: complete refuses, as it does
  // for upgate's own form.
  ASSERT_EQ(flows::post_openim_form(init, "12345").status, 200);
  auto o = im_.complete(*client_, init);
  EXPECT_EQ(OpenIm::code(o), 90007) << json::serialize(o);
  EXPECT_EQ(str(o, "errDlt"), "file size mismatch");
}

TEST_F(OpenImDirectTest, ExpiredPolicyIsRefusedByRgw) {
  auto r = im_.call(*client_, "/object/initiate_form_data",
                    R"({"name":"late.png","size":10,"contentType":"image/png","millisecond":1})");
  ASSERT_EQ(OpenIm::code(r), 0) << json::serialize(r);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto posted = flows::post_openim_form(OpenIm::data(r), "0123456789");
  EXPECT_EQ(posted.status, 403) << posted.body;
  EXPECT_NE(posted.body.find("AccessDenied"), std::string::npos) << posted.body;
  EXPECT_EQ(objects(), 0u);
}

TEST_F(OpenImDirectTest, CompleteWithoutUploadOrWithAForgedIdIsRefused) {
  auto init = im_.initiate(*client_, "never.png", 10);
  auto o = im_.complete(*client_, init);
  EXPECT_EQ(OpenIm::code(o), 1004) << json::serialize(o);
  EXPECT_EQ(str(o, "errDlt"), "object not found: the form was not posted");

  // The id names the blob; one it was not issued for is refused.
  ASSERT_EQ(flows::post_openim_form(init, "0123456789").status, 200);
  std::string id_json;
  ASSERT_TRUE(crypto::base64_decode(str(init, "id"), id_json));
  auto id = parse(id_json);
  id["blob"] = "x" + str(id, "blob").substr(1);
  json::object forged = init;
  std::string forged_id = crypto::base64(json::serialize(id));
  while (!forged_id.empty() && forged_id.back() == '=') forged_id.pop_back();
  forged["id"] = forged_id;
  EXPECT_EQ(OpenIm::code(im_.complete(*client_, forged)), 1001);
  EXPECT_EQ(OpenIm::code(im_.complete(*client_, init)), 0);
}

TEST_F(OpenImDirectTest, ContentAddressedKeysGetNoDirectForm) {
  auto r = im_.call(
      *client_, "/object/initiate_form_data",
      R"({"name":"openim/data/hash/0123456789abcdef0123456789abcdef","size":4,"absolute":true})");
  EXPECT_EQ(OpenIm::code(r), 1002) << json::serialize(r);
}

TEST_F(OpenImDirectTest, UploadNeverCompletedIsSweptAsAnOrphan) {
  auto init = im_.initiate(*client_, "orphan.png", 10);
  ASSERT_EQ(flows::post_openim_form(init, "0123456789").status, 200);
  EXPECT_EQ(objects(), 1u);
  advance_clock(5 * 60'000);
  auto swept = admin_request("POST", "/v1/admin/sweep", R"({"orphan_grace_ms":60000})", 200);
  EXPECT_EQ(swept["orphan_blobs"].as_int64(), 1) << json::serialize(swept);
  EXPECT_EQ(objects(), 0u);
  EXPECT_EQ(OpenIm::code(im_.complete(*client_, init)), 1004);
}

// On local disk the setting falls back to upgate's own form endpoint.
TEST(OpenImDirectFallbackTest, LocalBlobsKeepUpgatesForm) {
  ServerProcess server;
  server.start();
  HttpClient c(server.port());
  OpenIm im;
  im.create(c, R"({"form_data_direct":true})");
  auto init = im.initiate(c, "a.png", 4);
  EXPECT_EQ(str(init, "url"), "http://127.0.0.1:" + std::to_string(server.port()) + "/s3/openim");
  ASSERT_EQ(flows::post_openim_form(init, "four").status, 200);
  EXPECT_EQ(OpenIm::code(im.complete(c, init)), 0);
  EXPECT_EQ(im.fetch(c, "a.png"), "four");
}

}  // namespace
}  // namespace up::testing
