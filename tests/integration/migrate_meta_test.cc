// `upgate migrate-meta`: a store filled through the real server on SQLite is
// copied into PostgreSQL, and the server started on PostgreSQL (same data
// folder: blobs, master.key) serves the same files, records and keys.

#include <sqlite3.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "integration/harness.h"

namespace up::testing {
namespace {

constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";

class MigrateMetaTest : public ServerTest {
 protected:
  // Always SQLite first, whatever UPGATE_TEST_META says.
  void SetUp() override {
    start_server({"--meta", "sqlite:" + dir_.path() + "/data/upgate.db"}, dir_.path() + "/data");
  }

  // The server first: it runs in the temp folder that goes with dir_.
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  std::string sqlite_path() const { return dir_.path() + "/data/upgate.db"; }
  std::string migrate(const std::string& to, int* rc) const {
    return run_command(
        upgate_bin() + " migrate-meta --from sqlite:" + sqlite_path() + " --to '" + to + "' 2>&1",
        rc);
  }
  HttpResponse jodoo(const std::string& path, const std::string& body) {
    return client_->request("POST", "/api/v5/app/entry/" + path, bearer(jodoo_key_), body);
  }

  // Files, a disabled key, a Jodoo record holding an uploaded file.
  void populate() {
    for (int i = 0; i < 5; ++i) {
      contents_.push_back(pattern_string(1000 * static_cast<size_t>(i + 1)) + "\t\\\n'\"");
      auto r = client_->request("POST", "/v1/files?name=f" + std::to_string(i) + ".bin", admin(),
                                contents_.back());
      ASSERT_EQ(r.status, 201) << r.body;
      ids_.push_back(str(parse(r.body), "id"));
    }
    auto k = admin_request("POST", "/v1/admin/tenants/default/keys", R"({"name":"off"})", 201);
    disabled_key_ = str(k, "token");
    admin_request("POST", "/v1/admin/keys/" + str(k, "id") + "/disable", "", 200);
    admin_request("POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  R"({"id":"crm","dialect":"jodoo","settings":{"entries":{")" +
                      std::string(kEntry) +
                      R"(":{"fields":{"_widget_file":"upload","_widget_text":"text"}}}}})",
                  201);
    jodoo_key_ =
        str(admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"j"})", 201), "token");
    auto t =
        jodoo("file/get_upload_token", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                           R"(","transaction_id":"tx-m"})");
    ASSERT_EQ(t.status, 200) << t.body;
    const auto tokens = parse(t.body);
    const std::string token =
        str(tokens.at("token_and_url_list").as_array().at(0).as_object(), "token");
    const std::string b = "----qiniu6fd6ff237027ae34";
    auto up = client_->request(
        "POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + b}},
        "--" + b + "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + token + "\r\n" +
            multipart_body(b, "file", "doc.txt", "text/plain", "attached bytes"));
    ASSERT_EQ(up.status, 200) << up.body;
    const std::string key = str(parse(up.body), "key");
    auto c = jodoo("data/create", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                      R"(","transaction_id":"tx-m","data":{"_widget_file":)"
                                      R"({"value":[")" +
                                      key + R"("]},"_widget_text":{"value":"héllo\tworld"}}})");
    ASSERT_EQ(c.status, 200) << c.body;
    const auto created = parse(c.body);
    record_id_ = str(created.at("data").as_object(), "_id");
    ASSERT_FALSE(record_id_.empty());
  }

  // What the clients of the server now running see.
  void expect_same_state() {
    for (size_t i = 0; i < ids_.size(); ++i) {
      auto d = client_->download("/v1/files/" + ids_[i] + "/content", admin());
      EXPECT_EQ(d.status, 200);
      EXPECT_EQ(d.sha256, sha256_hex(contents_[i])) << ids_[i];
    }
    EXPECT_EQ(client_->request("GET", "/v1/files", bearer(disabled_key_)).status, 401);
    auto g = jodoo("data/get", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                   R"(","data_id":")" + record_id_ + "\"}");
    ASSERT_EQ(g.status, 200) << g.body;
    const auto got = parse(g.body);
    const auto& data = got.at("data").as_object();
    EXPECT_EQ(data.at("_widget_text").as_string(), "héllo\tworld");
    const auto& files = data.at("_widget_file").as_array();
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(str(files.at(0).as_object(), "name"), "doc.txt");
    const std::string url = str(files.at(0).as_object(), "url");
    auto file = client_->request("GET", url.substr(url.find("/v1/")));
    EXPECT_EQ(file.status, 200) << url;
    EXPECT_EQ(file.body, "attached bytes");
  }

  TempDir dir_;
  std::vector<std::string> contents_, ids_;
  std::string disabled_key_, jodoo_key_, record_id_;
};

// Rows of `sql` on the SQLite file (the server is stopped).
void sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST_F(MigrateMetaTest, CopiesEveryTableAndTheServerServesTheSameOnPostgres) {
  ASSERT_NO_FATAL_FAILURE(populate());
  ASSERT_NO_FATAL_FAILURE(expect_same_state());
  ASSERT_EQ(server_->terminate(), 0);
  const std::string to = fresh_pg_meta_url();
  ASSERT_FALSE(to.empty());

  // A row the target cannot take (PostgreSQL text is UTF-8), in a table
  // copied after others: the run fails and leaves the target empty.
  sqlite_exec(sqlite_path(), "INSERT INTO used_grants VALUES (CAST(X'FF41' AS TEXT), 0)");
  int rc = -1;
  std::string out = migrate(to, &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("invalid byte sequence"), std::string::npos) << out;
  EXPECT_EQ(pg_rows(to,
                    "SELECT (SELECT count(*) FROM objects) + (SELECT count(*) FROM tenants) + "
                    "(SELECT count(*) FROM records)"),
            std::vector<std::string>{"0"});
  sqlite_exec(sqlite_path(), "DELETE FROM used_grants WHERE grant_id = CAST(X'FF41' AS TEXT)");

  // Run again: it copies, and says what.
  out = migrate(to, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"({"table":"objects","rows":6,)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"table":"records","rows":1,)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("migrated":true)"), std::string::npos) << out;
  EXPECT_EQ(pg_rows(to, "SELECT count(*) FROM api_keys WHERE NOT enabled"),
            std::vector<std::string>{"1"});
  // A target with rows is refused, and stays as it was.
  out = migrate(to, &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  EXPECT_EQ(pg_rows(to, "SELECT count(*) FROM objects"), std::vector<std::string>{"6"});

  start_server({"--meta", to}, dir_.path() + "/data");
  expect_same_state();
}

TEST_F(MigrateMetaTest, RefusesAMissingSourceAndAUrlThatIsNotPostgres) {
  int rc = -1;
  std::string out = run_command(upgate_bin() +
                                    " migrate-meta --from sqlite:/nonexistent/upgate.db --to "
                                    "postgresql://u:p@127.0.0.1:1/x 2>&1",
                                &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("no file /nonexistent/upgate.db"), std::string::npos) << out;
  out = migrate("mysql://x", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--to: expected postgresql://"), std::string::npos) << out;
}

}  // namespace
}  // namespace up::testing
