// tus 1.0.0 on the native API (/v1/tus/) against the real server: every
// extension and error, an interrupted chunk, a SIGKILL between chunks,
// expiry and the sweeper, upload grants, CORS, and the real tus-js-client
// resuming a 200 MiB upload through connection cuts (tests/compat/tus_resume.mjs).

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

constexpr int64_t kDayMs = 24 * 3'600'000;

class TusTest : public ServerTest {
 protected:
  static Headers tus(Headers h = {}) {
    h.emplace_back("Tus-Resumable", "1.0.0");
    return h;
  }
  static Headers with_admin(Headers h = {}) {
    for (auto& a : admin()) h.push_back(a);
    return tus(std::move(h));
  }
  static std::string b64(const std::string& s) { return crypto::base64(s); }

  // POST /v1/tus/ with the admin key; the Location (a path).
  std::string create(const Headers& extra, int want = 201) {
    auto r = client_->request("POST", "/v1/tus/", with_admin(extra));
    EXPECT_EQ(r.status, want) << r.body;
    if (want == 201) {
      EXPECT_TRUE(r.header("location").starts_with("/v1/tus/"));
    }
    return r.header("location");
  }
  std::string create(uint64_t length) {
    return create(
        {{"Upload-Length", std::to_string(length)},
         {"Upload-Metadata", "filename " + b64("a.txt") + ",filetype " + b64("text/plain")}});
  }
  HttpResponse patch(const std::string& url, uint64_t offset, const std::string& body,
                     Headers extra = {}) {
    extra.emplace_back("Content-Type", "application/offset+octet-stream");
    extra.emplace_back("Upload-Offset", std::to_string(offset));
    return client_->request("PATCH", url, tus(std::move(extra)), body);
  }
  HttpResponse head(const std::string& url) { return client_->request("HEAD", url, tus()); }
  uint64_t offset_of(const std::string& url) {
    auto r = head(url);
    EXPECT_EQ(r.status, 200) << r.body;
    return std::stoull("0" + r.header("upload-offset"));
  }
  // The native file's bytes.
  std::string content(const std::string& file_id) {
    auto r = client_->request("GET", "/v1/files/" + file_id + "/content", admin());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
};

TEST_F(TusTest, OptionsListsEveryExtensionAndCorsExposesTheHeaders) {
  auto r = client_->request("OPTIONS", "/v1/tus/");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("tus-version"), "1.0.0");
  EXPECT_EQ(r.header("tus-resumable"), "1.0.0");
  EXPECT_EQ(r.header("tus-extension"),
            "creation,creation-with-upload,creation-defer-length,termination,concatenation,"
            "expiration,checksum");
  EXPECT_EQ(r.header("tus-checksum-algorithm"), "sha1,sha256,md5");
  EXPECT_GT(std::stoull("0" + r.header("tus-max-size")), 0u);

  // A page on another origin: the preflight allows tus's methods and headers,
  // and the answers expose tus's headers.
  admin_request("PATCH", "/v1/admin/tenants/default", R"({"cors_origins":["http://app.test"]})",
                200);
  auto pre = client_->request("OPTIONS", "/v1/tus/",
                              {{"Origin", "http://app.test"},
                               {"Access-Control-Request-Method", "PATCH"},
                               {"Access-Control-Request-Headers",
                                "tus-resumable,upload-offset,upload-checksum,content-type"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "http://app.test");
  EXPECT_NE(pre.header("access-control-allow-methods").find("PATCH"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-headers").find("upload-offset"), std::string::npos);
  const std::string url = create(10);
  auto h = client_->request("HEAD", url, tus({{"Origin", "http://app.test"}}));
  EXPECT_EQ(h.header("access-control-allow-origin"), "http://app.test");
  const std::string exposed = h.header("access-control-expose-headers");
  for (const char* name : {"Upload-Offset", "Upload-Length", "Location", "Tus-Version",
                           "Tus-Resumable", "Tus-Max-Size", "Tus-Extension", "Upload-Metadata",
                           "Upload-Expires", "Upload-Concat", "Upload-Defer-Length"})
    EXPECT_NE(exposed.find(name), std::string::npos) << name;
}

TEST_F(TusTest, ChunksMakeOneFileAndOffsetsAreChecked) {
  const std::string data = pattern_string(300'000);
  const std::string url = create(data.size());
  auto h = head(url);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("upload-offset"), "0");
  EXPECT_EQ(h.header("upload-length"), "300000");
  EXPECT_EQ(h.header("cache-control"), "no-store");
  EXPECT_TRUE(h.header("upload-expires").ends_with(" GMT")) << h.header("upload-expires");
  EXPECT_NE(h.header("upload-metadata").find("filename "), std::string::npos);

  auto p = patch(url, 0, data.substr(0, 100'000));
  EXPECT_EQ(p.status, 204) << p.body;
  EXPECT_EQ(p.header("upload-offset"), "100000");
  EXPECT_TRUE(p.header("upload-expires").ends_with(" GMT"));
  EXPECT_EQ(patch(url, 0, "x").status, 409);  // not where the upload is
  EXPECT_EQ(patch(url, 100'001, "x").status, 409);
  auto wrong_type = client_->request(
      "PATCH", url, tus({{"Content-Type", "text/plain"}, {"Upload-Offset", "100000"}}), "x");
  EXPECT_EQ(wrong_type.status, 415);
  auto old = client_->request("PATCH", url,
                              {{"Tus-Resumable", "0.2.2"},
                               {"Content-Type", "application/offset+octet-stream"},
                               {"Upload-Offset", "100000"}},
                              "x");
  EXPECT_EQ(old.status, 412);
  EXPECT_EQ(old.header("tus-version"), "1.0.0");
  EXPECT_EQ(patch(url, 100'000, std::string(200'001, 'x')).status, 413);  // past Upload-Length

  // Two PATCHes at one offset: one is stored, the other gets 409 (on local
  // blobs at once: the first holds the upload's staged blob; on a store
  // without staged blobs when it commits second).
  HttpResponse second;
  auto first = client_->request_paused(
      "PATCH", url,
      tus({{"Content-Type", "application/offset+octet-stream"}, {"Upload-Offset", "100000"}}),
      data.substr(100'000, 100'000), 50'000,
      [&] { second = patch(url, 100'000, data.substr(100'000, 100'000)); });
  EXPECT_EQ(std::min(first.status, second.status), 204) << first.body << second.body;
  EXPECT_EQ(std::max(first.status, second.status), 409) << first.body << second.body;
  EXPECT_EQ(offset_of(url), 200'000u);

  auto last = patch(url, 200'000, data.substr(200'000));
  ASSERT_EQ(last.status, 204) << last.body;
  EXPECT_EQ(last.header("upload-offset"), "300000");
  const std::string id = last.header("upgate-file-id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(content(id), data);
  auto file = parse(client_->request("GET", "/v1/files/" + id, admin()).body);
  EXPECT_EQ(str(file, "name"), "a.txt");
  EXPECT_EQ(str(file, "content_type"), "text/plain");
  EXPECT_EQ(str(file, "sha256"), sha256_hex(data));
  auto done = head(url);
  EXPECT_EQ(done.header("upload-offset"), "300000");
  EXPECT_EQ(done.header("upgate-file-id"), id);
  EXPECT_EQ(patch(url, 300'000, "").status, 204);  // a retried last PATCH
  EXPECT_TRUE(server_->temp_files().empty());
}

TEST_F(TusTest, CreationWithUploadAndEmptyUploads) {
  const std::string data = pattern_string(70'000);
  auto r =
      client_->request("POST", "/v1/tus/",
                       with_admin({{"Upload-Length", "70000"},
                                   {"Content-Type", "application/offset+octet-stream"},
                                   {"Upload-Checksum", "sha256 " + b64(crypto::sha256(data))}}),
                       data);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("upload-offset"), "70000");
  EXPECT_EQ(content(r.header("upgate-file-id")), data);
  EXPECT_EQ(head(r.header("location")).header("upload-offset"), "70000");

  // Part of the upload with the creation, the rest by PATCH.
  r = client_->request(
      "POST", "/v1/tus/",
      with_admin({{"Upload-Length", "70000"}, {"Content-Type", "application/offset+octet-stream"}}),
      data.substr(0, 30'000));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("upload-offset"), "30000");
  auto p = patch(r.header("location"), 30'000, data.substr(30'000));
  ASSERT_EQ(p.status, 204) << p.body;
  EXPECT_EQ(content(p.header("upgate-file-id")), data);

  r = client_->request("POST", "/v1/tus/", with_admin({{"Upload-Length", "0"}}));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(content(r.header("upgate-file-id")), "");
  // Neither length nor deferral; both.
  create({}, 400);
  create({{"Upload-Length", "1"}, {"Upload-Defer-Length", "1"}}, 400);
  create({{"Upload-Length", "1"}, {"Upload-Metadata", "filename !!!"}}, 400);
  create({{"Upload-Length", "1"}, {"Upload-Metadata", "a\x01 YQ=="}}, 400);
  auto anon = client_->request("POST", "/v1/tus/", tus({{"Upload-Length", "1"}}));
  EXPECT_EQ(anon.status, 401);
}

TEST_F(TusTest, DeferredLengthIsSentWithALaterChunk) {
  const std::string data = pattern_string(50'000);
  const std::string url = create({{"Upload-Defer-Length", "1"}});
  auto h = head(url);
  EXPECT_EQ(h.header("upload-defer-length"), "1");
  EXPECT_EQ(h.header("upload-length"), "");
  ASSERT_EQ(patch(url, 0, data.substr(0, 20'000)).status, 204);
  ASSERT_EQ(patch(url, 20'000, data.substr(20'000, 10'000), {{"Upload-Length", "50000"}}).status,
            204);
  EXPECT_EQ(head(url).header("upload-length"), "50000");
  EXPECT_EQ(patch(url, 30'000, "x", {{"Upload-Length", "60000"}}).status, 400);
  auto last = patch(url, 30'000, data.substr(30'000));
  ASSERT_EQ(last.status, 204) << last.body;
  EXPECT_EQ(content(last.header("upgate-file-id")), data);
}

TEST_F(TusTest, TerminatedUploadsAreGone) {
  const std::string url = create(1000);
  ASSERT_EQ(patch(url, 0, std::string(400, 'a')).status, 204);
  auto d = client_->request("DELETE", url, tus());
  EXPECT_EQ(d.status, 204);
  EXPECT_EQ(head(url).status, 404);
  EXPECT_EQ(patch(url, 400, "b").status, 404);
  EXPECT_EQ(client_->request("DELETE", url, tus()).status, 204);  // idempotent
  // Behind a proxy that drops DELETE and PATCH: POST and X-HTTP-Method-Override.
  const std::string other = create(1000);
  auto p = client_->request("POST", other,
                            tus({{"X-HTTP-Method-Override", "PATCH"},
                                 {"Content-Type", "application/offset+octet-stream"},
                                 {"Upload-Offset", "0"}}),
                            "abc");
  EXPECT_EQ(p.status, 204);
  EXPECT_EQ(p.header("upload-offset"), "3");
  EXPECT_EQ(client_->request("POST", other, tus({{"X-HTTP-Method-Override", "DELETE"}})).status,
            204);
  EXPECT_EQ(head(other).status, 404);
  EXPECT_EQ(head("/v1/tus/not-a-token").status, 404);
}

TEST_F(TusTest, PartialsConcatenateIntoAFinalUpload) {
  const std::string a = pattern_string(40'000), b = pattern_string(25'000);
  const std::string pa = create({{"Upload-Length", "40000"}, {"Upload-Concat", "partial"}});
  const std::string pb = create({{"Upload-Length", "25000"}, {"Upload-Concat", "partial"}});
  EXPECT_EQ(head(pa).header("upload-concat"), "partial");
  ASSERT_EQ(patch(pb, 0, b).status, 204);
  // Not every partial is finished yet.
  create({{"Upload-Concat", "final;" + pa + " " + pb}}, 409);
  auto pr = patch(pa, 0, a);
  ASSERT_EQ(pr.status, 204);
  EXPECT_EQ(pr.header("upgate-file-id"), "");  // a partial is no file of its own
  auto r = client_->request("POST", "/v1/tus/",
                            with_admin({{"Upload-Concat", "final;http://127.0.0.1" + pa + " " + pb},
                                        {"Upload-Metadata", "filename " + b64("ab.bin")}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string final_url = r.header("location");
  auto h = head(final_url);
  EXPECT_EQ(h.header("upload-length"), "65000");
  EXPECT_EQ(h.header("upload-offset"), "65000");
  EXPECT_EQ(h.header("upload-concat"), "final");
  EXPECT_EQ(content(h.header("upgate-file-id")), a + b);
  EXPECT_EQ(patch(final_url, 65'000, "x").status, 403);
  create({{"Upload-Concat", "final;/v1/tus/forged"}}, 400);
}

TEST_F(TusTest, ChecksumMismatchDiscardsTheChunk) {
  const std::string data = pattern_string(3000);
  const std::string url = create(data.size());
  const std::string c1 = data.substr(0, 1000), c2 = data.substr(1000, 1000);
  EXPECT_EQ(patch(url, 0, c1, {{"Upload-Checksum", "sha1 " + b64(crypto::sha1(c1))}}).status, 204);
  auto bad = patch(url, 1000, c2, {{"Upload-Checksum", "sha256 " + b64(crypto::sha256(c1))}});
  EXPECT_EQ(bad.status, 460);
  EXPECT_EQ(offset_of(url), 1000u);
  EXPECT_EQ(patch(url, 1000, c2, {{"Upload-Checksum", "crc32 AAAAAA=="}}).status, 400);
  EXPECT_EQ(patch(url, 1000, c2, {{"Upload-Checksum", "md5 " + b64(crypto::md5(c2))}}).status, 204);
  auto last = patch(url, 2000, data.substr(2000),
                    {{"Upload-Checksum", "sha256 " + b64(crypto::sha256(data.substr(2000)))}});
  ASSERT_EQ(last.status, 204);
  EXPECT_EQ(content(last.header("upgate-file-id")), data);
}

TEST_F(TusTest, LimitsAndSingleUseGrants) {
  admin_request("PATCH", "/v1/admin/tenants/default/apps/default",
                R"({"quota":{"max_object_bytes":5000}})", 200);
  create({{"Upload-Length", "5001"}}, 413);
  const std::string deferred = create({{"Upload-Defer-Length", "1"}});
  EXPECT_EQ(patch(deferred, 0, std::string(5001, 'x')).status, 413);
  EXPECT_EQ(offset_of(deferred), 0u);

  // An app mints a grant for a browser: no API key, at most 100 bytes, once.
  auto g = admin_request("POST", "/v1/upload-grants", R"({"max_size":100,"ttl_seconds":600})", 201);
  const std::string grant = str(g, "grant");
  ASSERT_FALSE(grant.empty());
  EXPECT_EQ(g["max_size"].as_int64(), 100);
  const Headers by_grant = tus({{"Authorization", "Bearer " + grant}});
  auto big = by_grant;
  big.emplace_back("Upload-Length", "101");
  EXPECT_EQ(client_->request("POST", "/v1/tus/", big).status, 413);
  auto small = by_grant;
  small.emplace_back("Upload-Length", "10");
  auto first = client_->request("POST", "/v1/tus/", small);
  auto second = client_->request("POST", "/v1/tus/", small);
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(second.status, 201);
  auto done = patch(first.header("location"), 0, "0123456789");
  ASSERT_EQ(done.status, 204) << done.body;
  EXPECT_EQ(content(done.header("upgate-file-id")), "0123456789");
  EXPECT_EQ(patch(second.header("location"), 0, "0123456789").status, 403);  // used
  auto forged = tus({{"Authorization", "Bearer " + grant + "x"}, {"Upload-Length", "1"}});
  EXPECT_EQ(client_->request("POST", "/v1/tus/", forged).status, 401);
  advance_clock(601'000);
  EXPECT_EQ(client_->request("POST", "/v1/tus/", small).status, 401);  // expired
}

TEST_F(TusTest, AChunkCutOffMidBodyKeepsWhatArrived) {
  const std::string data = pattern_string(2'000'000);
  const std::string url = create(data.size());
  // Sends `sent` bytes of a PATCH body of `length` at `offset`, then goes away.
  auto cut = [&](uint64_t offset, uint64_t length, size_t sent) {
    int fd = client_->connect_socket();
    ASSERT_GE(fd, 0);
    const std::string headers = "PATCH " + url +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                                "Content-Type: application/offset+octet-stream\r\nUpload-Offset: " +
                                std::to_string(offset) +
                                "\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n";
    ASSERT_EQ(::write(fd, headers.data(), headers.size()), static_cast<ssize_t>(headers.size()));
    ASSERT_EQ(::write(fd, data.data() + offset, sent), static_cast<ssize_t>(sent));
    ::shutdown(fd, SHUT_WR);
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }  // the server is done with it once it closes
    ::close(fd);
  };
  // The whole upload in one body (no piece), cut: what came is kept all the same.
  cut(0, data.size(), 600'000);
  const uint64_t first = offset_of(url);
  EXPECT_GT(first, 0u);
  EXPECT_LE(first, 600'000u);
  // A chunk of it, cut.
  cut(first, 500'000, 200'000);
  const uint64_t second = offset_of(url);
  EXPECT_GT(second, first);
  EXPECT_LE(second, first + 200'000);
  auto p = patch(url, second, data.substr(second));
  ASSERT_EQ(p.status, 204) << p.body;
  EXPECT_EQ(content(p.header("upgate-file-id")), data);
}

TEST_F(TusTest, AcknowledgedChunksSurviveSigkill) {
  TempDir dir;
  start_server({}, dir.path());
  const std::string data = pattern_string(200'000);
  const std::string url = create(data.size());
  ASSERT_EQ(patch(url, 0, data.substr(0, 80'000)).status, 204);
  {
    // Another process sharing the stores takes the next chunk: the offset
    // this one remembers is stale, and a PATCH at it must still get 409.
    ServerProcess other({}, dir.path());
    other.start();
    HttpClient to_other(other.port());
    auto r = to_other.request(
        "PATCH", url,
        tus({{"Content-Type", "application/offset+octet-stream"}, {"Upload-Offset", "80000"}}),
        data.substr(80'000, 20'000));
    ASSERT_EQ(r.status, 204) << r.body;
  }
  EXPECT_EQ(patch(url, 80'000, data.substr(80'000, 20'000)).status, 409);
  server_->kill9();
  start_server({}, dir.path());
  EXPECT_EQ(offset_of(url), 100'000u);
  auto p = patch(url, 100'000, data.substr(100'000));
  ASSERT_EQ(p.status, 204) << p.body;
  EXPECT_EQ(content(p.header("upgate-file-id")), data);
}

TEST_F(TusTest, ExpiredUploadsAreCollectedByTheSweeper) {
  UP_SKIP_ON_S3_BLOBS("counts the files of the local blob folder");
  const std::string url = create(10'000);  // lives a day
  ASSERT_EQ(patch(url, 0, std::string(4000, 'a')).status, 204);
  ASSERT_FALSE(server_->blob_files().empty());
  admin_request("PATCH", "/v1/admin/tenants/default/apps/default",
                R"({"settings":{"tus":{"expires_seconds":3600}}})", 200);
  const std::string hour = create(10'000);
  ASSERT_EQ(patch(hour, 0, std::string(4000, 'a')).status, 204);
  advance_clock(3'601'000);
  EXPECT_EQ(head(hour).status, 410);
  EXPECT_EQ(head(url).status, 200);
  advance_clock(kDayMs);
  EXPECT_EQ(head(url).status, 410);
  EXPECT_EQ(patch(url, 4000, "b").status, 410);
  auto s = admin_request("POST", "/v1/admin/sweep", "{}", 200);
  EXPECT_GE(s["expired_objects"].as_int64(), 2);
  EXPECT_TRUE(server_->blob_files().empty());
  EXPECT_TRUE(server_->temp_files().empty());
}

// The real tus-js-client: 200 MiB generated in Node, the connection cut twice
// mid-upload by a proxy in the script; it must resume where the server says,
// not start over (tus-js-client silently restarts from 0 after a 4xx HEAD).
TEST_F(TusTest, TusJsClientResumesThroughTwoCuts) {
  constexpr uint64_t kSize = 200ull << 20, kChunk = 32ull << 20;
  int status = -1;
  const std::string out = run_command("cd " UPGATE_COMPAT_DIR " && node tus_resume.mjs 127.0.0.1:" +
                                          std::to_string(server_->port()) + " " +
                                          ServerProcess::kAdminKey + " " + std::to_string(kSize) +
                                          " " + std::to_string(kChunk) + " 50000000,150000000 2>&1",
                                      &status);
  ASSERT_EQ(status, 0) << out;
  auto o = parse(out.substr(out.find('{')));
  EXPECT_EQ(o["cuts"].as_int64(), 2);
  auto& offsets = o["headOffsets"].as_array();
  ASSERT_GE(offsets.size(), 2u) << out;  // one HEAD per cut, more after a 409
  for (auto& off : offsets) EXPECT_GT(off.as_int64(), 0) << out;
  // Each cut loses at most the chunk in flight and what sat in the sockets'
  // buffers (a slow server, e.g. under ASan, leaves more there). With the
  // server's HEAD offsets above, this shows the client resumed each time.
  constexpr uint64_t kSocketSlack = 4ull << 20;
  EXPECT_LT(static_cast<uint64_t>(o["bytesToServer"].as_int64()),
            kSize + 2 * (kChunk + kSocketSlack));
  const std::string url = str(o, "url");
  const std::string path = url.substr(url.find("/v1/tus/"));
  const std::string id = head(path).header("upgate-file-id");
  ASSERT_FALSE(id.empty()) << out;
  auto got = client_->download("/v1/files/" + id + "/content", admin());
  EXPECT_EQ(got.bytes, kSize);
  EXPECT_EQ(got.sha256, str(o, "sha256"));
}

}  // namespace
}  // namespace up::testing
