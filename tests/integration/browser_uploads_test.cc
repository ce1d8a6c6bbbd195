// Uploads from a real browser (Debian's Chromium, headless, driven by
// playwright-core) with the vendors' real browser libraries, from a page on
// another origin, so CORS preflights are part of it
// (tests/compat/browser/browser_uploads.mjs):
// - Uppy (@uppy/core + @uppy/tus) to /v1/tus/ with an upload grant, in 1 MiB
//   PATCHes; the native download's SHA-256 must be the page's.
// - qiniu-js upload() of 9 MiB (over 4 MiB: Qiniu's resumable v2) with a
//   Jodoo upload token; its hash must be the page's qetag, and the object,
//   bound to a record, must read back the page's bytes.
// One case: one server and one browser launch for both.

#include <unistd.h>

#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";
constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kUppySize = 3 * kMiB + 12'345;  // 4 PATCHes of at most 1 MiB
constexpr int64_t kQiniuSize = 9 * kMiB;          // parts of 4, 4 and 1 MiB

int64_t count(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_int64() ? v->as_int64() : 0;
}

// Requests of the server's access log (its JSON lines) with this method, a
// path under `prefix` and this status.
int logged(const ServerProcess& server, const std::string& method, const std::string& prefix,
           int64_t status) {
  int n = 0;
  std::istringstream lines(server.stdout_text());
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto v = line.starts_with('{') ? json::parse(line, ec) : json::value();
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    n += str(o, "method") == method && str(o, "path").starts_with(prefix) &&
         count(o, "status") == status;
  }
  return n;
}

class BrowserUploadsTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(kChromium, X_OK), 0)
        << kChromium << " is missing: scripts/install-deps.sh installs Debian's chromium";
    start_server();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    page_port_ = free_port();
    const std::string cors =
        R"({"cors_origins":["http://127.0.0.1:)" + std::to_string(page_port_) + R"("]})";
    admin_request("PATCH", "/v1/admin/tenants/default", cors, 200);
    admin_request("POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
    admin_request("PATCH", "/v1/admin/tenants/acme", cors, 200);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  std::string(R"({"id":"crm","dialect":"jodoo","settings":{"entries":{")") +
                      kEntry + R"(":{"fields":{"_widget_file":"upload"}}}}})",
                  201);
    jodoo_key_ = str(
        admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"jodoo"})", 201), "token");
  }

  HttpResponse jodoo(const std::string& path, const json::object& body) {
    return client_->request("POST", "/api/v5/app/entry/" + path, bearer(jodoo_key_),
                            json::serialize(body));
  }
  json::object jodoo_body(const std::string& tx) {
    return {{"app_id", "crm"}, {"entry_id", kEntry}, {"transaction_id", tx}};
  }

  // Runs the browser on `jobs`; the script's JSON answer.
  json::object run_browser(const json::array& jobs) {
    const std::string err = work_.path() + "/stderr.txt";
    int status = -1;
    const std::string out = run_command(
        "cd " UPGATE_COMPAT_DIR " && node browser/browser_uploads.mjs '" + work_.path() + "' " +
            std::to_string(page_port_) + " '" + json::serialize(jobs) + "' 2>'" + err + "'",
        &status);
    EXPECT_EQ(status, 0) << out << run_command("cat '" + err + "'");
    return out.empty() ? json::object() : parse(out);
  }

  std::string base_;
  uint16_t page_port_ = 0;
  std::string jodoo_key_;
  TempDir work_;
};

TEST_F(BrowserUploadsTest, UppyTusAndQiniuJsFromAnotherOrigin) {
  auto grant = admin_request("POST", "/v1/upload-grants",
                             R"({"max_size":)" + std::to_string(kUppySize) + "}", 201);
  auto token = jodoo("file/get_upload_token", jodoo_body("tx-browser"));
  ASSERT_EQ(token.status, 200) << token.body;
  json::array jobs{
      json::object{{"kind", "uppy"},
                   {"endpoint", base_ + "/v1/tus/"},
                   {"grant", str(grant, "grant")},
                   {"size", kUppySize},
                   {"chunkSize", kMiB},
                   {"seed", 16}},
      json::object{
          {"kind", "qiniu"},
          {"uphost", "127.0.0.1:" + std::to_string(server_->port())},
          {"token",
           str(parse(token.body).at("token_and_url_list").as_array().at(0).as_object(), "token")},
          {"size", kQiniuSize},
          {"seed", 4}}};
  json::object out = run_browser(jobs);
  ASSERT_TRUE(out.contains("jobs")) << json::serialize(out);
  const auto& done = out.at("jobs").as_array();
  ASSERT_EQ(done.size(), 2u) << json::serialize(out);
  std::cout << "esbuild " << count(out, "bundle_ms") << " ms, browser launch "
            << count(out, "launch_ms") << " ms, uppy " << count(done[0].as_object(), "ms")
            << " ms, qiniu-js " << count(done[1].as_object(), "ms") << " ms\n";

  {
    SCOPED_TRACE("uppy");
    const auto& job = done[0].as_object();
    ASSERT_TRUE(job.contains("result")) << json::serialize(job);
    const auto& r = job.at("result").as_object();
    EXPECT_TRUE(job.at("elsewhere").as_array().empty()) << json::serialize(job);
    EXPECT_EQ(str(r, "origin"), "http://127.0.0.1:" + std::to_string(page_port_));
    EXPECT_TRUE(r.at("failed").as_array().empty()) << json::serialize(job);
    // Creation, then one PATCH per MiB.
    const auto& requests = job.at("requests").as_object();
    EXPECT_EQ(count(requests, "POST"), 1) << json::serialize(job);
    EXPECT_EQ(count(requests, "PATCH"), 4) << json::serialize(job);
    const std::string url = str(r, "uploadURL");
    ASSERT_TRUE(url.starts_with(base_ + "/v1/tus/")) << json::serialize(job);
    // The upload URL names the file once done; the native API serves it.
    auto head = client_->request("HEAD", url.substr(base_.size()), {{"Tus-Resumable", "1.0.0"}});
    EXPECT_EQ(head.header("upload-offset"), std::to_string(kUppySize));
    const std::string file_id = head.header("upgate-file-id");
    ASSERT_FALSE(file_id.empty()) << head.status;
    auto got = client_->download("/v1/files/" + file_id + "/content", admin());
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(static_cast<int64_t>(got.bytes), kUppySize);
    EXPECT_EQ(got.sha256, str(r, "sha256"));
  }
  {
    SCOPED_TRACE("qiniu-js");
    const auto& job = done[1].as_object();
    ASSERT_TRUE(job.contains("result")) << json::serialize(job);
    const auto& r = job.at("result").as_object();
    EXPECT_TRUE(job.at("elsewhere").as_array().empty()) << json::serialize(job);
    EXPECT_EQ(count(r, "size"), kQiniuSize);
    // v2: init and complete (POST), one PUT per 4 MiB part.
    const auto& requests = job.at("requests").as_object();
    EXPECT_EQ(count(requests, "PUT"), 3) << json::serialize(job);
    EXPECT_EQ(count(requests, "POST"), 2) << json::serialize(job);
    const auto& answer = r.at("answer").as_object();
    EXPECT_EQ(str(answer, "hash"), str(r, "qetag"));
    // Readable once bound to a record under the token's transaction.
    json::object create = jodoo_body("tx-browser");
    create["data"] = {{"_widget_file", {{"value", json::array{json::value(str(answer, "key"))}}}}};
    auto bound = jodoo("data/create", create);
    ASSERT_EQ(bound.status, 200) << bound.body;
    const json::object record = parse(bound.body);
    const auto& files = record.at("data").as_object().at("_widget_file").as_array();
    ASSERT_EQ(files.size(), 1u) << bound.body;
    const std::string url = str(files[0].as_object(), "url");
    ASSERT_TRUE(url.starts_with(base_)) << url;
    auto got = client_->download(url.substr(base_.size()));
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(static_cast<int64_t>(got.bytes), kQiniuSize);
    EXPECT_EQ(got.sha256, str(r, "sha256"));
  }
  // The browser asked before its cross-origin requests, and was let through.
  EXPECT_GE(logged(*server_, "OPTIONS", "/v1/tus/", 204), 1) << server_->stdout_text();
  EXPECT_GE(logged(*server_, "OPTIONS", "/buckets/", 204), 1);
}

}  // namespace
}  // namespace up::testing
