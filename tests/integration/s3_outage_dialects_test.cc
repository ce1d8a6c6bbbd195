// RGW stopped while uploads of every dialect are mid-transfer (issue 15, item
// 3: the form uploads mid-multipart, the native one mid-way through its single
// streamed PUT), through the real server on --blobs s3://...: each client gets a 503 in its
// dialect's own envelope, nothing becomes visible (no file listed; after RGW is
// back and a sweep ran, no object and no multipart upload under the prefix),
// and the same uploads then succeed on the same server process.
//
// The RGW is a Ceph cluster of this test's own (its own ports and folder,
// through the shared s3-up.sh/s3-down.sh), so that stopping it never breaks the
// suites of anyone else using the shared one. Only its gateway (radosgw) is
// stopped and started: s3-down.sh would wipe the cluster, and with it the
// half-done multipart uploads the sweep must be seen to remove.

#include <signal.h>
#include <unistd.h>

#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/errors.h"
#include "integration/harness.h"
#include "storage/s3_test_env.h"
#include "support/service_env.h"

namespace up::testing {
namespace {

namespace json = boost::json;
namespace s3_test = storage::s3_test;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";
constexpr const char* kJPushKey = "4f7aa6e3b1c2d3e4f5a6b7c8";
constexpr const char* kBoundary = "------------------------outage6fd6ff2370";
// Five parts of 5 MiB (the store's smallest) would not fit JPush's 10 MB file
// limit: the files are 9 MiB, sent as 6 MiB (a part is on its way to RGW) and,
// once RGW is down, 3 MiB more (the last part, sent at commit, fails).
constexpr size_t kFileBytes = 9u << 20;
constexpr size_t kPauseAt = 6u << 20;

// The test's own RGW. configure() points s3-up.sh (run by s3_test_env on
// first use) at its own ports and folder through this process's environment.
class PrivateRgw {
 public:
  static constexpr const char* kDirPrefix = "upgate-s3-outage-";
  static void configure() {
    // A run that crashed left its cluster running: stop it (its pid is gone).
    for (const auto& e : std::filesystem::directory_iterator("/tmp")) {
      const std::string name = e.path().filename().string();
      if (!name.starts_with(kDirPrefix) || name.ends_with(".lock")) continue;
      if (::kill(std::atoi(name.c_str() + std::strlen(kDirPrefix)), 0) == 0) continue;
      (void)services::run("s3-down.sh", "S3_DIR=" + e.path().string() + " ");
      std::error_code ec;
      std::filesystem::remove(e.path().string() + ".lock", ec);
    }
    const std::string dir = "/tmp/" + std::string(kDirPrefix) + std::to_string(::getpid());
    ::setenv("S3_PORT", std::to_string(free_port()).c_str(), 1);
    ::setenv("S3_MON_PORT", std::to_string(free_port()).c_str(), 1);
    ::setenv("S3_DIR", dir.c_str(), 1);
  }
  static void remove() {
    if (auto out = services::run("s3-down.sh"); !out)
      std::fprintf(stderr, "%s\n", out.error().message.c_str());
    std::error_code ec;
    std::filesystem::remove(std::string(std::getenv("S3_DIR")) + ".lock", ec);
  }
  static std::string dir() { return std::getenv("S3_DIR"); }
  static std::string url() { return "http://127.0.0.1:" + std::string(std::getenv("S3_PORT")); }

  // SIGTERM to radosgw alone: the cluster (and what it stores) stays. Not
  // SIGKILL: a killed gateway's watches on its control objects outlive it by
  // 30 s, and every metadata change (a bucket's removal) waits for them.
  static void stop_gateway() {
    std::ifstream in(dir() + "/run/client.rgw.pid");
    pid_t pid = 0;
    in >> pid;
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGTERM);
    stopped_ = true;
    for (int i = 0; i < 1000 && ::kill(pid, 0) == 0 && !zombie(pid); ++i)
      std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(answering()) << "radosgw still answers";
  }
  // After stop_gateway(): starts radosgw as s3-up.sh does; waits (at most
  // 30 s) until it answers.
  static void start_gateway() {
    if (!stopped_ || answering()) return;
    stopped_ = false;
    int rc = -1;
    std::string out = run_command("timeout 60 radosgw -c '" + dir() +
                                      "/ceph.conf' -n client.rgw --client-mount-timeout=30 2>&1",
                                  &rc);
    EXPECT_EQ(rc, 0) << out;
    for (int i = 0; i < 300 && !answering(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(answering()) << "radosgw did not come back";
  }
  static bool answering() {
    int rc = -1;
    run_command("curl -fsS -o /dev/null --max-time 2 " + url() + "/ 2>/dev/null", &rc);
    return rc == 0;
  }

 private:
  static bool zombie(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    return close == std::string::npos || line.substr(close + 2, 1) == "Z";
  }
  static inline bool stopped_ = false;
};

struct Field {
  std::string name;
  std::string value;
};

// A multipart/form-data body: `fields`, then the file, then `after`.
std::string form(const std::vector<Field>& fields, const std::string& file_field,
                 const std::string& content, const std::vector<Field>& after = {}) {
  std::string b;
  auto field = [&](const Field& f) {
    b += std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + f.name +
         "\"\r\n\r\n" + f.value + "\r\n";
  };
  for (const auto& f : fields) field(f);
  b += std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + file_field +
       "\"; filename=\"ids.txt\"\r\nContent-Type: text/plain\r\n\r\n" + content + "\r\n";
  for (const auto& f : after) field(f);
  return b + "--" + kBoundary + "--\r\n";
}

Headers with_form(Headers h) {
  h.emplace_back("Content-Type", std::string("multipart/form-data; boundary=") + kBoundary);
  return h;
}

// One dialect's upload: the request, the app its file lands in, and what its
// 503 must look like.
struct Flow {
  std::string dialect;
  std::string target;
  Headers headers;
  std::string body;
  std::string app;
  std::function<void(const HttpResponse&)> check_unavailable;
  std::function<void(const HttpResponse&)> check_stored;
};

class S3OutageDialectsTest : public ServerTest {
 protected:
  void SetUp() override {
    const std::string data = dir_.path() + "/data";
    place_ = s3_place_for(data);
    ASSERT_FALSE(place_.bucket.empty());
    // Parts of 5 MiB: every flow is mid-multipart when RGW goes.
    make_server({"--blobs", place_.url + "&part_size_mb=5", "--kintone-tenant", "acme"}, data);
    cli({"tenants", "create", "acme"});
    cli({"apps", "create", "1", "--tenant", "acme", "--dialect", "kintone", "--settings",
         R"({"fields":[{"code":"attachment","type":"FILE","label":"Attachment"}]})"});
    kintone_token_ = str(parse(cli({"kintone", "tokens", "create", "--tenant", "acme", "--app", "1",
                                    "--permissions", "view,add,edit,delete"})),
                         "token");
    start_made_server();
    admin_request("POST", "/v1/admin/tenants/acme/apps", R"({"id":"pics","dialect":"native"})",
                  201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  std::string(R"({"id":"crm","dialect":"jodoo","settings":{"entries":{")") +
                      kEntry + R"(":{"fields":{"_widget_file":"upload"}}}}})",
                  201);
    admin_request("POST", "/v1/admin/tenants/acme/apps", R"({"id":"im","dialect":"openim"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  std::string(R"({"id":")") + kJPushKey + R"(","dialect":"jpush"})", 201);
    key_ =
        str(admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"t"})", 201), "token");
    jpush_secret_ =
        str(admin_request("POST", "/v1/admin/tenants/acme/keys",
                          std::string(R"({"name":"m","app_id":")") + kJPushKey + "\"}", 201),
            "token");
    openim_secret_ = str(
        admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"o","app_id":"im"})", 201),
        "token");
  }
  void TearDown() override {
    PrivateRgw::start_gateway();  // whatever happened, RGW is up for the next test
    if (HasFailure() && server_) {
      const std::string log = server_->stdout_text();
      std::fprintf(stderr, "--- upgate's log (end):\n%s\n",
                   log.substr(log.size() > 6000 ? log.size() - 6000 : 0).c_str());
    }
  }

  std::vector<std::string> objects() {
    auto keys = s3_test::list_objects(place_.bucket, place_.prefix + "/");
    EXPECT_TRUE(keys) << keys.error().message;
    return keys ? *keys : std::vector<std::string>{};
  }
  std::vector<std::string> uploads() {
    auto keys = s3_test::list_uploads(place_.bucket, place_.prefix + "/");
    EXPECT_TRUE(keys) << keys.error().message;
    return keys ? *keys : std::vector<std::string>{};
  }
  size_t files_in(const std::string& app) {
    auto r = client_->request("GET", "/v1/files?app=" + app + "&limit=100", bearer(key_));
    EXPECT_EQ(r.status, 200) << r.body;
    const auto answer = parse(r.body);
    auto* files = answer.if_contains("files");
    return files && files->is_array() ? files->as_array().size() : 0;
  }

  std::vector<Flow> flows(const std::string& content);
  Flow jodoo_flow(const std::string& content);
  Flow openim_flow(const std::string& content);

  TempDir dir_;
  S3Place place_;
  std::string key_;
  std::string kintone_token_;
  std::string jpush_secret_;
  std::string openim_secret_;
};

// {"code":<Errc>,"msg":...} (native), {"code","id","message"} (kintone),
// {"error":{"code","message"}} (JPush): each as its errors.cc writes it.
void expect_json_503(const HttpResponse& r, const std::string& dialect,
                     const std::function<void(const json::object&)>& shape) {
  EXPECT_EQ(r.status, 503) << dialect << ": " << r.body;
  if (r.status == 503) shape(parse(r.body));
}

Flow S3OutageDialectsTest::jodoo_flow(const std::string& content) {
  auto t = client_->request("POST", "/api/v5/app/entry/file/get_upload_token", bearer(key_),
                            std::string(R"({"app_id":"crm","entry_id":")") + kEntry +
                                R"(","transaction_id":"tx-outage"})");
  EXPECT_EQ(t.status, 200) << t.body;
  std::string token;
  const auto answer = parse(t.body);
  if (auto* list = answer.if_contains("token_and_url_list"); list && list->is_array())
    token = str(list->as_array().at(0).as_object(), "token");
  return {"jodoo",
          "/",
          with_form({}),
          form({{"token", token}}, "file", content),
          "crm",
          [](const HttpResponse& r) {
            expect_json_503(r, "jodoo", [](const json::object& o) {
              EXPECT_FALSE(str(o, "error").empty()) << json::serialize(o);  // Qiniu's {"error"}
            });
          },
          [](const HttpResponse& r) { EXPECT_FALSE(str(parse(r.body), "key").empty()) << r.body; }};
}

Flow S3OutageDialectsTest::openim_flow(const std::string& content) {
  const std::string base = "/openim/acme/im";
  Headers h = {{"operationID", "1646445464564"}, {"Content-Type", "application/json"}};
  auto a = client_->request("POST", base + "/auth/get_admin_token", h,
                            R"({"secret":")" + openim_secret_ + R"(","userID":"imAdmin"})");
  h.emplace_back("token", str(parse(a.body).at("data").as_object(), "token"));
  auto i = client_->request("POST", base + "/object/initiate_form_data", h,
                            R"({"name":"big.txt","size":)" + std::to_string(content.size()) +
                                R"(,"contentType":"text/plain"})");
  EXPECT_EQ(i.status, 200) << i.body;
  auto init = parse(i.body).at("data").as_object();
  std::vector<Field> fields;
  for (const auto& [k, v] : init.at("formData").as_object())
    fields.push_back({std::string(k), std::string(v.as_string())});
  const std::string url = str(init, "url");
  const std::string host = "http://127.0.0.1:" + std::to_string(server_->port());
  return {"openim",
          url.substr(host.size()),
          with_form({}),
          form(fields, "file", content),
          "im",
          [](const HttpResponse& r) {
            // The form endpoint speaks S3's POST Object: an XML <Error>.
            EXPECT_EQ(r.status, 503) << "openim: " << r.body;
            EXPECT_NE(r.body.find("<Error><Code>ServiceUnavailable</Code>"), std::string::npos)
                << "openim: " << r.body;
          },
          [](const HttpResponse& r) { EXPECT_LT(r.status, 300) << r.body; }};
}

std::vector<Flow> S3OutageDialectsTest::flows(const std::string& content) {
  std::vector<Flow> out;
  out.push_back({"native", "/v1/files?app=pics&name=big.txt", bearer(key_), content, "pics",
                 [](const HttpResponse& r) {
                   expect_json_503(r, "native", [](const json::object& o) {
                     EXPECT_EQ(o.at("code").as_int64(), static_cast<int>(Errc::kUnavailable));
                     EXPECT_FALSE(str(o, "msg").empty());
                   });
                 },
                 [](const HttpResponse& r) { EXPECT_EQ(r.status, 201) << r.body; }});
  out.push_back(jodoo_flow(content));
  out.push_back(openim_flow(content));
  out.push_back({"kintone", "/k/v1/file.json", with_form({{"X-Cybozu-API-Token", kintone_token_}}),
                 form({}, "file", content), "1",
                 [](const HttpResponse& r) {
                   expect_json_503(r, "kintone", [](const json::object& o) {
                     EXPECT_EQ(str(o, "code"), "CB_UN01");
                     EXPECT_FALSE(str(o, "id").empty());
                     EXPECT_FALSE(str(o, "message").empty());
                   });
                 },
                 [](const HttpResponse& r) {
                   EXPECT_FALSE(str(parse(r.body), "fileKey").empty()) << r.body;
                 }});
  out.push_back({"jpush", "/v3/files/registration_id",
                 with_form({{"Authorization", "Basic " + crypto::base64(std::string(kJPushKey) +
                                                                        ":" + jpush_secret_)}}),
                 form({}, "filename", content, {{"ttl", "720"}}), kJPushKey,
                 [](const HttpResponse& r) {
                   expect_json_503(r, "jpush", [](const json::object& o) {
                     auto* e = o.if_contains("error");
                     ASSERT_TRUE(e && e->is_object()) << json::serialize(o);
                     EXPECT_EQ(e->as_object().at("code").as_int64(), 1100);
                     EXPECT_FALSE(str(e->as_object(), "message").empty());
                   });
                 },
                 [](const HttpResponse& r) {
                   EXPECT_FALSE(str(parse(r.body), "file_id").empty()) << r.body;
                 }});
  return out;
}

TEST_F(S3OutageDialectsTest, RgwDownMidUploadIs503InEachEnvelopeThenTheSameUploadsSucceed) {
  const auto t0 = Clock::now();
  std::string content;  // an id list, so that JPush takes it too
  content.reserve(kFileBytes);
  while (content.size() < kFileBytes) content += "1a0018970a1b2c3\n";
  const std::vector<Flow> all = flows(content);

  // Every flow sends 6 MiB and waits; once the four form uploads have a
  // multipart upload in RGW, the gateway goes, then every flow sends the rest.
  // The native flow's body has a Content-Length, so it is one PUT streamed
  // since its first byte (not listed anywhere until it completes).
  const size_t multipart = all.size() - 1;
  std::barrier meet(static_cast<ptrdiff_t>(all.size()), [&]() noexcept {
    for (int i = 0; i < 1000 && uploads().size() < multipart; ++i)
      std::this_thread::sleep_for(10ms);
    EXPECT_EQ(uploads().size(), multipart) << "not every form upload was mid-multipart";
    PrivateRgw::stop_gateway();
  });
  std::vector<HttpResponse> answers(all.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < all.size(); ++i)
    threads.emplace_back([&, i] {
      const Flow& f = all[i];
      const size_t file_at = f.body.find(content.substr(0, 64));
      answers[i] = client_->request_paused("POST", f.target, f.headers, f.body, file_at + kPauseAt,
                                           [&] { meet.arrive_and_wait(); });
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < all.size(); ++i) all[i].check_unavailable(answers[i]);
  // A body under the part size goes as one PUT at commit: the same 503.
  auto small = client_->request("POST", "/v1/files?app=pics&name=small.txt", bearer(key_), "tiny");
  all[0].check_unavailable(small);
  for (const auto& f : all) EXPECT_EQ(files_in(f.app), 0u) << f.dialect << " lists a file";

  PrivateRgw::start_gateway();
  // The uploads the server could not abort while RGW was down are stale once
  // the (dev) clock has moved past the orphan grace; the sweep aborts them. An
  // abort the server started while RGW was down may still get through once it
  // is back, so the sweep may find fewer; none may be left after it.
  const size_t left = uploads().size();
  advance_clock(120'000);
  auto swept = admin_request("POST", "/v1/admin/sweep", R"({"orphan_grace_ms":60000})", 200);
  EXPECT_LE(swept["stale_temporaries"].to_number<uint64_t>(), left);
  RecordProperty("multipart_uploads_left_by_the_outage", static_cast<int>(left));
  EXPECT_TRUE(uploads().empty());
  EXPECT_TRUE(objects().empty());
  for (const auto& f : all) EXPECT_EQ(files_in(f.app), 0u) << f.dialect << " lists a file";

  // The same requests again, on the same server process, as a client retries
  // a 503: on a busy machine the first write after RGW's restart was seen to
  // fail now and then (RGW still warming up or a connection of the old one);
  // recovery means within a few seconds, not on the first try.
  int retried = 0;
  auto send_until_not_503 = [&](const std::string& target, const Headers& h,
                                const std::string& body) {
    HttpResponse r = client_->request("POST", target, h, body);
    for (int i = 0; i < 10 && r.status == 503; ++i, ++retried) {
      std::this_thread::sleep_for(500ms);
      r = client_->request("POST", target, h, body);
    }
    return r;
  };
  for (const auto& f : all) {
    f.check_stored(send_until_not_503(f.target, f.headers, f.body));
    EXPECT_EQ(files_in(f.app), 1u) << f.dialect;
  }
  auto again = send_until_not_503("/v1/files?app=pics&name=small.txt", bearer(key_), "tiny");
  EXPECT_EQ(again.status, 201) << again.body;
  RecordProperty("retries_after_the_restart", retried);
  EXPECT_EQ(objects().size(), all.size() + 1);
  EXPECT_TRUE(uploads().empty());
  EXPECT_LT(Clock::now() - t0, 60s);
}

}  // namespace
}  // namespace up::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  up::testing::PrivateRgw::configure();
  const int rc = RUN_ALL_TESTS();
  up::testing::PrivateRgw::remove();
  return rc;
}
