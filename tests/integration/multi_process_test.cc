// Three upgate processes on one PostgreSQL database and one shared data folder
// (blobs and master.key), as behind a load balancer (issue 14): the rules that
// used to hold inside one process must hold across the three.

#include <atomic>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

constexpr int kProcesses = 3;
constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";

// Runs fn(i) for i in [0, n) on n threads that start together.
template <class Fn>
void concurrently(int n, const Fn& fn) {
  std::latch go(n);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      fn(i);
    });
  for (auto& t : threads) t.join();
}

class MultiProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    meta_ = fresh_pg_meta_url();
    ASSERT_FALSE(meta_.empty());
    const std::string data = dir_.path() + "/data";
    // One after the other: the first creates master.key and migrates the
    // schema; the others find both.
    for (int i = 0; i < kProcesses; ++i) {
      servers_.push_back(std::make_unique<ServerProcess>(
          std::vector<std::string>{"--meta", meta_, "--sweep-interval-ms", "86400000"}, data));
      ASSERT_NO_FATAL_FAILURE(servers_.back()->start());
      clients_.emplace_back(servers_.back()->port());
    }
  }

  const HttpClient& on(int i) const { return clients_[static_cast<size_t>(i % kProcesses)]; }
  static Headers admin() { return bearer(ServerProcess::kAdminKey); }
  boost::json::object admin_request(int process, const std::string& method,
                                    const std::string& target, const std::string& body, int want) {
    auto r = on(process).request(method, target, admin(), body);
    EXPECT_EQ(r.status, want) << method << " " << target << ": " << r.body;
    return parse(r.body);
  }
  std::vector<std::string> sql(const std::string& query) const { return pg_rows(meta_, query); }

  TempDir dir_;
  std::string meta_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<HttpClient> clients_;
};

TEST_F(MultiProcessTest, MaxObjectsIsExactUnderUploadsThroughEveryProcess) {
  admin_request(0, "POST", "/v1/admin/tenants/default/apps",
                R"({"id":"pics","dialect":"native","quota":{"max_objects":10}})", 201);
  std::vector<HttpResponse> answers(40);
  concurrently(40, [&](int i) {
    // Sizes differ so that the byte total says which uploads were counted.
    const std::string body = pattern_string(1000 + static_cast<size_t>(i));
    answers[static_cast<size_t>(i)] =
        on(i).request("POST", "/v1/files?app=pics&name=f" + std::to_string(i), admin(), body);
  });
  int stored = 0;
  int64_t stored_bytes = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto& r = answers[i];
    if (r.status == 201) {
      ++stored;
      stored_bytes += 1000 + static_cast<int64_t>(i);
      EXPECT_EQ(parse(r.body)["size"].as_int64(), 1000 + static_cast<int64_t>(i));
    } else {
      EXPECT_EQ(r.status, 507) << r.body;
      EXPECT_EQ(parse(r.body)["code"].as_int64(), 1603) << r.body;
    }
  }
  EXPECT_EQ(stored, 10);
  // Every process lists the same ten.
  for (int p = 0; p < kProcesses; ++p) {
    auto list = on(p).request("GET", "/v1/files?app=pics&limit=100", admin());
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(parse(list.body)["files"].as_array().size(), 10u) << "process " << p;
  }
  // The usage row the quota is checked against equals what is stored.
  EXPECT_EQ(sql("SELECT objects || ' ' || bytes FROM usage "
                "WHERE tenant_id = 'default' AND app_id = 'pics'"),
            std::vector<std::string>{"10 " + std::to_string(stored_bytes)});
  EXPECT_EQ(sql("SELECT count(*) || ' ' || sum(size) FROM objects "
                "WHERE tenant_id = 'default' AND app_id = 'pics' AND state <> 'deleted'"),
            std::vector<std::string>{"10 " + std::to_string(stored_bytes)});
}

TEST_F(MultiProcessTest, OneJodooTokenGivesOneUploadAcrossProcesses) {
  admin_request(0, "POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
  admin_request(
      1, "POST", "/v1/admin/tenants/acme/apps",
      R"({"id":"crm","dialect":"jodoo","settings":{"entries":{"5f1e0c2a9b8d7e6f5a4b3c2d":{"fields":{"_widget_file":"upload"}}}}})",
      201);
  const std::string key =
      str(admin_request(2, "POST", "/v1/admin/tenants/acme/keys", R"({"name":"j"})", 201), "token");
  // Signed by process 0; every process verifies it with the shared master key.
  auto t = on(0).request("POST", "/api/v5/app/entry/file/get_upload_token", bearer(key),
                         R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                             R"(","transaction_id":"tx-multi"})");
  ASSERT_EQ(t.status, 200) << t.body;
  const std::string token =
      str(parse(t.body)["token_and_url_list"].as_array().at(0).as_object(), "token");
  const std::string boundary = "----qiniu6fd6ff237027ae34";
  std::vector<HttpResponse> answers(20);
  concurrently(20, [&](int i) {
    const std::string content = "client " + std::to_string(i);
    const std::string body =
        "--" + boundary + "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + token +
        "\r\n" + multipart_body(boundary, "file", "a.txt", "text/plain", content);
    answers[static_cast<size_t>(i)] = on(i).request(
        "POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + boundary}}, body);
  });
  int ok = 0;
  for (const auto& r : answers) {
    if (r.status == 200) {
      ++ok;
    } else {
      EXPECT_EQ(r.status, 614) << r.body;
      EXPECT_EQ(str(parse(r.body), "error"), "file exists");
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(sql("SELECT count(*) FROM objects WHERE tenant_id = 'acme' AND app_id = 'crm'"),
            std::vector<std::string>{"1"});
}

TEST_F(MultiProcessTest, UploadedOnOneReadOnAnotherDeletedOnTheThird) {
  const std::string content = pattern_string(3 << 20);
  auto up = on(0).request("POST", "/v1/files?name=shared.bin", admin(), content);
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string id = str(parse(up.body), "id");
  auto got = on(1).download("/v1/files/" + id + "/content", admin());
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.bytes, content.size());
  EXPECT_EQ(got.sha256, sha256_hex(content));
  EXPECT_EQ(on(2).request("DELETE", "/v1/files/" + id, admin()).status, 204);
  // Process 1 may serve the download from its object cache for 2 s (docs/scale-out.md).
  for (int p = 0; p < kProcesses; ++p)
    admin_request(p, "POST", "/v1/admin/clock", R"({"advance_ms":2000})", 200);
  for (int p = 0; p < kProcesses; ++p) {
    EXPECT_EQ(on(p).request("GET", "/v1/files/" + id, admin()).status, 404) << "process " << p;
    EXPECT_EQ(on(p).request("GET", "/v1/files/" + id + "/content", admin()).status, 404);
  }
}

TEST_F(MultiProcessTest, JPushRateLimitIsCountedAcrossProcesses) {
  admin_request(0, "POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
  const std::string app = "115cc609860982ede0e3bdd4";
  admin_request(0, "POST", "/v1/admin/tenants/acme/apps",
                R"({"id":")" + app + R"(","dialect":"jpush"})", 201);
  const std::string secret = str(admin_request(0, "POST", "/v1/admin/tenants/acme/keys",
                                               R"({"name":"m","app_id":")" + app + R"("})", 201),
                                 "token");
  // Each process has its own (test) clock: move each just past the same
  // minute boundary, so that all 60 requests fall in one window of every one.
  for (int p = 0; p < kProcesses; ++p) {
    auto now = admin_request(p, "POST", "/v1/admin/clock", R"({"advance_ms":0})", 200);
    const std::string iso = str(now, "now");  // ...T10:00:07.123Z
    const int64_t in_minute = std::atoi(iso.c_str() + 17) * 1000 + std::atoi(iso.c_str() + 20);
    admin_request(p, "POST", "/v1/admin/clock",
                  R"({"advance_ms":)" + std::to_string(60'000 - in_minute + 20) + "}", 200);
  }
  const Headers auth = {{"Authorization", "Basic " + crypto::base64(app + ":" + secret)}};
  std::vector<int> statuses(60);
  concurrently(60, [&](int i) {
    statuses[static_cast<size_t>(i)] = on(i).request("GET", "/v3/files", auth).status;
  });
  int accepted = 0;
  int per_process[kProcesses] = {};
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i] == 200) {
      ++accepted;
      ++per_process[i % kProcesses];
    } else {
      EXPECT_EQ(statuses[i], 429);
    }
  }
  // One counter in the database for the three (three counters would let 60 through).
  EXPECT_EQ(accepted, 20) << per_process[0] << " + " << per_process[1] << " + " << per_process[2];
}

}  // namespace
}  // namespace up::testing
