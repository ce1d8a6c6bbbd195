// Qiniu's resumable upload (v1 mkblk/bput/mkfile, v2 multipart) on the Jodoo
// upload host, over real HTTP against the real server binary
// (spec/qiniu-resumable.md): answers, the etag vectors of §5, the errors of
// §8, the token's rules at the final request, binding through data/create,
// and the real qiniu Node SDK resuming an interrupted upload
// (tests/compat/qiniu_resume.mjs). Few cases, many checks: each case starts a
// server.

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;

constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";
constexpr int64_t kHourMs = 3'600'000;
constexpr size_t kMiB = 1 << 20;

std::string b64(const std::string& s) { return crypto::base64url(s, true); }
std::string md5_hex(const std::string& s) { return crypto::to_hex(crypto::md5(s)); }
std::string qiniu_error(const HttpResponse& r) { return str(parse(r.body), "error"); }

// Qiniu's etag of a whole payload (spec §5), independently of the server.
std::string qetag(const std::string& data) {
  if (data.size() <= 4 * kMiB) return b64("\x16" + crypto::sha1(data));
  std::string digests;
  for (size_t at = 0; at < data.size(); at += 4 * kMiB)
    digests += crypto::sha1(data.substr(at, 4 * kMiB));
  return b64("\x96" + crypto::sha1(digests));
}

class JodooResumableTest : public ServerTest {
 protected:
  void SetUp() override {
    start_server();
    admin_request("POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  std::string(R"({"id":"crm","dialect":"jodoo","settings":{"entries":{")") +
                      kEntry + R"(":{"fields":{"_widget_file":"upload"}}}}})",
                  201);
    key_ = str(admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"jodoo"})", 201),
               "token");
    // Rate limits are not what these tests are about.
    tenant_settings(R"({"rate_limits":{"global":100000,"upload":100000}})");
  }

  void tenant_settings(const std::string& jodoo) {
    admin_request("PATCH", "/v1/admin/tenants/acme", R"({"settings":{"jodoo":)" + jodoo + "}}",
                  200);
  }

  HttpResponse api(const std::string& path, const std::string& body) {
    return client_->request("POST", "/api/v5/app/entry/" + path, bearer(key_), body);
  }

  std::vector<std::string> tokens(const std::string& tx) {
    auto r = api("file/get_upload_token", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                              R"(","transaction_id":")" + tx + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    const json::object o = parse(r.body);
    for (auto& e : o.at("token_and_url_list").as_array())
      out.push_back(str(e.as_object(), "token"));
    return out;
  }

  static Headers up(const std::string& token,
                    const std::string& type = "application/octet-stream") {
    return {{"Authorization", "UpToken " + token}, {"Content-Type", type}};
  }

  // Binds `key` to a new record under `tx`; returns the download of the file.
  std::string bind_and_download(const std::string& tx, const std::string& key) {
    json::object body;
    body["app_id"] = "crm";
    body["entry_id"] = kEntry;
    body["transaction_id"] = tx;
    body["data"] = {{"_widget_file", {{"value", json::array{json::value(key)}}}}};
    auto r = api("data/create", json::serialize(body));
    EXPECT_EQ(r.status, 200) << r.body;
    auto files = parse(r.body).at("data").as_object().at("_widget_file").as_array();
    if (files.size() != 1) return {};
    const std::string url = str(files[0].as_object(), "url");
    const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
    auto got = client_->request("GET", url.substr(base.size()));
    EXPECT_EQ(got.status, 200);
    return got.body;
  }

  // v2 paths.
  static std::string v2_base(const std::string& key = "~") {
    return "/buckets/acme.crm/objects/" + key + "/uploads";
  }
  std::string v2_init(const std::string& token) {
    auto r = client_->request("POST", v2_base(), up(token, "application/json"));
    EXPECT_EQ(r.status, 200) << r.body;
    return str(parse(r.body), "uploadId");
  }
  HttpResponse v2_put(const std::string& token, const std::string& id, int n,
                      const std::string& data, const std::string& md5 = {}) {
    Headers h = up(token);
    h.emplace_back("Content-MD5", md5.empty() ? md5_hex(data) : md5);
    return client_->request("PUT", v2_base() + "/" + id + "/" + std::to_string(n), h, data);
  }
  // PUTs `parts` as parts 1..n; returns the complete body's parts list.
  json::array v2_parts(const std::string& token, const std::string& id,
                       const std::vector<std::string>& parts) {
    json::array list;
    for (size_t i = 0; i < parts.size(); ++i) {
      auto r = v2_put(token, id, static_cast<int>(i + 1), parts[i]);
      EXPECT_EQ(r.status, 200) << r.body;
      auto o = parse(r.body);
      EXPECT_EQ(str(o, "md5"), md5_hex(parts[i]));
      list.push_back({{"etag", str(o, "etag")}, {"partNumber", i + 1}});
    }
    return list;
  }
  HttpResponse v2_complete(const std::string& token, const std::string& id, json::array parts,
                           const std::string& fname = "f.bin") {
    json::object body;
    body["parts"] = std::move(parts);
    body["fname"] = fname;
    body["mimeType"] = "application/x-test";
    body["customVars"] = {{"x:who", "me"}};
    body["metadata"] = {};
    return client_->request("POST", v2_base() + "/" + id, up(token, "application/json"),
                            json::serialize(body));
  }

  // v1: one mkblk per block; returns the last ctx of each.
  std::vector<std::string> v1_blocks(const std::string& token, const std::string& data) {
    std::vector<std::string> ctxs;
    for (size_t at = 0; at < data.size(); at += 4 * kMiB) {
      const std::string block = data.substr(at, 4 * kMiB);
      auto r = client_->request("POST", "/mkblk/" + std::to_string(block.size()), up(token), block);
      EXPECT_EQ(r.status, 200) << r.body;
      auto o = parse(r.body);
      EXPECT_EQ(o.at("crc32").as_int64(), crypto::crc32_update(0, block));
      EXPECT_EQ(str(o, "checksum"), b64(crypto::sha1(block)));
      EXPECT_EQ(o.at("offset").as_int64(), static_cast<int64_t>(block.size()));
      ctxs.push_back(str(o, "ctx"));
    }
    return ctxs;
  }
  HttpResponse v1_mkfile(const std::string& token, uint64_t size,
                         const std::vector<std::string>& ctxs, const std::string& fname = "f.bin") {
    std::string list;
    for (auto& c : ctxs) list += (list.empty() ? "" : ",") + c;
    return client_->request("POST",
                            "/mkfile/" + std::to_string(size) + "/mimeType/" + b64("text/plain") +
                                "/fname/" + b64(fname) + "/x:who/" + b64("me"),
                            up(token, "text/plain"), list);
  }

  std::string key_;
};

// ---- v1 ----------------------------------------------------------------------------

TEST_F(JodooResumableTest, V1BlocksChunksAndMkfileMakeTheQetagObject) {
  // 5 MiB of zeros: one 4 MiB block, one 1 MiB block sent as mkblk + 2 bput.
  const std::string data(5 * kMiB, '\0');
  auto t = tokens("tx-v1");
  std::vector<std::string> ctxs = v1_blocks(t[0], data.substr(0, 4 * kMiB));
  const std::string tail = data.substr(4 * kMiB);
  auto r = client_->request("POST", "/mkblk/" + std::to_string(tail.size()), up(t[0]),
                            tail.substr(0, 1000));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string ctx = str(parse(r.body), "ctx");
  for (size_t at : {size_t{1000}, size_t{500'000}}) {
    const std::string chunk = tail.substr(at, at == 1000 ? 499'000 : std::string::npos);
    r = client_->request("POST", "/bput/" + ctx + "/" + std::to_string(at), up(t[0]), chunk);
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    EXPECT_EQ(o.at("crc32").as_int64(), crypto::crc32_update(0, chunk));
    EXPECT_EQ(o.at("offset").as_int64(), static_cast<int64_t>(at + chunk.size()));
    EXPECT_EQ(str(o, "checksum"), b64(crypto::sha1(tail.substr(0, at + chunk.size()))));
    ctx = str(o, "ctx");
  }
  ctxs.push_back(ctx);
  // A bput at an offset the ctx does not name.
  r = client_->request("POST", "/bput/" + ctxs[0] + "/0", up(t[0]), "x");
  EXPECT_EQ(r.status, 701) << r.body;
  // A forged ctx.
  std::string forged = ctxs[1];
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(v1_mkfile(t[0], data.size(), {ctxs[0], forged}).status, 701);
  // Sizes that do not add up, a block missing, blocks out of order.
  EXPECT_EQ(v1_mkfile(t[0], data.size() + 1, ctxs).status, 701);
  EXPECT_EQ(v1_mkfile(t[0], data.size(), {ctxs[0]}).status, 701);
  EXPECT_EQ(v1_mkfile(t[0], data.size(), {ctxs[1], ctxs[0]}).status, 701);
  // A block not received whole.
  r = client_->request("POST", "/mkblk/10", up(t[0]), "12345");
  ASSERT_EQ(r.status, 200) << r.body;
  r = v1_mkfile(t[0], 10, {str(parse(r.body), "ctx")});
  EXPECT_EQ(r.status, 701);
  EXPECT_EQ(qiniu_error(r), "incomplete block: block 0 expect 10 bytes but only 5 bytes uploaded");

  r = v1_mkfile(t[0], data.size(), ctxs, "zeros.bin");
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = parse(r.body);
  EXPECT_EQ(str(o, "hash"), "lrMhp7oU8rzWSRlmUeGJ73Q2pVa-");  // spec §5's v1 vector
  EXPECT_EQ(str(o, "hash"), qetag(data));
  // The token is used, and the blocks went into the file.
  EXPECT_EQ(v1_mkfile(t[0], data.size(), ctxs).status, 614);
  EXPECT_EQ(v1_mkfile(t[1], data.size(), ctxs).status, 614);
  EXPECT_EQ(bind_and_download("tx-v1", str(o, "key")), data);
}

TEST_F(JodooResumableTest, V1TokenRulesAtMkfile) {
  auto t = tokens("tx-v1-rules");
  // fsizeMin 1 (Jodoo's): an empty file is refused.
  auto r = v1_mkfile(t[0], 0, {});
  EXPECT_EQ(r.status, 403) << r.body;
  // Blocks over 4 MiB, or a body over its block.
  EXPECT_EQ(client_->request("POST", "/mkblk/" + std::to_string(8 * kMiB), up(t[0]), "x").status,
            400);
  EXPECT_EQ(client_->request("POST", "/mkblk/2", up(t[0]), "xyz").status, 413);
  // No token, a bad one.
  EXPECT_EQ(client_->request("POST", "/mkblk/1", {}, "x").status, 401);
  EXPECT_EQ(client_->request("POST", "/mkblk/1", up("a:b:c"), "x").status, 401);
  // fsizeLimit on the final size.
  tenant_settings(R"({"fsize_limit":10,"rate_limits":{"global":100000,"upload":100000}})");
  t = tokens("tx-v1-small");
  auto ctxs = v1_blocks(t[0], "0123456789ab");
  r = v1_mkfile(t[0], 12, ctxs);
  EXPECT_EQ(r.status, 413) << r.body;
  // The deadline: every request checks it.
  advance_clock(kHourMs + 61'000);
  r = v1_mkfile(t[0], 12, ctxs);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(qiniu_error(r), "token out of date");
  // Every answer is JSON.
  EXPECT_EQ(client_->request("POST", "/mkblk/x", up(t[0]), "x")
                .header("content-type")
                .rfind("application/json", 0),
            0u);
}

// ---- v2 ----------------------------------------------------------------------------

TEST_F(JodooResumableTest, V2PartsAndCompleteGiveSpecEtags) {
  const std::string mib(kMiB, '\0');
  auto t = tokens("tx-v2");
  // Five 1 MiB parts: the 0x9e etag.
  std::string id = v2_init(t[0]);
  ASSERT_FALSE(id.empty());
  auto parts = v2_parts(t[0], id, {mib, mib, mib, mib, mib});
  auto r = client_->request("GET", v2_base() + "/" + id, up(t[0]));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r.body).at("parts").as_array().size(), 5u);
  r = v2_complete(t[0], id, parts, "zeros.bin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "hash"), "nh-1WgCDgdWnTWmrzJIAB8qrEJWt");
  const std::string key = str(parse(r.body), "key");
  // Finished: the uploadId is gone.
  EXPECT_EQ(v2_complete(t[0], id, parts).status, 612);
  EXPECT_EQ(v2_put(t[0], id, 1, "x").status, 612);

  // One 5 MiB part: the 0x9e etag of one part.
  id = v2_init(t[1]);
  r = v2_complete(t[1], id, v2_parts(t[1], id, {std::string(5 * kMiB, '\0')}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "hash"), "nukH1NCKrGHM2Z4wgld-sfzD28_e");

  // 4 MiB parts and a short last: the plain qetag, as v1.
  const std::string data = pattern_string(4 * kMiB + 300);
  id = v2_init(t[2]);
  r = v2_complete(t[2], id, v2_parts(t[2], id, {data.substr(0, 4 * kMiB), data.substr(4 * kMiB)}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "hash"), qetag(data));

  EXPECT_EQ(bind_and_download("tx-v2", key), std::string(5 * kMiB, '\0'));
}

TEST_F(JodooResumableTest, V2ErrorsOfSpecSection8) {
  const std::string mib(kMiB, 'a');
  auto t = tokens("tx-v2-err");
  const std::string id = v2_init(t[0]);
  EXPECT_EQ(v2_put(t[0], id, 0, "x").status, 400);
  EXPECT_EQ(v2_put(t[0], id, 10001, "x").status, 400);
  EXPECT_EQ(v2_put(t[0], id, 1, "x", md5_hex("y")).status, 406);
  EXPECT_EQ(v2_put(t[0], "not-an-id", 1, "x").status, 612);
  auto parts = v2_parts(t[0], id, {mib, "small", mib});
  auto complete_error = [&](std::vector<json::value> list) {
    auto r = v2_complete(t[0], id, json::array(list.begin(), list.end()));
    EXPECT_EQ(r.status, 400) << r.body;
    return qiniu_error(r);
  };
  EXPECT_EQ(complete_error({parts[0], json::object{{"etag", "x"}, {"partNumber", 7}}}),
            "part 7 was not uploaded");
  json::value wrong = parts[0];
  wrong.as_object()["etag"] = "Fwrong";
  EXPECT_EQ(complete_error({wrong}), "etag of part 1 does not match");
  EXPECT_EQ(complete_error({parts[0], parts[1], parts[2]}),
            "part 2 is under 1 MiB and not the last");
  EXPECT_EQ(complete_error({parts[1], parts[0]}),
            "parts must be in ascending partNumber order, 1-10000");
  // fsizeMin 1: no parts is an empty file.
  EXPECT_EQ(v2_complete(t[0], id, {}).status, 403);
  // The token made a file by a form upload: complete finds it used.
  const std::string b = "bnd";
  auto r = client_->request(
      "POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + b}},
      "--" + b + "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + t[0] + "\r\n--" +
          b +
          "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nform\r\n--" +
          b + "--\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  r = v2_complete(t[0], id, json::array{parts[0], parts[1]});
  EXPECT_EQ(r.status, 614) << r.body;
  // Abort: then the uploadId is gone.
  r = client_->request("DELETE", v2_base() + "/" + id, up(t[0]));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(v2_put(t[0], id, 3, "x").status, 612);
  const std::string late_id = v2_init(t[1]);
  // Another bucket than the token's scope.
  r = client_->request("POST", "/buckets/other/objects/~/uploads", up(t[1]));
  EXPECT_EQ(r.status, 403) << r.body;
  // qiniu-js in a browser: the preflight of a part PUT, and the part's answer.
  admin_request("PATCH", "/v1/admin/tenants/acme", R"({"cors_origins":["https://app.example"]})",
                200);
  r = client_->request(
      "OPTIONS", v2_base() + "/" + late_id + "/1",
      {{"Origin", "https://app.example"},
       {"Access-Control-Request-Method", "PUT"},
       {"Access-Control-Request-Headers", "authorization,content-type,content-md5"}});
  EXPECT_EQ(r.status, 204);
  EXPECT_NE(r.header("access-control-allow-methods").find("PUT"), std::string::npos);
  EXPECT_NE(r.header("access-control-allow-methods").find("DELETE"), std::string::npos);
  EXPECT_EQ(r.header("access-control-allow-headers"), "authorization,content-type,content-md5");
  Headers h = up(t[1]);
  h.emplace_back("Origin", "https://app.example");
  r = client_->request("PUT", v2_base() + "/" + late_id + "/1", h, "part");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("access-control-allow-origin"), "https://app.example");
  // A callback that fails is 579, as after a form upload.
  admin_request("PATCH", "/v1/admin/tenants/acme/apps/crm",
                std::string(R"({"settings":{"callback_url":"http://127.0.0.1:1/x","entries":{")") +
                    kEntry + R"(":{"fields":{"_widget_file":"upload"}}}}})",
                200);
  auto cb = tokens("tx-v2-cb");
  const std::string cb_id = v2_init(cb[0]);
  r = v2_complete(cb[0], cb_id, v2_parts(cb[0], cb_id, {"tiny"}));
  EXPECT_EQ(r.status, 579) << r.body;
  // The deadline.
  advance_clock(kHourMs + 61'000);
  r = v2_put(t[1], late_id, 1, "x");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(qiniu_error(r), "token out of date");
}

// ---- the real qiniu Node SDK ----------------------------------------------------------

// What the server's access log says about the requests on `path_prefix`.
struct Served {
  int requests = 0;
  int64_t bytes_in = 0;
};
Served served(const ServerProcess& server, const std::string& method,
              const std::string& path_prefix) {
  Served s;
  std::istringstream lines(server.stdout_text());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    if (str(o, "method") != method || str(o, "path").rfind(path_prefix, 0) != 0 ||
        o.at("status").as_int64() != 200)
      continue;
    ++s.requests;
    s.bytes_in += o.at("bytes_in").as_int64();
  }
  return s;
}

TEST_F(JodooResumableTest, QiniuNodeSdkResumesAnInterruptedUpload) {
  TempDir dir;
  const std::string file = dir.path() + "/payload.bin";
  const std::string content = pattern_string(20 * kMiB);
  std::ofstream(file, std::ios::binary) << content;
  for (const std::string version : {"v1", "v2"}) {
    SCOPED_TRACE(version);
    const std::string tx = "tx-sdk-" + version;
    auto t = tokens(tx);
    int status = -1;
    const std::string out =
        run_command("cd " UPGATE_COMPAT_DIR " && node qiniu_resume.mjs 127.0.0.1:" +
                        std::to_string(server_->port()) + " '" + file + "' " + version + " '" +
                        t[0] + "' '" + dir.path() + "/record-" + version + ".json' 2 2>&1",
                    &status);
    ASSERT_EQ(status, 0) << out;
    json::object o = parse(out.substr(out.rfind("\n{") + 1));
    const auto& first = o.at("first").as_object();
    const auto& second = o.at("second").as_object();
    // The first run stopped after 2 of the 5 parts; the second sent the other 3.
    EXPECT_EQ(first.at("parts").as_int64(), 2) << out;
    EXPECT_FALSE(first.contains("status") && first.at("status").as_int64() == 200) << out;
    EXPECT_EQ(second.at("parts").as_int64(), 3) << out;
    EXPECT_EQ(second.at("status").as_int64(), 200) << out;
    EXPECT_FALSE(o.at("record_left").as_bool());
    const auto& data = second.at("data").as_object();
    EXPECT_EQ(str(data, "hash"), qetag(content));
    EXPECT_EQ(bind_and_download(tx, str(data, "key")), content);
  }
  // The server's side: every block and part arrived once, and one upload each.
  const Served blocks = served(*server_, "POST", "/mkblk/");
  EXPECT_EQ(blocks.requests, 5);
  EXPECT_EQ(blocks.bytes_in, static_cast<int64_t>(content.size()));
  EXPECT_EQ(served(*server_, "POST", "/mkfile/").requests, 1);
  const Served parts = served(*server_, "PUT", "/buckets/");
  EXPECT_EQ(parts.requests, 5);
  EXPECT_EQ(parts.bytes_in, static_cast<int64_t>(content.size()));
  // init and complete
  EXPECT_EQ(served(*server_, "POST", "/buckets/").requests, 2);
}

}  // namespace
}  // namespace up::testing
