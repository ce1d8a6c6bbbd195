#include "integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "meta/pg_test_env.h"
#include "storage/s3_test_env.h"

namespace up::testing {
namespace fs = std::filesystem;

std::string upgate_bin() {
  const char* bin = std::getenv("UPGATE_BIN");
  return bin ? bin : UPGATE_BUILT_BIN;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) out.push_back(it->path().string());
  }
  return out;
}

void write_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the server closed; the response tells why
    data += n;
    len -= static_cast<size_t>(n);
  }
}

// Reads one HTTP response from fd. Body bytes go to `on_body` (or are kept).
class ResponseReader {
 public:
  explicit ResponseReader(int fd) : fd_(fd) {}

  bool read_head(int& status, std::map<std::string, std::string>& headers) {
    for (;;) {
      auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf_.substr(0, end);
        buf_.erase(0, end + 4);
        std::istringstream in(head);
        std::string line;
        std::getline(in, line);
        if (line.size() < 12) return false;
        status = std::atoi(line.c_str() + 9);
        while (std::getline(in, line)) {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string name = line.substr(0, colon);
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(0, 1);
          headers[name] = value;
        }
        if (status == 100) {  // interim: read the real one
          headers.clear();
          continue;
        }
        return true;
      }
      if (!fill()) return false;
    }
  }

  void read_body(const std::map<std::string, std::string>& headers, const std::string& method,
                 int status, const std::function<void(const char*, size_t)>& on_body) {
    if (method == "HEAD" || status == 204 || status == 304) return;
    auto te = headers.find("transfer-encoding");
    if (te != headers.end() && te->second.find("chunked") != std::string::npos) {
      for (;;) {
        auto eol = find_line();
        if (eol == std::string::npos) return;
        uint64_t n = std::strtoull(buf_.substr(0, eol).c_str(), nullptr, 16);
        buf_.erase(0, eol + 2);
        if (n == 0) return;
        if (!take(n, on_body)) return;
        if (find_line() == std::string::npos) return;
        buf_.erase(0, 2);
      }
    }
    auto cl = headers.find("content-length");
    if (cl != headers.end()) {
      take(std::strtoull(cl->second.c_str(), nullptr, 10), on_body);
      return;
    }
    // Until close.
    for (;;) {
      if (!buf_.empty()) {
        on_body(buf_.data(), buf_.size());
        buf_.clear();
      }
      if (!fill()) return;
    }
  }

 private:
  bool fill() {
    char tmp[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }
  size_t find_line() {
    for (;;) {
      auto p = buf_.find("\r\n");
      if (p != std::string::npos) return p;
      if (!fill()) return std::string::npos;
    }
  }
  bool take(uint64_t n, const std::function<void(const char*, size_t)>& on_body) {
    while (n > 0) {
      if (buf_.empty() && !fill()) return false;
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
      on_body(buf_.data(), k);
      buf_.erase(0, k);
      n -= k;
    }
    return true;
  }

  int fd_;
  std::string buf_;
};

std::string request_head(const std::string& method, const std::string& target,
                         const Headers& headers, std::optional<uint64_t> content_length) {
  std::string head =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (auto& [k, v] : headers) head += k + ": " + v + "\r\n";
  if (content_length) head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  head += "\r\n";
  return head;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The schemas this test process made, by data directory; all dropped at exit.
// Holds the server URL itself: pg_test_env's statics may be gone by then.
class PgSchemas {
 public:
  static PgSchemas& get() {
    static PgSchemas schemas;
    return schemas;
  }
  // Drops every schema made so far. Called by the test environment's
  // TearDown, not at exit: by then OpenSSL (which libpq uses) is cleaned up.
  void drop_all() {
    std::lock_guard lock(mu_);
    for (const auto& s : made_) {
      auto r = meta::store_test::pg_query(url_, "DROP SCHEMA IF EXISTS " + s + " CASCADE");
      if (!r) ADD_FAILURE() << "cannot drop schema " << s << ": " << r.error().message;
    }
    made_.clear();
    by_dir_.clear();
  }
  // A new schema's URL; `data_dir` empty: not tied to one.
  std::string url_for(const std::string& data_dir) {
    std::lock_guard lock(mu_);
    if (!data_dir.empty()) {
      if (auto it = by_dir_.find(data_dir); it != by_dir_.end())
        return meta::store_test::pg_url_with_schema(url_, it->second);
    }
    if (url_.empty()) {
      auto url = meta::store_test::pg_url();
      if (!url) {
        ADD_FAILURE() << url.error().message;
        return {};
      }
      url_ = *url;
    }
    auto schema = meta::store_test::pg_create_schema();
    if (!schema) {
      ADD_FAILURE() << schema.error().message;
      return {};
    }
    made_.push_back(*schema);
    if (!data_dir.empty()) by_dir_[data_dir] = *schema;
    return meta::store_test::pg_url_with_schema(url_, *schema);
  }
  std::string schema_for(const std::string& data_dir) {
    std::lock_guard lock(mu_);
    auto it = by_dir_.find(data_dir);
    return it == by_dir_.end() ? std::string() : it->second;
  }

 private:
  std::mutex mu_;
  std::string url_;
  std::map<std::string, std::string> by_dir_;
  std::vector<std::string> made_;
};

class DropSchemasAtEnd : public ::testing::Environment {
 public:
  void TearDown() override { PgSchemas::get().drop_all(); }
};
// Registered before main, as GoogleTest allows.
[[maybe_unused]] ::testing::Environment* const kDropSchemas =
    ::testing::AddGlobalTestEnvironment(new DropSchemasAtEnd);

// The value of `flag` (e.g. --meta) given in `args`, if any.
std::optional<std::string> flag_arg(const std::vector<std::string>& args, const char* flag) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) return args[i + 1];
  return std::nullopt;
}

// The S3 places this test process made: one bucket on the test RGW, and in it
// a prefix per data directory, so that a restart on the same directory, or
// several processes sharing one (and so its master.key), find the same blobs.
// The bucket is removed at the end, like the schemas.
class S3Places {
 public:
  static S3Places& get() {
    static S3Places places;
    return places;
  }
  S3Place for_dir(const std::string& data_dir) {
    std::lock_guard lock(mu_);
    if (auto it = by_dir_.find(data_dir); it != by_dir_.end()) return it->second;
    if (bucket_.empty() && !make_bucket()) return {};
    S3Place p;
    p.bucket = bucket_;
    p.prefix = "upgate-" + std::to_string(++made_);
    p.url = storage::s3_test::blobs_url(rgw_, bucket_, p.prefix);
    if (!data_dir.empty()) by_dir_[data_dir] = p;
    return p;
  }
  void remove_all() {
    std::lock_guard lock(mu_);
    if (bucket_.empty()) return;
    if (auto st = storage::s3_test::remove_bucket(bucket_); !st)
      ADD_FAILURE() << "cannot remove bucket " << bucket_ << ": " << st.error().message;
    bucket_.clear();
    by_dir_.clear();
  }

 private:
  bool make_bucket() {
    auto rgw = storage::s3_test::rgw();
    if (!rgw) {
      ADD_FAILURE() << rgw.error().message;
      return false;
    }
    storage::s3_test::export_keys(*rgw);
    auto bucket = storage::s3_test::create_bucket();
    if (!bucket) {
      ADD_FAILURE() << bucket.error().message;
      return false;
    }
    bucket_ = *bucket;
    rgw_ = *rgw;
    return true;
  }

  std::mutex mu_;
  std::string bucket_;
  storage::s3_test::Rgw rgw_;
  int made_ = 0;
  std::map<std::string, S3Place> by_dir_;
};

class RemoveBucketsAtEnd : public ::testing::Environment {
 public:
  void TearDown() override { S3Places::get().remove_all(); }
};
[[maybe_unused]] ::testing::Environment* const kRemoveBuckets =
    ::testing::AddGlobalTestEnvironment(new RemoveBucketsAtEnd);

// UPGATE_TEST_STACK=pg+s3: PostgreSQL metadata and S3 blobs together.
bool stack_is_pg_s3() {
  const char* s = std::getenv("UPGATE_TEST_STACK");
  return s && std::string(s) == "pg+s3";
}

}  // namespace

bool meta_is_postgres() {
  const char* m = std::getenv("UPGATE_TEST_META");
  return (m && std::string(m) == "postgres") || stack_is_pg_s3();
}

bool blobs_are_s3() {
  const char* b = std::getenv("UPGATE_TEST_BLOBS");
  return (b && std::string(b) == "s3") || stack_is_pg_s3();
}

S3Place s3_place_for(const std::string& data_dir) { return S3Places::get().for_dir(data_dir); }

std::string meta_url_for(const std::string& data_dir) {
  return meta_is_postgres() ? PgSchemas::get().url_for(data_dir) : std::string();
}

std::string meta_schema_for(const std::string& data_dir) {
  return PgSchemas::get().schema_for(data_dir);
}

std::string fresh_pg_meta_url() { return PgSchemas::get().url_for(""); }

std::vector<std::string> pg_rows(const std::string& url, const std::string& sql) {
  auto rows = meta::store_test::pg_query(url, sql);
  if (!rows) {
    ADD_FAILURE() << rows.error().message;
    return {};
  }
  return *rows;
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args, std::string data_dir)
    : extra_args_(std::move(extra_args)), data_dir_(std::move(data_dir)) {
  if (data_dir_.empty()) {
    own_dir_ = std::make_unique<TempDir>();
    data_dir_ = own_dir_->path() + "/data";
  }
  // One log per process run: a restart on the same data dir must not read the old one.
  static std::atomic<int> runs{0};
  log_path_ = data_dir_ + ".log." + std::to_string(getpid()) + "." + std::to_string(runs++);
}

namespace {
// A sanitizer report in the server's output fails the test that ran it (the
// server is a separate process, so its reports would otherwise go unseen).
void check_sanitizer_reports(const std::string& log) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    auto at = log.find(marker);
    if (at != std::string::npos)
      ADD_FAILURE() << "sanitizer report from upgate:\n" << log.substr(at, 4000);
  }
}
}  // namespace

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
  check_sanitizer_reports(read_file(log_path_));
  std::error_code ec;
  fs::remove(log_path_, ec);
}

void ServerProcess::start() {
  std::vector<std::string> args = {upgate_bin(), "serve",   "--listen",   "127.0.0.1:0",
                                   "--data",     data_dir_, "--dev-clock"};
  if (!bootstrap_key_.empty()) args.insert(args.end(), {"--bootstrap-key", bootstrap_key_});
  if (!flag_arg(extra_args_, "--meta") && meta_is_postgres())
    args.insert(args.end(), {"--meta", meta_url_for(data_dir_)});
  if (auto place = s3_place()) args.insert(args.end(), {"--blobs", place->url});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  ASSERT_GE(pid_, 0);
  if (pid_ == 0) {
    int out = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const std::string marker = "listening on ";
  // Up to 30 s: a start fsyncs its database and key, which can take seconds
  // on a disk busy with other work (a CI run beside builds saw more than 10).
  for (int i = 0; i < 1500; ++i) {
    std::string out = read_file(log_path_);
    auto p = out.find(marker);
    if (p != std::string::npos && out.find('\n', p) != std::string::npos) {
      const std::string host = "127.0.0.1:";
      port_ = static_cast<uint16_t>(std::atoi(out.c_str() + out.find(host, p) + host.size()));
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "upgate exited at start:\n" << out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "upgate did not start listening:\n" << read_file(log_path_);
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long ServerProcess::peak_rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

bool ServerProcess::sanitized() const {
  return read_file("/proc/" + std::to_string(pid_) + "/maps").find("/libasan.so") !=
         std::string::npos;
}

std::string ServerProcess::stdout_text() const { return read_file(log_path_); }

std::string ServerProcess::cli(const std::vector<std::string>& args, int* exit_code) const {
  std::string cmd = upgate_bin();
  for (auto& a : args) cmd += " '" + a + "'";
  // The CLI works on the store the server uses.
  std::string meta = flag_arg(extra_args_, "--meta").value_or(meta_url_for(data_dir_));
  if (!meta.empty()) cmd += " --meta '" + meta + "'";
  std::string blobs = flag_arg(extra_args_, "--blobs").value_or("");
  if (auto place = s3_place()) blobs = place->url;
  if (!blobs.empty() && !flag_arg(args, "--blobs")) cmd += " --blobs '" + blobs + "'";
  return run_command(cmd + " --data '" + data_dir_ + "'", exit_code);
}

std::optional<S3Place> ServerProcess::s3_place() const {
  if (!blobs_are_s3() || flag_arg(extra_args_, "--blobs")) return std::nullopt;
  return s3_place_for(data_dir_);
}

std::vector<std::string> ServerProcess::temp_files() const {
  auto files = list_files(fs::path(data_dir_) / "tmp");
  if (auto place = s3_place()) {
    auto uploads = storage::s3_test::list_uploads(place->bucket, place->prefix + "/");
    EXPECT_TRUE(uploads) << uploads.error().message;
    if (uploads) files.insert(files.end(), uploads->begin(), uploads->end());
  }
  return files;
}
std::vector<std::string> ServerProcess::blob_files() const {
  auto blobs = list_files(fs::path(data_dir_) / "blobs");
  if (auto place = s3_place()) {
    auto objects = storage::s3_test::list_objects(place->bucket, place->prefix + "/");
    EXPECT_TRUE(objects) << objects.error().message;
    if (objects) blobs.insert(blobs.end(), objects->begin(), objects->end());
  }
  // Small blobs are rows of the pack database; read it as a second reader would.
  const std::string pack = (fs::path(data_dir_) / "small-blobs.db").string();
  if (!fs::exists(pack)) return blobs;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(pack.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(
        db, "SELECT locator FROM blobs",
        [](void* out, int, char** values, char**) {
          static_cast<std::vector<std::string>*>(out)->push_back(values[0]);
          return 0;
        },
        &blobs, nullptr);
  }
  sqlite3_close(db);
  return blobs;
}

void pattern_bytes(char* buf, size_t len, uint64_t offset) {
  // xorshift of the 8-byte-aligned position: cheap, and no two blocks alike.
  for (size_t i = 0; i < len; ++i) {
    uint64_t pos = offset + i;
    uint64_t x = (pos >> 3) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    buf[i] = static_cast<char>(x >> ((pos & 7) * 8));
  }
}

std::string pattern_string(size_t len) {
  std::string s(len, '\0');
  pattern_bytes(s.data(), len, 0);
  return s;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

int HttpClient::connect_socket() const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const Headers& headers, const std::string& body) const {
  Fd s{connect_socket()};
  HttpResponse r;
  if (s.fd < 0) return r;
  bool has_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  std::string head = request_head(method, target, headers,
                                  has_body ? std::optional<uint64_t>(body.size()) : std::nullopt);
  write_all(s.fd, head.data(), head.size());
  write_all(s.fd, body.data(), body.size());
  ResponseReader rd(s.fd);
  if (!rd.read_head(r.status, r.headers)) return r;
  rd.read_body(r.headers, method, r.status, [&](const char* p, size_t n) { r.body.append(p, n); });
  return r;
}

HttpResponse HttpClient::upload(const std::string& method, const std::string& target,
                                const Headers& headers, uint64_t size, const Generator& gen,
                                uint64_t* bytes_sent) const {
  Fd s{connect_socket()};
  HttpResponse r;
  if (s.fd < 0) return r;
  std::string head = request_head(method, target, headers, size);
  write_all(s.fd, head.data(), head.size());
  if (bytes_sent) *bytes_sent = 0;
  std::vector<char> buf(256 * 1024);
  for (uint64_t off = 0; off < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    gen(buf.data(), n, off);
    ssize_t w = ::send(s.fd, buf.data(), n, MSG_NOSIGNAL);
    if (w <= 0) break;  // refused early: read the answer
    off += static_cast<uint64_t>(w);
    if (bytes_sent) *bytes_sent = off;
  }
  ResponseReader rd(s.fd);
  if (!rd.read_head(r.status, r.headers)) return r;
  rd.read_body(r.headers, method, r.status, [&](const char* p, size_t n) { r.body.append(p, n); });
  return r;
}

HttpResponse HttpClient::request_paused(const std::string& method, const std::string& target,
                                        const Headers& headers, const std::string& body,
                                        size_t pause_at,
                                        const std::function<void()>& at_pause) const {
  Fd s{connect_socket()};
  HttpResponse r;
  const std::string head = request_head(method, target, headers, body.size());
  pause_at = std::min(pause_at, body.size());
  if (s.fd >= 0) {
    write_all(s.fd, head.data(), head.size());
    write_all(s.fd, body.data(), pause_at);
  }
  at_pause();
  if (s.fd < 0) return r;
  write_all(s.fd, body.data() + pause_at, body.size() - pause_at);
  ResponseReader rd(s.fd);
  if (!rd.read_head(r.status, r.headers)) return r;
  rd.read_body(r.headers, method, r.status, [&](const char* p, size_t n) { r.body.append(p, n); });
  return r;
}

HttpClient::Download HttpClient::download(const std::string& target, const Headers& headers) const {
  Fd s{connect_socket()};
  Download d;
  if (s.fd < 0) return d;
  std::string head = request_head("GET", target, headers, std::nullopt);
  write_all(s.fd, head.data(), head.size());
  ResponseReader rd(s.fd);
  if (!rd.read_head(d.status, d.headers)) return d;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  rd.read_body(d.headers, "GET", d.status, [&](const char* p, size_t n) {
    EVP_DigestUpdate(ctx.get(), p, n);
    d.bytes += n;
  });
  unsigned char md[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  static const char* hex = "0123456789abcdef";
  for (unsigned i = 0; i < n; ++i) {
    d.sha256.push_back(hex[md[i] >> 4]);
    d.sha256.push_back(hex[md[i] & 15]);
  }
  return d;
}

std::string HttpClient::raw(const std::string& bytes, int timeout_ms) const {
  Fd s{connect_socket()};
  std::string out;
  if (s.fd < 0) return out;
  write_all(s.fd, bytes.data(), bytes.size());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

boost::json::object parse(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << body;
    return {};
  }
  return v.as_object();
}

std::string str(const boost::json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string run_command(const std::string& cmd, int* exit_code) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string multipart_body(const std::string& boundary, const std::string& field,
                           const std::string& filename, const std::string& content_type,
                           const std::string& content) {
  std::string b = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field +
                  "\"; filename=\"" + filename + "\"\r\nContent-Type: " + content_type +
                  "\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n";
  return b;
}

void ServerTest::make_server(std::vector<std::string> args, std::string data_dir) {
  client_.reset();
  server_.reset();  // one server at a time: the old one is killed first
  server_ = std::make_unique<ServerProcess>(std::move(args), std::move(data_dir));
}

void ServerTest::advance_clock(int64_t ms) {
  admin_request("POST", "/v1/admin/clock", R"({"advance_ms":)" + std::to_string(ms) + "}", 200);
}

void ServerTest::start_made_server() {
  server_->start();
  client_ = std::make_unique<HttpClient>(server_->port());
}

std::string ServerTest::cli(const std::vector<std::string>& args) {
  int rc = -1;
  std::string out = server_->cli(args, &rc);
  EXPECT_EQ(rc, 0) << (args.empty() ? "" : args[0]) << " " << (args.size() > 1 ? args[1] : "")
                   << ": " << out;
  return out;
}

boost::json::object ServerTest::admin_request(const std::string& method, const std::string& target,
                                              const std::string& body, int want) {
  auto r = client_->request(method, target, admin(), body);
  EXPECT_EQ(r.status, want) << method << " " << target << ": " << r.body;
  return parse(r.body);
}

}  // namespace up::testing
