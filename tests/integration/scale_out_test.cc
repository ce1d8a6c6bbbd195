// Issue 15's must-show: three upgate processes on one PostgreSQL (a fresh
// schema) and one RGW (a fresh bucket), as behind a load balancer without
// sticky sessions. Each dialect's flow crosses processes (upload on one,
// bind or read on another, delete on a third) and every byte read back is
// compared. The processes share nothing but the two stores and the
// --master-key file.

#include <memory>
#include <string>
#include <vector>

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

constexpr int kProcesses = 3;
constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string blobs = flows::rgw_blobs_flag(bucket_);
    ASSERT_FALSE(blobs.empty());
    meta_ = fresh_pg_meta_url();
    ASSERT_FALSE(meta_.empty());
    // A data folder each (nothing shared on disk); the first creates the key.
    for (int i = 0; i < kProcesses; ++i) {
      servers_.push_back(std::make_unique<ServerProcess>(std::vector<std::string>{
          "--meta", meta_, "--blobs", blobs, "--master-key", dir_.path() + "/master.key",
          "--kintone-tenant", "acme", "--sweep-interval-ms", "86400000"}));
      ASSERT_NO_FATAL_FAILURE(servers_.back()->start());
      clients_.emplace_back(servers_.back()->port());
    }
    admin_request(0, "POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
  }
  void TearDown() override {
    for (auto& s : servers_) s->terminate();
    if (!bucket_.empty()) {
      EXPECT_TRUE(s3_test::remove_bucket(bucket_));
    }
  }

  const HttpClient& on(int i) const { return clients_[static_cast<size_t>(i % kProcesses)]; }
  std::string base(int i) const {
    return "http://127.0.0.1:" + std::to_string(servers_[static_cast<size_t>(i)]->port());
  }
  json::object admin_request(int process, const std::string& method, const std::string& target,
                             const std::string& body, int want) {
    auto r = on(process).request(method, target, bearer(ServerProcess::kAdminKey), body);
    EXPECT_EQ(r.status, want) << method << " " << target << ": " << r.body;
    return parse(r.body);
  }
  // A key of tenant acme (the native API on its apps).
  std::string tenant_key(int process) {
    return str(
        admin_request(process, "POST", "/v1/admin/tenants/acme/keys", R"({"name":"k"})", 201),
        "token");
  }
  // GET of a URL some process handed out, sent to process `i` instead.
  HttpResponse get_via(int i, const std::string& url) {
    const size_t path = url.find('/', url.find("//") + 2);
    return on(i).request("GET", url.substr(path));
  }

  TempDir dir_;
  std::string bucket_, meta_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<HttpClient> clients_;
};

TEST_F(ScaleOutTest, Native) {
  const std::string content = pattern_string((9 << 20) + 123);  // multipart to RGW
  const Headers admin = bearer(ServerProcess::kAdminKey);
  auto up = on(0).request("POST", "/v1/files?name=shared.bin", admin, content);
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string id = str(parse(up.body), "id");
  auto got = on(1).download("/v1/files/" + id + "/content", admin);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.sha256, sha256_hex(content));
  EXPECT_EQ(on(2).request("DELETE", "/v1/files/" + id, admin).status, 204);
  // Process 1 may serve the download from its object cache for 2 s (docs/scale-out.md).
  for (int p = 0; p < kProcesses; ++p)
    admin_request(p, "POST", "/v1/admin/clock", R"({"advance_ms":2000})", 200);
  for (int p = 0; p < kProcesses; ++p)
    EXPECT_EQ(on(p).request("GET", "/v1/files/" + id + "/content", admin).status, 404) << p;
}

TEST_F(ScaleOutTest, JodooFormUploadThenDataCreate) {
  admin_request(
      1, "POST", "/v1/admin/tenants/acme/apps",
      R"({"id":"crm","dialect":"jodoo","settings":{"entries":{"5f1e0c2a9b8d7e6f5a4b3c2d":{"fields":{"_widget_file":"upload"}}}}})",
      201);
  const Headers key = bearer(tenant_key(2));
  auto t = on(0).request("POST", "/api/v5/app/entry/file/get_upload_token", key,
                         R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                             R"(","transaction_id":"tx-scale"})");
  ASSERT_EQ(t.status, 200) << t.body;
  const std::string token =
      str(parse(t.body)["token_and_url_list"].as_array().at(0).as_object(), "token");
  const std::string content = pattern_string(70'000);
  const std::string boundary = "----qiniu6fd6ff237027ae34";
  auto up = on(1).request(
      "POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + token +
          "\r\n" +
          multipart_body(boundary, "file", "scan.bin", "application/octet-stream", content));
  ASSERT_EQ(up.status, 200) << up.body;
  const std::string file_key = str(parse(up.body), "key");

  json::object data;
  data["_widget_file"] = {{"value", json::array{json::value(file_key)}}};
  json::object body{{"app_id", "crm"}, {"entry_id", kEntry}, {"transaction_id", "tx-scale"}};
  body["data"] = data;
  auto created = on(2).request("POST", "/api/v5/app/entry/data/create", key, json::serialize(body));
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string record = str(parse(created.body)["data"].as_object(), "_id");

  auto got = on(0).request("POST", "/api/v5/app/entry/data/get", key,
                           R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                               R"(","data_id":")" + record + R"("})");
  ASSERT_EQ(got.status, 200) << got.body;
  auto files = parse(got.body)["data"].as_object()["_widget_file"].as_array();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(get_via(1, str(files[0].as_object(), "url")).body, content);
  auto del = on(2).request("POST", "/api/v5/app/entry/data/delete", key,
                           R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                               R"(","data_id":")" + record + R"("})");
  EXPECT_EQ(del.status, 200) << del.body;
}

TEST_F(ScaleOutTest, KintoneFileThenRecordThenDownload) {
  admin_request(
      0, "POST", "/v1/admin/tenants/acme/apps",
      R"({"id":"1","dialect":"kintone","settings":{"fields":[{"code":"title","type":"SINGLE_LINE_TEXT","label":"Title"},{"code":"attachment","type":"FILE","label":"Attachment"}]}})",
      201);
  // The CLI on the servers' stores (the harness adds their --meta).
  const std::string token =
      str(parse(servers_[0]->cli({"kintone", "tokens", "create", "--tenant", "acme", "--app", "1",
                                  "--permissions", "view,add,edit,delete", "--master-key",
                                  dir_.path() + "/master.key"})),
          "token");
  ASSERT_FALSE(token.empty());
  const Headers api = {{"X-Cybozu-API-Token", token}};
  Headers json_api = api;
  json_api.emplace_back("Content-Type", "application/json");
  const std::string content = pattern_string(100'000);
  const std::string boundary = "---------------------------bee48a285354";
  Headers form = api;
  form.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
  auto up =
      on(0).request("POST", "/k/v1/file.json", form,
                    multipart_body(boundary, "file", "report.pdf", "application/pdf", content));
  ASSERT_EQ(up.status, 200) << up.body;
  auto added = on(1).request(
      "POST", "/k/v1/record.json", json_api,
      R"({"app":1,"record":{"title":{"value":"r"},"attachment":{"value":[{"fileKey":")" +
          str(parse(up.body), "fileKey") + R"("}]}}})");
  ASSERT_EQ(added.status, 200) << added.body;
  const std::string id = str(parse(added.body), "id");
  auto rec = on(2).request("GET", "/k/v1/record.json?app=1&id=" + id, api);
  ASSERT_EQ(rec.status, 200) << rec.body;
  auto files = parse(rec.body)["record"].as_object()["attachment"].as_object()["value"].as_array();
  ASSERT_EQ(files.size(), 1u);
  const std::string record_key = str(files[0].as_object(), "fileKey");
  auto d = on(0).request("GET", "/k/v1/file.json?fileKey=" + record_key, api);
  ASSERT_EQ(d.status, 200);
  EXPECT_TRUE(d.body == content) << d.body.size() << " bytes";
  auto del =
      on(1).request("DELETE", "/k/v1/records.json", json_api, R"({"app":1,"ids":[)" + id + "]}");
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(on(2).request("GET", "/k/v1/record.json?app=1&id=" + id, api).status, 404);
}

TEST_F(ScaleOutTest, OpenImFormThroughUpgateAndDirectToRgw) {
  OpenIm im;
  im.create(on(0), R"({"form_data_direct":false})");
  const std::string png = pattern_string(3000);
  // Through upgate: the form signed by 0 is posted to 1, completed on 2.
  auto init = im.initiate(on(0), "via-upgate.png", png.size());
  EXPECT_EQ(str(init, "url"), base(0) + "/s3/openim");
  ASSERT_EQ(flows::post_openim_form(init, png, &on(1)).status, 200);
  ASSERT_EQ(OpenIm::code(im.complete(on(2), init)), 0);
  EXPECT_EQ(im.fetch(on(0), "via-upgate.png"), png);

  // Direct: the app switches; RGW's form from 1, posted to RGW, completed on 2.
  admin_request(1, "PATCH", "/v1/admin/tenants/acme/apps/im",
                R"({"settings":{"form_data_direct":true}})", 200);
  const std::string jpg = pattern_string(5000);
  auto direct = im.initiate(on(1), "direct.jpg", jpg.size(), "image/jpeg");
  EXPECT_TRUE(str(direct, "url").ends_with("/" + bucket_)) << str(direct, "url");
  ASSERT_EQ(flows::post_openim_form(direct, jpg).status, 200);
  ASSERT_EQ(OpenIm::code(im.complete(on(2), direct)), 0);
  EXPECT_EQ(im.fetch(on(0), "direct.jpg"), jpg);
  EXPECT_EQ(im.fetch(on(1), "via-upgate.png"), png);
}

TEST_F(ScaleOutTest, JPushUploadListDelete) {
  const std::string app = "115cc609860982ede0e3bdd4";
  admin_request(0, "POST", "/v1/admin/tenants/acme/apps",
                R"({"id":")" + app + R"(","dialect":"jpush"})", 201);
  const std::string secret = str(admin_request(1, "POST", "/v1/admin/tenants/acme/keys",
                                               R"({"name":"m","app_id":")" + app + R"("})", 201),
                                 "token");
  const Headers auth = {{"Authorization", "Basic " + crypto::base64(app + ":" + secret)}};
  const std::string ids = "1a0018970a1b2c3\n1a0018970a1b2c4\n";
  const std::string boundary = "------------------------6fd6ff237027ae34";
  Headers form = auth;
  form.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
  std::string body = "--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"ttl\"\r\n\r\n720\r\n" +
                     multipart_body(boundary, "filename", "registration_id.txt", "text/plain", ids);
  auto up = on(0).request("POST", "/v3/files/registration_id", form, body);
  ASSERT_EQ(up.status, 200) << up.body;
  const std::string file_id = str(parse(up.body), "file_id");

  auto list = on(1).request("GET", "/v3/files", auth);
  ASSERT_EQ(list.status, 200) << list.body;
  auto files = parse(list.body)["files"].as_array();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(str(files[0].as_object(), "file_id"), file_id);
  // The stored bytes, through the native API of another process.
  const Headers native = bearer(tenant_key(2));
  auto stored = parse(on(2).request("GET", "/v1/files?app=" + app, native).body);
  ASSERT_EQ(stored["files"].as_array().size(), 1u);
  const std::string object = str(stored["files"].as_array()[0].as_object(), "id");
  EXPECT_EQ(on(2).request("GET", "/v1/files/" + object + "/content", native).body, ids);

  EXPECT_EQ(on(2).request("DELETE", "/v3/files/" + file_id, auth).status, 200);
  for (int p = 0; p < kProcesses; ++p)
    EXPECT_EQ(on(p).request("GET", "/v3/files/" + file_id, auth).status, 400) << p;
}

// tus: each chunk to another process, HEAD on the next one; the offsets every
// process reports are the chunks acknowledged anywhere.
TEST_F(ScaleOutTest, TusChunksAcrossProcesses) {
  const std::string key = tenant_key(0);
  const std::string data = pattern_string(300'000);
  Headers h = bearer(key);
  h.emplace_back("Tus-Resumable", "1.0.0");
  Headers create = h;
  create.emplace_back("Upload-Length", std::to_string(data.size()));
  auto c = on(0).request("POST", "/v1/tus/", create);
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string url = c.header("location");
  std::string id;
  for (int i = 0; i < 3; ++i) {
    Headers p = h;
    p.emplace_back("Content-Type", "application/offset+octet-stream");
    p.emplace_back("Upload-Offset", std::to_string(i * 100'000));
    auto r = on(i).request("PATCH", url, p, data.substr(static_cast<size_t>(i) * 100'000, 100'000));
    ASSERT_EQ(r.status, 204) << i << ": " << r.body;
    EXPECT_EQ(on(i + 1).request("HEAD", url, h).header("upload-offset"),
              std::to_string((i + 1) * 100'000));
    id = r.header("upgate-file-id");
  }
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(on(2).request("GET", "/v1/files/" + id + "/content", bearer(key)).body, data);
}

}  // namespace
}  // namespace up::testing
