// The native API over real HTTP against the real server binary.

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class NativeApiTest : public ServerTest {
 protected:
  // Uploads `content` raw and returns the file's JSON.
  json::object put(const std::string& name, const std::string& content, const Headers& auth = {}) {
    auto r =
        client_->request("POST", "/v1/files?name=" + name, auth.empty() ? admin() : auth, content);
    EXPECT_EQ(r.status, 201) << r.body;
    return parse(r.body);
  }

  // Creates a tenant and a member key in it; returns the key's token.
  std::string tenant_with_key(const std::string& tenant) {
    auto t =
        client_->request("POST", "/v1/admin/tenants", admin(), R"({"id":")" + tenant + R"("})");
    EXPECT_EQ(t.status, 201) << t.body;
    auto k = client_->request("POST", "/v1/admin/tenants/" + tenant + "/keys", admin(),
                              R"({"name":"app"})");
    EXPECT_EQ(k.status, 201) << k.body;
    return str(parse(k.body), "token");
  }
};

TEST_F(NativeApiTest, HealthzNeedsNoKey) {
  auto r = client_->request("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST_F(NativeApiTest, RoundTripsSmallAndMediumFiles) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{5} << 20}) {
    const std::string content = pattern_string(size);
    auto file = put("f" + std::to_string(size) + ".bin", content);
    EXPECT_EQ(file["size"].as_int64(), static_cast<int64_t>(size));
    EXPECT_EQ(str(file, "sha256"), sha256_hex(content));
    EXPECT_EQ(str(file, "name"), "f" + std::to_string(size) + ".bin");
    EXPECT_FALSE(str(file, "created_at").empty());
    const std::string id = str(file, "id");

    auto meta = client_->request("GET", "/v1/files/" + id, admin());
    EXPECT_EQ(meta.status, 200);
    EXPECT_EQ(str(parse(meta.body), "sha256"), sha256_hex(content));

    auto got = client_->request("GET", "/v1/files/" + id + "/content", admin());
    ASSERT_EQ(got.status, 200);
    EXPECT_EQ(got.body.size(), size);
    EXPECT_TRUE(got.body == content);
    EXPECT_EQ(got.header("etag"), "\"" + sha256_hex(content) + "\"");
  }
  // The bytes are on disk: one blob per file.
  EXPECT_EQ(server_->blob_files().size(), 3u);
  EXPECT_TRUE(server_->temp_files().empty());
}

TEST_F(NativeApiTest, MultipartUploadKeepsNameAndType) {
  const std::string content = "hello, multipart\r\n--not-a-boundary\r\n";
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"; "
      "filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt\r\nContent-Type: text/plain\r\n\r\n" +
      content + "\r\n--XyZ--\r\n";
  Headers h = admin();
  h.emplace_back("Content-Type", "multipart/form-data; boundary=\"XyZ\"");
  auto r = client_->request("POST", "/v1/files", h, body);
  ASSERT_EQ(r.status, 201) << r.body;
  auto file = parse(r.body);
  EXPECT_EQ(str(file, "name"), "\xE6\x8A\xA5\xE5\x91\x8A.txt");
  EXPECT_EQ(str(file, "content_type"), "text/plain");
  EXPECT_EQ(file["size"].as_int64(), static_cast<int64_t>(content.size()));
  EXPECT_EQ(r.header("location"), "/v1/files/" + str(file, "id"));

  auto got = client_->request("GET", "/v1/files/" + str(file, "id") + "/content", admin());
  EXPECT_EQ(got.body, content);
  EXPECT_EQ(got.header("content-type"), "text/plain");
  EXPECT_EQ(got.header("content-disposition"),
            "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt");
}

// Content types are media types; one with parameters is stored and served as
// sent, from the raw body's header or from ?content_type= (issue 12 item 2).
TEST_F(NativeApiTest, ContentTypesWithParametersAreKept) {
  Headers h = admin();
  h.emplace_back("Content-Type", "text/plain; charset=utf-8");
  auto r = client_->request("POST", "/v1/files?name=a.txt", h, "hello");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(str(parse(r.body), "content_type"), "text/plain; charset=utf-8");
  auto got = client_->request("GET", "/v1/files/" + str(parse(r.body), "id") + "/content", admin());
  EXPECT_EQ(got.header("content-type"), "text/plain; charset=utf-8");

  r = client_->request("POST", "/v1/files?name=b.txt&content_type=text/plain;%20format=%22a%20b%22",
                       admin(), "x");
  ASSERT_EQ(r.status, 201) << r.body;
  got = client_->request("GET", "/v1/files/" + str(parse(r.body), "id") + "/content", admin());
  EXPECT_EQ(got.header("content-type"), "text/plain; format=\"a b\"");

  // The attack of issue 12: refused, so there is nothing to download.
  r = client_->request("POST",
                       "/v1/files?name=c.txt&content_type=text/plain%0d%0aSet-Cookie:%20pwn=1",
                       admin(), "x");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1008);
  EXPECT_EQ(r.header("set-cookie"), "");
  auto list = client_->request("GET", "/v1/files", admin());
  EXPECT_EQ(parse(list.body)["files"].as_array().size(), 2u);
}

TEST_F(NativeApiTest, MalformedMultipartIsRefusedAndNothingStored) {
  Headers h = admin();
  h.emplace_back("Content-Type", "multipart/form-data; boundary=XyZ");
  // No closing boundary.
  auto r = client_->request(
      "POST", "/v1/files", h,
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1002);
  // No file part.
  r = client_->request(
      "POST", "/v1/files", h,
      "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1003);
  auto list = client_->request("GET", "/v1/files", admin());
  EXPECT_EQ(parse(list.body)["files"].as_array().size(), 0u);
  EXPECT_TRUE(server_->temp_files().empty());
  EXPECT_TRUE(server_->blob_files().empty());
}

TEST_F(NativeApiTest, OneGibRoundTripStreamsWithFlatMemory) {
  constexpr uint64_t kSize = 1ull << 30;
  auto r = client_->upload("POST", "/v1/files?name=big.bin", admin(), kSize, pattern_bytes);
  ASSERT_EQ(r.status, 201) << r.body;
  auto file = parse(r.body);
  auto d = client_->download("/v1/files/" + str(file, "id") + "/content", admin());
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.bytes, kSize);
  EXPECT_EQ(d.sha256, str(file, "sha256"));
  const long rss_kib = server_->peak_rss_kib();
  std::printf("server peak RSS after 1 GiB up+down: %ld KiB\n", rss_kib);
  EXPECT_GT(rss_kib, 0);
  // ASan's shadow memory and quarantine say nothing of ours.
  if (!server_->sanitized()) {
    EXPECT_LT(rss_kib, 100 * 1024);
  }
}

TEST_F(NativeApiTest, RangeAndConditionalRequests) {
  const std::string content = pattern_string(1000);
  auto file = put("r.bin", content);
  const std::string url = "/v1/files/" + str(file, "id") + "/content";
  Headers h = admin();
  h.emplace_back("Range", "bytes=10-19");
  auto r = client_->request("GET", url, h);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, content.substr(10, 10));
  EXPECT_EQ(r.header("content-range"), "bytes 10-19/1000");

  h.back().second = "bytes=-5";
  r = client_->request("GET", url, h);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, content.substr(995));

  h.back().second = "bytes=5000-";
  r = client_->request("GET", url, h);
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */1000");

  Headers c = admin();
  c.emplace_back("If-None-Match", "\"" + sha256_hex(content) + "\"");
  r = client_->request("GET", url, c);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  c.back().second = "\"something-else\"";
  EXPECT_EQ(client_->request("GET", url, c).status, 200);
}

TEST_F(NativeApiTest, OversizeIsRefusedWithNoTempFileLeft) {
  start_server({"--max-object-bytes", "1048576"});
  // Declared too large: refused before the body is read.
  auto r = client_->upload("POST", "/v1/files?name=big", admin(), 2 << 20, pattern_bytes);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1500);
  // Multipart whose file outgrows the limit while streaming.
  std::string body = multipart_body("b0undary", "file", "x.bin", "application/octet-stream",
                                    pattern_string(1100000));
  Headers h = admin();
  h.emplace_back("Content-Type", "multipart/form-data; boundary=b0undary");
  r = client_->request("POST", "/v1/files", h, body);
  EXPECT_EQ(r.status, 413) << r.body;
  // Chunked raw body (no Content-Length): refused while streaming.
  std::string chunked = "POST /v1/files?name=c HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        std::string(ServerProcess::kAdminKey) +
                        "\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string piece = pattern_string(300000);
  for (int i = 0; i < 4; ++i) {
    char len[16];
    std::snprintf(len, sizeof len, "%zx\r\n", piece.size());
    chunked += len + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  std::string raw = client_->raw(chunked);
  EXPECT_EQ(raw.rfind("HTTP/1.1 413", 0), 0u) << raw.substr(0, 200);
  EXPECT_TRUE(server_->temp_files().empty());
  EXPECT_TRUE(server_->blob_files().empty());
  // Exactly at the limit is fine.
  EXPECT_EQ(client_->upload("POST", "/v1/files?name=ok", admin(), 1 << 20, pattern_bytes).status,
            201);
}

TEST_F(NativeApiTest, BadKeysAre401) {
  EXPECT_EQ(client_->request("GET", "/v1/files").status, 401);
  auto r = client_->request("GET", "/v1/files", bearer("upk_not_a_real_key_at_all_000000"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1100);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  EXPECT_EQ(client_->request("GET", "/v1/files", {{"Authorization", "Basic Zm9vOmJhcg=="}}).status,
            401);
}

TEST_F(NativeApiTest, AnotherTenantsFileIsNotFound) {
  const std::string other = tenant_with_key("acme");
  ASSERT_FALSE(other.empty());
  auto mine = put("secret.txt", "default tenant's bytes");
  const std::string id = str(mine, "id");
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id, bearer(other)).status, 404);
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id + "/content", bearer(other)).status, 404);
  // Delete from the other tenant "succeeds" (idempotent) but touches nothing.
  EXPECT_EQ(client_->request("DELETE", "/v1/files/" + id, bearer(other)).status, 204);
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id, admin()).status, 200);
  auto list = client_->request("GET", "/v1/files", bearer(other));
  EXPECT_EQ(parse(list.body)["files"].as_array().size(), 0u);
  // And the other tenant's own files are its own.
  auto theirs = put("theirs.txt", "acme bytes", bearer(other));
  EXPECT_EQ(client_->request("GET", "/v1/files/" + str(theirs, "id"), admin()).status, 404);
  // A member key may not administer.
  EXPECT_EQ(client_->request("GET", "/v1/admin/tenants", bearer(other)).status, 403);
}

TEST_F(NativeApiTest, ListPaginatesWithStableCursor) {
  std::vector<std::string> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i) ids.push_back(str(put("f" + std::to_string(i), "x"), "id"));
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = client_->request(
        "GET", "/v1/files?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), admin());
    ASSERT_EQ(r.status, 200);
    auto body = parse(r.body);
    for (auto& f : body["files"].as_array()) seen.emplace_back(f.as_object().at("id").as_string());
    if (page == 0)
      ids.push_back(str(put("late", "y"), "id"));  // arrives while paging: shows at the end
    if (body["next_cursor"].is_null()) break;
    cursor = std::string(body["next_cursor"].as_string());
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(client_->request("GET", "/v1/files?limit=0", admin()).status, 400);
  EXPECT_EQ(client_->request("GET", "/v1/files?cursor=../x", admin()).status, 400);
}

TEST_F(NativeApiTest, DeleteIsIdempotentAndTheSweepRemovesTheBlob) {
  auto file = put("d.txt", "to be deleted");
  const std::string id = str(file, "id");
  EXPECT_EQ(server_->blob_files().size(), 1u);
  EXPECT_EQ(client_->request("DELETE", "/v1/files/" + id, admin()).status, 204);
  EXPECT_EQ(client_->request("DELETE", "/v1/files/" + id, admin()).status, 204);
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id, admin()).status, 404);
  auto sweep = client_->request("POST", "/v1/admin/sweep", admin(), "{}");
  EXPECT_EQ(sweep.status, 200);
  EXPECT_EQ(parse(sweep.body)["purged_objects"].as_int64(), 1);
  EXPECT_TRUE(server_->blob_files().empty());
}

TEST_F(NativeApiTest, TtlExpiresWithTheClock) {
  auto file = put("ttl.txt&ttl=60", "short-lived");
  const std::string id = str(file, "id");
  EXPECT_FALSE(file["expires_at"].is_null());
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id, admin()).status, 200);
  auto moved = client_->request("POST", "/v1/admin/clock", admin(), R"({"advance_ms":61000})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id, admin()).status, 404);
  auto sweep = client_->request("POST", "/v1/admin/sweep", admin(), "{}");
  EXPECT_EQ(parse(sweep.body)["expired_objects"].as_int64(), 1);
  EXPECT_TRUE(server_->blob_files().empty());
}

TEST_F(NativeApiTest, SignedLinksDownloadWithoutAKeyUntilTheyExpire) {
  const std::string content = pattern_string(3000);
  const std::string id = str(put("linked.bin", content), "id");
  auto made = client_->request("POST", "/v1/files/" + id + "/link?ttl=60", admin());
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string url = str(parse(made.body), "url");
  const std::string prefix = "http://127.0.0.1:" + std::to_string(server_->port());
  ASSERT_EQ(url.rfind(prefix + "/v1/links/default/" + id + "?expires=", 0), 0u) << url;
  const std::string target = url.substr(prefix.size());

  auto got = client_->request("GET", target);  // no Authorization: the link is the credential
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_TRUE(got.body == content);
  auto range = client_->request("GET", target, {{"Range", "bytes=10-19"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, content.substr(10, 10));

  std::string tampered = target;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(client_->request("GET", tampered).status, 401);
  const std::string other = put("other.bin", "x")["id"].as_string().c_str();
  std::string swapped = target;
  swapped.replace(swapped.find(id), id.size(), other);
  EXPECT_EQ(client_->request("GET", swapped).status, 401);
  EXPECT_EQ(client_->request("POST", "/v1/files/" + id + "/link?ttl=0", admin()).status, 400);

  client_->request("POST", "/v1/admin/clock", admin(), R"({"advance_ms":61000})");
  EXPECT_EQ(client_->request("GET", target).status, 401);
}

// Downloads take the key, the object and small blobs from memory (issue 17),
// yet a delete here, an expiry, and a key disabled by another process (the
// CLI) stop them: at once, at once, and within the 2 s bound.
TEST_F(NativeApiTest, CachedDownloadsStopOnDeleteExpiryAndDisabledKey) {
  const std::string token = tenant_with_key("cached");
  const std::string gone = str(put("gone.txt", "x", bearer(token)), "id");
  const std::string ttl = str(put("ttl.txt&ttl=60", "y", bearer(token)), "id");
  auto link = parse(client_->request("POST", "/v1/files/" + gone + "/link", bearer(token)).body);
  const std::string prefix = "http://127.0.0.1:" + std::to_string(server_->port());
  const std::string link_target = str(link, "url").substr(prefix.size());
  for (const auto& id : {gone, ttl}) {  // twice: the second is served from the caches
    for (int i = 0; i < 2; ++i) {
      auto got = client_->request("GET", "/v1/files/" + id + "/content", bearer(token));
      EXPECT_EQ(got.status, 200) << got.body;
    }
  }
  EXPECT_EQ(client_->request("GET", link_target).status, 200);

  EXPECT_EQ(client_->request("DELETE", "/v1/files/" + gone, bearer(token)).status, 204);
  EXPECT_EQ(client_->request("GET", "/v1/files/" + gone + "/content", bearer(token)).status, 404);
  EXPECT_EQ(client_->request("GET", link_target).status, 404);

  advance_clock(61000);  // past the TTL (and every cache's bound)
  EXPECT_EQ(client_->request("GET", "/v1/files/" + ttl + "/content", bearer(token)).status, 404);

  const std::string kept = str(put("kept.txt", "z", bearer(token)), "id");
  EXPECT_EQ(client_->request("GET", "/v1/files/" + kept + "/content", bearer(token)).status, 200);
  auto keys = parse(client_->request("GET", "/v1/admin/tenants/cached/keys", admin()).body);
  cli({"keys", "disable", str(keys["keys"].as_array().at(0).as_object(), "id")});
  advance_clock(2100);  // AuthService::kCacheMs
  EXPECT_EQ(client_->request("GET", "/v1/files/" + kept + "/content", bearer(token)).status, 401);
}

// Revocation reaches uploads in flight: a key disabled or deleted while its
// upload streams gets no file out of it (the commit checks the key again).
TEST_F(NativeApiTest, KeyRevokedWhileUploadStreamsCommitsNothing) {
  const std::string half = pattern_string(1 << 20);
  for (const char* how : {"disable", "delete"}) {
    auto k =
        client_->request("POST", "/v1/admin/tenants/default/keys", admin(), R"({"name":"ci"})");
    ASSERT_EQ(k.status, 201);
    const std::string token = str(parse(k.body), "token"), id = str(parse(k.body), "id");
    const int fd = client_->connect_socket();
    ASSERT_GE(fd, 0);
    const std::string head = std::string("POST /v1/files?name=revoked-") + how +
                             " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                             "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                             std::to_string(2 * half.size()) + "\r\n\r\n";
    for (const std::string* part : {&head, &half})
      ASSERT_EQ(::send(fd, part->data(), part->size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(part->size()));
    std::this_thread::sleep_for(200ms);  // the server has begun the upload
    if (std::string(how) == "disable") {
      ASSERT_EQ(client_->request("POST", "/v1/admin/keys/" + id + "/disable", admin(), "").status,
                200);
    } else {
      ASSERT_EQ(client_->request("DELETE", "/v1/admin/keys/" + id, admin()).status, 204);
    }
    // No answer yet: the upload was authorized before the key went away.
    char early;
    EXPECT_EQ(::recv(fd, &early, 1, MSG_DONTWAIT), -1);
    ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(half.size()));
    std::string reply;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
      reply.append(buf, static_cast<size_t>(n));
      if (reply.find('}') != std::string::npos) break;
    }
    ::close(fd);
    EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 401") << how << ": " << reply;
    EXPECT_NE(reply.find("\"code\":1101"), std::string::npos) << reply;
    auto list = client_->request("GET", "/v1/files?limit=1000", admin());
    EXPECT_EQ(list.body.find(std::string("revoked-") + how), std::string::npos) << list.body;
  }
  EXPECT_TRUE(server_->temp_files().empty());
  EXPECT_TRUE(server_->blob_files().empty());
}

TEST_F(NativeApiTest, KeysCanBeDisabledEnabledAndDeleted) {
  auto k = client_->request("POST", "/v1/admin/tenants/default/keys", admin(), R"({"name":"ci"})");
  ASSERT_EQ(k.status, 201);
  auto key = parse(k.body);
  const std::string token = str(key, "token"), id = str(key, "id");
  EXPECT_EQ(client_->request("GET", "/v1/files", bearer(token)).status, 200);
  EXPECT_EQ(client_->request("POST", "/v1/admin/keys/" + id + "/disable", admin(), "").status, 200);
  auto r = client_->request("GET", "/v1/files", bearer(token));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1101);
  EXPECT_EQ(client_->request("POST", "/v1/admin/keys/" + id + "/enable", admin(), "").status, 200);
  EXPECT_EQ(client_->request("GET", "/v1/files", bearer(token)).status, 200);
  EXPECT_EQ(client_->request("DELETE", "/v1/admin/keys/" + id, admin()).status, 204);
  EXPECT_EQ(client_->request("GET", "/v1/files", bearer(token)).status, 401);
  // The listing never shows secrets.
  auto list = client_->request("GET", "/v1/admin/tenants/default/keys", admin());
  EXPECT_EQ(list.body.find("token"), std::string::npos);
  EXPECT_EQ(list.body.find("secret"), std::string::npos);
}

TEST_F(NativeApiTest, AtMost500KeysPerTenant) {
  ASSERT_EQ(client_->request("POST", "/v1/admin/tenants", admin(), R"({"id":"many"})").status, 201);
  for (int i = 0; i < 500; ++i) {
    auto r = client_->request("POST", "/v1/admin/tenants/many/keys", admin(), R"({"name":"k"})");
    ASSERT_EQ(r.status, 201) << i << " " << r.body;
  }
  auto r = client_->request("POST", "/v1/admin/tenants/many/keys", admin(),
                            R"({"name":"one too many"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1601);
}

TEST_F(NativeApiTest, CorsPreflightAndExposedHeaders) {
  auto t = client_->request("PATCH", "/v1/admin/tenants/default", admin(),
                            R"({"cors_origins":["https://app.example"]})");
  ASSERT_EQ(t.status, 200) << t.body;
  auto pre = client_->request("OPTIONS", "/v1/files",
                              {{"Origin", "https://app.example"},
                               {"Access-Control-Request-Method", "POST"},
                               {"Access-Control-Request-Headers", "authorization"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(pre.header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(pre.header("access-control-allow-headers"), "authorization");
  Headers h = admin();
  h.emplace_back("Origin", "https://app.example");
  auto r = client_->request("GET", "/v1/files", h);
  EXPECT_EQ(r.header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(r.header("access-control-expose-headers").find("ETag"), std::string::npos);
  EXPECT_NE(r.header("access-control-expose-headers").find("X-Request-Id"), std::string::npos);
  auto evil = client_->request(
      "OPTIONS", "/v1/files",
      {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(evil.header("access-control-allow-origin"), "");
}

TEST_F(NativeApiTest, AppsCarryQuotaAndDialectSettings) {
  auto r = client_->request(
      "POST", "/v1/admin/tenants/default/apps", admin(),
      R"({"id":"pics","dialect":"native","quota":{"max_objects":1},"settings":{"k":1}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(parse(r.body)["settings"].as_object().at("k").as_int64(), 1);
  EXPECT_EQ(client_->request("POST", "/v1/files?app=pics&name=a", admin(), "1").status, 201);
  r = client_->request("POST", "/v1/files?app=pics&name=b", admin(), "2");
  EXPECT_EQ(r.status, 507);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1603);
  r = client_->request("PATCH", "/v1/admin/tenants/default/apps/pics", admin(),
                       R"({"settings":"no"})");
  EXPECT_EQ(r.status, 400);
  r = client_->request("POST", "/v1/admin/tenants/default/apps", admin(),
                       R"({"id":"x","dialect":"ftp"})");
  EXPECT_EQ(r.status, 400);
}

TEST_F(NativeApiTest, BadTenantSettingsCreateNothing) {
  auto r = client_->request("POST", "/v1/admin/tenants", admin(),
                            R"({"id":"half","cors_origins":"nope"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(client_->request("GET", "/v1/admin/tenants/half", admin()).status, 404);
  r = client_->request("POST", "/v1/admin/tenants", admin(), R"({"id":"bad id!"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1004);
}

TEST_F(NativeApiTest, OrphanSweepOverHttpKeepsAGracePeriod) {
  auto r = client_->request("POST", "/v1/admin/sweep", admin(), R"({"orphan_grace_ms":0})");
  EXPECT_EQ(r.status, 400);
  r = client_->request("POST", "/v1/admin/sweep", admin(), R"({"orphan_grace_ms":60000})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(NativeApiTest, RequestIdIsEchoedAndLogged) {
  auto r = client_->request("GET", "/healthz", {{"X-Request-Id", "req-123"}});
  EXPECT_EQ(r.header("x-request-id"), "req-123");
  auto g = client_->request("GET", "/healthz");
  EXPECT_EQ(g.header("x-request-id").size(), 16u);
  std::this_thread::sleep_for(100ms);
  const std::string log = server_->stdout_text();
  EXPECT_NE(log.find(R"("id":"req-123")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("path":"/healthz","status":200)"), std::string::npos) << log;
}

TEST_F(NativeApiTest, ExpectContinueIsAnsweredBeforeTheBody) {
  int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  std::string head = "POST /v1/files?name=e.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     std::string(ServerProcess::kAdminKey) +
                     "\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n).rfind("HTTP/1.1 100 Continue", 0), 0u);
  ::send(fd, "hello", 5, 0);
  n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n).rfind("HTTP/1.1 201", 0), 0u) << std::string(buf, n);
  ::close(fd);
  // A request that will be refused gets the final answer instead of 100.
  std::string refused = client_->raw(
      "POST /v1/files?name=e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: "
      "100-continue\r\n\r\n",
      1000);
  EXPECT_EQ(refused.rfind("HTTP/1.1 401", 0), 0u) << refused;
}

TEST_F(NativeApiTest, KeepAliveServesSeveralRequests) {
  std::string two =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n";
  std::string out = client_->raw(two);
  size_t first = out.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(out.find("HTTP/1.1 200", first + 1), std::string::npos) << out;
}

// A body of known length is read from the socket past Beast's parser
// (http/server.cc, read_raw): the bytes of the next request, sent in the same
// write, must stay for it, and each upload keeps exactly its own bytes. The
// first body spans several of the connection's 256 KiB reads.
TEST_F(NativeApiTest, PipelinedUploadsOnOneConnectionKeepTheirOwnBytes) {
  const std::string big = pattern_string(600'001);
  const std::string auth = "Authorization: Bearer " + std::string(ServerProcess::kAdminKey);
  auto post = [&](const std::string& name, const std::string& body) {
    return "POST /v1/files?name=" + name + " HTTP/1.1\r\nHost: x\r\n" + auth +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::string out =
      client_->raw(post("big.bin", big) + post("small.txt", "hello") +
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                   10'000);
  const size_t first = out.find("HTTP/1.1 201");
  ASSERT_EQ(first, 0u) << out.substr(0, 300);
  const size_t second = out.find("HTTP/1.1 201", first + 1);
  ASSERT_NE(second, std::string::npos) << out;
  const size_t third = out.find("HTTP/1.1 200", second + 1);
  ASSERT_NE(third, std::string::npos) << out;
  EXPECT_NE(out.substr(first, second - first).find("\"sha256\":\"" + sha256_hex(big) + "\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.substr(second, third - second).find("\"sha256\":\"" + sha256_hex("hello") + "\""),
            std::string::npos)
      << out;
  // The stored bytes, read back.
  const size_t id_at = out.find("\"id\":\"", first) + 6;
  const std::string id = out.substr(id_at, out.find('"', id_at) - id_at);
  auto got = client_->request("GET", "/v1/files/" + id + "/content", admin());
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == big) << got.body.size();
}

// A body cut short by the client stores nothing, and the server serves on.
TEST_F(NativeApiTest, UploadWhoseClientLeavesMidBodyStoresNothing) {
  int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  const std::string part = pattern_string(300'000);
  const std::string head =
      "POST /v1/files?name=cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " +
      std::string(ServerProcess::kAdminKey) + "\r\nContent-Length: 1000000\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(::send(fd, part.data(), part.size(), 0), static_cast<ssize_t>(part.size()));
  std::this_thread::sleep_for(200ms);
  ::close(fd);
  std::this_thread::sleep_for(200ms);
  auto list = client_->request("GET", "/v1/files", admin());
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("cut.bin"), std::string::npos) << list.body;
  EXPECT_EQ(client_->request("GET", "/healthz").status, 200);
}

// A download's header is written by hand (http/server.cc), not by Beast: the
// status line, the fields, Content-Length and the body, exactly, also for a
// range, a 304, the CORS fields and a connection the client closes.
TEST_F(NativeApiTest, DownloadResponsesAreFramedExactly) {
  auto t = client_->request("PATCH", "/v1/admin/tenants/default", admin(),
                            R"({"cors_origins":["https://app.example"]})");
  ASSERT_EQ(t.status, 200) << t.body;
  const std::string id = str(put("framed.txt", "hello world"), "id");
  const std::string auth = "Authorization: Bearer " + std::string(ServerProcess::kAdminKey);
  const std::string get =
      "GET /v1/files/" + id + "/content HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n";
  const std::string etag =
      client_->request("GET", "/v1/files/" + id + "/content", admin()).header("etag");
  ASSERT_FALSE(etag.empty());
  const std::string out =
      client_->raw(get + "Range: bytes=6-\r\n\r\n" + get + "Origin: https://app.example\r\n\r\n" +
                   get + "If-None-Match: " + etag + "\r\n\r\n" + get + "Connection: close\r\n\r\n");
  // Four answers in order on one connection; each body is exactly its length.
  const size_t range = out.find("HTTP/1.1 206 Partial Content\r\nServer: upgate\r\n");
  ASSERT_EQ(range, 0u) << out;
  EXPECT_NE(out.find("\r\nContent-Range: bytes 6-10/11\r\nContent-Length: 5\r\n\r\nworld"
                     "HTTP/1.1 200 OK\r\n"),
            std::string::npos)
      << out;
  const size_t cors = out.find("HTTP/1.1 200 OK\r\n");
  const size_t not_modified = out.find("HTTP/1.1 304 Not Modified\r\n");
  ASSERT_NE(cors, std::string::npos);
  ASSERT_NE(not_modified, std::string::npos);
  const std::string cors_answer = out.substr(cors, not_modified - cors);
  EXPECT_NE(cors_answer.find("\r\nAccess-Control-Allow-Origin: https://app.example\r\n"),
            std::string::npos)
      << cors_answer;
  EXPECT_NE(cors_answer.find("\r\nAccess-Control-Expose-Headers: ETag,"), std::string::npos);
  EXPECT_NE(cors_answer.find("\r\nVary: Origin\r\n"), std::string::npos);
  EXPECT_NE(cors_answer.find("\r\nETag: " + etag + "\r\n"), std::string::npos);
  EXPECT_NE(cors_answer.find("\r\nContent-Length: 11\r\n\r\nhello world"), std::string::npos);
  EXPECT_EQ(cors_answer.find("Connection: close"), std::string::npos) << cors_answer;
  const size_t last = out.find("HTTP/1.1 200 OK\r\n", not_modified);
  ASSERT_NE(last, std::string::npos) << out;
  const std::string closing = out.substr(last);
  EXPECT_NE(closing.find("\r\nConnection: close\r\nContent-Length: 11\r\n\r\n"), std::string::npos)
      << closing;
  EXPECT_EQ(closing.substr(closing.size() - 11), "hello world") << closing;
}

// The whole head of every kind of download answer, byte for byte: the header is
// written by hand (http/server.cc) and its values built without Beast
// (http/downloads.cc), so any change to a name, a value, their order or the
// framing shows here. A name beyond ASCII takes filename*.
TEST_F(NativeApiTest, DownloadHeadsAreExactlyAsBefore) {
  auto t = client_->request("PATCH", "/v1/admin/tenants/default", admin(),
                            R"({"cors_origins":["https://app.example"]})");
  ASSERT_EQ(t.status, 200) << t.body;
  auto up = client_->request("POST", "/v1/files?name=r%C3%A9sum%C3%A9%20%22v2%22.txt", admin(),
                             "hello world");
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string id = str(parse(up.body), "id");
  const std::string sha = sha256_hex("hello world");
  const std::string get = "GET /v1/files/" + id + "/content HTTP/1.1\r\nHost: x\r\n" +
                          "Authorization: Bearer " + std::string(ServerProcess::kAdminKey) + "\r\n";
  const std::string out =
      client_->raw(get + "X-Request-Id: req-1\r\nRange: bytes=6-\r\n\r\n" + get +
                   "X-Request-Id: req-2\r\nOrigin: https://app.example\r\n\r\n" + get +
                   "X-Request-Id: req-3\r\nIf-None-Match: \"" + sha + "\"\r\n\r\n" + get +
                   "X-Request-Id: req-4\r\nRange: bytes=20-\r\n\r\n" + get +
                   "X-Request-Id: req-5\r\nConnection: close\r\n\r\n");
  const std::string fields = "ETag: \"" + sha +
                             "\"\r\nAccept-Ranges: bytes\r\nCache-Control: private, no-cache\r\n"
                             "Content-Type: application/octet-stream\r\n"
                             "Content-Disposition: attachment; filename=\"r_sum_ _v2_.txt\"; "
                             "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt\r\n"
                             "X-Content-Type-Options: nosniff\r\n";
  const std::string expected =
      "HTTP/1.1 206 Partial Content\r\nServer: upgate\r\nX-Request-Id: req-1\r\n" + fields +
      "Content-Range: bytes 6-10/11\r\nContent-Length: 5\r\n\r\nworld"
      "HTTP/1.1 200 OK\r\nServer: upgate\r\nX-Request-Id: req-2\r\n" +
      fields +
      "Access-Control-Allow-Origin: https://app.example\r\n"
      "Access-Control-Expose-Headers: ETag, Location, X-Request-Id, Content-Disposition, "
      "Content-Range, Upload-Offset, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, "
      "Tus-Extension, Upload-Metadata, Upload-Expires, Upload-Concat, Upload-Defer-Length, "
      "Tus-Checksum-Algorithm, Upgate-File-Id\r\n"
      "Vary: Origin\r\nContent-Length: 11\r\n\r\nhello world"
      "HTTP/1.1 304 Not Modified\r\nServer: upgate\r\nX-Request-Id: req-3\r\nETag: \"" +
      sha +
      "\"\r\nAccept-Ranges: bytes\r\nCache-Control: private, no-cache\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(out.substr(0, expected.size()), expected) << out;
  // The unsatisfiable range: the dialect's error with Content-Range, through Beast.
  const std::string rest = out.substr(expected.size());
  const std::string refused =
      "HTTP/1.1 416 Range Not Satisfiable\r\nServer: upgate\r\n"
      "X-Request-Id: req-4\r\n";
  ASSERT_EQ(rest.substr(0, refused.size()), refused) << rest;
  EXPECT_NE(rest.find("\r\nContent-Range: bytes */11\r\n"), std::string::npos) << rest;
  const std::string closing = "HTTP/1.1 200 OK\r\nServer: upgate\r\nX-Request-Id: req-5\r\n" +
                              fields + "Connection: close\r\nContent-Length: 11\r\n\r\nhello world";
  const size_t last = rest.find("HTTP/1.1 200 OK\r\n");
  ASSERT_NE(last, std::string::npos) << rest;
  EXPECT_EQ(rest.substr(last), closing);
}

// A download's path is read as every route's is (empty segments dropped),
// also where the native handler takes it without split_path: the same answers
// for doubled slashes, and none for a fifth segment.
TEST_F(NativeApiTest, DownloadPathsAreSplitAsEveryOtherPath) {
  const std::string id = str(put("split.txt", "split me"), "id");
  const std::string link =
      str(parse(client_->request("POST", "/v1/files/" + id + "/link", admin()).body), "url");
  const std::string link_path = link.substr(link.find("/v1/links/"));
  for (const std::string& path : {"/v1/files/" + id + "/content", "/v1//files/" + id + "//content/",
                                  "/v1/files/" + id + "/content/"}) {
    auto r = client_->request("GET", path, admin());
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "split me") << path;
  }
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id + "/content/more", admin()).status, 404);
  EXPECT_EQ(client_->request("GET", "/v1/files/" + id + "/content").status, 401);
  auto l = client_->request("GET", link_path);
  EXPECT_EQ(l.status, 200) << l.body;
  EXPECT_EQ(l.body, "split me");
}

// Between requests a kept-alive connection is cut after --idle-timeout-ms (by
// its I/O thread's sweep, not a timer per request: http/server.cc), on every
// I/O thread, and not while its requests keep coming within the limit.
TEST_F(NativeApiTest, IdleKeepAliveConnectionsAreCutAfterTheIdleTimeout) {
  start_server({"--threads", "2", "--idle-timeout-ms", "1000"});
  // The answer to one keep-alive GET /healthz: false if the connection ended.
  const auto ask = [](int fd) {
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    if (send(fd, get.data(), get.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(get.size()))
      return false;
    std::string got;
    char buf[1024];
    while (got.find("{\"status\":\"ok\"}") == std::string::npos) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return got.starts_with("HTTP/1.1 200 OK\r\n");
  };
  std::vector<int> fds;
  for (int i = 0; i < 2; ++i) fds.push_back(client_->connect_socket());  // one per I/O thread
  for (int fd : fds) ASSERT_GE(fd, 0);
  for (int round = 0; round < 5; ++round) {  // 100 ms apart: well within the limit
    for (int fd : fds) ASSERT_TRUE(ask(fd)) << "round " << round;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Then idle: the server ends both connections (recv sees the end, not a
  // timeout of the socket's own; 20 s is far past the limit and its sweep).
  for (int fd : fds) {
    timeval wait{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char buf[16];
    EXPECT_EQ(recv(fd, buf, sizeof buf, 0), 0);
    close(fd);
  }
  EXPECT_EQ(client_->request("GET", "/healthz").status, 200);
}

// Access-log lines are written in batches per I/O thread (http/server.cc): every
// request still gets one whole line, and those pending at a shutdown are written
// before "upgate stopped".
TEST_F(NativeApiTest, AccessLogKeepsEveryLineWholeThroughShutdown) {
  const std::string id = str(put("logged.txt", "logged"), "id");
  const std::string get = "GET /v1/files/" + id +
                          "/content HTTP/1.1\r\nHost: x\r\nX-Request-Id: batch-probe\r\n"
                          "Authorization: Bearer " +
                          std::string(ServerProcess::kAdminKey) + "\r\n";
  constexpr int kConnections = 4, kPerConnection = 50;
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&] {
      std::string many;
      for (int i = 1; i < kPerConnection; ++i) many += get + "\r\n";
      many += get + "Connection: close\r\n\r\n";
      const std::string out = client_->raw(many, 10'000);
      size_t answers = 0;
      for (size_t at = out.find("HTTP/1.1 200 OK"); at != std::string::npos;
           at = out.find("HTTP/1.1 200 OK", at + 1))
        ++answers;
      EXPECT_EQ(answers, static_cast<size_t>(kPerConnection));
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(server_->terminate(), 0);
  std::istringstream lines(server_->stdout_text());
  int logged = 0;
  bool stopped = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "upgate stopped") stopped = true;
    if (line.find("batch-probe") == std::string::npos) continue;
    EXPECT_FALSE(stopped) << "a line after the shutdown message";
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    EXPECT_EQ(v.at("status").as_int64(), 200) << line;
    EXPECT_EQ(v.at("bytes_out").as_int64(), 6) << line;
    ++logged;
  }
  EXPECT_TRUE(stopped);
  EXPECT_EQ(logged, kConnections * kPerConnection);
}

TEST_F(NativeApiTest, TrickledHeadersAreCutOff) {
  start_server({"--header-timeout-ms", "1000"});
  int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  const std::string line =
      "GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  auto started = std::chrono::steady_clock::now();
  bool cut = false;
  for (char c : line) {
    if (::send(fd, &c, 1, MSG_NOSIGNAL) <= 0) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(100ms);
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n > 0 && std::string(buf, n).find("408") != std::string::npos)) {
      cut = true;
      break;
    }
  }
  ::close(fd);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(cut);
  EXPECT_LT(took, 3s);
  // Others are still served.
  EXPECT_EQ(client_->request("GET", "/healthz").status, 200);
}

TEST_F(NativeApiTest, OversizedHeadersAre431) {
  std::string big =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  std::string out = client_->raw(big);
  EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 100);
}

TEST_F(NativeApiTest, JsonBodiesHaveALimit) {
  std::string big = R"({"id":"x","name":")" + std::string(100000, 'n') + R"("})";
  auto r = client_->request("POST", "/v1/admin/tenants", admin(), big);
  EXPECT_EQ(r.status, 413);
  r = client_->request("POST", "/v1/admin/tenants", admin(), "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse(r.body)["code"].as_int64(), 1001);
}

TEST_F(NativeApiTest, KilledMidUploadLeavesNoFileAndNoTempFile) {
  const std::string data_dir = server_->data_dir();
  int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  std::string head = "POST /v1/files?name=half.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     std::string(ServerProcess::kAdminKey) + "\r\nContent-Length: 50000000\r\n\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string half = pattern_string(20'000'000);
  ::send(fd, half.data(), half.size(), MSG_NOSIGNAL);
  if (blobs_are_s3()) {
    // A body of known length goes to S3 as one streamed PUT, which shows
    // nothing (no multipart upload) before it completes: give it time to start.
    std::this_thread::sleep_for(300ms);
  } else {
    // Wait until the server has written some of it to its temp file.
    for (int i = 0; i < 100 && server_->temp_files().empty(); ++i)
      std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(server_->temp_files().empty());
  }
  server_->kill9();
  ::close(fd);

  ServerProcess restarted({}, data_dir);
  restarted.start();
  HttpClient c(restarted.port());
  auto list = c.request("GET", "/v1/files", admin());
  EXPECT_EQ(parse(list.body)["files"].as_array().size(), 0u);
  // The start-up sweep removes what the killed upload left. On a shared store
  // (PostgreSQL) there is none (another process's upload may be in flight):
  // the orphan sweep does it, here with no grace as nothing else runs.
  if (meta_is_postgres()) {
    int rc = -1;
    std::string out = restarted.cli({"sweep", "--orphan-grace-ms", "0"}, &rc);
    EXPECT_EQ(rc, 0) << out;
  }
  for (int i = 0; i < 100 && !restarted.temp_files().empty(); ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(restarted.temp_files().empty());
  EXPECT_TRUE(restarted.blob_files().empty());
}

TEST_F(NativeApiTest, GracefulShutdownFinishesInFlightUploads) {
  int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  std::string head =
      "POST /v1/files?name=inflight.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      std::string(ServerProcess::kAdminKey) + "\r\nContent-Length: 2000000\r\n\r\n";
  const std::string body = pattern_string(2'000'000);
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  ::send(fd, body.data(), 1'000'000, MSG_NOSIGNAL);
  std::this_thread::sleep_for(200ms);
  std::thread stopper([&] { EXPECT_EQ(server_->terminate(), 0); });
  std::this_thread::sleep_for(200ms);
  ::send(fd, body.data() + 1'000'000, 1'000'000, MSG_NOSIGNAL);
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  std::string answer(buf, n);
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  ::close(fd);
  stopper.join();
}

// Past the grace period a request still awaiting a blocking call is cut, and
// the server keeps its I/O contexts until the call returns: the call resumes
// the request on its context (tearing the contexts down at once left a call
// that returned later posting to a destroyed one).
TEST_F(NativeApiTest, ShutdownPastTheGraceWaitsForAStalledCommit) {
  if (meta_is_postgres()) GTEST_SKIP() << "stalls the commit with SQLite's write lock";
  start_server({"--shutdown-grace-ms", "200"});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((server_->data_dir() + "/upgate.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  const std::string request =
      "POST /v1/files?name=stalled.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      std::string(ServerProcess::kAdminKey) + "\r\nContent-Length: 5\r\n\r\nhello";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(300ms);  // the row's commit waits for the lock (busy timeout 5 s)
  int status = -1;
  std::thread stopper([&] { status = server_->terminate(); });
  // Past the grace period the connection is cut without an answer: the upload
  // was not durable yet.
  char buf[512];
  EXPECT_LE(::recv(fd, buf, sizeof buf, 0), 0);
  ::close(fd);
  std::this_thread::sleep_for(1500ms);  // the server waits, and says so after 1 s
  EXPECT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  stopper.join();
  EXPECT_EQ(status, 0);
  const std::string out = server_->stdout_text();
  EXPECT_NE(out.find("past the grace period wait for a storage call to return"), std::string::npos)
      << out;
  EXPECT_NE(out.find("upgate stopped"), std::string::npos) << out;
}

TEST_F(NativeApiTest, CliCreatesTenantsAndKeysTheServerAccepts) {
  int rc = -1;
  std::string out = server_->cli({"tenants", "create", "clitenant", "--name", "From CLI"}, &rc);
  EXPECT_EQ(rc, 0) << out;
  out = server_->cli({"keys", "create", "--tenant", "clitenant", "--name", "uploader"}, &rc);
  ASSERT_EQ(rc, 0) << out;
  auto key = parse(out);
  const std::string token = str(key, "token");
  ASSERT_FALSE(token.empty());
  put("from-cli.txt", "hi", bearer(token));
  out = server_->cli({"keys", "disable", str(key, "id")}, &rc);
  EXPECT_EQ(rc, 0) << out;
  // The server's key cache lasts at most 2 s (of its clock).
  ASSERT_EQ(client_->request("POST", "/v1/admin/clock", admin(), R"({"advance_ms":2100})").status,
            200);
  EXPECT_EQ(client_->request("GET", "/v1/files", bearer(token)).status, 401);
  out = server_->cli({"tenants", "list"}, &rc);
  EXPECT_NE(out.find("clitenant"), std::string::npos);
  server_->cli({"tenants", "create", "clitenant"}, &rc);
  EXPECT_NE(rc, 0);
}

TEST_F(NativeApiTest, ServesTls) {
  if (std::system("command -v openssl >/dev/null && command -v curl >/dev/null") != 0)
    GTEST_SKIP() << "openssl or curl missing";
  TempDir certs;
  const std::string cert = certs.path() + "/cert.pem", key = certs.path() + "/key.pem";
  std::string gen =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(gen.c_str()), 0);
  start_server({"--tls-cert", cert, "--tls-key", key});
  EXPECT_NE(server_->stdout_text().find("https://127.0.0.1:"), std::string::npos);
  const std::string base = "https://127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(run_command("curl -sk " + base + "/healthz"), R"({"status":"ok"})");
  // Downloads over TLS go through the stream (no sendfile): a small body with
  // its header in one write, a large one in chunks after it.
  const std::string auth =
      " -H 'Authorization: Bearer " + std::string(ServerProcess::kAdminKey) + "'";
  for (size_t size : {size_t{1000}, size_t{600 * 1024}}) {
    const std::string file = certs.path() + "/upload.bin", body = pattern_string(size);
    std::ofstream(file, std::ios::binary) << body;
    const json::object up = parse(run_command("curl -sk" + auth + " --data-binary @" + file + " '" +
                                              base + "/v1/files?name=tls.bin'"));
    ASSERT_TRUE(up.contains("id")) << json::serialize(up);
    EXPECT_EQ(
        run_command("curl -sk" + auth + " " + base + "/v1/files/" + str(up, "id") + "/content"),
        body)
        << size;
  }
}

}  // namespace
}  // namespace up::testing
