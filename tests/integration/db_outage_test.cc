// The database goes away under load and comes back (issue 14): while it is
// down every dialect answers 503 in its own envelope; when it is back upgate
// serves again by itself, and nothing it acknowledged is lost.
//
// The PostgreSQL here is one of this test's own (its own port and folder,
// started and stopped with the shared pg-up.sh / pg-down.sh), so stopping it
// never touches the server the other PostgreSQL tests use.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "integration/harness.h"
#include "support/service_env.h"

namespace up::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";
constexpr const char* kBoundary = "------------------------6fd6ff237027ae34";
constexpr const char* kJPushApp = "115cc609860982ede0e3bdd4";

// A PostgreSQL cluster of this test's own, through the shared scripts.
class PrivatePostgres {
 public:
  PrivatePostgres()
      : dir_("/tmp/upgate-outage-pg-" + std::to_string(::getpid())),
        env_("PG_PORT=" + std::to_string(free_port()) + " PG_DIR=" + dir_ + " ") {}
  ~PrivatePostgres() {
    run("pg-down.sh", "");  // and its folder goes
    std::error_code ec;
    std::filesystem::remove(dir_ + ".lock", ec);  // pg-up.sh's lock file beside it
  }

  // Starts it (a new cluster the first time); returns its URL.
  std::string up() {
    std::string url = services::exported(run("pg-up.sh", ""), "PG_URL");
    EXPECT_FALSE(url.empty());
    return url;
  }
  // Stops it, keeping its data.
  void down() { run("pg-down.sh", "KEEP_DATA=1 "); }

 private:
  std::string run(const std::string& script, const std::string& env) {
    auto out = services::run(script, env_ + env);
    EXPECT_TRUE(out) << script << ": " << out.error().message;
    return out ? *out : std::string();
  }
  std::string dir_;
  std::string env_;
};

// What a load thread had acknowledged: where to read it back and its bytes.
struct Acked {
  std::string target;  // GET this; empty: a kintone upload, found by `name`
  std::string name;
  std::string content;
};

class DbOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = pg_.up();
    ASSERT_FALSE(url.empty());
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--meta", url, "--meta-pool", "4"});
    ASSERT_NO_FATAL_FAILURE(server_->start());
    client_ = std::make_unique<HttpClient>(server_->port());
    ASSERT_NO_FATAL_FAILURE(make_apps());
  }
  void TearDown() override { stop_load(); }

  json::object admin_request(const std::string& method, const std::string& target,
                             const std::string& body, int want) {
    auto r = client_->request(method, target, bearer(ServerProcess::kAdminKey), body);
    EXPECT_EQ(r.status, want) << method << " " << target << ": " << r.body;
    return parse(r.body);
  }

  // Tenant acme with an app of each dialect, their credentials, and what
  // the outage requests need made beforehand (Jodoo tokens, an OpenIM upload id).
  void make_apps() {
    admin_request("POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  R"({"id":"crm","dialect":"jodoo","settings":{"entries":{")" +
                      std::string(kEntry) + R"(":{"fields":{"_widget_file":"upload"}}}}})",
                  201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  R"({"id":"1","dialect":"kintone","settings":{"fields":[)"
                  R"({"code":"attachment","type":"FILE","label":"Attachment"}]}})",
                  201);
    admin_request("POST", "/v1/admin/tenants/acme/apps", R"({"id":"im","dialect":"openim"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  R"({"id":")" + std::string(kJPushApp) + R"(","dialect":"jpush"})", 201);
    jodoo_key_ =
        str(admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"j"})", 201), "token");
    jpush_secret_ =
        str(admin_request("POST", "/v1/admin/tenants/acme/keys",
                          R"({"name":"p","app_id":")" + std::string(kJPushApp) + "\"}", 201),
            "token");
    int rc = -1;
    kintone_token_ = str(parse(server_->cli({"kintone", "tokens", "create", "--tenant", "acme",
                                             "--app", "1", "--permissions", "view,add"},
                                            &rc)),
                         "token");
    ASSERT_EQ(rc, 0);
    const std::string im_secret = str(
        admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"o","app_id":"im"})", 201),
        "token");
    auto t =
        openim("/auth/get_admin_token", R"({"secret":")" + im_secret + R"(","userID":"imAdmin"})");
    ASSERT_EQ(t.status, 200) << t.body;
    const auto token_body = parse(t.body);
    openim_token_ = str(token_body.at("data").as_object(), "token");
    auto init = openim("/object/initiate_form_data",
                       R"({"name":"o.bin","size":1,"contentType":"application/octet-stream"})");
    ASSERT_EQ(init.status, 200) << init.body;
    const auto init_body = parse(init.body);
    openim_upload_id_ = str(init_body.at("data").as_object(), "id");
    jodoo_tokens_ = jodoo_token_list();
    ASSERT_EQ(jodoo_tokens_.size(), 100u);
  }

  HttpResponse openim(const std::string& route, const std::string& body) {
    Headers h = {{"operationID", "1"}, {"Content-Type", "application/json"}};
    if (!openim_token_.empty()) h.emplace_back("token", openim_token_);
    return client_->request("POST", "/openim/acme/im" + route, h, body);
  }
  HttpResponse jodoo_get_upload_token() {
    return client_->request("POST", "/api/v5/app/entry/file/get_upload_token", bearer(jodoo_key_),
                            R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                R"(","transaction_id":"tx-)" + std::to_string(++jodoo_tx_) + "\"}");
  }
  std::vector<std::string> jodoo_token_list() {
    auto r = jodoo_get_upload_token();
    std::vector<std::string> out;
    if (r.status != 200) return out;
    const auto body = parse(r.body);
    for (auto& e : body.at("token_and_url_list").as_array())
      out.push_back(str(e.as_object(), "token"));
    return out;
  }
  HttpResponse qiniu_upload(const std::string& token, const std::string& content) {
    const std::string body = std::string("--") + kBoundary +
                             "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + token +
                             "\r\n" +
                             multipart_body(kBoundary, "file", "q.txt", "text/plain", content);
    return client_->request(
        "POST", "/", {{"Content-Type", std::string("multipart/form-data; boundary=") + kBoundary}},
        body);
  }
  Headers kintone_auth() const { return {{"X-Cybozu-API-Token", kintone_token_}}; }
  HttpResponse kintone_upload(const std::string& content, const std::string& name = "k.txt") {
    Headers h = kintone_auth();
    h.emplace_back("Content-Type", std::string("multipart/form-data; boundary=") + kBoundary);
    return client_->request("POST", "/k/v1/file.json", h,
                            multipart_body(kBoundary, "file", name, "text/plain", content));
  }
  HttpResponse jpush_list() {
    return client_->request("GET", "/v3/files",
                            {{"Authorization", "Basic " + crypto::base64(std::string(kJPushApp) +
                                                                         ":" + jpush_secret_)}});
  }

  // Two threads upload all along, through native and kintone; every answer
  // must be a success or a 503, and every success is remembered.
  void start_load() {
    for (int t = 0; t < 2; ++t)
      load_.emplace_back([this, t] {
        for (int i = 0; !stop_; ++i) {
          const std::string content = "load " + std::to_string(t) + "/" + std::to_string(i);
          Acked a;
          HttpResponse r;
          const std::string name = "l" + std::to_string(i) + ".txt";
          if (t == 0) {
            r = client_->request("POST", "/v1/files?name=" + name, bearer(ServerProcess::kAdminKey),
                                 content);
            a = {"/v1/files/" + str(parse(r.body), "id") + "/content", name, content};
          } else {
            // A kintone fileKey only downloads once a record holds it: read
            // these back by name through the native API.
            r = kintone_upload(content, name);
            a = {"", name, content};
          }
          std::lock_guard lock(mu_);
          statuses_.push_back(r.status);
          if (r.status == 200 || r.status == 201) acked_.push_back(std::move(a));
          if (r.status == 503) ++refused_;
        }
      });
  }
  void stop_load() {
    stop_ = true;
    for (auto& t : load_) t.join();
    load_.clear();
  }
  size_t acked_count() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  // The live files of acme's app `app`: name -> id.
  std::map<std::string, std::string> ids_by_name(const std::string& app) {
    auto r = client_->request("GET", "/v1/files?app=" + app + "&limit=1000", bearer(jodoo_key_));
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, std::string> out;
    const auto body = parse(r.body);
    if (auto* files = body.if_contains("files"); files && files->is_array())
      for (const auto& f : files->as_array())
        out[str(f.as_object(), "name")] = str(f.as_object(), "id");
    return out;
  }
  // Waits (bounded) until `done`; false if it never was.
  static bool eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 600; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return done();
  }

  PrivatePostgres pg_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
  std::string jodoo_key_, jpush_secret_, kintone_token_, openim_token_, openim_upload_id_;
  std::vector<std::string> jodoo_tokens_;
  int jodoo_tx_ = 0;

  std::atomic<bool> stop_{false};
  std::vector<std::thread> load_;
  std::mutex mu_;
  std::vector<int> statuses_;
  std::vector<Acked> acked_;
  int refused_ = 0;
};

// Each dialect's answer while the database is down: 503 and its envelope.
void expect_outage_answers(const HttpResponse& native, const HttpResponse& jodoo,
                           const HttpResponse& qiniu, const HttpResponse& openim,
                           const HttpResponse& kintone, const HttpResponse& jpush) {
  EXPECT_EQ(native.status, 503) << native.body;
  EXPECT_EQ(parse(native.body)["code"].as_int64(), 1800) << native.body;
  EXPECT_EQ(jodoo.status, 503) << jodoo.body;
  auto j = parse(jodoo.body);
  EXPECT_TRUE(j.contains("code") && j["code"].is_int64() && j.contains("msg")) << jodoo.body;
  EXPECT_EQ(qiniu.status, 503) << qiniu.body;
  EXPECT_NE(str(parse(qiniu.body), "error"), "") << qiniu.body;
  EXPECT_EQ(openim.status, 503) << openim.body;
  auto o = parse(openim.body);
  EXPECT_EQ(o["errCode"].as_int64(), 500) << openim.body;
  EXPECT_EQ(str(o, "errMsg"), "ServerInternalError");
  EXPECT_NE(str(o, "errDlt"), "");
  EXPECT_EQ(kintone.status, 503) << kintone.body;
  auto k = parse(kintone.body);
  EXPECT_EQ(str(k, "code"), "CB_UN01") << kintone.body;
  EXPECT_NE(str(k, "id"), "");
  EXPECT_NE(str(k, "message"), "");
  EXPECT_EQ(jpush.status, 503) << jpush.body;
  auto p = parse(jpush.body);
  EXPECT_EQ(p["error"].as_object()["code"].as_int64(), 1100) << jpush.body;
}

TEST_F(DbOutageTest, EveryDialectAnswers503AndServiceResumesWithNothingLost) {
  start_load();
  ASSERT_TRUE(eventually([&] { return acked_count() >= 10; }));

  pg_.down();
  const size_t acked_before_outage = acked_count();
  // Whatever the load sees from now on until the database is back.
  expect_outage_answers(
      client_->request("POST", "/v1/files?name=down", bearer(ServerProcess::kAdminKey), "x"),
      jodoo_get_upload_token(), qiniu_upload(jodoo_tokens_[0], "q"),
      openim("/object/complete_form_data",
             R"({"id":")" + openim_upload_id_ + R"(","urlPrefix":""})"),
      kintone_upload("k"), jpush_list());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu_);
    return refused_ >= 4;
  }));

  ASSERT_FALSE(pg_.up().empty());
  // Back without a restart of upgate: every dialect serves again.
  ASSERT_TRUE(eventually([&] { return acked_count() >= acked_before_outage + 10; }))
      << server_->stdout_text();
  auto n = client_->request("POST", "/v1/files?name=up", bearer(ServerProcess::kAdminKey), "x");
  EXPECT_EQ(n.status, 201) << n.body;
  EXPECT_EQ(jodoo_get_upload_token().status, 200);
  auto q = qiniu_upload(jodoo_tokens_[1], "q");
  EXPECT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(kintone_upload("k").status, 200);
  EXPECT_EQ(jpush_list().status, 200);
  auto o = openim("/object/access_url", R"({"name":"o.bin"})");
  EXPECT_EQ(o.status, 200) << o.body;
  stop_load();
  // The operator learns why (libpq's reason, which clients were not shown) and
  // when it ended, once each.
  const std::string log = server_->stdout_text();
  EXPECT_NE(log.find("metadata database unreachable"), std::string::npos) << log;
  EXPECT_NE(log.find("metadata database reachable again"), std::string::npos) << log;

  // Only successes and 503s, and every success is there, byte for byte.
  for (int s : statuses_) EXPECT_TRUE(s == 200 || s == 201 || s == 503) << s;
  const auto kintone_ids = ids_by_name("1");
  int kintone_acked = 0;
  for (const Acked& a : acked_) {
    std::string target = a.target;
    Headers auth = bearer(ServerProcess::kAdminKey);
    if (target.empty()) {
      ++kintone_acked;
      auto it = kintone_ids.find(a.name);
      ASSERT_NE(it, kintone_ids.end()) << a.name << " acknowledged, then lost";
      target = "/v1/files/" + it->second + "/content";
      auth = bearer(jodoo_key_);
    }
    auto d = client_->request("GET", target, auth);
    EXPECT_EQ(d.status, 200) << target << ": " << d.body;
    EXPECT_EQ(d.body, a.content) << target;
  }
  // (More may be stored than was acknowledged: a commit whose answer the
  // database could not send before it stopped is reported as a 503.)
  EXPECT_GT(kintone_acked, 0);
}

}  // namespace
}  // namespace up::testing
