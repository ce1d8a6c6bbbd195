// The bad-input suite: hostile and malformed HTTP against the real server
// binary. Every case must get a clear 4xx (or a closed connection where HTTP
// requires one), the server must keep serving other clients, and nothing
// stored may change: each test compares every database row, the blob files
// and both dialects' listings before and after.

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <boost/json.hpp>

#include "core/text.h"
#include "integration/harness.h"

namespace up::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kAppKey = "115cc609860982ede0e3bdd4";
constexpr int kHeaderTimeoutMs = 1500;
const std::string kBoundary = "------------------------6fd6ff237027ae34";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Every row of every table, sorted: what "nothing stored changed" compares.
std::string dump_database(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close(db);
    return {};
  }
  auto rows = [&](const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
      return out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* text = sqlite3_column_text(st, i);
        row += text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(st, i))
                    : "NULL";
        row += '|';
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    std::sort(out.begin(), out.end());
    return out;
  };
  std::string dump;
  for (const std::string& table : rows("SELECT name FROM sqlite_master WHERE type = 'table'")) {
    const std::string name = table.substr(0, table.size() - 1);
    dump += "== " + name + "\n";
    for (const std::string& row : rows("SELECT * FROM \"" + name + "\"")) dump += row + "\n";
  }
  sqlite3_close(db);
  return dump;
}

// The same over the server's PostgreSQL schema (UPGATE_TEST_META=postgres),
// but for the rate-limit counters and the sweeper's lease: every request and
// sweep moves them (on SQLite they live in the process), and no client sees them.
std::string dump_postgres(const std::string& data_dir) {
  const std::string url = meta_url_for(data_dir);
  std::string dump;
  for (const std::string& table :
       pg_rows(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = '" +
                        meta_schema_for(data_dir) +
                        "' AND table_name NOT IN ('rate_windows', 'leases') ORDER BY 1")) {
    dump += "== " + table + "\n";
    auto rows = pg_rows(url, "SELECT t::text FROM \"" + table + "\" t");
    std::sort(rows.begin(), rows.end());
    for (const std::string& row : rows) dump += row + "\n";
  }
  return dump;
}

// Percent-encodes everything but unreserved characters.
std::string pct(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// What came back on a connection the test wrote raw bytes to.
struct RawReply {
  std::string bytes;
  bool closed = false;  // the server closed (rather than the wait timing out)
  int status() const { return bytes.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(bytes.c_str() + 9) : 0; }
  // Status lines in the reply: a smuggled second request would add one.
  int responses() const {
    int n = 0;
    for (size_t at = 0; (at = bytes.find("HTTP/1.1 ", at)) != std::string::npos; ++at)
      if (at == 0 || bytes[at - 1] == '\n') ++n;
    return n;
  }
};

void send_all(int fd, const std::string& bytes) {
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server stopped reading: its answer tells why
    off += static_cast<size_t>(n);
  }
}

// Reads until the server closes `fd` or `timeout` passes.
RawReply read_until_close(int fd, std::chrono::milliseconds timeout) {
  RawReply r;
  const auto deadline = Clock::now() + timeout;
  char buf[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return r;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return r;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.closed = true;
      return r;
    }
    r.bytes.append(buf, static_cast<size_t>(n));
  }
}

class BadInputTest : public ServerTest {
 protected:
  void SetUp() override {
    start_server({"--header-timeout-ms", std::to_string(kHeaderTimeoutMs)});
    // A JPush app whose rate limit stays out of the way, and a file in each dialect.
    ASSERT_EQ(client_->request("POST", "/v1/admin/tenants", admin(), R"({"id":"acme"})").status,
              201);
    const std::string app = std::string(R"({"id":")") + kAppKey +
                            R"(","dialect":"jpush","settings":{"rate_limit_per_minute":1000000}})";
    ASSERT_EQ(client_->request("POST", "/v1/admin/tenants/acme/apps", admin(), app).status, 201);
    auto key = client_->request("POST", "/v1/admin/tenants/acme/keys", admin(),
                                std::string(R"({"name":"master","app_id":")") + kAppKey + R"("})");
    ASSERT_EQ(key.status, 201) << key.body;
    jpush_basic_ = "Basic " + base64(std::string(kAppKey) + ":" + str(parse(key.body), "token"));
    kept_content_ = pattern_string(70000);
    auto kept = client_->request("POST", "/v1/files?name=kept.bin", admin(), kept_content_);
    ASSERT_EQ(kept.status, 201) << kept.body;
    kept_id_ = str(parse(kept.body), "id");
    ASSERT_EQ(jpush_upload("registration_id", "ids.txt", "1a0018970a1b2c3\n").status, 200);
    before_ = snapshot();
  }

  std::string admin_line() const {
    return "Authorization: Bearer " + std::string(ServerProcess::kAdminKey) + "\r\n";
  }
  std::string jpush_line() const { return "Authorization: " + jpush_basic_ + "\r\n"; }

  // Writes `bytes` on a new connection and reads what comes back until the
  // server closes it (or 5 s pass: the server must close sooner).
  RawReply exchange(const std::string& bytes) const {
    const int fd = client_->connect_socket();
    if (fd < 0) return {};
    send_all(fd, bytes);
    RawReply r = read_until_close(fd, 5s);
    ::close(fd);
    return r;
  }

  HttpResponse jpush_upload(const std::string& type, const std::string& filename,
                            const std::string& content, const std::string& ttl = "24") const {
    const std::string body =
        "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"ttl\"\r\n\r\n" + ttl +
        "\r\n" + multipart_body(kBoundary, "filename", filename, "text/plain", content);
    Headers h = {{"Authorization", jpush_basic_},
                 {"Content-Type", "multipart/form-data; boundary=" + kBoundary}};
    return client_->request("POST", "/v3/files/" + type, h, body);
  }

  HttpResponse jpush(const std::string& method, const std::string& target) const {
    return client_->request(method, target, {{"Authorization", jpush_basic_}});
  }

  // Everything a client could observe as stored.
  std::string snapshot() const {
    std::string s = meta_is_postgres() ? dump_postgres(server_->data_dir())
                                       : dump_database(server_->data_dir() + "/upgate.db");
    auto blobs = server_->blob_files();
    std::sort(blobs.begin(), blobs.end());
    s += "== blobs\n";
    for (auto& b : blobs) s += b + "\n";
    s += "== temp files: " + std::to_string(server_->temp_files().size()) + "\n";
    s += "== GET /v1/files\n" + client_->request("GET", "/v1/files", admin()).body + "\n";
    s += "== GET /v3/files\n" + jpush("GET", "/v3/files").body + "\n";
    return s;
  }

  // The server answers others: health, and the kept file byte for byte.
  void expect_serving() const {
    auto health = client_->request("GET", "/healthz");
    EXPECT_EQ(health.status, 200);
    auto got = client_->request("GET", "/v1/files/" + kept_id_ + "/content", admin());
    EXPECT_EQ(got.status, 200);
    EXPECT_TRUE(got.body == kept_content_);
  }

  // Nothing stored changed since SetUp, and a new upload still round-trips.
  void expect_unchanged_and_serving() const {
    EXPECT_EQ(snapshot(), before_);
    expect_serving();
    const std::string content = pattern_string(100000);
    auto up = client_->request("POST", "/v1/files?name=after.bin", admin(), content);
    ASSERT_EQ(up.status, 201) << up.body;
    auto got =
        client_->request("GET", "/v1/files/" + str(parse(up.body), "id") + "/content", admin());
    EXPECT_TRUE(got.body == content);
  }

  std::string jpush_basic_;  // "Basic <app key:secret>"
  std::string kept_id_, kept_content_;
  std::string before_;
};

// Native error envelope {"code":N,...}: N, or -1.
int64_t native_code(const HttpResponse& r) {
  auto o = parse(r.body);
  auto* c = o.if_contains("code");
  return c && c->is_int64() ? c->as_int64() : -1;
}

TEST_F(BadInputTest, OversizedHeadersAre431AndClose) {
  const std::string big(20 * 1024, 'a');
  std::string many;  // 10,000 header lines, ~90 KB
  for (int i = 0; i < 10000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  const std::vector<std::string> requests = {
      "GET /v1/files HTTP/1.1\r\nHost: x\r\n" + admin_line() + "X-Big: " + big + "\r\n\r\n",
      "POST /v1/files?name=" + big + " HTTP/1.1\r\nHost: x\r\n" + admin_line() +
          "Content-Length: 3\r\n\r\nabc",
      "POST /v1/files?name=many HTTP/1.1\r\nHost: x\r\n" + admin_line() + many +
          "Content-Length: 3\r\n\r\nabc",
      "GET /v3/files HTTP/1.1\r\nHost: x\r\n" + jpush_line() + many + "\r\n",
  };
  for (const auto& req : requests) {
    RawReply r = exchange(req);
    EXPECT_EQ(r.status(), 431) << r.bytes.substr(0, 200);
    EXPECT_EQ(r.responses(), 1);
    EXPECT_TRUE(r.closed);
  }
  expect_unchanged_and_serving();
}

TEST_F(BadInputTest, MalformedRequestLinesAndHeadersAre400AndClose) {
  // Each would upload a file if the server took it.
  const std::string upload = "POST /v1/files?name=taken HTTP/1.1\r\nHost: x\r\n" + admin_line();
  const std::vector<std::string> requests = {
      upload + "NoColonHere\r\nContent-Length: 3\r\n\r\nabc",
      upload + ": no-name\r\nContent-Length: 3\r\n\r\nabc",
      upload + "Bad Name: v\r\nContent-Length: 3\r\n\r\nabc",
      upload + "X-Nul: a" + std::string(1, '\0') + "b\r\nContent-Length: 3\r\n\r\nabc",
      upload +
          "X-Ctl: a\x01"
          "b\r\nContent-Length: 3\r\n\r\nabc",
      upload + "Content-Length: 3\r\n\x01\r\n\r\nabc",
      "POST /v1/files?name=a" + std::string(1, '\0') + "b HTTP/1.1\r\nHost: x\r\n" + admin_line() +
          "Content-Length: 3\r\n\r\nabc",
      "POST /v1/files?name=a b HTTP/1.1\r\nHost: x\r\n" + admin_line() +
          "Content-Length: 3\r\n\r\nabc",
      "POST /v1/files?name=a HTTP/1.1 extra\r\nHost: x\r\n" + admin_line() +
          "Content-Length: 3\r\n\r\nabc",
      "POST /v1/files?name=a HTTP/1.x\r\nHost: x\r\n" + admin_line() +
          "Content-Length: 3\r\n\r\nabc",
      "PO(ST /v1/files?name=a HTTP/1.1\r\nHost: x\r\n" + admin_line() +
          "Content-Length: 3\r\n\r\nabc",
      "POST /v3/files/alias HTTP/1.1\r\nHost: x\r\n" + jpush_line() + "NoColon\r\n\r\n",
  };
  for (const auto& req : requests) {
    RawReply r = exchange(req);
    EXPECT_EQ(r.status(), 400) << ::testing::PrintToString(req.substr(0, 60)) << " -> "
                               << r.bytes.substr(0, 200);
    EXPECT_EQ(r.responses(), 1);
    EXPECT_TRUE(r.closed);
  }
  expect_unchanged_and_serving();
}

TEST_F(BadInputTest, RequestSmugglingShapesAre400AndClose) {
  // The body ends a chunked message early and smuggles a second request in;
  // whoever reads the framing differently answers that one too.
  const std::string smuggled =
      "GET /v1/files/" + kept_id_ + " HTTP/1.1\r\nHost: x\r\n" + admin_line() + "\r\n";
  const std::string body = "0\r\n\r\n" + smuggled;
  const std::string cl = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  const std::string head = "POST /v1/files?name=smuggled HTTP/1.1\r\nHost: x\r\n" + admin_line();
  const std::vector<std::string> framings = {
      cl + "Transfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked\r\n" + cl,
      "Transfer-Encoding:\tchunked\r\n" + cl,
      "Content-Length: 5\r\n" + cl,
      cl + cl,  // identical duplicates: refused too
      "Content-Length: 5, " + std::to_string(body.size()) + "\r\n",
      "Content-Length: " + std::to_string(body.size()) + ", " + std::to_string(body.size()) +
          "\r\n",
      "Content-Length: +5\r\n",
      "Content-Length: -5\r\n",
      "Content-Length: 0x5\r\n",
      "Content-Length: 5 5\r\n",
      "Content-Length: 99999999999999999999999\r\n",
      "Content-Length:\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked, identity\r\n",
      "Transfer-Encoding: identity\r\n" + cl,
      "Transfer-Encoding: xchunked\r\n",
      "Transfer-Encoding : chunked\r\n",
      "Transfer-Encoding: chunked\r\nHost: y\r\n",  // a second Host
  };
  for (const auto& framing : framings) {
    RawReply r = exchange(head + framing + "\r\n" + body);
    EXPECT_EQ(r.status(), 400) << ::testing::PrintToString(framing) << " -> "
                               << r.bytes.substr(0, 300);
    EXPECT_EQ(r.responses(), 1) << ::testing::PrintToString(framing);
    EXPECT_TRUE(r.closed) << ::testing::PrintToString(framing);
  }
  // Transfer-Encoding in HTTP/1.0, and HTTP/1.1 without Host.
  RawReply r = exchange("POST /v1/files?name=smuggled HTTP/1.0\r\nHost: x\r\n" + admin_line() +
                        "Transfer-Encoding: chunked\r\n\r\n" + body);
  EXPECT_EQ(r.status(), 400) << r.bytes.substr(0, 300);
  EXPECT_EQ(r.responses(), 1);
  r = exchange("POST /v1/files?name=smuggled HTTP/1.1\r\n" + admin_line() + cl + "\r\n" + body);
  EXPECT_EQ(r.status(), 400) << r.bytes.substr(0, 300);
  EXPECT_EQ(r.responses(), 1);
  expect_unchanged_and_serving();
}

TEST_F(BadInputTest, InvalidChunkedBodiesAre400AndClose) {
  const std::string ext(1 << 20, 'e');  // a 1 MiB chunk extension
  std::string trailers;                 // 1 MiB of trailer fields
  while (trailers.size() < (1u << 20)) trailers += "X-Trailer: " + std::string(100, 't') + "\r\n";
  const std::vector<std::string> bodies = {
      "zz\r\nabc\r\n0\r\n\r\n",
      "-3\r\nabc\r\n0\r\n\r\n",
      "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
      "3\r\nabcXY0\r\n\r\n",  // no CRLF after the chunk data
      "3;" + ext + "\r\nabc\r\n0\r\n\r\n",
      "3\r\nabc\r\n0\r\n" + trailers + "\r\n",
  };
  for (const auto& body : bodies) {
    RawReply r = exchange("POST /v1/files?name=chunked HTTP/1.1\r\nHost: x\r\n" + admin_line() +
                          "Transfer-Encoding: chunked\r\n\r\n" + body);
    EXPECT_EQ(r.status(), 400) << ::testing::PrintToString(body.substr(0, 40)) << " -> "
                               << r.bytes.substr(0, 300);
    EXPECT_NE(r.bytes.find("\"code\":1000"), std::string::npos)
        << r.bytes.substr(0, 300);  // native envelope
    EXPECT_EQ(r.responses(), 1);
    EXPECT_TRUE(r.closed);
    // The same through the JPush form upload, answered in its envelope.
    r = exchange("POST /v3/files/alias HTTP/1.1\r\nHost: x\r\n" + jpush_line() +
                 "Content-Type: multipart/form-data; boundary=" + kBoundary +
                 "\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
    EXPECT_EQ(r.status(), 400) << r.bytes.substr(0, 300);
    EXPECT_NE(r.bytes.find("{\"error\":{\"code\""), std::string::npos) << r.bytes.substr(0, 300);
    EXPECT_TRUE(r.closed);
  }
  expect_unchanged_and_serving();
}

TEST_F(BadInputTest, SlowlorisIsCutOffWhileOthersAreServed) {
  // Connections trickling their headers one byte a second: fresh ones, and one
  // that finished a first request and trickles its second.
  struct Slow {
    int fd = -1;
    std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t sent = 0;
    Clock::time_point first_byte;
    RawReply reply;
    double closed_after = -1;  // seconds from the first byte
  };
  std::vector<Slow> slow(8);
  for (auto& s : slow) ASSERT_GE(s.fd = client_->connect_socket(), 0);
  {
    const std::string first = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(slow.back().fd, first);
    char buf[512];
    ASSERT_GT(::recv(slow.back().fd, buf, sizeof buf, 0), 0);
    ASSERT_EQ(std::string(buf, 12), "HTTP/1.1 200");
  }
  std::atomic<bool> done{false};
  std::thread trickler([&] {
    const auto start = Clock::now();
    while (seconds_since(start) < 8) {
      bool open = false;
      for (auto& s : slow) {
        if (s.closed_after >= 0) continue;
        open = true;
        if (s.sent == 0) s.first_byte = Clock::now();
        if (s.sent < s.request.size()) send_all(s.fd, s.request.substr(s.sent++, 1));
      }
      if (!open) break;
      // Wait a second, noticing closes as they happen.
      const auto tick = Clock::now();
      while (seconds_since(tick) < 1.0) {
        std::vector<pollfd> fds;
        for (auto& s : slow)
          if (s.closed_after < 0) fds.push_back({s.fd, POLLIN, 0});
        if (fds.empty()) break;
        if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
        for (auto& p : fds) {
          if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
          auto& s =
              *std::find_if(slow.begin(), slow.end(), [&](const Slow& x) { return x.fd == p.fd; });
          char buf[4096];
          const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
          if (n > 0) s.reply.bytes.append(buf, static_cast<size_t>(n));
          else s.closed_after = seconds_since(s.first_byte);
        }
      }
    }
    done = true;
  });
  // Meanwhile others are served, promptly.
  int served = 0;
  while (!done) {
    const auto t = Clock::now();
    expect_serving();
    EXPECT_LT(seconds_since(t), 1.0);
    ++served;
    std::this_thread::sleep_for(100ms);
  }
  trickler.join();
  EXPECT_GT(served, 5);
  for (auto& s : slow) {
    ::close(s.fd);
    EXPECT_GE(s.closed_after, kHeaderTimeoutMs / 1000.0 - 1.0) << "cut off too early";
    EXPECT_LE(s.closed_after, kHeaderTimeoutMs / 1000.0 + 1.5) << "not cut off in time";
    EXPECT_LT(s.sent, s.request.size());
    // 408 once some of the header has come, as here.
    EXPECT_EQ(s.reply.status(), 408) << s.reply.bytes;
  }
  expect_unchanged_and_serving();
}

TEST_F(BadInputTest, TwoThousandIdleConnectionsDoNotStarveAFreshClient) {
  constexpr int kIdle = 2000;
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < kIdle + 200)
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low";
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(lim.rlim_max, 65536);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  // Default timeouts (10 s for a first request's header), so they stay open.
  ServerProcess server;
  server.start();
  HttpClient client(server.port());

  std::vector<int> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    const int fd = client.connect_socket();
    ASSERT_GE(fd, 0) << "connection " << i;
    idle.push_back(fd);
  }
  const auto t = Clock::now();
  EXPECT_EQ(client.request("GET", "/healthz").status, 200);
  EXPECT_LT(seconds_since(t), 1.0);
  const std::string content = pattern_string(300000);
  auto up =
      client.request("POST", "/v1/files?name=fresh.bin", bearer(ServerProcess::kAdminKey), content);
  ASSERT_EQ(up.status, 201) << up.body;
  auto got = client.request("GET", "/v1/files/" + str(parse(up.body), "id") + "/content",
                            bearer(ServerProcess::kAdminKey));
  EXPECT_TRUE(got.body == content);
  EXPECT_LT(seconds_since(t), 3.0);

  // The server kept every one of them: each is answered when it finally asks.
  for (int fd : idle) send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  int answered = 0;
  for (int fd : idle) {
    RawReply r = read_until_close(fd, 5s);
    if (r.status() == 200) ++answered;
    ::close(fd);
  }
  EXPECT_EQ(answered, kIdle);
}

TEST_F(BadInputTest, PathTraversalAndNulInNamesAndKeysAre4xx) {
  // File names (native raw and multipart, JPush form).
  for (const std::string& name :
       std::vector<std::string>{"../../etc/passwd", "a/../../b", "..\\..\\win.ini", "..",
                                std::string("a\0b", 3), std::string("\0", 1)}) {
    auto r = client_->request("POST", "/v1/files?name=" + pct(name), admin(), "data");
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(name) << r.body;
    EXPECT_EQ(native_code(r), 1004) << r.body;
    Headers h = admin();
    h.emplace_back("Content-Type", "multipart/form-data; boundary=" + kBoundary);
    r = client_->request("POST", "/v1/files", h,
                         multipart_body(kBoundary, "file", name, "text/plain", "data"));
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(name) << r.body;
    r = jpush_upload("alias", name, "alias-one\n");
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(name) << r.body;
  }
  // Ids and keys in paths never reach outside their table.
  const std::vector<std::string> ids = {"..%2F..%2Fupgate.db", "..", "%2e%2e", "a%00b", "%00",
                                        "..%5C..%5Cx"};
  for (const auto& id : ids) {
    EXPECT_EQ(client_->request("GET", "/v1/files/" + id, admin()).status, 404) << id;
    EXPECT_EQ(client_->request("GET", "/v1/files/" + id + "/content", admin()).status, 404) << id;
    EXPECT_EQ(client_->request("GET", "/v1/admin/tenants/" + id, admin()).status, 404) << id;
    EXPECT_EQ(client_->request("POST", "/v1/admin/keys/" + id + "/disable", admin(), "").status,
              404)
        << id;
    EXPECT_EQ(client_->request("DELETE", "/v1/admin/keys/" + id, admin()).status, 404) << id;
    EXPECT_EQ(jpush("GET", "/v3/files/" + id).status, 400) << id;  // JPush's "file not found"
  }
  EXPECT_EQ(client_->request("GET", "/v1/files/../../upgate.db", admin()).status, 404);
  EXPECT_EQ(
      client_->request("GET", "/v1/files/" + kept_id_ + "/../../../upgate.db", admin()).status,
      404);
  EXPECT_EQ(client_->request("POST", "/v1/files?app=..%2Fdefault&name=a", admin(), "data").status,
            404);
  // Ids in JSON bodies.
  for (const std::string id : {"../evil", "a/b", "..", "a\\u0000b"}) {
    const std::string body = R"({"id":")" + id + R"("})";
    EXPECT_EQ(client_->request("POST", "/v1/admin/tenants", admin(), body).status, 400) << body;
    EXPECT_EQ(client_->request("POST", "/v1/admin/tenants/acme/apps", admin(), body).status, 400)
        << body;
  }
  expect_unchanged_and_serving();
}

// Issue 12 item 2: a content type goes back verbatim into Content-Type (file
// content, unauthenticated signed links), so one holding CR LF would add
// headers (Set-Cookie) or a whole body of the attacker's. Every source is
// refused with 400/1008 and nothing is stored.
TEST_F(BadInputTest, ContentTypeInjectionIsRefusedAndNothingStored) {
  auto clean = [](const HttpResponse& r) {
    EXPECT_EQ(r.header("set-cookie"), "");
    EXPECT_EQ(r.body.find("<script>"), std::string::npos);
  };
  // ?content_type=, percent-decoded.
  for (const std::string q :
       {"text/plain%0d%0aSet-Cookie:%20pwn=1",
        "text/html%0d%0aContent-Length:%2025%0d%0a%0d%0a%3Cscript%3Ealert(1)%3C/script%3E",
        "text/plain%0aX:%20y", "text/plain%00", "text/plain;%20x=%ff%fe", "text", "text/",
        "text/plain;%20a=%22unterminated", "text/plain;%20charset"}) {
    auto r = client_->request("POST", "/v1/files?name=a.txt&content_type=" + q, admin(), "x");
    EXPECT_EQ(r.status, 400) << q << r.body;
    EXPECT_EQ(native_code(r), 1008) << q << r.body;
    clean(r);
  }
  // A raw body's own Content-Type header (issue 12 item 4's repro), also
  // when it is over the length cap.
  for (const std::string& ct :
       {std::string("text/plain; x=\xff\xfe"), std::string("text/plain; a=\"\xc3\xa4\""),
        std::string("text"), "text/plain; a=" + std::string(300, 'b')}) {
    Headers h = admin();
    h.emplace_back("Content-Type", ct);
    auto r = client_->request("POST", "/v1/files?name=a.txt", h, "x");
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(ct) << r.body;
    EXPECT_EQ(native_code(r), 1008) << r.body;
  }
  // A multipart file part's Content-Type (native), and JPush's form.
  for (const std::string& ct :
       {std::string("text/plain; x=\xff\xfe"), std::string("text/html; a=\"b"),
        std::string("no-subtype"), std::string("text/plain\x01")}) {
    Headers h = admin();
    h.emplace_back("Content-Type", "multipart/form-data; boundary=" + kBoundary);
    auto r = client_->request("POST", "/v1/files", h,
                              multipart_body(kBoundary, "file", "a.txt", ct, "data"));
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(ct) << r.body;
    EXPECT_EQ(native_code(r), 1008) << r.body;
    const std::string body =
        "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"ttl\"\r\n\r\n24\r\n" +
        multipart_body(kBoundary, "filename", "ids.txt", ct, "1a0018970a1b2c3\n");
    r = client_->request("POST", "/v3/files/alias",
                         {{"Authorization", jpush_basic_},
                          {"Content-Type", "multipart/form-data; boundary=" + kBoundary}},
                         body);
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(ct) << r.body;
    EXPECT_EQ(parse(r.body)["error"].at("code").as_int64(), 1103) << r.body;
  }
  expect_unchanged_and_serving();
}

// Issue 12 item 5: C1 controls (U+0080-U+009F; NEL is a line break to some
// clients) are control characters like C0.
TEST_F(BadInputTest, C1ControlsInNamesAreRefused) {
  for (const std::string name : {"a%c2%85b", "%c2%80", "x%c2%9f"}) {
    auto r = client_->request("POST", "/v1/files?name=" + name, admin(), "data");
    EXPECT_EQ(r.status, 400) << name << r.body;
    EXPECT_EQ(native_code(r), 1004) << r.body;
  }
  Headers h = admin();
  h.emplace_back("Content-Type", "multipart/form-data; boundary=" + kBoundary);
  auto r = client_->request("POST", "/v1/files", h,
                            multipart_body(kBoundary, "file",
                                           "a\xc2\x85"
                                           "b.txt",
                                           "text/plain", "data"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(native_code(r), 1004) << r.body;
  r = jpush_upload("alias",
                   "a\xc2\x85"
                   "b.txt",
                   "alias-one\n");
  EXPECT_EQ(r.status, 400) << r.body;
  expect_unchanged_and_serving();
}

// The second wall: a stored value that would split a response (left by an
// older version, or a path a dialect forgot to check) is never sent as a
// header; the server answers 500 and logs why. And every JSON answer is
// valid UTF-8 whatever bytes are stored (issue 12 item 4).
TEST_F(BadInputTest, StoredControlBytesNeverReachAResponseHeader) {
  auto up = client_->request("POST", "/v1/files?name=legacy.txt", admin(), "legacy");
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string id = str(parse(up.body), "id");
  auto made = client_->request("POST", "/v1/files/" + id + "/link?ttl=60", admin());
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string url = str(parse(made.body), "url");
  const std::string link = url.substr(url.find("/v1/links/"));
  auto set_content_type = [&](const std::string& value) {
    if (meta_is_postgres()) {
      std::string quoted;  // standard_conforming_strings: only ' is special
      for (char c : value) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      pg_rows(meta_url_for(server_->data_dir()),
              "UPDATE objects SET content_type = '" + quoted + "' WHERE id = '" + id + "'");
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(std::string(server_->data_dir() + "/upgate.db").c_str(), &db),
              SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE objects SET content_type = ? WHERE id = ?", -1, &st,
                                 nullptr),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(st);
    sqlite3_close(db);
  };

  set_content_type("text/html\r\nSet-Cookie: pwn=1\r\nContent-Length: 25\r\n\r\n<script>");
  advance_clock(2'100);  // past the bound of the server's object cache (docs/scale-out.md)
  for (const std::string& target : {"/v1/files/" + id + "/content", link}) {
    const bool authed = target.find("/content") != std::string::npos;
    const RawReply raw =
        exchange("GET " + target + " HTTP/1.1\r\nHost: x\r\n" +
                 (authed ? admin_line() : std::string()) + "Connection: close\r\n\r\n");
    EXPECT_EQ(raw.status(), 500) << raw.bytes;
    EXPECT_EQ(raw.responses(), 1) << raw.bytes;
    EXPECT_EQ(raw.bytes.find("pwn"), std::string::npos) << raw.bytes;
    EXPECT_EQ(raw.bytes.find("<script>"), std::string::npos) << raw.bytes;
    EXPECT_EQ(raw.bytes.find("legacy"), std::string::npos) << raw.bytes;  // no content either
  }
  EXPECT_NE(server_->stdout_text().find("refused to send header \"Content-Type\""),
            std::string::npos);

  // A download's header is checked 8 bytes at a time (http/server.cc): a DEL
  // or another control byte anywhere in a long value is refused all the same,
  // and a tab is sent.
  const std::string get = "GET /v1/files/" + id + "/content HTTP/1.1\r\nHost: x\r\n" +
                          admin_line() + "Connection: close\r\n\r\n";
  for (const std::string& value : {std::string("text/plain; charset=utf-8; x=abcd\x7f"
                                               "efgh"),
                                   std::string("text/plain; charset=utf-8; y=\x01"),
                                   std::string("\x1ftext/plain; charset=utf-8")}) {
    set_content_type(value);
    advance_clock(2'100);
    const RawReply raw = exchange(get);
    EXPECT_EQ(raw.status(), 500) << raw.bytes;
    EXPECT_EQ(raw.bytes.find("legacy"), std::string::npos) << raw.bytes;
  }
  set_content_type("text/plain;\tcharset=utf-8; and \xc3\xa9 past eight bytes");
  advance_clock(2'100);
  const RawReply tab = exchange(get);
  EXPECT_EQ(tab.status(), 200) << tab.bytes;
  EXPECT_NE(tab.bytes.find("\r\nContent-Type: text/plain;\tcharset=utf-8; and \xc3\xa9 past eight "
                           "bytes\r\n"),
            std::string::npos)
      << tab.bytes;

  // 8-bit bytes: the download may carry them (obs-text), the JSON answers
  // replace them with U+FFFD. (A UTF-8 PostgreSQL database cannot hold them.)
  if (!meta_is_postgres()) {
    set_content_type("text/plain; x=\xff\xfe");
    advance_clock(2'100);
    for (const std::string& target : {std::string("/v1/files"), "/v1/files/" + id}) {
      auto r = client_->request("GET", target, admin());
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_TRUE(valid_utf8(r.body)) << r.body;
      EXPECT_NE(r.body.find("text/plain; x=\xef\xbf\xbd\xef\xbf\xbd"), std::string::npos) << r.body;
    }
  }
  expect_serving();
}

// The access log is JSON lines: a path of raw 8-bit bytes must not break one.
TEST_F(BadInputTest, AccessLogLinesStayValidUtf8) {
  const RawReply raw =
      exchange("GET /v1/files/\xff\xfe\xc0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_GT(raw.status(), 0) << raw.bytes;
  const std::string log = server_->stdout_text();
  EXPECT_TRUE(valid_utf8(log));
  EXPECT_NE(log.find("\"path\":\"/v1/files/\xef\xbf\xbd"), std::string::npos) << log;
}

TEST_F(BadInputTest, OverlongAndInvalidUtf8IsRefused) {
  const std::vector<std::string> bad = {
      "\xC0\xAE\xC0\xAE/x",  // overlong "../x"
      "\xC1\x81",            // overlong 'A'
      "\xE0\x80\xAF",        // overlong '/'
      "\xF0\x80\x80\xAF",    // overlong '/'
      "\xED\xA0\x80",        // a surrogate
      "\xF4\x90\x80\x80",    // above U+10FFFF
      "\xFF",                // never valid
      "a\x80",               // lone continuation byte
      "\xE6\x8A",            // truncated sequence
  };
  for (const auto& s : bad) {
    auto r = client_->request("POST", "/v1/files?name=" + pct(s), admin(), "data");
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(s);
    EXPECT_EQ(native_code(r), 1004) << r.body;
    Headers h = admin();
    h.emplace_back("Content-Type", "multipart/form-data; boundary=" + kBoundary);
    r = client_->request("POST", "/v1/files", h,
                         multipart_body(kBoundary, "file", s, "text/plain", "data"));
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(s) << r.body;
    EXPECT_EQ(jpush_upload("alias", s, "alias-one\n").status, 400) << ::testing::PrintToString(s);
    // In an id list (content JPush validates) and in JSON bodies.
    EXPECT_EQ(jpush_upload("alias", "ids.txt", "alias-" + s + "\n").status, 400)
        << ::testing::PrintToString(s);
    r = client_->request("PATCH", "/v1/admin/tenants/acme", admin(), R"({"name":")" + s + R"("})");
    EXPECT_EQ(r.status, 400) << ::testing::PrintToString(s) << r.body;
    EXPECT_EQ(native_code(r), 1001) << r.body;
  }
  expect_unchanged_and_serving();
}

TEST_F(BadInputTest, SqlMetacharactersAreRefusedOrStoredVerbatim) {
  const std::vector<std::string> payloads = {
      "'",
      "' OR '1'='1",
      "'; DROP TABLE objects; --",
      "\"); DELETE FROM usage; --",
      "%' OR 1=1 --",
      "1; UPDATE api_keys SET enabled = 1",
      "\\'",
      "*/ --",
  };
  // Fields with a grammar refuse them.
  for (const auto& p : payloads) {
    const std::string e = pct(p);
    SCOPED_TRACE(p);
    EXPECT_EQ(client_->request("POST", "/v1/files?name=a&app=" + e, admin(), "data").status, 404);
    EXPECT_EQ(client_->request("POST", "/v1/files?name=a&ttl=" + e, admin(), "data").status, 400);
    EXPECT_EQ(client_->request("GET", "/v1/files?cursor=" + e, admin()).status, 400);
    EXPECT_EQ(client_->request("GET", "/v1/files?limit=" + e, admin()).status, 400);
    EXPECT_EQ(client_->request("GET", "/v1/files?app=" + e, admin()).status, 404);
    EXPECT_EQ(client_->request("GET", "/v1/files/" + e, admin()).status, 404);
    EXPECT_EQ(client_->request("GET", "/v1/files/" + e + "/content", admin()).status, 404);
    EXPECT_EQ(client_->request("GET", "/v1/admin/tenants/" + e, admin()).status, 404);
    EXPECT_EQ(client_->request("PATCH", "/v1/admin/tenants/" + e, admin(), "{}").status, 404);
    EXPECT_EQ(client_->request("GET", "/v1/admin/tenants/" + e + "/apps", admin()).status, 404);
    EXPECT_EQ(client_->request("POST", "/v1/admin/keys/" + e + "/disable", admin(), "").status,
              404);
    EXPECT_EQ(client_->request("DELETE", "/v1/admin/keys/" + e, admin()).status, 404);
    EXPECT_EQ(client_->request("GET", "/v1/files", bearer(p)).status, 401);
    json::object body;
    body["id"] = p;
    const std::string id_body = json::serialize(body);
    EXPECT_EQ(client_->request("POST", "/v1/admin/tenants", admin(), id_body).status, 400);
    EXPECT_EQ(client_->request("POST", "/v1/admin/tenants/acme/apps", admin(), id_body).status,
              400);
    body["id"] = "ok";
    body["dialect"] = p;
    EXPECT_EQ(
        client_->request("POST", "/v1/admin/tenants/acme/apps", admin(), json::serialize(body))
            .status,
        400);
    json::object key;
    key["role"] = p;
    EXPECT_EQ(client_->request("POST", "/v1/admin/tenants/acme/keys", admin(), json::serialize(key))
                  .status,
              400);
    key.erase("role");
    key["app_id"] = p;
    EXPECT_EQ(client_->request("POST", "/v1/admin/tenants/acme/keys", admin(), json::serialize(key))
                  .status,
              404);
    EXPECT_EQ(jpush_upload(e, "ids.txt", "alias-one\n").status, 400);
    EXPECT_EQ(jpush_upload("alias", "ids.txt", "alias-one\n", p).status, 400);
    EXPECT_EQ(jpush("GET", "/v3/files/" + e).status, 400);  // JPush's "file not found"
    // JPush answers failed authentication with 400 and its code 1101.
    auto auth =
        client_->request("GET", "/v3/files", {{"Authorization", "Basic " + base64(p + ":" + p)}});
    EXPECT_EQ(auth.status, 400) << auth.body;
    EXPECT_NE(auth.body.find("\"code\":1101"), std::string::npos) << auth.body;
  }
  EXPECT_EQ(snapshot(), before_);

  // Free text is data: stored and returned byte for byte, touching nothing else.
  // A content type is a media type (400/1008 for most payloads as they are),
  // so there the payload travels as a quoted parameter value.
  std::vector<std::string> ids;
  for (const auto& p : payloads) {
    std::string quoted = "\"";
    for (char c : p) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    quoted += '"';
    const std::string content_type = "text/plain; p=" + quoted;
    auto r = client_->request(
        "POST", "/v1/files?name=" + pct(p) + "&content_type=" + pct(content_type), admin(), p);
    ASSERT_EQ(r.status, 201) << p << r.body;
    ids.push_back(str(parse(r.body), "id"));
    auto meta = parse(client_->request("GET", "/v1/files/" + ids.back(), admin()).body);
    EXPECT_EQ(str(meta, "name"), p);
    EXPECT_EQ(str(meta, "content_type"), content_type);
    auto got = client_->request("GET", "/v1/files/" + ids.back() + "/content", admin());
    EXPECT_EQ(got.body, p);
    EXPECT_EQ(got.header("content-type"), content_type);
    json::object name;
    name["name"] = p;
    auto t = client_->request("PATCH", "/v1/admin/tenants/acme", admin(), json::serialize(name));
    EXPECT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(str(parse(client_->request("GET", "/v1/admin/tenants/acme", admin()).body), "name"),
              p);
  }
  auto list = parse(client_->request("GET", "/v1/files", admin()).body);
  EXPECT_EQ(list["files"].as_array().size(), payloads.size() + 1);  // + the kept file
  expect_serving();
}

}  // namespace
}  // namespace up::testing
