// The kintone REST API (/k/v1/..., /k/guest/{id}/v1/...) over real HTTP
// against the real server binary: file.json, records, cursors, bulkRequest,
// form fields/layout, every credential form and the kintone error envelope.

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <regex>

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;

constexpr int64_t kHourMs = 3'600'000;
constexpr const char* kBoundary = "---------------------------bee48a285354";

// App 1: the main app; app 2: a second app; app 5: in guest space 5; app 9: other tenant.
constexpr const char* kAppSettings =
    R"({"fields":[{"code":"title","type":"SINGLE_LINE_TEXT","label":"Title","required":true},)"
    R"({"code":"count","type":"NUMBER","label":"Count"},)"
    R"({"code":"tags","type":"CHECK_BOX","label":"Tags"},)"
    R"({"code":"attachment","type":"FILE","label":"Attachment"},)"
    R"({"code":"no","type":"RECORD_NUMBER","label":"No"}]})";

std::string b64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63]} + "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63],
                       kAlphabet[(n >> 6) & 63]} +
           "=";
  }
  return out;
}

std::string code_of(const HttpResponse& r) { return str(parse(r.body), "code"); }

// The first key of the envelope's `errors` object.
std::string error_field(const HttpResponse& r) {
  auto o = parse(r.body);
  auto* e = o.if_contains("errors");
  if (!e || !e->is_object() || e->as_object().empty()) return {};
  return std::string(e->as_object().begin()->key());
}

class KintoneApiTest : public ServerTest {
 protected:
  void SetUp() override { start({}); }

  // Sets everything up with the CLI first, as the README does, then starts.
  void start(std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--kintone-tenant", "acme"});
    make_server(std::move(extra));
    cli({"tenants", "create", "acme"});
    cli({"tenants", "create", "other"});
    cli({"apps", "create", "1", "--tenant", "acme", "--dialect", "kintone", "--name", "Main",
         "--settings", kAppSettings});
    cli({"apps", "create", "2", "--tenant", "acme", "--dialect", "kintone", "--settings",
         kAppSettings});
    std::string guest = kAppSettings;
    guest.insert(1, R"("guest_space_id":"5",)");
    cli({"apps", "create", "5", "--tenant", "acme", "--dialect", "kintone", "--settings", guest});
    cli({"apps", "create", "9", "--tenant", "other", "--dialect", "kintone", "--settings",
         kAppSettings});
    token_ = token("acme", "1", "view,add,edit,delete");
    view_token_ = token("acme", "1", "view");
    token2_ = token("acme", "2", "view,add,edit,delete");
    guest_token_ = token("acme", "5", "view,add,edit,delete");
    other_token_ = token("other", "9", "view,add,edit,delete");
    cli({"kintone", "users", "set", "alice", "--tenant", "acme", "--password", "alice-pw"});
    cli({"kintone", "users", "set", "bob", "--tenant", "acme", "--password", "bob-pw"});
    cli({"kintone", "spaces", "set", "5", "--tenant", "acme", "--members", "alice"});
    start_made_server();
  }

  std::string token(const std::string& tenant, const std::string& app, const std::string& perms) {
    return str(parse(cli({"kintone", "tokens", "create", "--tenant", tenant, "--app", app,
                          "--permissions", perms})),
               "token");
  }

  Headers api(const std::string& t) const { return {{"X-Cybozu-API-Token", t}}; }
  Headers user(const std::string& login, const std::string& pw) const {
    return {{"X-Cybozu-Authorization", b64(login + ":" + pw)}};
  }
  Headers with_json(Headers h) const {
    h.emplace_back("Content-Type", "application/json");
    return h;
  }

  HttpResponse upload(const Headers& h, const std::string& name, const std::string& content,
                      const std::string& type = "text/plain", const std::string& prefix = "/k/v1") {
    Headers hh = h;
    hh.emplace_back("Content-Type", std::string("multipart/form-data; boundary=") + kBoundary);
    return client_->request("POST", prefix + "/file.json", hh,
                            multipart_body(kBoundary, "file", name, type, content));
  }
  std::string upload_key(const Headers& h, const std::string& name, const std::string& content,
                         const std::string& prefix = "/k/v1") {
    auto r = upload(h, name, content, "text/plain", prefix);
    EXPECT_EQ(r.status, 200) << r.body;
    return str(parse(r.body), "fileKey");
  }

  HttpResponse post(const std::string& path, const Headers& h, const std::string& body) {
    return client_->request("POST", path, with_json(h), body);
  }
  HttpResponse put(const std::string& path, const Headers& h, const std::string& body) {
    return client_->request("PUT", path, with_json(h), body);
  }
  HttpResponse get(const std::string& target, const Headers& h) {
    return client_->request("GET", target, h);
  }

  // Adds a record to app 1 with the main token; returns its id.
  std::string add(const std::string& title, const std::string& file_key = {},
                  const std::string& app = "1", const Headers& h = {}) {
    std::string rec = R"({"title":{"value":")" + title + R"("})";
    if (!file_key.empty()) rec += R"(,"attachment":{"value":[{"fileKey":")" + file_key + R"("}]})";
    rec += "}";
    auto r = post("/k/v1/record.json", h.empty() ? api(token_) : h,
                  R"({"app":)" + app + R"(,"record":)" + rec + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return str(parse(r.body), "id");
  }

  json::object record(const std::string& id, const Headers& h = {}) {
    auto r = get("/k/v1/record.json?app=1&id=" + id, h.empty() ? api(token_) : h);
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    return o.contains("record") ? o["record"].as_object() : json::object();
  }

  json::object admin(const std::string& method, const std::string& target,
                     const std::string& body) {
    auto r = client_->request(method, target, bearer(ServerProcess::kAdminKey), body);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return parse(r.body);
  }

  std::string token_, view_token_, token2_, guest_token_, other_token_;
};

TEST_F(KintoneApiTest, UploadGivesAnUploadKeyThatCannotDownload) {
  auto r = upload(api(token_), "test.txt", "test");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string key = str(parse(r.body), "fileKey");
  EXPECT_TRUE(std::regex_match(
      key, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << key;
  auto d = get("/k/v1/file.json?fileKey=" + key, api(token_));
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(code_of(d), "GAIA_BL01");
}

TEST_F(KintoneApiTest, AttachedFileReadsAsKintoneFileValueAndDownloads) {
  const std::string content = pattern_string(100'000);
  auto r = upload(api(token_), "report.pdf", content, "application/pdf");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = add("with file", str(parse(r.body), "fileKey"));
  auto rec = record(id);
  ASSERT_TRUE(rec.contains("attachment")) << json::serialize(rec);
  EXPECT_EQ(rec["attachment"].at("type"), "FILE");
  auto& files = rec["attachment"].at("value").as_array();
  ASSERT_EQ(files.size(), 1u);
  const auto& f = files[0].as_object();
  EXPECT_EQ(f.at("name"), "report.pdf");
  EXPECT_EQ(f.at("contentType"), "application/pdf");
  EXPECT_EQ(f.at("size"), "100000");  // a string, as kintone sends it
  const std::string record_key(f.at("fileKey").as_string());
  EXPECT_NE(record_key, str(parse(r.body), "fileKey"));
  EXPECT_EQ(rec["$id"].at("value"), json::value(id));
  EXPECT_EQ(rec["$id"].at("type"), "__ID__");
  EXPECT_EQ(rec["$revision"].at("value"), "1");
  EXPECT_EQ(rec["no"].at("value"), json::value(id));
  EXPECT_EQ(rec["count"].at("value"), "");

  auto d = get("/k/v1/file.json?fileKey=" + record_key, api(token_));
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_TRUE(d.body == content) << d.body.size() << " bytes";
  EXPECT_EQ(d.header("content-type"), "application/pdf");
  // The same key spelled otherwise in the query (an escape, another parameter
  // beside it, after it): read by the full query parser, the same answer.
  std::string escaped = record_key;
  escaped.replace(
      0, 1, "%" + [&] {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02X", static_cast<unsigned char>(record_key[0]));
        return std::string(hex);
      }());
  for (const std::string& query :
       {"fileKey=" + escaped, "fileKey=" + record_key + "&x=1", "x=1&fileKey=" + record_key}) {
    auto other = get("/k/v1/file.json?" + query, api(token_));
    EXPECT_EQ(other.status, 200) << query << ": " << other.body.substr(0, 200);
    EXPECT_TRUE(other.body == content) << query;
  }
  EXPECT_EQ(get("/k/v1/file.json?fileKey=" + record_key + "0", api(token_)).status, 404);
  EXPECT_EQ(get("/k/v1/file.json?filekey=" + record_key, api(token_)).status, 400);
  // The same, with the parameters as a JSON body.
  auto d2 = client_->request("GET", "/k/v1/file.json", with_json(api(view_token_)),
                             R"({"fileKey":")" + record_key + R"("})");
  EXPECT_EQ(d2.status, 200) << d2.body.substr(0, 200);
  EXPECT_TRUE(d2.body == content) << d2.body.size() << " bytes";

  // A record fileKey cannot attach; an upload key attaches once.
  auto again =
      post("/k/v1/record.json", api(token_),
           R"({"app":1,"record":{"title":{"value":"x"},"attachment":{"value":[{"fileKey":")" +
               record_key + R"("}]}}})");
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(code_of(again), "GAIA_BL01");
  EXPECT_EQ(error_field(again), "record.attachment.value[0].fileKey");
  auto reuse =
      post("/k/v1/record.json", api(token_),
           R"({"app":1,"record":{"title":{"value":"x"},"attachment":{"value":[{"fileKey":")" +
               str(parse(r.body), "fileKey") + R"("}]}}})");
  EXPECT_EQ(reuse.status, 400) << reuse.body;
  EXPECT_EQ(code_of(reuse), "CB_VA01");

  // Another tenant's credential never reaches it.
  auto foreign = get("/k/v1/file.json?fileKey=" + record_key, api(other_token_));
  EXPECT_EQ(foreign.status, 404);
}

TEST_F(KintoneApiTest, UpdateKeepsFilesByRecordKeyAndReplacesOthers) {
  const std::string id = add("v1", upload_key(api(token_), "a.txt", "AAA"));
  const std::string old_key(record(id)["attachment"].at("value").at(0).at("fileKey").as_string());
  const std::string new_upload = upload_key(api(token_), "b.txt", "BBB");
  auto r = put("/k/v1/record.json", api(token_),
               R"({"app":1,"id":)" + id +
                   R"(,"revision":1,"record":{"attachment":{"value":[{"fileKey":")" + old_key +
                   R"("},{"fileKey":")" + new_upload + R"("}]}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "revision"), "2");
  auto rec = record(id);
  EXPECT_EQ(rec["title"].at("value"), "v1");  // fields not sent are kept
  ASSERT_EQ(rec["attachment"].at("value").as_array().size(), 2u);
  EXPECT_EQ(rec["attachment"].at("value").at(0).at("fileKey"), json::value(old_key));

  // Dropping a file: it can no longer be downloaded.
  auto drop = put("/k/v1/record.json", api(token_),
                  R"({"app":"1","id":")" + id + R"(","record":{"attachment":{"value":[]}}})");
  ASSERT_EQ(drop.status, 200) << drop.body;
  EXPECT_EQ(get("/k/v1/file.json?fileKey=" + old_key, api(token_)).status, 404);
}

TEST_F(KintoneApiTest, DeletingARecordDeletesItsFiles) {
  const std::string id = add("doomed", upload_key(api(token_), "doomed.txt", "bye"));
  const std::string record_key(
      record(id)["attachment"].at("value").at(0).at("fileKey").as_string());
  ASSERT_EQ(get("/k/v1/file.json?fileKey=" + record_key, api(token_)).status, 200);
  const size_t blobs = server_->blob_files().size();
  auto del = client_->request("DELETE", "/k/v1/records.json?app=1&ids%5B0%5D=" + id, api(token_));
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(code_of(get("/k/v1/file.json?fileKey=" + record_key, api(token_))), "GAIA_BL01");
  admin("POST", "/v1/admin/sweep", "{}");
  EXPECT_EQ(server_->blob_files().size(), blobs - 1);
}

TEST_F(KintoneApiTest, RevisionConflictIsGaiaCo02) {
  const std::string id = add("first");
  auto ok =
      put("/k/v1/record.json", api(token_),
          R"({"app":1,"id":)" + id + R"(,"revision":1,"record":{"title":{"value":"second"}}})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto stale =
      put("/k/v1/record.json", api(token_),
          R"({"app":1,"id":)" + id + R"(,"revision":1,"record":{"title":{"value":"third"}}})");
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(code_of(stale), "GAIA_CO02");
  EXPECT_EQ(record(id)["title"].at("value"), "second");
  auto any =
      put("/k/v1/record.json", api(token_),
          R"({"app":1,"id":)" + id + R"(,"revision":-1,"record":{"title":{"value":"fourth"}}})");
  EXPECT_EQ(any.status, 200);
  EXPECT_EQ(str(parse(any.body), "revision"), "3");
}

TEST_F(KintoneApiTest, UpdateByUpdateKey) {
  add("alpha");
  const std::string id = add("beta");
  add("gamma");
  auto r = put(
      "/k/v1/record.json", api(token_),
      R"({"app":1,"updateKey":{"field":"title","value":"beta"},"record":{"count":{"value":"42"}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "revision"), "2");
  EXPECT_EQ(record(id)["count"].at("value"), "42");
  auto none = put("/k/v1/record.json", api(token_),
                  R"({"app":1,"updateKey":{"field":"title","value":"delta"},"record":{}})");
  EXPECT_EQ(code_of(none), "GAIA_RE01");
  add("beta");
  auto two = put("/k/v1/record.json", api(token_),
                 R"({"app":1,"updateKey":{"field":"title","value":"beta"},"record":{}})");
  EXPECT_EQ(code_of(two), "CB_VA01");
  EXPECT_EQ(error_field(two), "updateKey");
  auto upsert = put("/k/v1/records.json", api(token_),
                    R"({"app":1,"upsert":true,"records":[{"id":1,"record":{}}]})");
  EXPECT_EQ(code_of(upsert), "CB_VA01");
}

TEST_F(KintoneApiTest, RecordErrors) {
  auto missing = get("/k/v1/record.json?app=1&id=999", api(token_));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(code_of(missing), "GAIA_RE01");
  auto bad_json =
      client_->request("POST", "/k/v1/record.json", with_json(api(token_)), "{\"app\":");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(code_of(bad_json), "CB_IJ01");
  auto required =
      post("/k/v1/record.json", api(token_), R"({"app":1,"record":{"count":{"value":"3"}}})");
  EXPECT_EQ(required.status, 400);
  EXPECT_EQ(code_of(required), "CB_VA01");
  EXPECT_EQ(error_field(required), "record.title.value");
  auto number = post("/k/v1/record.json", api(token_),
                     R"({"app":1,"record":{"title":{"value":"t"},"count":{"value":"x"}}})");
  EXPECT_EQ(error_field(number), "record.count.value");
  auto unknown_app = get("/k/v1/records.json?app=77", api(token_));
  EXPECT_EQ(unknown_app.status, 404);
  EXPECT_EQ(code_of(unknown_app), "GAIA_AP01");
  auto no_route = get("/k/v1/nothing.json", api(token_));
  EXPECT_EQ(no_route.status, 404);
  // Errors of one of many records name its index, which clients parse.
  auto many = post(
      "/k/v1/records.json", api(token_),
      R"({"app":1,"records":[{"title":{"value":"a"}},{"title":{"value":"b"}},{"count":{"value":"1"}}]})");
  EXPECT_EQ(many.status, 400);
  EXPECT_EQ(error_field(many), "records[2].title.value");
  auto page = parse(get("/k/v1/records.json?app=1&totalCount=true", api(token_)).body);
  EXPECT_EQ(page["totalCount"], "0");  // all or nothing
}

TEST_F(KintoneApiTest, CredentialsAndPermissions) {
  auto none = get("/k/v1/records.json?app=1", {});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(code_of(none), "CB_AU01");
  auto bad_token = get("/k/v1/records.json?app=1", api("upk_not_a_token_at_all_0123456789"));
  EXPECT_EQ(bad_token.status, 401);
  EXPECT_EQ(code_of(bad_token), "GAIA_IA02");
  auto wrong_app = get("/k/v1/records.json?app=1", api(token2_));
  EXPECT_EQ(code_of(wrong_app), "GAIA_IA02");
  auto view_only =
      post("/k/v1/record.json", api(view_token_), R"({"app":1,"record":{"title":{"value":"x"}}})");
  EXPECT_EQ(view_only.status, 403);
  EXPECT_EQ(code_of(view_only), "CB_NO02");
  // Several tokens: permissions of the app's tokens add up; other apps' tokens open those apps.
  const Headers both = api(view_token_ + "," + token_ + "," + token2_);
  EXPECT_FALSE(add("via several tokens", {}, "1", both).empty());
  EXPECT_FALSE(add("app 2 too", {}, "2", both).empty());
  auto foreign = get("/k/v1/records.json?app=9", api(token_));
  EXPECT_EQ(code_of(foreign), "GAIA_AP01");

  // Password users.
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("alice", "alice-pw")).status, 200);
  auto wrong_pw = get("/k/v1/records.json?app=1", user("alice", "nope"));
  EXPECT_EQ(wrong_pw.status, 401);
  EXPECT_EQ(code_of(wrong_pw), "CB_AU01");
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("mallory", "x")).status, 401);
  EXPECT_EQ(get("/k/v1/records.json?app=1", {{"X-Cybozu-Authorization", "%%%"}}).status, 401);
  // Both sent: the password decides, as in kintone.
  Headers both_kinds = user("alice", "nope");
  both_kinds.emplace_back("X-Cybozu-API-Token", token_);
  EXPECT_EQ(code_of(get("/k/v1/records.json?app=1", both_kinds)), "CB_AU01");
  // Downloads are answered from caches on the I/O thread once hot (issue 17):
  // a disabled token still stops them at once.
  const std::string id = add("hot", upload_key(api(token_), "hot.txt", "hot"));
  const std::string key(record(id)["attachment"].at("value").at(0).at("fileKey").as_string());
  for (int i = 0; i < 2; ++i)  // the second from the caches
    ASSERT_EQ(get("/k/v1/file.json?fileKey=" + key, api(view_token_)).body, "hot");
  const std::string key_id = up::crypto::to_hex(up::crypto::sha256(view_token_)).substr(0, 16);
  admin("POST", "/v1/admin/keys/" + key_id + "/disable", "");
  EXPECT_EQ(code_of(get("/k/v1/file.json?fileKey=" + key, api(view_token_))), "GAIA_IA02");
}

TEST_F(KintoneApiTest, AdminAnswersHideUserSaltsAndHashes) {
  auto users_of = [](json::object tenant) {
    return tenant["settings"].as_object()["kintone"].as_object()["users"].as_object();
  };
  auto t = admin("GET", "/v1/admin/tenants/acme", "");
  ASSERT_TRUE(t.contains("settings")) << t;
  auto users = users_of(t);
  ASSERT_TRUE(users.contains("alice")) << t;
  for (const auto& [login, cred] : users) {
    EXPECT_FALSE(cred.as_object().contains("salt")) << login;
    EXPECT_FALSE(cred.as_object().contains("pbkdf2_sha256")) << login;
  }
  auto list = client_->request("GET", "/v1/admin/tenants", bearer(ServerProcess::kAdminKey));
  EXPECT_EQ(list.body.find("salt"), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("pbkdf2_sha256"), std::string::npos) << list.body;

  // Writing back what was read (with a change) keeps the users' passwords;
  // leaving a user out removes it, as a PATCH replaces the settings.
  auto settings = t["settings"].as_object();
  settings["jodoo"] = json::object{{"key_version", 2}};
  settings["kintone"].as_object()["users"].as_object().erase("bob");
  auto patched = admin("PATCH", "/v1/admin/tenants/acme",
                       json::serialize(json::object{{"settings", settings}}));
  EXPECT_EQ(json::serialize(patched).find("pbkdf2_sha256"), std::string::npos) << patched;
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("alice", "alice-pw")).status, 200);
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("bob", "bob-pw")).status, 401);
}

TEST_F(KintoneApiTest, UserPermissionsComeFromTheAppSettings) {
  admin("PATCH", "/v1/admin/tenants/acme/apps/2",
        std::string(R"({"settings":)") +
            std::string(kAppSettings).insert(1, R"("users":{"bob":["view"]},)") + "}");
  admin("POST", "/v1/admin/clock", R"({"advance_ms":10000})");  // past the app cache
  EXPECT_EQ(get("/k/v1/records.json?app=2", user("bob", "bob-pw")).status, 200);
  auto add_denied = post("/k/v1/record.json", user("bob", "bob-pw"),
                         R"({"app":2,"record":{"title":{"value":"x"}}})");
  EXPECT_EQ(code_of(add_denied), "CB_NO02");
  EXPECT_EQ(code_of(get("/k/v1/records.json?app=2", user("alice", "alice-pw"))), "CB_NO02");
}

// The app's parsed settings are remembered while its settings JSON stays the
// same: a change (the app moved into a guest space, then back) decides the next
// downloads once the app cache has expired.
TEST_F(KintoneApiTest, ChangedAppSettingsDecideTheNextDownload) {
  auto r = upload(api(token_), "a.txt", "app bytes", "text/plain");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = add("f", str(parse(r.body), "fileKey"));
  const std::string key(record(id)["attachment"].at("value").at(0).at("fileKey").as_string());
  const std::string url = "/k/v1/file.json?fileKey=" + key;
  EXPECT_EQ(get(url, api(token_)).body, "app bytes");
  EXPECT_EQ(get(url, api(token_)).body, "app bytes");  // the settings as parsed before

  std::string guest = kAppSettings;
  guest.insert(1, R"("guest_space_id":"7",)");
  admin("PATCH", "/v1/admin/tenants/acme/apps/1", R"({"settings":)" + guest + "}");
  admin("POST", "/v1/admin/clock", R"({"advance_ms":10000})");  // past the app cache
  auto moved = get(url, api(token_));
  EXPECT_EQ(moved.status, 403) << moved.body;
  EXPECT_EQ(code_of(moved), "CB_NO02");
  EXPECT_EQ(get("/k/guest/7/v1/file.json?fileKey=" + key, api(token_)).body, "app bytes");

  admin("PATCH", "/v1/admin/tenants/acme/apps/1",
        R"({"settings":)" + std::string(kAppSettings) + "}");
  admin("POST", "/v1/admin/clock", R"({"advance_ms":10000})");
  EXPECT_EQ(get(url, api(token_)).body, "app bytes");
  EXPECT_EQ(get("/k/guest/7/v1/file.json?fileKey=" + key, api(token_)).status, 404);
}

TEST_F(KintoneApiTest, PasswordUserUploadAttachesToAnyApp) {
  const Headers alice = user("alice", "alice-pw");
  const std::string key = upload_key(alice, "alice.txt", "from alice");
  const std::string id = add("alice's", key, "1", alice);
  const std::string record_key(
      record(id, alice)["attachment"].at("value").at(0).at("fileKey").as_string());
  auto d = get("/k/v1/file.json?fileKey=" + record_key, alice);
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body, "from alice");
  // The staged upload is gone once copied.
  auto again =
      post("/k/v1/record.json", alice,
           R"({"app":2,"record":{"title":{"value":"x"},"attachment":{"value":[{"fileKey":")" + key +
               R"("}]}}})");
  EXPECT_EQ(code_of(again), "GAIA_BL01");
}

TEST_F(KintoneApiTest, PasswordUploadKeySurvivesAFailedWrite) {
  const Headers alice = user("alice", "alice-pw");
  const std::string id = add("target");
  const std::string key = upload_key(alice, "retry.txt", "retry me");
  const std::string body = R"({"app":1,"id":)" + id +
                           R"(,"revision":REV,"record":{"attachment":{"value":[{"fileKey":")" +
                           key + R"("}]}}})";
  auto stale = put("/k/v1/record.json", alice, std::regex_replace(body, std::regex("REV"), "7"));
  EXPECT_EQ(code_of(stale), "GAIA_CO02");
  auto bad =
      post("/k/v1/records.json", alice,
           R"({"app":1,"records":[{"title":{"value":"a"},"attachment":{"value":[{"fileKey":")" +
               key + R"("}]}},{"tags":{"value":["no title"]}}]})");
  EXPECT_EQ(error_field(bad), "records[1].title.value");
  auto ok = put("/k/v1/record.json", alice, std::regex_replace(body, std::regex("REV"), "1"));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(record(id)["attachment"].at("value").at(0).at("name"), "retry.txt");
}

TEST_F(KintoneApiTest, PasswordGuessesAreThrottledPerLogin) {
  // Start a fresh (minute-aligned) rate window so the guesses all fall in one.
  std::tm tm{};
  const std::string now = str(admin("POST", "/v1/admin/clock", R"({"advance_ms":0})"), "now");
  ASSERT_TRUE(strptime(now.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) << now;
  const int64_t ms_into_minute = tm.tm_sec * 1000 + std::atoi(now.c_str() + 20);
  admin("POST", "/v1/admin/clock",
        "{\"advance_ms\":" + std::to_string(60'000 - ms_into_minute + 20) + "}");
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(get("/k/v1/records.json?app=1", user("bob", "guess")).status, 401);
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("bob", "bob-pw")).status, 401);
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("alice", "alice-pw")).status,
            200);  // other logins unaffected
  admin("POST", "/v1/admin/clock", R"({"advance_ms":61000})");
  EXPECT_EQ(get("/k/v1/records.json?app=1", user("bob", "bob-pw")).status, 200);
}

TEST_F(KintoneApiTest, TemporariesCountTowardTheAppsDiskUsage) {
  admin("PATCH", "/v1/admin/tenants/acme/apps/1", R"({"quota":{"max_bytes":1000}})");
  admin("POST", "/v1/admin/clock", R"({"advance_ms":10000})");  // past the app cache
  upload_key(api(token_), "a.bin", std::string(600, 'a'));
  auto over = upload(api(token_), "b.bin", std::string(600, 'b'));
  EXPECT_EQ(over.status, 400) << over.body;
  EXPECT_EQ(code_of(over), "CB_VA01");
}

TEST_F(KintoneApiTest, ExtraBasicLayer) {
  start({"--kintone-basic-auth", "gate:keeper"});
  auto missing = get("/k/v1/records.json?app=1", api(token_));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(code_of(missing), "CB_AU01");
  Headers h = api(token_);
  h.emplace_back("Authorization", "Basic " + b64("gate:wrong"));
  EXPECT_EQ(get("/k/v1/records.json?app=1", h).status, 401);
  h.back().second = "Basic " + b64("gate:keeper");
  EXPECT_EQ(get("/k/v1/records.json?app=1", h).status, 200);
}

TEST_F(KintoneApiTest, FileNamesUtf8AndGbk) {
  const std::string chinese = "测试.txt";
  const std::string id = add("cn", upload_key(api(token_), chinese, "zh"));
  EXPECT_EQ(record(id)["attachment"].at("value").at(0).at("name"), json::value(chinese));
  const std::string gbk = "\xB2\xE2\xCA\xD4.txt";  // the same name in GBK
  const std::string id2 = add("gbk", upload_key(api(token_), gbk, "zh"));
  EXPECT_EQ(record(id2)["attachment"].at("value").at(0).at("name"), json::value(chinese));
  auto bad = upload(api(token_), "\xFF\xFE.txt", "x");
  EXPECT_EQ(bad.status, 400);
  auto broken = client_->request(
      "POST", "/k/v1/file.json",
      {{"X-Cybozu-API-Token", token_}, {"Content-Type", "multipart/form-data; boundary=xyz"}},
      "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc");
  EXPECT_EQ(broken.status, 400);
  EXPECT_EQ(code_of(broken), "CB_IL02");
}

TEST_F(KintoneApiTest, RecordsListFieldsTotalCountAndQuery) {
  for (int i = 1; i <= 7; ++i) add("r" + std::to_string(i));
  auto r =
      get("/k/v1/"
          "records.json?app=1&fields%5B0%5D=%24id&fields%5B1%5D=title&query=%24id%20%3E%202%"
          "20order%20by%20%24id%20asc%20limit%203&totalCount=true",
          api(token_));
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = parse(r.body);
  EXPECT_EQ(o["totalCount"], "5");
  auto& records = o["records"].as_array();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].at("$id").at("value"), "3");
  EXPECT_EQ(records[2].at("title").at("value"), "r5");
  EXPECT_FALSE(records[0].as_object().contains("count"));  // not in fields[]
  EXPECT_FALSE(records[0].as_object().contains("$revision"));

  auto newest =
      parse(get("/k/v1/records.json?app=1&query=limit%202%20offset%201", api(token_)).body);
  EXPECT_EQ(newest["totalCount"], nullptr);
  ASSERT_EQ(newest["records"].as_array().size(), 2u);
  EXPECT_EQ(newest["records"].at(0).at("$id").at("value"), "6");  // $id desc by default

  auto too_many = get("/k/v1/records.json?app=1&query=limit%20501", api(token_));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(code_of(too_many), "CB_VA01");

  // A long GET sent as POST with X-HTTP-Method-Override (what the client does past 4096 chars).
  Headers h = with_json(api(token_));
  h.emplace_back("X-HTTP-Method-Override", "GET");
  auto over = client_->request("POST", "/k/v1/records.json", h,
                               R"({"app":1,"query":"$id > 6","fields":["title"]})");
  ASSERT_EQ(over.status, 200) << over.body;
  EXPECT_EQ(parse(over.body)["records"].at(0).at("title").at("value"), "r7");
}

TEST_F(KintoneApiTest, RecordsWriteLimitsAndBulkUpdateDelete) {
  std::string hundred_one = R"({"app":1,"records":[)";
  for (int i = 0; i < 101; ++i)
    hundred_one += std::string(i ? "," : "") + R"({"title":{"value":"x"}})";
  auto over = post("/k/v1/records.json", api(token_), hundred_one + "]}");
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(code_of(over), "CB_VA01");

  auto added = post(
      "/k/v1/records.json", api(token_),
      R"({"app":1,"records":[{"title":{"value":"a"}},{"title":{"value":"b"},"tags":{"value":["x","y"]}}]})");
  ASSERT_EQ(added.status, 200) << added.body;
  auto ids = parse(added.body)["ids"].as_array();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], "1");
  EXPECT_EQ(parse(added.body)["revisions"].at(1), "1");
  EXPECT_EQ(record("2")["tags"].at("value").at(1), "y");

  auto upd = put(
      "/k/v1/records.json", api(token_),
      R"({"app":1,"records":[{"id":1,"record":{"title":{"value":"A"}}},{"id":"2","revision":"1","record":{"title":{"value":"B"}}}]})");
  ASSERT_EQ(upd.status, 200) << upd.body;
  EXPECT_EQ(json::serialize(parse(upd.body)["records"]),
            R"([{"id":"1","revision":"2"},{"id":"2","revision":"2"}])");

  auto del_conflict = client_->request(
      "DELETE", "/k/v1/records.json?app=1&ids%5B0%5D=1&revisions%5B0%5D=1", api(token_));
  EXPECT_EQ(code_of(del_conflict), "GAIA_CO02");
  auto del =
      client_->request("DELETE", "/k/v1/records.json?app=1&ids%5B0%5D=1&ids%5B1%5D=2", api(token_));
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(del.body, "{}");
  EXPECT_EQ(code_of(get("/k/v1/record.json?app=1&id=1", api(token_))), "GAIA_RE01");
  auto denied =
      client_->request("DELETE", "/k/v1/records.json?app=1&ids%5B0%5D=1", api(view_token_));
  EXPECT_EQ(code_of(denied), "CB_NO02");
}

TEST_F(KintoneApiTest, Cursor) {
  for (int i = 1; i <= 5; ++i) add("c" + std::to_string(i));
  auto c = post("/k/v1/records/cursor.json", api(token_),
                R"({"app":1,"fields":["title"],"query":"$id > 1 order by $id asc","size":3})");
  ASSERT_EQ(c.status, 200) << c.body;
  const std::string id = str(parse(c.body), "id");
  EXPECT_EQ(str(parse(c.body), "totalCount"), "4");
  auto first = parse(get("/k/v1/records/cursor.json?id=" + id, api(token_)).body);
  ASSERT_EQ(first["records"].as_array().size(), 3u);
  EXPECT_EQ(first["records"].at(0).at("title").at("value"), "c2");
  EXPECT_EQ(first["next"], true);
  auto second = parse(get("/k/v1/records/cursor.json?id=" + id, api(token_)).body);
  ASSERT_EQ(second["records"].as_array().size(), 1u);
  EXPECT_EQ(second["next"], false);
  EXPECT_EQ(code_of(get("/k/v1/records/cursor.json?id=" + id, api(token_))), "CB_VA01");  // used up

  auto c2 = post("/k/v1/records/cursor.json", api(token_), R"({"app":1})");
  const std::string id2 = str(parse(c2.body), "id");
  EXPECT_EQ(get("/k/v1/records/cursor.json?id=" + id2, api(token2_)).status, 400);  // not theirs
  EXPECT_EQ(client_->request("DELETE", "/k/v1/records/cursor.json?id=" + id2, api(token_)).status,
            200);
  EXPECT_EQ(get("/k/v1/records/cursor.json?id=" + id2, api(token_)).status, 400);
}

TEST_F(KintoneApiTest, BulkRequest) {
  auto ok = post(
      "/k/v1/bulkRequest.json", api(token_),
      R"({"requests":[{"method":"POST","api":"/k/v1/record.json","payload":{"app":1,"record":{"title":{"value":"x"}}}},)"
      R"({"method":"PUT","api":"/k/v1/record.json","payload":{"app":1,"id":1,"revision":1,"record":{"title":{"value":"y"}}}}]})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::serialize(parse(ok.body)["results"]),
            R"([{"id":"1","revision":"1"},{"revision":"2"}])");

  auto failed = post(
      "/k/v1/bulkRequest.json", api(token_),
      R"({"requests":[{"method":"POST","api":"/k/v1/records.json","payload":{"app":1,"records":[{"title":{"value":"z"}}]}},)"
      R"({"method":"PUT","api":"/k/v1/record.json","payload":{"app":1,"id":1,"revision":1,"record":{"title":{"value":"w"}}}}]})");
  EXPECT_EQ(failed.status, 409);
  auto results = parse(failed.body)["results"].as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].as_object().empty());
  EXPECT_EQ(results[1].at("code"), "GAIA_CO02");

  // Additions only (what cli-kintone's import sends) are all or nothing, as in kintone.
  auto before =
      parse(get("/k/v1/records.json?app=1&totalCount=true", api(token_)).body)["totalCount"];
  auto adds = post(
      "/k/v1/bulkRequest.json", api(token_),
      R"({"requests":[{"method":"POST","api":"/k/v1/records.json","payload":{"app":1,"records":[{"title":{"value":"p"}}]}},)"
      R"({"method":"POST","api":"/k/v1/record.json","payload":{"app":1,"record":{"count":{"value":"1"}}}}]})");
  EXPECT_EQ(adds.status, 400);
  auto add_results = parse(adds.body)["results"].as_array();
  ASSERT_EQ(add_results.size(), 2u);
  EXPECT_TRUE(add_results[0].as_object().empty());
  EXPECT_EQ(json::serialize(add_results[1].at("errors")),
            R"({"record.title.value":{"messages":["Required."]}})");
  EXPECT_EQ(parse(get("/k/v1/records.json?app=1&totalCount=true", api(token_)).body)["totalCount"],
            before);
  auto good_adds = post(
      "/k/v1/bulkRequest.json", api(token_),
      R"({"requests":[{"method":"POST","api":"/k/v1/records.json","payload":{"app":1,"records":[{"title":{"value":"p"}},{"title":{"value":"q"}}]}},)"
      R"({"method":"POST","api":"/k/v1/record.json","payload":{"app":"1","record":{"title":{"value":"r"}}}}]})");
  ASSERT_EQ(good_adds.status, 200) << good_adds.body;
  EXPECT_EQ(json::serialize(parse(good_adds.body)["results"]),
            R"([{"ids":["3","4"],"revisions":["1","1"]},{"id":"5","revision":"1"}])");

  std::string many = R"({"requests":[)";
  for (int i = 0; i < 21; ++i)
    many += std::string(i ? "," : "") +
            R"({"method":"GET","api":"/k/v1/record.json","payload":{"app":1,"id":1}})";
  EXPECT_EQ(code_of(post("/k/v1/bulkRequest.json", api(token_), many + "]}")), "CB_VA01");
}

TEST_F(KintoneApiTest, FormFieldsLayoutAndApp) {
  auto f = get("/k/v1/app/form/fields.json?app=1", api(view_token_));
  ASSERT_EQ(f.status, 200) << f.body;
  auto props = parse(f.body)["properties"].as_object();
  EXPECT_EQ(props.size(), 5u);
  EXPECT_EQ(props["attachment"].at("type"), "FILE");
  EXPECT_EQ(props["title"].at("label"), "Title");
  EXPECT_EQ(props["title"].at("required"), true);
  auto l = get("/k/v1/app/form/layout.json?app=1", api(view_token_));
  ASSERT_EQ(l.status, 200) << l.body;
  EXPECT_EQ(parse(l.body)["layout"].as_array().size(), 4u);  // the record number is not laid out
  auto a = get("/k/v1/app.json?id=1", api(view_token_));
  EXPECT_EQ(str(parse(a.body), "name"), "Main");
}

TEST_F(KintoneApiTest, GuestSpace) {
  const Headers alice = user("alice", "alice-pw");
  const std::string key = upload_key(api(guest_token_), "g.txt", "guest bytes", "/k/guest/5/v1");
  auto add =
      post("/k/guest/5/v1/record.json", api(guest_token_),
           R"({"app":5,"record":{"title":{"value":"g"},"attachment":{"value":[{"fileKey":")" + key +
               R"("}]}}})");
  ASSERT_EQ(add.status, 200) << add.body;
  auto rec = parse(get("/k/guest/5/v1/record.json?app=5&id=1", alice).body);
  const std::string record_key(
      rec["record"].at("attachment").at("value").at(0).at("fileKey").as_string());
  EXPECT_EQ(get("/k/guest/5/v1/file.json?fileKey=" + record_key, alice).body, "guest bytes");

  auto outside = get("/k/v1/record.json?app=5&id=1", alice);
  EXPECT_EQ(outside.status, 403);
  EXPECT_EQ(code_of(outside), "CB_NO02");
  auto not_member = get("/k/guest/5/v1/record.json?app=5&id=1", user("bob", "bob-pw"));
  EXPECT_EQ(code_of(not_member), "CB_NO02");
  EXPECT_EQ(code_of(get("/k/guest/6/v1/record.json?app=5&id=1", api(guest_token_))), "GAIA_AP01");
  EXPECT_EQ(code_of(get("/k/guest/5/v1/record.json?app=1&id=1", api(token_))), "GAIA_AP01");
  EXPECT_EQ(get("/k/guest/5/v1/file.json?fileKey=" + record_key, user("bob", "bob-pw")).status,
            403);
}

TEST_F(KintoneApiTest, UnattachedUploadExpiresAttachedOneStays) {
  const std::string kept = upload_key(api(token_), "kept.txt", "kept");
  const std::string lost = upload_key(api(token_), "lost.txt", "lost");
  const std::string id = add("keeps one", kept);
  const std::string record_key(
      record(id)["attachment"].at("value").at(0).at("fileKey").as_string());
  const size_t blobs_before = server_->blob_files().size();

  admin("POST", "/v1/admin/clock",
        "{\"advance_ms\":" + std::to_string(72 * kHourMs - 60'000) + "}");
  admin("POST", "/v1/admin/sweep", "{}");
  EXPECT_EQ(server_->blob_files().size(), blobs_before);  // not yet: 3 days have not passed

  admin("POST", "/v1/admin/clock", R"({"advance_ms":120000})");
  auto sweep = admin("POST", "/v1/admin/sweep", "{}");
  EXPECT_EQ(sweep["expired_objects"].as_int64(), 1);
  EXPECT_EQ(server_->blob_files().size(), blobs_before - 1);
  auto late =
      post("/k/v1/record.json", api(token_),
           R"({"app":1,"record":{"title":{"value":"late"},"attachment":{"value":[{"fileKey":")" +
               lost + R"("}]}}})");
  EXPECT_EQ(code_of(late), "GAIA_BL01");
  auto d = get("/k/v1/file.json?fileKey=" + record_key, api(token_));
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body, "kept");
}

TEST_F(KintoneApiTest, UploadTtlIsConfigurable) {
  start({"--kintone-upload-ttl-hours", "1"});
  upload_key(api(token_), "short.txt", "short");
  const size_t blobs = server_->blob_files().size();
  admin("POST", "/v1/admin/clock", R"({"advance_ms":3660000})");
  admin("POST", "/v1/admin/sweep", "{}");
  EXPECT_EQ(server_->blob_files().size(), blobs - 1);
}

}  // namespace
}  // namespace up::testing
