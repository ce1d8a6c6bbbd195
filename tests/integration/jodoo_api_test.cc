// The Jodoo dialect over real HTTP against the real server binary: upload
// tokens, the Qiniu form upload, transactions and data/*, the upload
// callback, rate limits, and the real qiniu Node SDK (tests/compat/jodoo_qiniu.mjs).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;

constexpr const char* kEntry = "5f1e0c2a9b8d7e6f5a4b3c2d";
constexpr const char* kSettings =
    R"({"entries":{"5f1e0c2a9b8d7e6f5a4b3c2d":{"fields":{"_widget_file":"upload","_widget_img":"image","_widget_text":"text"}}}})";
constexpr int64_t kHourMs = 3'600'000;

int64_t code(const HttpResponse& r) {
  auto o = parse(r.body);
  auto* c = o.if_contains("code");
  return c && c->is_int64() ? c->as_int64() : -1;
}

std::string qiniu_error(const HttpResponse& r) { return str(parse(r.body), "error"); }

std::string b64url_decode(const std::string& s) {
  std::string out;
  EXPECT_TRUE(crypto::base64_decode(s, out)) << s;
  return out;
}

struct Part {
  Part(std::string n, std::string c, std::string f = {},
       std::string ct = "application/octet-stream")
      : name(std::move(n)), content(std::move(c)), filename(std::move(f)),
        content_type(std::move(ct)) {}
  std::string name;
  std::string content;
  std::string filename;  // set: a file part
  std::string content_type;
};

std::string form(const std::string& boundary, const std::vector<Part>& parts) {
  std::string b;
  for (const Part& p : parts) {
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty())
      b += "; filename=\"" + p.filename + "\"\r\nContent-Type: " + p.content_type;
    b += "\r\n\r\n" + p.content + "\r\n";
  }
  return b + "--" + boundary + "--\r\n";
}

// A loopback HTTP server in the test process that receives upload callbacks.
class CallbackServer {
 public:
  struct Request {
    std::string target;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
  };

  CallbackServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~CallbackServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  uint16_t port() const { return port_; }
  void answer(int status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[4096];
      size_t header_end = std::string::npos;
      size_t want = 0;
      for (;;) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
        if (header_end == std::string::npos &&
            (header_end = data.find("\r\n\r\n")) != std::string::npos) {
          std::smatch m;
          std::string head = data.substr(0, header_end);
          if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)")))
            want = std::stoul(m[1]);
        }
        if (header_end != std::string::npos && data.size() >= header_end + 4 + want) break;
      }
      Request r;
      std::istringstream head(data.substr(0, header_end));
      std::string line;
      std::getline(head, line);
      r.target = line.substr(line.find(' ') + 1);
      r.target = r.target.substr(0, r.target.find(' '));
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      if (header_end != std::string::npos) r.body = data.substr(header_end + 4);
      int status;
      std::string body;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
        status = status_;
        body = body_;
      }
      std::string out =
          "HTTP/1.1 " + std::to_string(status) +
          " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  int status_ = 200;
  std::string body_ = "{}";
  std::vector<Request> requests_;
};

class JodooApiTest : public ServerTest {
 protected:
  void SetUp() override { start({}); }

  void start(std::vector<std::string> args, const std::string& app_settings = kSettings) {
    start_server(std::move(args));
    admin_request("POST", "/v1/admin/tenants", R"({"id":"acme"})", 201);
    admin_request("POST", "/v1/admin/tenants/acme/apps",
                  R"({"id":"crm","dialect":"jodoo","settings":)" + app_settings + "}", 201);
    key_ = str(admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"jodoo"})", 201),
               "token");
    fresh_rate_window();
  }

  void tenant_settings(const std::string& jodoo) {
    admin_request("PATCH", "/v1/admin/tenants/acme", R"({"settings":{"jodoo":)" + jodoo + "}}",
                  200);
  }

  // Rate windows are whole seconds of the server clock: start tests at the
  // beginning of one so that counts are predictable.
  void fresh_rate_window() {
    auto r = admin_request("POST", "/v1/admin/clock", R"({"advance_ms":0})", 200);
    const std::string now = str(r, "now");  // ...T10:00:00.123Z
    const int ms = std::atoi(now.c_str() + 20);
    advance_clock(1000 - ms + 5);
  }

  HttpResponse api(const std::string& path, const std::string& body, const std::string& key = {}) {
    return client_->request("POST", "/api/v5/app/entry/" + path, bearer(key.empty() ? key_ : key),
                            body);
  }

  std::string token_request(const std::string& tx, const std::string& app = "crm",
                            const std::string& entry = kEntry) {
    return R"({"app_id":")" + app + R"(","entry_id":")" + entry + R"(","transaction_id":")" + tx +
           R"("})";
  }

  // get_upload_token; returns the tokens.
  std::vector<std::string> tokens(const std::string& tx) {
    auto r = api("file/get_upload_token", token_request(tx));
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    auto o = parse(r.body);
    if (auto* list = o.if_contains("token_and_url_list"); list && list->is_array())
      for (auto& e : list->as_array()) out.push_back(str(e.as_object(), "token"));
    return out;
  }

  HttpResponse upload(const std::string& token, const std::string& content,
                      const std::string& filename = "a.txt", const std::vector<Part>& extra = {},
                      bool crc_last = true) {
    std::vector<Part> parts;
    parts.push_back(Part{"token", token});
    for (auto& p : extra) parts.push_back(p);
    parts.push_back(Part{"file", content, filename, "text/plain"});
    if (crc_last) parts.push_back(Part{"crc32", std::to_string(crypto::crc32_update(0, content))});
    const std::string boundary = "----qiniu6fd6ff237027ae34";
    return client_->request("POST", "/",
                            {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                            form(boundary, parts));
  }

  std::string uploaded_key(const std::string& token, const std::string& content,
                           const std::string& filename = "a.txt") {
    auto r = upload(token, content, filename);
    EXPECT_EQ(r.status, 200) << r.body;
    return str(parse(r.body), "key");
  }

  std::string master_key() const {
    std::ifstream in(server_->data_dir() + "/master.key", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string k = ss.str();
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
    return k;
  }
  // Derived here from the master key, independently of the server's code.
  std::string secret_key(int version) const {
    return crypto::base64url(
        crypto::hmac_sha256(master_key(), "qiniu-sk/acme/v" + std::to_string(version)), false);
  }

  // The objects of app crm by file name, through the native API.
  json::object object_named(const std::string& name) {
    auto r = client_->request("GET", "/v1/files?app=crm&limit=1000", bearer(key_));
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    if (auto* files = o.if_contains("files"); files && files->is_array())
      for (auto& f : files->as_array())
        if (str(f.as_object(), "name") == name) return f.as_object();
    return {};
  }

  std::string create_body(const std::string& tx, const std::vector<std::string>& keys,
                          const std::string& text = "hi") {
    json::array arr;
    for (auto& k : keys) arr.emplace_back(k);
    json::object data;
    data["_widget_file"] = {{"value", arr}};
    data["_widget_text"] = {{"value", text}};
    json::object body;
    body["app_id"] = "crm";
    body["entry_id"] = kEntry;
    body["data"] = data;
    if (!tx.empty()) body["transaction_id"] = tx;
    return json::serialize(body);
  }

  std::string key_;
};

// ---- get_upload_token ----------------------------------------------------------

TEST_F(JodooApiTest, GetUploadTokenIssues100SignedQiniuTokens) {
  auto r = api("file/get_upload_token", token_request("87cd7d71-c6df-4281-9927-469094395677"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = parse(r.body).at("token_and_url_list").as_array();
  ASSERT_EQ(list.size(), 100u);
  const std::string sk = secret_key(1);
  std::set<std::string> save_keys;
  const int64_t now_s = std::time(nullptr);
  for (auto& e : list) {
    const auto& o = e.as_object();
    EXPECT_EQ(str(o, "url"), "http://127.0.0.1:" + std::to_string(server_->port()));
    const std::string token = str(o, "token");
    const auto c1 = token.find(':'), c2 = token.find(':', c1 + 1);
    ASSERT_NE(c2, std::string::npos);
    EXPECT_EQ(token.substr(0, c1), "acme.v1");
    const std::string sign = token.substr(c1 + 1, c2 - c1 - 1), encoded = token.substr(c2 + 1);
    EXPECT_EQ(sign.size(), 28u);
    EXPECT_EQ(sign, crypto::base64url(crypto::hmac_sha1(sk, encoded),
                                      true));  // HMAC-SHA1, url-safe, padded
    EXPECT_EQ(encoded.find_first_of("+/"), std::string::npos);
    auto policy = json::parse(b64url_decode(encoded)).as_object();
    EXPECT_EQ(str(policy, "scope"), "acme.crm");
    const std::string save_key = str(policy, "saveKey");
    EXPECT_TRUE(std::regex_match(
        save_key,
        std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
        << save_key;
    save_keys.insert(save_key);
    EXPECT_EQ(policy.at("forceSaveKey").as_bool(), true);
    EXPECT_EQ(policy.at("fsizeMin").as_int64(), 1);
    EXPECT_EQ(policy.at("fsizeLimit").as_int64(), 209715200);
    EXPECT_NEAR(policy.at("deadline").as_int64(), now_s + 3600, 120);
    EXPECT_EQ(str(policy, "callbackBodyType"), "application/json");
    auto cb = json::parse(str(policy, "callbackBody")).as_object();
    EXPECT_EQ(str(cb, "key"), "$(key)");
    EXPECT_EQ(str(cb, "hash"), "$(etag)");
    EXPECT_EQ(str(cb, "size"), "$(fsize)");
    EXPECT_EQ(str(cb, "appId"), "crm");
    EXPECT_EQ(str(cb, "entryId"), kEntry);
    EXPECT_FALSE(policy.contains("callbackUrl"));  // the app configures none
  }
  EXPECT_EQ(save_keys.size(), 100u);
}

TEST_F(JodooApiTest, GetUploadTokenErrorsUseTheJodooEnvelope) {
  const std::string ok = token_request("tx-1");
  auto r = client_->request("POST", "/api/v5/app/entry/file/get_upload_token", {}, ok);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code(r), 8301) << r.body;
  EXPECT_EQ(code(api("file/get_upload_token", ok, "upk_not_a_real_key_0123456789abcdef")), 17018);
  EXPECT_EQ(code(api("file/get_upload_token", "{not json")), 3005);
  EXPECT_EQ(code(api("file/get_upload_token", R"({"entry_id":"x","transaction_id":"t"})")), 3005);
  EXPECT_EQ(code(api("file/get_upload_token", token_request("tx", "nope"))), 2004);
  EXPECT_EQ(code(api("file/get_upload_token", token_request("tx", "crm", "nope"))), 3000);
  EXPECT_EQ(code(api("file/get_upload_token",
                     R"({"app_id":"crm","entry_id":")" + std::string(kEntry) + R"("})")),
            17025);
  EXPECT_EQ(code(api("file/get_upload_token", token_request("has space"))), 17025);
  // The tenant's default app is not a Jodoo app.
  EXPECT_EQ(code(api("file/get_upload_token", token_request("tx", "default"))), 2004);
  // A key bound to another app.
  admin_request("POST", "/v1/admin/tenants/acme/apps", R"({"id":"other","dialect":"jodoo"})", 201);
  const std::string bound = str(
      admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"b","app_id":"other"})", 201),
      "token");
  EXPECT_EQ(code(api("file/get_upload_token", ok, bound)), 8302);
  // A disabled key.
  auto k = admin_request("POST", "/v1/admin/tenants/acme/keys", R"({"name":"d"})", 201);
  admin_request("POST", "/v1/admin/keys/" + str(k, "id") + "/disable", "", 200);
  EXPECT_EQ(code(api("file/get_upload_token", ok, str(k, "token"))), 17018);
  // POST only.
  r = client_->request("GET", "/api/v5/app/entry/file/get_upload_token", bearer(key_));
  EXPECT_EQ(code(r), 1);
  EXPECT_EQ(r.status, 400);
  r = api("nope/route", ok);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code(r), 1);
}

// ---- form upload ---------------------------------------------------------------

TEST_F(JodooApiTest, FormUploadStoresATemporaryFileUnderTheSaveKey) {
  auto t = tokens("tx-up");
  ASSERT_EQ(t.size(), 100u);
  auto r = upload(t[0], "hello world", "hello.txt",
                  {Part{"x:user", "u1"}, Part{"key", "client-key-ignored"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = parse(r.body);
  const auto policy = json::parse(b64url_decode(t[0].substr(t[0].rfind(':') + 1))).as_object();
  EXPECT_EQ(str(body, "key"), str(policy, "saveKey"));  // forceSaveKey wins over the form's key
  EXPECT_EQ(str(body, "hash"), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
  EXPECT_NE(r.header("x-reqid"), "");
  auto o = object_named("hello.txt");
  EXPECT_EQ(str(o, "state"), "temporary");
  EXPECT_EQ(o.at("size").as_int64(), 11);
  EXPECT_EQ(str(o, "content_type"), "text/plain");
  EXPECT_NE(str(o, "expires_at"), "");
}

// Qiniu etag of a 9 MiB upload (three 4 MiB blocks, the last partial), computed
// here independently: urlsafe_b64(0x96 || SHA1(SHA1(blk0) || SHA1(blk1) || SHA1(blk2))).
TEST_F(JodooApiTest, HashOfA9MiBUploadIsTheQiniuEtag) {
  const std::string content = pattern_string(9 << 20);
  std::string digests;
  for (size_t i = 0; i < content.size(); i += 4 << 20)
    digests += crypto::sha1(content.substr(i, 4 << 20));
  const std::string want = crypto::base64url("\x96" + crypto::sha1(digests), true);
  auto t = tokens("tx-9m");
  auto r = upload(t[0], content, "nine.bin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "hash"), want);
  EXPECT_EQ(object_named("nine.bin").at("size").as_int64(), 9 << 20);
}

TEST_F(JodooApiTest, OneFilePerTokenAndNeverAnOverwrite) {
  auto t = tokens("tx-once");
  ASSERT_EQ(upload(t[0], "first").status, 200);
  auto again = upload(t[0], "second");
  EXPECT_EQ(again.status, 614);
  EXPECT_EQ(qiniu_error(again), "file exists");
  EXPECT_EQ(upload(t[1], "other").status, 200);
}

TEST_F(JodooApiTest, AcceptFieldSetsTheAnswersContentTypeAndOnlyPostIsServed) {
  auto t = tokens("tx-accept");
  auto r = upload(t[0], "old IE", "ie.txt",
                  {Part{"accept", "text/plain"}, Part{"x-qn-meta-color", "red"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_NE(str(parse(r.body), "key"), "");
  r = client_->request("GET", "/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(qiniu_error(r), "method not allowed");
}

TEST_F(JodooApiTest, FormUploadRefusesBadTokens) {
  auto t = tokens("tx-bad");
  auto r = upload("", "x");
  EXPECT_EQ(r.status, 401) << r.body;
  r = upload("garbage", "x");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(qiniu_error(r), "bad token");
  // A tampered policy no longer matches its signature.
  std::string policy = b64url_decode(t[0].substr(t[0].rfind(':') + 1));
  policy.replace(policy.find("209715200"), 9, "999999999");
  r = upload(t[0].substr(0, t[0].rfind(':') + 1) + crypto::base64url(policy, true), "x");
  EXPECT_EQ(r.status, 401);
  // Signed with a key of another tenant version.
  r = upload("acme.v9" + t[0].substr(t[0].find(':')), "x");
  EXPECT_EQ(r.status, 401);
  // A token whose scope is not this tenant's bucket (signed correctly).
  const std::string foreign =
      R"({"scope":"other.crm","saveKey":"k1","forceSaveKey":true,"deadline":4000000000})";
  const std::string enc = crypto::base64url(foreign, true);
  r = upload(
      "acme.v1:" + crypto::base64url(crypto::hmac_sha1(secret_key(1), enc), true) + ":" + enc, "x");
  EXPECT_EQ(r.status, 403) << r.body;
  // File before the token: refused rather than buffered.
  const std::string boundary = "b0undary";
  r = client_->request("POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                       form(boundary, {Part{"file", "abc", "a.txt"}, Part{"token", t[1]}}));
  EXPECT_EQ(r.status, 400) << r.body;
  // Not multipart.
  r = client_->request("POST", "/", {{"Content-Type", "application/json"}}, "{}");
  EXPECT_EQ(r.status, 400);
  // The token is still unused after all that.
  EXPECT_EQ(upload(t[1], "fine").status, 200);
}

TEST_F(JodooApiTest, DeadlineIsCheckedAndTokensExpireAfterAnHour) {
  auto t = tokens("tx-late");
  advance_clock(kHourMs + 61'000);
  auto r = upload(t[0], "late");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(qiniu_error(r), "token out of date");
}

TEST_F(JodooApiTest, Crc32AfterTheFileIsVerifiedBeforeCommit) {
  auto t = tokens("tx-crc");
  auto r = upload(t[0], "hello world", "crc.txt", {}, false);
  ASSERT_EQ(r.status, 200) << r.body;  // no crc32: fine
  const std::string boundary = "crcbnd";
  r = client_->request("POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                       form(boundary, {Part{"token", t[1]}, Part{"file", "hello world", "bad.txt"},
                                       Part{"crc32", "12345"}}));
  EXPECT_EQ(r.status, 406) << r.body;
  EXPECT_TRUE(object_named("bad.txt").empty());  // nothing kept
  r = client_->request("POST", "/", {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                       form(boundary, {Part{"token", t[1]}, Part{"file", "hello world", "good.txt"},
                                       Part{"crc32", "222957957"}}));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(JodooApiTest, ChunkedBodyWithoutContentLength) {
  auto t = tokens("tx-chunked");
  const std::string boundary = "chunky";
  const std::string content(100'000, 'z');
  const std::string body =
      form(boundary, {Part{"token", t[0]}, Part{"file", content, "chunked.bin"},
                      Part{"crc32", std::to_string(crypto::crc32_update(0, content))}});
  std::string raw =
      "POST / HTTP/1.1\r\nHost: upload\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
      "Content-Type: multipart/form-data; boundary=" +
      boundary + "\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 7000) {
    const std::string piece = body.substr(i, 7000);
    std::ostringstream hex;
    hex << std::hex << piece.size();
    raw += hex.str() + "\r\n" + piece + "\r\n";
  }
  raw += "0\r\n\r\n";
  const std::string answer = client_->raw(raw);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer.substr(0, 300);
  EXPECT_EQ(object_named("chunked.bin").at("size").as_int64(), 100'000);
}

TEST_F(JodooApiTest, SizeBoundsComeFromThePolicyAndTheTenant) {
  tenant_settings(R"({"fsize_limit":1000})");
  auto t = tokens("tx-size");
  auto r = upload(t[0], std::string(1001, 'a'));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(upload(t[1], std::string(1000, 'a')).status, 200);
  r = upload(t[2], "");
  EXPECT_EQ(r.status, 403) << r.body;  // fsizeMin 1
}

TEST_F(JodooApiTest, RotatedKeysKeepThePreviousVersionForOneRotation) {
  auto v1 = tokens("tx-rot");
  tenant_settings(R"({"key_version":2})");
  auto v2 = tokens("tx-rot2");
  EXPECT_EQ(v2[0].substr(0, v2[0].find(':')), "acme.v2");
  EXPECT_EQ(upload(v1[0], "old").status, 200);
  EXPECT_EQ(upload(v2[0], "new").status, 200);
  tenant_settings(R"({"key_version":3})");
  // What a callback receiver is given to verify signatures: the current pair.
  int status = -1;
  auto creds = parse(server_->cli({"jodoo", "credentials", "--tenant", "acme"}, &status));
  EXPECT_EQ(status, 0);
  EXPECT_EQ(str(creds, "access_key"), "acme.v3");
  EXPECT_EQ(str(creds, "secret_key"), secret_key(3));
  EXPECT_EQ(upload(v1[1], "too old").status, 401);
  EXPECT_EQ(upload(v2[1], "previous").status, 200);
}

// ---- transactions and data/* ---------------------------------------------------

TEST_F(JodooApiTest, CreateBindsKeysOfTheSameTransactionAndGetServesThem) {
  auto t = tokens("tx-A");
  const std::string k1 = uploaded_key(t[0], "first file", "one.txt");
  const std::string k2 = uploaded_key(t[1], "second file!", "two.txt");
  auto r = api("data/create", create_body("tx-A", {k1, k2}, "hello"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto data = parse(r.body).at("data").as_object();
  const std::string id = str(data, "_id");
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{24}"))) << id;
  EXPECT_EQ(str(data, "_widget_text"), "hello");
  EXPECT_EQ(str(object_named("one.txt"), "state"), "attached");

  r = api("data/get", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) + R"(","data_id":")" +
                          id + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  data = parse(r.body).at("data").as_object();
  EXPECT_EQ(str(data, "appId"), "crm");
  EXPECT_EQ(str(data, "entryId"), kEntry);
  EXPECT_NE(str(data, "createTime"), "");
  auto files = data.at("_widget_file").as_array();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(str(files[0].as_object(), "name"), "one.txt");
  EXPECT_EQ(files[0].as_object().at("size").as_int64(), 10);
  EXPECT_EQ(str(files[0].as_object(), "mime"), "text/plain");
  const std::string url = str(files[1].as_object(), "url");
  const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
  ASSERT_EQ(url.rfind(base, 0), 0u) << url;
  auto got = client_->request("GET", url.substr(base.size()));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "second file!");
  // The link is signed: a changed signature is refused.
  std::string forged = url.substr(base.size());
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_NE(client_->request("GET", forged).status, 200);
}

TEST_F(JodooApiTest, BindingRequiresTheSameTransaction) {
  auto a = tokens("tx-A");
  tokens("tx-B");
  const std::string k = uploaded_key(a[0], "belongs to A", "a.txt");
  auto r = api("data/create", create_body("tx-B", {k}));
  EXPECT_EQ(code(r), 17025) << r.body;
  r = api("data/create", create_body("", {k}));
  EXPECT_EQ(code(r), 17025) << r.body;
  r = api("data/create", create_body("tx-A", {"no-such-key"}));
  EXPECT_EQ(code(r), 17025) << r.body;
  EXPECT_EQ(str(object_named("a.txt"), "state"), "temporary");
  EXPECT_EQ(api("data/create", create_body("tx-A", {k})).status, 200);
  // Bound once: a second record cannot take it.
  EXPECT_EQ(code(api("data/create", create_body("tx-A", {k}))), 17025);
}

TEST_F(JodooApiTest, KeysExpireWithTheirTransaction) {
  auto t = tokens("tx-exp");
  const std::string k = uploaded_key(t[0], "short-lived", "exp.txt");
  advance_clock(kHourMs + 1000);
  auto r = api("data/create", create_body("tx-exp", {k}));
  EXPECT_EQ(code(r), 17025) << r.body;
}

TEST_F(JodooApiTest, BatchCreateIsIdempotentPerTransaction) {
  auto t = tokens("tx-batch");
  const std::string k = uploaded_key(t[0], "batched", "b.txt");
  auto one = json::parse(create_body("", {k})).as_object().at("data");
  auto two = json::parse(create_body("", {}, "plain")).as_object().at("data");
  json::object body;
  body["app_id"] = "crm";
  body["entry_id"] = kEntry;
  body["transaction_id"] = "tx-batch";
  body["data_list"] = json::array{one, two};
  auto r = api("data/batch_create", json::serialize(body));
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = parse(r.body);
  EXPECT_EQ(str(o, "status"), "success");
  EXPECT_EQ(o.at("success_count").as_int64(), 2);
  EXPECT_EQ(o.at("success_ids").as_array().size(), 2u);
  // The retry of the same batch creates nothing more.
  body["data_list"] = json::array{two};
  r = api("data/batch_create", json::serialize(body));
  EXPECT_EQ(code(r), 17026) << r.body;
  // Over 100 records.
  json::array many;
  for (int i = 0; i < 101; ++i) many.push_back(two);
  body["data_list"] = many;
  body["transaction_id"] = "tx-many";
  EXPECT_EQ(code(api("data/batch_create", json::serialize(body))), 17024);
}

TEST_F(JodooApiTest, UpdateReplacesNamedFieldsAndDeleteRemoves) {
  auto t = tokens("tx-U");
  const std::string k1 = uploaded_key(t[0], "v1", "u1.txt");
  const std::string k2 = uploaded_key(t[1], "v2", "u2.txt");
  auto r = api("data/create", create_body("tx-U", {k1}, "before"));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = str(parse(r.body).at("data").as_object(), "_id");
  const std::string where =
      R"("app_id":"crm","entry_id":")" + std::string(kEntry) + R"(","data_id":")" + id + "\"";
  r = api("data/update", "{" + where +
                             R"(,"transaction_id":"tx-U","data":{"_widget_file":{"value":[")" + k2 +
                             R"("]}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto data = parse(r.body).at("data").as_object();
  EXPECT_EQ(str(data, "_widget_text"), "before");  // untouched
  ASSERT_EQ(data.at("_widget_file").as_array().size(), 1u);
  EXPECT_EQ(str(data.at("_widget_file").as_array()[0].as_object(), "name"), "u2.txt");
  EXPECT_TRUE(object_named("u1.txt").empty());  // unreferenced now: deleted
  EXPECT_EQ(code(api("data/update", "{" + where + R"(,"data":{"_nope":{"value":1}}})")), 3005);
  EXPECT_EQ(code(api("data/update", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                        R"(","data_id":"000000000000000000000000","data":{}})")),
            4001);

  // batch_update: one data for many records, at most 100.
  json::array ids;
  for (int i = 0; i < 101; ++i) ids.emplace_back(id);
  json::object bu;
  bu["app_id"] = "crm";
  bu["entry_id"] = kEntry;
  bu["data_ids"] = ids;
  bu["data"] = {{"_widget_text", {{"value", "batched"}}}};
  EXPECT_EQ(code(api("data/batch_update", json::serialize(bu))), 17023);
  bu["data_ids"] = json::array{json::value(id)};
  r = api("data/batch_update", json::serialize(bu));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r.body).at("success_count").as_int64(), 1);

  r = api("data/delete", "{" + where + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(parse(r.body), "status"), "success");
  EXPECT_EQ(code(api("data/get", "{" + where + "}")), 4001);
  EXPECT_TRUE(object_named("u2.txt").empty());
}

// ---- rate limits -----------------------------------------------------------------

TEST_F(JodooApiTest, PerApiAndCompanyRateLimits) {
  tenant_settings(R"({"rate_limits":{"get_upload_token":2,"global":4,"upload":1}})");
  fresh_rate_window();
  EXPECT_EQ(api("file/get_upload_token", token_request("r1")).status, 200);
  EXPECT_EQ(api("file/get_upload_token", token_request("r2")).status, 200);
  EXPECT_EQ(code(api("file/get_upload_token", token_request("r3"))), 8304);
  EXPECT_EQ(code(api("data/get", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                     R"(","data_id":"x"})")),
            4001);
  EXPECT_EQ(code(api("data/get", R"({"app_id":"crm","entry_id":")" + std::string(kEntry) +
                                     R"(","data_id":"x"})")),
            8303);
  fresh_rate_window();
  auto t = tokens("r4");
  EXPECT_EQ(upload(t[0], "one").status, 200);
  EXPECT_EQ(upload(t[1], "two").status, 573);
  fresh_rate_window();
  EXPECT_EQ(upload(t[1], "two").status, 200);
}

// ---- upload callback ---------------------------------------------------------------

class JodooCallbackTest : public JodooApiTest {
 protected:
  void SetUp() override {
    callback_ = std::make_unique<CallbackServer>();
    const std::string target = "127.0.0.1:" + std::to_string(callback_->port());
    start({"--jodoo-callback-allow", target, "--jodoo-callback-timeout-ms", "2000"},
          R"({"callback_url":"http://)" + target +
              R"(/file/upload/api_callback?src=upgate","entries":{")" + kEntry +
              R"(":{"fields":{"_widget_file":"upload","_widget_text":"text"}}}})");
  }
  std::unique_ptr<CallbackServer> callback_;
};

TEST_F(JodooCallbackTest, PostsTheSignedBodyAndRelaysTheAnswer) {
  callback_->answer(200, R"({"key":"from-callback","extra":1})");
  auto t = tokens("tx-cb");
  // The form escapes '"' in file names as %22 (spec/http.md #6).
  auto r = upload(t[0], "hello world", "cb %22q%22.txt", {Part{"x:user", "u1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"key":"from-callback","extra":1})");
  auto reqs = callback_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& cb = reqs[0];
  EXPECT_EQ(cb.target, "/file/upload/api_callback?src=upgate");
  EXPECT_EQ(cb.headers.at("content-type"), "application/json");
  // QBox <AK>:<urlsafe_b64(HMAC-SHA1(SK, path?query \n body))>, as qiniu.util.isQiniuCallback
  // checks.
  EXPECT_EQ(
      cb.headers.at("authorization"),
      "QBox acme.v1:" +
          crypto::base64url(crypto::hmac_sha1(secret_key(1), cb.target + "\n" + cb.body), true));
  // And as the qiniu SDK's isQiniuCallback checks it, with the pair `upgate jodoo credentials`
  // prints.
  auto creds = parse(server_->cli({"jodoo", "credentials", "--tenant", "acme"}));
  TempDir dir;
  std::ofstream(dir.path() + "/body", std::ios::binary) << cb.body;
  const std::string url = "http://127.0.0.1:" + std::to_string(callback_->port()) + cb.target;
  int status = -1;
  const std::string out =
      run_command("cd " UPGATE_COMPAT_DIR " && node jodoo_qiniu_callback.mjs '" +
                      str(creds, "access_key") + "' '" + str(creds, "secret_key") + "' '" + url +
                      "' '" + dir.path() + "/body' '" + cb.headers.at("authorization") + "' 2>&1",
                  &status);
  EXPECT_EQ(status, 0) << out;
  auto body = json::parse(cb.body).as_object();
  const auto policy = json::parse(b64url_decode(t[0].substr(t[0].rfind(':') + 1))).as_object();
  EXPECT_EQ(str(body, "key"), str(policy, "saveKey"));
  EXPECT_EQ(str(body, "hash"), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
  EXPECT_EQ(str(body, "name"), "cb \"q\".txt");
  EXPECT_EQ(str(body, "size"), "11");
  EXPECT_EQ(str(body, "mime"), "text/plain");
  EXPECT_EQ(str(body, "bucket"), "acme.crm");
  EXPECT_EQ(str(body, "transactionId"), "tx-cb");
  EXPECT_EQ(str(object_named("cb \"q\".txt"), "state"), "temporary");
}

TEST_F(JodooCallbackTest, AFailingCallbackAnswers579AndKeepsNothing) {
  callback_->answer(500, R"({"error":"nope"})");
  auto t = tokens("tx-cb-fail");
  auto r = upload(t[0], "not kept", "gone.txt");
  EXPECT_EQ(r.status, 579) << r.body;
  EXPECT_TRUE(object_named("gone.txt").empty());
  const auto policy = json::parse(b64url_decode(t[0].substr(t[0].rfind(':') + 1))).as_object();
  EXPECT_EQ(code(api("data/create", create_body("tx-cb-fail", {str(policy, "saveKey")}))), 17025);
  // A callback answering something that is not JSON fails too.
  callback_->answer(200, "plain text");
  EXPECT_EQ(upload(t[1], "not json", "nj.txt").status, 579);
}

TEST_F(JodooApiTest, CallbacksToTargetsNotAllowedAreRefused) {
  // This server allows no callback target at all (no --jodoo-callback-allow).
  admin_request("PATCH", "/v1/admin/tenants/acme/apps/crm",
                R"({"settings":{"callback_url":"http://127.0.0.1:1/steal","entries":{")" +
                    std::string(kEntry) + R"(":{"fields":{"_widget_file":"upload"}}}}})",
                200);
  auto t = tokens("tx-ssrf");
  auto r = upload(t[0], "x", "ssrf.txt");
  EXPECT_EQ(r.status, 579) << r.body;
  EXPECT_TRUE(object_named("ssrf.txt").empty());
}

// ---- the real qiniu Node SDK -------------------------------------------------------

TEST_F(JodooApiTest, QiniuNodeSdkUploadsWithUpgateTokens) {
  TempDir dir;
  const std::string file = dir.path() + "/payload.bin";
  const std::string content = pattern_string(300'000);
  std::ofstream(file, std::ios::binary) << content;
  auto t = tokens("tx-sdk");
  int status = -1;
  const std::string out =
      run_command("cd " UPGATE_COMPAT_DIR " && node jodoo_qiniu.mjs 127.0.0.1:" +
                      std::to_string(server_->port()) + " '" + file + "' '" + t[0] + "' '" + t[1] +
                      "' '" + t[2] + "' 2>&1",
                  &status);
  ASSERT_EQ(status, 0) << out;
  std::vector<std::string> keys;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    auto o = json::parse(line).as_object();
    EXPECT_EQ(o.at("status").as_int64(), 200) << line;
    keys.push_back(str(o.at("data").as_object(), "key"));
  }
  ASSERT_EQ(keys.size(), 3u) << out;
  auto r = api("data/create", create_body("tx-sdk", keys));
  ASSERT_EQ(r.status, 200) << r.body;
  auto files = parse(r.body).at("data").as_object().at("_widget_file").as_array();
  ASSERT_EQ(files.size(), 3u);
  const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
  const std::vector<std::string> names = {"put.txt", "putFile.bin", "putStream.bin"};
  const std::vector<std::string> bodies = {"hello from FormUploader.put\n", content, content};
  for (size_t i = 0; i < 3; ++i) {
    const auto& f = files[i].as_object();
    EXPECT_EQ(str(f, "name"), names[i]);
    auto got = client_->request("GET", str(f, "url").substr(base.size()));
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(sha256_hex(got.body), sha256_hex(bodies[i])) << names[i];
  }
}

}  // namespace
}  // namespace up::testing
