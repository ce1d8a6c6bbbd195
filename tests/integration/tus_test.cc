// tus 1.0.0 on the native API (/v1/tus/) against the real server: every
// extension and error, an interrupted chunk, a SIGKILL between chunks, a
// stalled chunk taken over (in one process, and by the stall limit across
// processes), expiry and the sweeper, upload grants, CORS, and the real
// tus-js-client resuming a 200 MiB upload through connection cuts and a stall
// (tests/compat/tus_resume.mjs).

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

constexpr int64_t kDayMs = 24 * 3'600'000;

std::string patch_head(const std::string& url, uint64_t offset, uint64_t length,
                       const std::string& extra = {}) {
  return "PATCH " + url +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
         "Content-Type: application/offset+octet-stream\r\nUpload-Offset: " +
         std::to_string(offset) + "\r\nContent-Length: " + std::to_string(length) + "\r\n" + extra +
         "\r\n";
}

// A PATCH whose connection stalls mid-body (a phone leaving Wi-Fi): the head
// and `sent` bytes of a body of `length` at `offset`, then nothing, the
// socket kept open.
class StalledPatch {
 public:
  StalledPatch(const HttpClient& client, const std::string& url, const std::string& data,
               uint64_t offset, uint64_t length, size_t sent)
      : fd_(client.connect_socket()) {
    EXPECT_GE(fd_, 0);
    const std::string bytes = patch_head(url, offset, length) + data.substr(offset, sent);
    EXPECT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ~StalledPatch() { ::close(fd_); }
  StalledPatch(const StalledPatch&) = delete;
  StalledPatch& operator=(const StalledPatch&) = delete;

  // Whether the server closes the connection within `ms` (what it sends
  // before is read and dropped).
  bool closed_by_server(int ms) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
  }

 private:
  int fd_;
};

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

  // tus-js-client uploading `size` bytes in `chunk`s through tests/compat/tus_resume.mjs (its
  // proxy breaks the connection as `cuts` says); its printed summary in `o`, all it printed in
  // `out`.
  void run_tus_resume(uint64_t size, uint64_t chunk, const std::string& cuts, std::string& out,
                      boost::json::object& o) {
    int status = -1;
    out = run_command("cd " UPGATE_COMPAT_DIR " && node tus_resume.mjs 127.0.0.1:" +
                          std::to_string(server_->port()) + " " + ServerProcess::kAdminKey + " " +
                          std::to_string(size) + " " + std::to_string(chunk) + " " + cuts + " 2>&1",
                      &status);
    ASSERT_EQ(status, 0) << out;
    o = parse(out.substr(out.find('{')));
  }
  // The upload tus_resume.mjs reported is a stored file of `size` bytes, with the client's hash.
  void expect_stored(const boost::json::object& o, uint64_t size, const std::string& out) {
    const std::string url = str(o, "url");
    const std::string id = head(url.substr(url.find("/v1/tus/"))).header("upgate-file-id");
    ASSERT_FALSE(id.empty()) << out;
    auto got = client_->download("/v1/files/" + id + "/content", admin());
    EXPECT_EQ(got.bytes, size);
    EXPECT_EQ(got.sha256, str(o, "sha256"));
  }

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
  // Waits until a stalled request that was sent the bytes up to `sent_to`
  // has opened its chunk and written them (all but what its 64 KiB buffer
  // holds) to the blobs on disk. (No files to watch on S3: a pause instead.)
  void wait_for_blob_bytes(const ServerProcess& server, uint64_t sent_to) {
    const uint64_t bytes = sent_to - 64 * 1024;
    if (blobs_are_s3()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      return;
    }
    namespace fs = std::filesystem;
    for (int i = 0; i < 1000; ++i) {
      uint64_t have = 0;
      std::error_code ec;
      for (fs::recursive_directory_iterator it(fs::path(server.data_dir()) / "blobs", ec), end;
           !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) have += it->file_size(ec);
      if (have >= bytes) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "the server never stored " << bytes << " bytes";
  }
  // The native file's bytes.
  std::string content(const std::string& file_id) {
    auto r = client_->request("GET", "/v1/files/" + file_id + "/content", admin());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  // Kills the server (SIGKILL) and starts another on its data: the upload is
  // at `offset`, and its rest completes it byte for byte.
  void expect_resumes_after_sigkill(const TempDir& dir, const std::string& url,
                                    const std::string& data, uint64_t offset) {
    server_->kill9();
    start_server({}, dir.path());
    EXPECT_EQ(offset_of(url), offset);
    auto p = patch(url, offset, data.substr(offset));
    ASSERT_EQ(p.status, 204) << p.body;
    EXPECT_EQ(content(p.header("upgate-file-id")), data);
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

// A client whose connection stalls mid-PATCH (its network changed) resumes at
// once on a new one: HEAD, then PATCH at the offset HEAD gave. The stalled
// request is asked to stop (on its own I/O thread), lets go of the upload
// and is closed; the new PATCH proceeds within the bounded wait, where
// before it got 409 until the idle timeout. The stalled request's bytes were
// never acknowledged and the new PATCH sends them again: none are kept.
TEST_F(TusTest, AStalledChunkIsTakenOverByTheNextPatch) {
  // Two I/O threads, given new connections in turn; an idle timeout far past
  // every wait here, so it cannot be what ends the stalled requests.
  start_server({"--threads", "2", "--idle-timeout-ms", "600000"});
  const std::string data = pattern_string(3'000'000);
  const std::string url = create(data.size());
  ASSERT_EQ(patch(url, 0, data.substr(0, 1'000'000)).status, 204);
  {
    // The next connection is on the other I/O thread: HEAD and PATCH on it,
    // pipelined.
    StalledPatch stalled(*client_, url, data, 1'000'000, 1'000'000, 400'000);
    wait_for_blob_bytes(*server_, 1'400'000);
    const std::string head_request = "HEAD " + url +
                                     " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Tus-Resumable: 1.0.0\r\n\r\n";
    const std::string out =
        client_->raw(head_request + patch_head(url, 1'000'000, 1'000'000, "Connection: close\r\n") +
                         data.substr(1'000'000, 1'000'000),
                     30'000);
    ASSERT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
    EXPECT_NE(out.find("Upload-Offset: 1000000\r\n"), std::string::npos) << out;
    const size_t second = out.find("HTTP/1.1 ", 1);
    ASSERT_NE(second, std::string::npos) << out;
    EXPECT_TRUE(out.substr(second).starts_with("HTTP/1.1 204")) << out;
    EXPECT_NE(out.find("Upload-Offset: 2000000\r\n", second), std::string::npos) << out;
    EXPECT_TRUE(stalled.closed_by_server(30'000));
  }
  {
    // HEAD and PATCH on connections of their own: the PATCH's is on the
    // stalled request's thread this time.
    StalledPatch stalled(*client_, url, data, 2'000'000, 1'000'000, 300'000);
    wait_for_blob_bytes(*server_, 2'300'000);
    EXPECT_EQ(offset_of(url), 2'000'000u);
    auto p = patch(url, 2'000'000, data.substr(2'000'000));
    ASSERT_EQ(p.status, 204) << p.body;
    EXPECT_TRUE(stalled.closed_by_server(30'000));
    EXPECT_EQ(content(p.header("upgate-file-id")), data);
  }
}

// A takeover at another offset than the stalled chunk's keeps what the
// stalled request got, like any cut chunk, and checks the offset against it:
// 409, then HEAD gives the new offset. A DELETE takes over too.
TEST_F(TusTest, ATakeoverAtAnotherOffsetKeepsTheStalledBytes) {
  start_server({"--idle-timeout-ms", "600000"});
  const std::string data = pattern_string(1'000'000);
  const std::string url = create(data.size());
  ASSERT_EQ(patch(url, 0, data.substr(0, 100'000)).status, 204);
  {
    StalledPatch stalled(*client_, url, data, 100'000, 500'000, 200'000);
    wait_for_blob_bytes(*server_, 300'000);
    EXPECT_EQ(patch(url, 0, data).status, 409);  // a stale offset
    EXPECT_TRUE(stalled.closed_by_server(30'000));
  }
  EXPECT_EQ(offset_of(url), 300'000u);
  {
    StalledPatch stalled(*client_, url, data, 300'000, 500'000, 100'000);
    wait_for_blob_bytes(*server_, 400'000);
    EXPECT_EQ(client_->request("DELETE", url, tus()).status, 204);
    EXPECT_TRUE(stalled.closed_by_server(30'000));
  }
  EXPECT_EQ(head(url).status, 404);
}

// Across processes the stalled request cannot be told: the app's stall limit
// ({"tus": {"stall_seconds": N}}) ends its body after N s without a byte,
// keeping what arrived, and the other process's client resumes from there.
TEST_F(TusTest, TheStallLimitFreesAnUploadForAnotherProcess) {
  UP_SKIP_ON_S3_BLOBS("only the local store's staged blob is locked across processes");
  TempDir dir;
  start_server({"--idle-timeout-ms", "600000"}, dir.path());
  admin_request("PATCH", "/v1/admin/tenants/default/apps/default",
                R"({"settings":{"tus":{"stall_seconds":2}}})", 200);
  ServerProcess other({"--idle-timeout-ms", "600000"}, dir.path());
  other.start();
  HttpClient to_other(other.port());
  const std::string data = pattern_string(1'000'000);
  const std::string url = create(data.size());
  ASSERT_EQ(patch(url, 0, data.substr(0, 100'000)).status, 204);
  StalledPatch stalled(*client_, url, data, 100'000, 500'000, 200'000);
  wait_for_blob_bytes(*server_, 300'000);
  auto patch_other = [&](uint64_t offset) {
    return to_other.request("PATCH", url,
                            tus({{"Content-Type", "application/offset+octet-stream"},
                                 {"Upload-Offset", std::to_string(offset)}}),
                            data.substr(offset));
  };
  // Locked by the stalled request (or, past its limit, at another offset).
  EXPECT_EQ(patch_other(100'000).status, 409);
  uint64_t offset = 100'000;
  for (int i = 0; i < 300 && offset == 100'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto h = to_other.request("HEAD", url, tus());
    ASSERT_EQ(h.status, 200);
    offset = std::stoull(h.header("upload-offset"));
  }
  EXPECT_EQ(offset, 300'000u);  // everything the stalled request got
  EXPECT_TRUE(stalled.closed_by_server(30'000));
  auto p = patch_other(offset);
  ASSERT_EQ(p.status, 204) << p.body;
  EXPECT_EQ(content(p.header("upgate-file-id")), data);
}

// The stall limit counts time without a byte, not a chunk's duration: a
// client sending slowly, a byte well within the limit each time, is never cut.
TEST_F(TusTest, TheStallLimitSparesASlowClient) {
  admin_request("PATCH", "/v1/admin/tenants/default/apps/default",
                R"({"settings":{"tus":{"stall_seconds":2}}})", 200);
  const std::string data = pattern_string(60'000);
  const std::string url = create(data.size());
  int fd = client_->connect_socket();
  ASSERT_GE(fd, 0);
  const std::string head = patch_head(url, 0, data.size(), "Connection: close\r\n");
  ASSERT_EQ(::write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  // Six pieces half a second apart: three seconds in all, past the limit.
  for (size_t at = 0; at < data.size(); at += 10'000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_EQ(::write(fd, data.data() + at, 10'000), 10'000);
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 204")) << out;
  EXPECT_EQ(offset_of(url), data.size());
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
  expect_resumes_after_sigkill(dir, url, data, 100'000);
}

// A chunk of the staged blob commits in one trip to the blocking pool (the
// blob's sync, then the piece's row; core::Upload::commit): every chunk
// acknowledged is still there after a SIGKILL.
TEST_F(TusTest, ChunksCommittedInOneTripSurviveSigkill) {
  TempDir dir;
  start_server({}, dir.path());
  const std::string data = pattern_string(250'000);
  const std::string url = create(data.size());
  for (uint64_t at = 0; at < 200'000; at += 50'000)
    ASSERT_EQ(patch(url, at, data.substr(at, 50'000)).status, 204) << at;
  expect_resumes_after_sigkill(dir, url, data, 200'000);
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
  std::string out;
  boost::json::object o;
  ASSERT_NO_FATAL_FAILURE(run_tus_resume(kSize, kChunk, "50000000,150000000", out, o));
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
  expect_stored(o, kSize, out);
}

// The real tus-js-client with its default retryDelays (0, 1, 3, 5 s), in
// 16 MiB chunks: its connection breaks in the third chunk (a staged one,
// locked by the request writing it) while the server's side stays open and
// silent. It resumes at once (HEAD, PATCH), takes the upload over from the
// stalled request and finishes; before takeovers its PATCHes got 409 until it
// gave up (after 9 s, well before the idle timeout let go of the upload).
TEST_F(TusTest, TusJsClientResumesAfterAStall) {
  start_server({"--idle-timeout-ms", "600000"});
  constexpr uint64_t kSize = 64ull << 20;
  std::string out;
  boost::json::object o;
  ASSERT_NO_FATAL_FAILURE(run_tus_resume(kSize, kSize / 4, "40000000 stall", out, o));
  EXPECT_EQ(o["cuts"].as_int64(), 1);
  EXPECT_EQ(o["stalledClosedByServer"].as_int64(), 1) << out;
  EXPECT_GE(o["headOffsets"].as_array().size(), 1u) << out;
  expect_stored(o, kSize, out);
}

}  // namespace
}  // namespace up::testing
