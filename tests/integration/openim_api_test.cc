// The OpenIM dialect over real HTTP against the real server binary: the /auth
// and /object API (envelope, tokens, errors), the S3 POST form endpoint with
// the vendor doc's curl command, the real @aws-sdk/s3-presigned-post, and
// forms that must be refused with nothing stored.

#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;

constexpr const char* kBase = "/openim/acme/im";
constexpr int64_t kDayMs = 86'400'000;

struct Field {
  std::string name, value;
};

// A multipart body like curl -F writes; the file part is `file`.
std::string form_body(const std::string& boundary, const std::vector<Field>& before,
                      const std::string& file, const std::vector<Field>& after = {}) {
  std::string b;
  auto field = [&](const Field& f) {
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.name + "\"\r\n\r\n" +
         f.value + "\r\n";
  };
  for (const auto& f : before) field(f);
  b += "--" + boundary +
       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
       "Content-Type: application/octet-stream\r\n\r\n" +
       file + "\r\n";
  for (const auto& f : after) field(f);
  return b + "--" + boundary + "--\r\n";
}

std::string sign(const std::string& secret, const std::string& date, const std::string& region,
                 const std::string& policy) {
  std::string k = crypto::hmac_sha256("AWS4" + secret, date);
  k = crypto::hmac_sha256(k, region);
  k = crypto::hmac_sha256(k, "s3");
  k = crypto::hmac_sha256(k, "aws4_request");
  return crypto::to_hex(crypto::hmac_sha256(k, policy));
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

class OpenImApiTest : public ServerTest {
 protected:
  void SetUp() override {
    start_server();
    admin_request("POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps", R"({"id":"im","dialect":"openim"})", 201);
    auto k = admin_request("POST", "/v1/admin/tenants/acme/keys",
                           R"({"name":"openim secret","app_id":"im"})", 201);
    secret_ = str(k, "token");
    secret_id_ = str(k, "id");
    admin_token_ = admin_token();
  }

  std::string host() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  // An OpenIM call; every answer is HTTP 200 with the envelope.
  json::object call(const std::string& route, const std::string& body, const std::string& token,
                    const std::string& base = kBase) {
    Headers h = {{"operationID", "1646445464564"}, {"Content-Type", "application/json"}};
    if (!token.empty()) h.emplace_back("token", token);
    auto r = client_->request("POST", base + route, h, body);
    EXPECT_EQ(r.status, 200) << route << ": " << r.body;
    auto o = parse(r.body);
    EXPECT_TRUE(o.contains("errCode") && o.contains("errMsg") && o.contains("errDlt")) << r.body;
    return o;
  }
  static int64_t code(const json::object& o) {
    return o.contains("errCode") ? o.at("errCode").as_int64() : -1;
  }
  static json::object data(const json::object& o) {
    auto* d = o.if_contains("data");
    return d && d->is_object() ? d->as_object() : json::object();
  }

  std::string admin_token(const std::string& user = "imAdmin") {
    auto r = call("/auth/get_admin_token",
                  R"({"secret":")" + secret_ + R"(","userID":")" + user + R"("})", "");
    EXPECT_EQ(code(r), 0) << json::serialize(r);
    EXPECT_EQ(data(r).at("expireTimeSeconds").as_int64(), 90 * 86400);
    return str(data(r), "token");
  }

  std::string user_token(const std::string& user) {
    auto r = call("/auth/get_user_token", R"({"platformID":1,"userID":")" + user + R"("})",
                  admin_token_);
    EXPECT_EQ(code(r), 0) << json::serialize(r);
    return str(data(r), "token");
  }

  // initiate_form_data's data.
  json::object initiate(const std::string& body, const std::string& token = {}) {
    auto r = call("/object/initiate_form_data", body, token.empty() ? admin_token_ : token);
    EXPECT_EQ(code(r), 0) << json::serialize(r);
    return data(r);
  }

  // Posts the form of an initiate_form_data answer with extra/changed fields.
  HttpResponse post_form(const json::object& init, const std::string& file,
                         std::vector<Field> extra_before = {}, const std::vector<Field>& after = {},
                         const std::string& drop = {}) {
    std::vector<Field> fields;
    for (const auto& [k, v] : init.at("formData").as_object()) {
      if (std::string(k) == drop) continue;
      std::string value(v.as_string());
      for (auto it = extra_before.begin(); it != extra_before.end();)
        if (it->name == std::string(k)) {
          value = it->value;
          it = extra_before.erase(it);
        } else {
          ++it;
        }
      fields.push_back({std::string(k), value});
    }
    for (auto& f : extra_before) fields.push_back(f);
    const std::string boundary = "------------------------d74496d66958873e";
    const std::string url = str(init, "url");
    return client_->request("POST", url.substr(host().size()),
                            {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                            form_body(boundary, fields, file, after));
  }

  json::object complete(const json::object& init, const std::string& token = {}) {
    return call("/object/complete_form_data",
                R"({"id":")" + str(init, "id") + R"(","urlPrefix":"http://im.example/object/"})",
                token.empty() ? admin_token_ : token);
  }

  // The bytes GET <access url> serves for an OpenIM name.
  std::string fetch(const std::string& name) {
    auto r = call("/object/access_url", R"({"name":")" + name + R"(","query":{"type":""}})",
                  admin_token_);
    EXPECT_EQ(code(r), 0) << json::serialize(r);
    const std::string url = str(data(r), "url");
    EXPECT_TRUE(url.starts_with(host() + "/v1/links/")) << url;
    auto got = client_->request("GET", url.substr(host().size()));
    EXPECT_EQ(got.status, 200);
    return got.body;
  }

  std::string secret_, secret_id_, admin_token_;
};

TEST_F(OpenImApiTest, HeadersAreCheckedFirstAndErrorsAreHttp200) {
  auto r = client_->request("POST", std::string(kBase) + "/object/part_limit",
                            {{"token", admin_token_}}, "{}");
  EXPECT_EQ(r.status, 200);
  auto o = parse(r.body);
  EXPECT_EQ(code(o), 1001);
  EXPECT_EQ(str(o, "errMsg"), "ArgsError");
  EXPECT_EQ(str(o, "errDlt"), "header must have operationID");
  EXPECT_FALSE(o.contains("data"));

  o = call("/object/part_limit", "{}", "");
  EXPECT_EQ(code(o), 1001);
  EXPECT_EQ(str(o, "errDlt"), "header must have token");
  EXPECT_EQ(code(call("/object/part_limit", "{}", "not-a-token")), 1503);
  EXPECT_EQ(code(call("/object/part_limit", "{not json", admin_token_)), 1001);
  // An address that is no OpenIM app.
  EXPECT_EQ(code(call("/object/part_limit", "{}", admin_token_, "/openim/acme/default")), 1004);

  o = call("/object/part_limit", "{}", admin_token_);
  ASSERT_EQ(code(o), 0);
  EXPECT_EQ(str(o, "errMsg"), "");
  EXPECT_EQ(data(o).at("minPartSize").as_int64(), 5242880);
  EXPECT_EQ(data(o).at("maxPartSize").as_int64(), 5368709120);
  EXPECT_EQ(data(o).at("maxNumSize").as_int64(), 10000);
  EXPECT_EQ(
      data(call("/object/part_size", R"({"size":1048576})", admin_token_)).at("size").as_int64(),
      5242880);
  EXPECT_EQ(data(call("/object/part_size", R"({"size":104857600000})", admin_token_))
                .at("size")
                .as_int64(),
            10485760);
  EXPECT_EQ(code(call("/object/part_size", R"({"size":0})", admin_token_)), 1001);
}

TEST_F(OpenImApiTest, AdminTokensExpireAndAreRevokedWithTheirSecret) {
  auto o = call("/auth/get_admin_token",
                R"({"secret":"upk_wrong_secret_0123456789abcdef","userID":"imAdmin"})", "");
  EXPECT_EQ(code(o), 1002);
  EXPECT_EQ(str(o, "errDlt"), "secret invalid");
  EXPECT_EQ(
      code(call("/auth/get_admin_token", R"({"secret":")" + secret_ + R"(","userID":"u1"})", "")),
      1001);
  EXPECT_EQ(code(call("/auth/get_admin_token", R"({"userID":"imAdmin"})", "")), 1001);

  // Tampered: another user in the claims, the old signature.
  std::string forged = admin_token_;
  const size_t d1 = forged.find('.'), d2 = forged.rfind('.');
  std::string claims;
  ASSERT_TRUE(crypto::base64_decode(forged.substr(d1 + 1, d2 - d1 - 1), claims));
  replace_all(claims, "imAdmin", "imAdmix");
  forged = forged.substr(0, d1 + 1) + crypto::base64url(claims, false) + forged.substr(d2);
  EXPECT_EQ(code(call("/object/part_limit", "{}", forged)), 1502);

  // A token of this app presented at another OpenIM app's address.
  admin_request("POST", "/v1/admin/tenants/acme/apps", R"({"id":"im2","dialect":"openim"})", 201);
  EXPECT_EQ(code(call("/object/part_limit", "{}", admin_token_, "/openim/acme/im2")), 1505);

  // Expiry: 90 days by default.
  const std::string token = admin_token();
  advance_clock(90 * kDayMs + 1000);
  EXPECT_EQ(code(call("/object/part_limit", "{}", token)), 1501);

  // Revocation: disabling the secret kicks its tokens, deleting it removes them.
  const std::string fresh = admin_token();
  EXPECT_EQ(code(call("/object/part_limit", "{}", fresh)), 0);
  admin_request("POST", "/v1/admin/keys/" + secret_id_ + "/disable", "", 200);
  EXPECT_EQ(code(call("/object/part_limit", "{}", fresh)), 1506);
  EXPECT_EQ(code(call("/auth/get_admin_token",
                      R"({"secret":")" + secret_ + R"(","userID":"imAdmin"})", "")),
            1002);
  EXPECT_EQ(
      client_->request("DELETE", "/v1/admin/keys/" + secret_id_, bearer(ServerProcess::kAdminKey))
          .status,
      204);
  EXPECT_EQ(code(call("/object/part_limit", "{}", fresh)), 1507);
}

TEST_F(OpenImApiTest, UserNamesMustStartWithTheirUserId) {
  const std::string u1 = user_token("u1");
  EXPECT_EQ(code(call("/auth/get_user_token", R"({"platformID":1,"userID":"u2"})", u1)), 1002);
  auto o = call("/object/initiate_form_data",
                R"({"name":"avatar.png","size":10,"contentType":"image/png"})", u1);
  EXPECT_EQ(code(o), 1002);
  EXPECT_EQ(str(o, "errDlt"), "name must start with `u1/`");
  EXPECT_EQ(code(call("/object/initiate_form_data", R"({"name":"","size":10})", u1)), 1001);
  EXPECT_EQ(code(call("/object/initiate_form_data", R"({"name":"u1/a.png","size":0})", u1)), 1001);
  EXPECT_EQ(
      code(call("/object/initiate_form_data", R"({"name":"/u1/a.png","size":3})", admin_token_)),
      1001);

  // A user's form: OpenIM's key layout, 10 minutes whatever it asks for.
  const std::string content = "user one's file";
  auto init = initiate(R"({"name":"u1/photo.jpg","size":)" + std::to_string(content.size()) +
                           R"(,"contentType":"image/jpeg","millisecond":99999999,"absolute":true})",
                       u1);
  const std::string key = str(init.at("formData").as_object(), "key");
  EXPECT_TRUE(std::regex_match(key, std::regex(R"(openim/direct/\d{8}/u1/[0-9a-f]{32}\.jpg)")))
      << key;
  auto r = post_form(init, content);
  ASSERT_EQ(r.status, 200) << r.body;
  // Another user cannot confirm (and so name) it, nor a forged id name another key.
  EXPECT_EQ(code(complete(init, user_token("u2"))), 1002);
  for (const char* key : {"openim/direct/x", "openim/direct/20261201/u1",
                          "openim/direct/20261201/u1x/a", "docs/ok.txt"}) {
    json::object forged;
    forged["name"] = "u1/photo.jpg";
    forged["size"] = 3;
    forged["contentType"] = "";
    forged["group"] = "";
    forged["key"] = key;
    std::string id = crypto::base64(json::serialize(forged));
    while (id.back() == '=') id.pop_back();
    auto r = call("/object/complete_form_data", R"({"id":")" + id + R"(","urlPrefix":""})", u1);
    EXPECT_EQ(code(r), 1002) << key;
  }
  auto done = complete(init, u1);
  ASSERT_EQ(code(done), 0) << json::serialize(done);
  EXPECT_EQ(str(data(done), "url"), "http://im.example/object/u1/photo.jpg");
  EXPECT_EQ(fetch("u1/photo.jpg"), content);
}

TEST_F(OpenImApiTest, VendorDocCurlFormUploadThenCompleteAndDownload) {
  TempDir dir;
  std::string png(3000, '\0');
  pattern_bytes(png.data(), png.size(), 0);
  std::ofstream(dir.path() + "/avatar.png", std::ios::binary) << png;
  auto init = initiate(
      R"({"name":"avatar.png","size":3000,"contentType":"image/png","group":"avatar","millisecond":600000})");

  // The answer's shape (spec/openim.md §3.3).
  const std::string id = str(init, "id");
  EXPECT_EQ(id.find('='), std::string::npos);
  std::string id_json;
  ASSERT_TRUE(crypto::base64_decode(id, id_json));
  auto id_obj = parse(id_json);
  EXPECT_EQ(str(id_obj, "name"), "avatar.png");
  EXPECT_EQ(id_obj.at("size").as_int64(), 3000);
  EXPECT_EQ(str(id_obj, "group"), "avatar");
  EXPECT_EQ(str(init, "url"), host() + "/s3/openim");
  EXPECT_EQ(str(init, "file"), "file");
  EXPECT_TRUE(init.at("header").is_null());
  EXPECT_EQ(json::serialize(init.at("successCodes")), "[200]");
  const int64_t expires = init.at("expires").as_int64();
  EXPECT_GT(expires, 1'700'000'000'000);  // milliseconds
  const auto& fd = init.at("formData").as_object();
  for (const char* f : {"key", "bucket", "success_action_status", "Content-Type", "policy",
                        "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"})
    EXPECT_TRUE(fd.contains(f)) << f;
  EXPECT_EQ(fd.size(), 9u);
  std::string policy;
  ASSERT_TRUE(crypto::base64_decode(fd.at("policy").as_string(), policy));
  EXPECT_NE(policy.find(R"(["content-length-range", 0, 3000])"), std::string::npos) << policy;
  EXPECT_TRUE(std::regex_search(
      policy, std::regex(R"(^\{"expiration":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")")))
      << policy;

  // The vendor doc's command: -H "Content-Type: multipart/form-data", every
  // formData pair with -F, then the file.
  std::string cmd = "curl -s -o /dev/null -w '%{http_code}' -X POST \"" + str(init, "url") +
                    "\" -H \"Content-Type: multipart/form-data\"";
  for (const auto& [k, v] : fd)
    cmd += " -F \"" + std::string(k) + "=" + std::string(v.as_string()) + "\"";
  cmd += " -F \"file=@avatar.png\"";
  int status = -1;
  const std::string http_code = run_command("cd '" + dir.path() + "' && " + cmd, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(http_code, "200");  // in successCodes

  auto done = complete(init);
  ASSERT_EQ(code(done), 0) << json::serialize(done);
  EXPECT_EQ(str(data(done), "url"), "http://im.example/object/avatar.png");
  EXPECT_EQ(fetch("avatar.png"), png);

  // GET /object/<name>: no token, 302 to the signed link.
  auto redirect = client_->request("GET", std::string(kBase) + "/object/avatar.png?operationID=1");
  ASSERT_EQ(redirect.status, 302);
  const std::string location = redirect.header("location");
  ASSERT_TRUE(location.starts_with(host() + "/v1/links/acme/")) << location;
  auto got = client_->request("GET", location.substr(host().size()));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, png);
  EXPECT_EQ(client_->request("GET", std::string(kBase) + "/object/missing.png").status, 404);
  EXPECT_EQ(client_->request("GET", std::string(kBase) + "/object/avatar.png?type=video").status,
            400);

  // The signed link expires.
  auto url = call("/object/access_url", R"({"name":"avatar.png"})", admin_token_);
  ASSERT_EQ(code(url), 0);
  EXPECT_GT(data(url).at("expireTime").as_int64(), 1'700'000'000'000);
  advance_clock(13 * 3'600'000);
  EXPECT_NE(client_->request("GET", str(data(url), "url").substr(host().size())).status, 200);
}

// curl sends `Expect: 100-continue` for a body this large; the file streams to
// disk while the policy was checked once, before its first byte was stored.
TEST_F(OpenImApiTest, LargeFormUploadStreamsWithFlatMemory) {
  constexpr uint64_t kSize = 160ull << 20;
  TempDir dir;
  {
    std::ofstream out(dir.path() + "/big.bin", std::ios::binary);
    std::string buf(1 << 20, '\0');
    for (uint64_t off = 0; off < kSize; off += buf.size()) {
      pattern_bytes(buf.data(), buf.size(), off);
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    }
  }
  auto init = initiate(R"({"name":"big.bin","size":)" + std::to_string(kSize) +
                       R"(,"contentType":"application/octet-stream"})");
  std::string cmd = "curl -s -o /dev/null -w '%{http_code}' -X POST \"" + str(init, "url") + "\"";
  for (const auto& [k, v] : init.at("formData").as_object())
    cmd += " -F \"" + std::string(k) + "=" + std::string(v.as_string()) + "\"";
  cmd += " -F \"file=@big.bin\"";
  EXPECT_EQ(run_command("cd '" + dir.path() + "' && " + cmd), "200");
  ASSERT_EQ(code(complete(init)), 0);
  auto url = call("/object/access_url", R"({"name":"big.bin"})", admin_token_);
  auto d = client_->download(str(data(url), "url").substr(host().size()));
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.bytes, kSize);
  EXPECT_EQ(d.sha256,
            run_command("sha256sum '" + dir.path() + "/big.bin' | cut -c1-64 | tr -d '\\n'"));
  const long rss_kib = server_->peak_rss_kib();
  std::printf("server peak RSS after a 160 MiB form upload and download: %ld KiB\n", rss_kib);
  // ASan's shadow memory and quarantine say nothing of ours.
  if (!server_->sanitized()) {
    EXPECT_LT(rss_kib, 100 * 1024);
  }
}

TEST_F(OpenImApiTest, AccessUrlErrors) {
  EXPECT_EQ(code(call("/object/access_url", R"({"name":"nope.png"})", admin_token_)), 1004);
  EXPECT_EQ(code(call("/object/access_url", R"({"name":""})", admin_token_)), 1001);
  EXPECT_EQ(code(call("/object/access_url", R"({"name":"a.png","query":{"type":"video"}})",
                      admin_token_)),
            1001);
}

TEST_F(OpenImApiTest, CompleteChecksTheStoredSize) {
  auto init =
      initiate(R"({"name":"doc.txt","size":10,"contentType":"text/plain","absolute":true})");
  // Not posted yet.
  EXPECT_EQ(code(complete(init)), 1004);
  // Within the policy's range (0..10), but not the declared size.
  ASSERT_EQ(post_form(init, "12345").status, 200);
  auto o = complete(init);
  EXPECT_EQ(code(o), 90007);
  EXPECT_EQ(str(o, "errDlt"), "file size mismatch");
  EXPECT_EQ(
      code(call("/object/complete_form_data", R"({"id":"%%%","urlPrefix":""})", admin_token_)),
      1001);
  // Absolute admin names are the key itself.
  auto init2 =
      initiate(R"({"name":"docs/ok.txt","size":4,"contentType":"text/plain","absolute":true})");
  EXPECT_EQ(str(init2.at("formData").as_object(), "key"), "docs/ok.txt");
  ASSERT_EQ(post_form(init2, "four").status, 200);
  EXPECT_EQ(code(complete(init2)), 0);
  EXPECT_EQ(fetch("docs/ok.txt"), "four");
  // Content-addressed keys are written by multipart uploads only.
  auto init3 = initiate(
      R"({"name":"openim/data/hash/0123456789abcdef0123456789abcdef","size":4,"absolute":true})");
  auto r = post_form(init3, "fake");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("<Code>AccessDenied</Code>"), std::string::npos) << r.body;
}

TEST_F(OpenImApiTest, RefusedFormsStoreNothing) {
  auto init = initiate(R"({"name":"x.bin","size":100,"contentType":"application/octet-stream"})");
  const auto blobs_before = server_->blob_files().size();
  auto refused = [&](const HttpResponse& r, int status, const std::string& s3_code,
                     const char* what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_NE(r.body.find("<Error><Code>" + s3_code + "</Code>"), std::string::npos)
        << what << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/xml") << what;
  };
  const std::string sig = str(init.at("formData").as_object(), "x-amz-signature");
  std::string bad_sig = sig;
  bad_sig[0] = bad_sig[0] == 'a' ? 'b' : 'a';
  refused(post_form(init, "data", {{"x-amz-signature", bad_sig}}), 403, "SignatureDoesNotMatch",
          "tampered signature");
  refused(post_form(init, std::string(101, 'x')), 400, "EntityTooLarge", "over the range");
  refused(post_form(init, "data", {{"x-amz-meta-extra", "1"}}), 403, "AccessDenied",
          "uncovered field");
  refused(post_form(init, "data", {{"Policy", str(init.at("formData").as_object(), "policy")}}),
          400, "InvalidArgument", "duplicated field");
  refused(post_form(init, "data", {}, {{"x-amz-meta-late", "1"}}), 403, "AccessDenied",
          "uncovered field after the file");
  refused(post_form(init, "data", {{"key", "elsewhere/x.bin"}}), 403, "AccessDenied",
          "key changed");
  refused(post_form(init, "data", {}, {}, "policy"), 403, "AccessDenied", "no policy");
  // A field after a file large enough to stream in many reads: the upload was
  // open and filling when the field came, and is dropped.
  auto big = initiate(R"({"name":"big.bin","size":3000000})");
  refused(post_form(big, std::string(3'000'000, 'b'), {}, {{"x-amz-meta-late", "1"}}), 403,
          "AccessDenied", "uncovered field after a streamed file");
  EXPECT_TRUE(server_->temp_files().empty());
  advance_clock(10 * 60'000 + 1000);
  refused(post_form(init, "data"), 403, "AccessDenied", "expired");
  EXPECT_EQ(server_->blob_files().size(), blobs_before);
  EXPECT_EQ(code(complete(init)), 1004);
  EXPECT_EQ(code(complete(big)), 1004);
  // A form without credentials.
  auto init2 = initiate(R"({"name":"y.bin","size":10})");
  const std::string boundary = "b0undary";
  auto r = client_->request("POST", "/s3/otherbucket",
                            {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                            form_body(boundary, {{"policy", "x"}}, "data"));
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(OpenImApiTest, StartsWithPolicySignedByTheAppItself) {
  int status = -1;
  auto creds =
      parse(server_->cli({"openim", "credentials", "--tenant", "acme", "--app", "im"}, &status));
  ASSERT_EQ(status, 0);
  const std::string ak = str(creds, "access_key_id"), sk = str(creds, "secret_access_key");
  ASSERT_FALSE(sk.empty());
  EXPECT_EQ(str(creds, "bucket"), "openim");
  const std::string date = "20300101T000000Z";
  const std::string credential = ak + "/20300101/us-east-1/s3/aws4_request";
  // Dated in the future: the server's clock is "now", the policy expires in 2031.
  const std::string policy = crypto::base64(
      R"({"expiration":"2031-01-01T00:00:00Z","conditions":[{"bucket":"openim"},["starts-with","$key","public/"],)"
      R"({"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":")" +
      credential + R"("},{"x-amz-date":")" + date + R"("},["content-length-range",1,64]]})");
  auto post = [&](const std::string& key, const std::string& file) {
    const std::string boundary = "xYzZY";
    return client_->request(
        "POST", "/s3/openim",
        {{"Content-Type", "multipart/form-data; boundary=\"" + boundary + "\""}},
        form_body(boundary,
                  {{"key", key},
                   {"bucket", "openim"},
                   {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                   {"X-Amz-Credential", credential},
                   {"X-Amz-Date", date},
                   {"Policy", policy},
                   {"X-Amz-Signature", sign(sk, "20300101", "us-east-1", policy)}},
                  file));
  };
  const auto blobs_before = server_->blob_files().size();
  auto r = post("private/a.txt", "hello");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("$key"), std::string::npos) << r.body;
  r = post("public/empty.txt", "");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("EntityTooSmall"), std::string::npos) << r.body;
  EXPECT_EQ(server_->blob_files().size(), blobs_before);
  r = post("public/a.txt", "hello");
  EXPECT_EQ(r.status, 204) << r.body;  // no success_action_status: S3's default
  EXPECT_EQ(fetch("public/a.txt"), "hello");
  // Keys are never overwritten.
  r = post("public/a.txt", "again");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(fetch("public/a.txt"), "hello");
}

// Issue 12 item 2: initiate_form_data's contentType (any user token will do)
// ends up in the stored object and so in Content-Type of its downloads.
// Refused when the form is initiated, in OpenIM's envelope (HTTP 200 with
// errCode 1001); no form, nothing stored.
TEST_F(OpenImApiTest, ContentTypesMustBeMediaTypes) {
  const std::string u1 = user_token("u1");
  const auto blobs_before = server_->blob_files().size();
  for (const std::string ct :
       {R"(text/plain\r\nSet-Cookie: pwn=1)", R"(text/html\r\nContent-Length: 25\r\n\r\n<script>)",
        R"(text/plain\u0000)", R"(text/plain; x=\u00ff)", "text", "a/b c"}) {
    auto o = call("/object/initiate_form_data",
                  R"({"name":"u1/a.txt","size":3,"contentType":")" + ct + R"("})", u1);
    EXPECT_EQ(code(o), 1001) << ct << ": " << json::serialize(o);
    EXPECT_EQ(str(o, "errMsg"), "ArgsError");
    EXPECT_NE(str(o, "errDlt").find("contentType"), std::string::npos) << json::serialize(o);
    EXPECT_FALSE(o.contains("data") && data(o).contains("formData")) << json::serialize(o);
  }
  // complete_multipart_upload's contentType too, before anything is assembled.
  auto c = call("/object/complete_multipart_upload",
                R"({"uploadID":"x","parts":[],"name":"u1/a.txt","contentType":"a\r\nb"})", u1);
  EXPECT_EQ(code(c), 1001) << json::serialize(c);
  EXPECT_NE(str(c, "errDlt").find("contentType"), std::string::npos) << json::serialize(c);
  EXPECT_EQ(server_->blob_files().size(), blobs_before);
  // Parameters are fine.
  auto ok =
      initiate(R"({"name":"u1/b.txt","size":3,"contentType":"text/plain; charset=utf-8"})", u1);
  EXPECT_EQ(str(ok.at("formData").as_object(), "Content-Type"), "text/plain; charset=utf-8");
  ASSERT_EQ(post_form(ok, "abc").status, 200);
  EXPECT_EQ(code(complete(ok, u1)), 0);
  auto got = client_->request(
      "GET", str(data(call("/object/access_url", R"({"name":"u1/b.txt"})", admin_token_)), "url")
                 .substr(host().size()));
  EXPECT_EQ(got.body, "abc");
  EXPECT_EQ(got.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(got.header("set-cookie"), "");
}

// The S3 form's own Content-Type field and the file part's header reach the
// stored object too, as does a key built from the part's filename (whose
// form-data escapes stand for CR LF) into the Location header: all refused,
// in S3's envelope, with nothing stored.
TEST_F(OpenImApiTest, SelfSignedFormsCannotStoreBadContentTypesOrKeys) {
  int status = -1;
  auto creds =
      parse(server_->cli({"openim", "credentials", "--tenant", "acme", "--app", "im"}, &status));
  ASSERT_EQ(status, 0);
  const std::string ak = str(creds, "access_key_id"), sk = str(creds, "secret_access_key");
  const std::string date = "20300101T000000Z";
  const std::string credential = ak + "/20300101/us-east-1/s3/aws4_request";
  const std::string policy = crypto::base64(
      R"({"expiration":"2031-01-01T00:00:00Z","conditions":[{"bucket":"openim"},)"
      R"(["starts-with","$key","public/"],["starts-with","$Content-Type",""],)"
      R"({"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":")" +
      credential + R"("},{"x-amz-date":")" + date + R"("},["content-length-range",1,64]]})");
  // `part_type` "" : the part says application/octet-stream (form_body's).
  auto post = [&](const std::string& key, const std::string& content_type,
                  const std::string& filename, const std::string& part_type) {
    const std::string boundary = "xYzZY";
    std::vector<Field> fields = {{"key", key},
                                 {"bucket", "openim"},
                                 {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                                 {"X-Amz-Credential", credential},
                                 {"X-Amz-Date", date},
                                 {"Policy", policy},
                                 {"X-Amz-Signature", sign(sk, "20300101", "us-east-1", policy)}};
    if (!content_type.empty()) fields.push_back({"Content-Type", content_type});
    std::string body = form_body(boundary, fields, "hello");
    replace_all(body, "filename=\"a.bin\"", "filename=\"" + filename + "\"");
    if (!part_type.empty())
      replace_all(body, "Content-Type: application/octet-stream", "Content-Type: " + part_type);
    return client_->request("POST", "/s3/openim",
                            {{"Content-Type", "multipart/form-data; boundary=" + boundary}}, body);
  };
  const auto blobs_before = server_->blob_files().size();
  auto refused = [&](const HttpResponse& r, const char* what) {
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_NE(r.body.find("<Code>InvalidArgument</Code>"), std::string::npos) << what << r.body;
    EXPECT_EQ(r.header("set-cookie"), "") << what;
    EXPECT_EQ(r.header("location"), "") << what;
  };
  refused(post("public/a.txt", "text/plain\r\nSet-Cookie: pwn=1", "a.bin", ""),
          "Content-Type field with CR LF");
  refused(post("public/a.txt", "text/plain; x=\xff\xfe", "a.bin", ""),
          "Content-Type field with 8-bit bytes");
  refused(post("public/a.txt", "", "a.bin", "text/plain; x=\xff\xfe"), "part Content-Type");
  refused(post("public/${filename}", "", "a%0D%0ASet-Cookie: pwn=1", ""), "key with CR LF");
  EXPECT_EQ(server_->blob_files().size(), blobs_before);
  EXPECT_TRUE(server_->temp_files().empty());
  auto r = post("public/ok.txt", "text/plain; charset=utf-8", "a.bin", "");
  EXPECT_EQ(r.status, 204) << r.body;
}

TEST_F(OpenImApiTest, AwsSdkPresignedPostUploads) {
  int status = -1;
  auto creds =
      parse(server_->cli({"openim", "credentials", "--tenant", "acme", "--app", "im"}, &status));
  ASSERT_EQ(status, 0);
  const std::string body = "hello from @aws-sdk/s3-presigned-post";
  const std::string env = "ENDPOINT='" + host() + "/s3' ACCESS_KEY_ID='" +
                          str(creds, "access_key_id") + "' SECRET_ACCESS_KEY='" +
                          str(creds, "secret_access_key") + "' REGION='" + str(creds, "region") +
                          "' BUCKET='" + str(creds, "bucket") + "' KEY='sdk/hello.txt' BODY='" +
                          body + "'";
  const std::string out = run_command(
      "cd " UPGATE_COMPAT_DIR " && " + env + " MAX=1000 node openim_presigned_post.mjs 2>/dev/null",
      &status);
  ASSERT_EQ(status, 0) << out;
  auto o = parse(out);
  EXPECT_EQ(o.at("status").as_int64(), 201);
  EXPECT_EQ(str(o, "url"), host() + "/s3/openim");
  EXPECT_NE(str(o, "body").find("<Key>sdk/hello.txt</Key>"), std::string::npos) << out;
  EXPECT_NE(str(o, "body").find("<PostResponse>"), std::string::npos) << out;
  EXPECT_EQ(fetch("sdk/hello.txt"), body);
  // The same client with a range the file does not fit: refused, nothing stored.
  auto small =
      parse(run_command("cd " UPGATE_COMPAT_DIR " && " + env +
                            " KEY='sdk/big.txt' MAX=5 node openim_presigned_post.mjs 2>/dev/null",
                        &status));
  EXPECT_NE(status, 0);
  EXPECT_EQ(small.at("status").as_int64(), 400);
  EXPECT_NE(str(small, "body").find("<Code>EntityTooLarge</Code>"), std::string::npos)
      << str(small, "body");
  EXPECT_EQ(code(call("/object/access_url", R"({"name":"sdk/big.txt"})", admin_token_)), 1004);
}

// The OpenIM SDK's large-file path: part_limit, initiate, a PUT per part of
// the presigned URLs, complete with the md5 chain.
TEST_F(OpenImApiTest, MultipartUploadStreamsPartsAndChecksTheMd5Chain) {
  const size_t part = 5242880, size = 2 * part + 1000;  // three parts, the last short
  std::string content(size, '\0');
  pattern_bytes(content.data(), content.size(), 0);
  std::vector<std::string> md5s;
  std::string joined;
  for (size_t off = 0; off < size; off += part) {
    md5s.push_back(crypto::to_hex(crypto::md5(content.substr(off, part))));
    joined += (joined.empty() ? "" : ",") + md5s.back();
  }
  const std::string hash = crypto::to_hex(crypto::md5(joined));
  auto init = call(
      "/object/initiate_multipart_upload",
      R"({"hash":")" + hash + R"(","size":)" + std::to_string(size) +
          R"(,"partSize":5242880,"maxParts":0,"cause":"","name":"video/big.mp4","contentType":"video/mp4","urlPrefix":"http://im.example/object/"})",
      admin_token_);
  ASSERT_EQ(code(init), 0) << json::serialize(init);
  const auto upload = data(init).at("upload").as_object();
  EXPECT_EQ(upload.at("partSize").as_int64(), 5242880);
  const std::string upload_id = str(upload, "uploadID");
  const auto sign = upload.at("sign").as_object();
  ASSERT_EQ(sign.at("parts").as_array().size(), 3u);
  // The client's way: sign.url with sign.query + part.query (KeyValues with `values`).
  auto part_target = [&](const json::object& p) {
    std::string url = str(sign, "url") + "?";
    for (const auto* list : {&sign.at("query").as_array(), &p.at("query").as_array()})
      for (const auto& kv : *list)
        url += std::string(kv.at("key").as_string()) + "=" +
               std::string(kv.at("values").as_array()[0].as_string()) + "&";
    url.pop_back();
    EXPECT_TRUE(url.starts_with(host() + "/s3/openim/")) << url;
    return url.substr(host().size());
  };
  const auto& parts = sign.at("parts").as_array();
  // Complete before every part is there: refused.
  auto early = call("/object/complete_multipart_upload",
                    R"({"uploadID":")" + upload_id + R"(","parts":[")" + md5s[0] + R"(",")" +
                        md5s[1] + R"(",")" + md5s[2] +
                        R"("],"name":"video/big.mp4","contentType":"video/mp4","urlPrefix":"p/"})",
                    admin_token_);
  EXPECT_EQ(code(early), 1001);
  // A tampered part signature is refused.
  std::string forged = part_target(parts[0].as_object());
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(client_->request("PUT", forged, {}, content.substr(0, part)).status, 403);
  // A part of the wrong length is refused.
  EXPECT_EQ(client_->request("PUT", part_target(parts[0].as_object()), {}, "short").status, 400);
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& p = parts[i].as_object();
    EXPECT_EQ(p.at("partNumber").as_int64(), static_cast<int64_t>(i + 1));
    auto r = client_->request("PUT", part_target(p), {}, content.substr(i * part, part));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("etag"), "\"" + md5s[i] + "\"");
  }
  // auth_sign renews URLs; a retried part replaces the earlier one.
  auto resigned = call("/object/auth_sign",
                       R"({"uploadID":")" + upload_id + R"(","partNumbers":[2]})", admin_token_);
  ASSERT_EQ(code(resigned), 0) << json::serialize(resigned);
  ASSERT_EQ(data(resigned).at("parts").as_array().size(), 1u);
  EXPECT_EQ(client_
                ->request("PUT", part_target(data(resigned).at("parts").as_array()[0].as_object()),
                          {}, content.substr(part, part))
                .status,
            200);
  EXPECT_EQ(code(call("/object/auth_sign",
                      R"({"uploadID":")" + upload_id + R"(","partNumbers":[4]})", admin_token_)),
            1001);

  // The md5 chain must be the hash.
  auto wrong = call("/object/complete_multipart_upload",
                    R"({"uploadID":")" + upload_id + R"(","parts":[")" + md5s[1] + R"(",")" +
                        md5s[0] + R"(",")" + md5s[2] +
                        R"("],"name":"video/big.mp4","contentType":"video/mp4","urlPrefix":"p/"})",
                    admin_token_);
  EXPECT_EQ(code(wrong), 1001);
  EXPECT_EQ(str(wrong, "errDlt"), "md5 mismatching");
  auto done = call(
      "/object/complete_multipart_upload",
      R"({"uploadID":")" + upload_id + R"(","parts":[")" + md5s[0] + R"(",")" + md5s[1] + R"(",")" +
          md5s[2] +
          R"("],"name":"video/big.mp4","contentType":"video/mp4","urlPrefix":"http://im.example/object/"})",
      admin_token_);
  ASSERT_EQ(code(done), 0) << json::serialize(done);
  EXPECT_EQ(str(data(done), "url"), "http://im.example/object/video/big.mp4");
  const std::string back = fetch("video/big.mp4");
  EXPECT_EQ(back.size(), content.size());
  EXPECT_TRUE(back == content);
  // The parts are gone: the final object plus the name's alias are all that is kept.
  const std::string blobs =
      run_command("curl -s -H 'Authorization: Bearer " + std::string(ServerProcess::kAdminKey) +
                  "' -X POST " + host() + "/v1/admin/sweep");
  EXPECT_EQ(server_->blob_files().size(), 2u) << blobs;

  // The same content again: an instant answer, no upload.
  auto again = call(
      "/object/initiate_multipart_upload",
      R"({"hash":")" + hash + R"(","size":)" + std::to_string(size) +
          R"(,"partSize":5242880,"name":"video/copy.mp4","contentType":"video/mp4","urlPrefix":"http://im.example/object/"})",
      admin_token_);
  ASSERT_EQ(code(again), 0);
  EXPECT_EQ(str(data(again), "url"), "http://im.example/object/video/copy.mp4");
  EXPECT_FALSE(data(again).contains("upload"));
  EXPECT_TRUE(fetch("video/copy.mp4") == content);

  // A user's upload: names under its id, its own uploadID only.
  const std::string u1 = user_token("u1");
  EXPECT_EQ(code(call("/object/initiate_multipart_upload",
                      R"({"hash":")" + hash + R"(","size":10,"name":"x.bin"})", u1)),
            1002);
  EXPECT_EQ(code(call("/object/auth_sign",
                      R"({"uploadID":")" + upload_id + R"(","partNumbers":[1]})", u1)),
            1002);
  EXPECT_EQ(code(call("/object/initiate_multipart_upload",
                      R"({"hash":"nothex","size":10,"name":"u1/x.bin"})", u1)),
            1001);
}

TEST_F(OpenImApiTest, SmallMultipartUploadIsOnePart) {
  const std::string content = "small file through the multipart routes";
  const std::string part_md5 = crypto::to_hex(crypto::md5(content));
  const std::string hash = crypto::to_hex(crypto::md5(part_md5));
  const std::string u1 = user_token("u1");
  auto init = call(
      "/object/initiate_multipart_upload",
      R"({"hash":")" + hash + R"(","size":)" + std::to_string(content.size()) +
          R"(,"partSize":5242880,"maxParts":1,"name":"u1/s.txt","contentType":"text/plain","urlPrefix":"x/"})",
      u1);
  ASSERT_EQ(code(init), 0) << json::serialize(init);
  const auto sign = data(init).at("upload").as_object().at("sign").as_object();
  ASSERT_EQ(sign.at("parts").as_array().size(), 1u);
  std::string target = str(sign, "url").substr(host().size()) + "?";
  for (const auto* list :
       {&sign.at("query").as_array(), &sign.at("parts").as_array()[0].at("query").as_array()})
    for (const auto& kv : *list)
      target += std::string(kv.at("key").as_string()) + "=" +
                std::string(kv.at("values").as_array()[0].as_string()) + "&";
  target.pop_back();
  ASSERT_EQ(client_->request("PUT", target, {}, content).status, 200);
  const std::string upload_id = str(data(init).at("upload").as_object(), "uploadID");
  // Another user may not complete it.
  EXPECT_EQ(code(call("/object/complete_multipart_upload",
                      R"({"uploadID":")" + upload_id + R"(","parts":[")" + part_md5 +
                          R"("],"name":"u2/s.txt"})",
                      user_token("u2"))),
            1002);
  auto done = call("/object/complete_multipart_upload",
                   R"({"uploadID":")" + upload_id + R"(","parts":[")" + part_md5 +
                       R"("],"name":"u1/s.txt","urlPrefix":"x/"})",
                   u1);
  ASSERT_EQ(code(done), 0) << json::serialize(done);
  EXPECT_EQ(str(data(done), "url"), "x/u1/s.txt");
  EXPECT_EQ(fetch("u1/s.txt"), content);
  // An expired uploadID is refused.
  auto init2 = call("/object/initiate_multipart_upload",
                    R"({"hash":")" + std::string(32, 'a') + R"(","size":5,"name":"u1/t.txt"})", u1);
  ASSERT_EQ(code(init2), 0);
  advance_clock(25 * 3'600'000);
  EXPECT_EQ(code(call("/object/auth_sign",
                      R"({"uploadID":")" + str(data(init2).at("upload").as_object(), "uploadID") +
                          R"(","partNumbers":[1]})",
                      user_token("u1"))),
            1001);
}

}  // namespace
}  // namespace up::testing
