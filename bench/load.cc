// upgate_load: a small HTTP/1.1 upload load generator for the benchmarks.
//
// One thread per connection, blocking-style I/O over non-blocking sockets and
// poll(), so every wait is bounded by the hard deadline (--max-seconds). Bodies
// are generated: one fixed 256 KiB pattern buffer is sent over and over, so a
// 1 GiB upload costs no disk reads and no memory beyond that buffer.
//
// Only loopback targets are accepted: this tool is for local benchmarks.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

constexpr size_t kChunk = 256 * 1024;     // one send() of body bytes
constexpr size_t kReadChunk = 64 * 1024;  // one recv() of response bytes
constexpr size_t kMaxHead = 64 * 1024;    // response head larger than this is an error
constexpr size_t kErrorSnippet = 300;     // bytes of an error body kept for printing
constexpr int kMaxPrintedErrors = 20;

struct options {
  std::string url;
  std::string method = "PUT";
  std::vector<std::string> headers;
  uint64_t size = 0;
  int concurrency = 1;
  std::optional<uint64_t> requests_per_conn;
  std::optional<double> duration_s;
  bool unique_path = false;
  double max_seconds = 120;
  std::string name = "load";
  // Parsed from url.
  std::string host_header;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string target;  // path + query
};

[[noreturn]] void usage(const char* why) {
  if (why) std::fprintf(stderr, "upgate_load: %s\n", why);
  std::fprintf(
      stderr,
      "usage: upgate_load --url http://127.0.0.1:PORT/path [--method PUT|POST]\n"
      "         [--header 'Name: value']... --size BYTES [--concurrency N]\n"
      "         [--requests-per-conn M | --duration SECONDS] [--unique-path]\n"
      "         [--max-seconds S (default 120)] [--name LABEL]\n"
      "  --unique-path: each request gets its own target: '{id}' in the url is\n"
      "    replaced by <conn>-<i>; without '{id}', '/<conn>-<i>' is appended to the path.\n"
      "  Only loopback hosts (127.0.0.0/8, ::1, localhost) are accepted.\n");
  std::exit(2);
}

uint64_t parse_u64(const char* flag, const std::string& s) {
  // Accept plain numbers and K/M/G suffixes (binary) for convenience.
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno || end == s.c_str()) usage((std::string("bad number for ") + flag).c_str());
  std::string_view rest(end);
  uint64_t mult = 1;
  if (rest == "K" || rest == "KiB") mult = 1ull << 10;
  else if (rest == "M" || rest == "MiB") mult = 1ull << 20;
  else if (rest == "G" || rest == "GiB") mult = 1ull << 30;
  else if (!rest.empty()) usage((std::string("bad number for ") + flag).c_str());
  return v * mult;
}

double parse_double(const char* flag, const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end || !(v > 0)) usage((std::string("bad value for ") + flag).c_str());
  return v;
}

// Fills host_header, addr and target; refuses anything but loopback.
void parse_url(options& o) {
  std::string_view u = o.url;
  if (!u.starts_with("http://")) usage("only http:// urls are supported");
  u.remove_prefix(7);
  size_t slash = u.find('/');
  std::string_view authority = u.substr(0, slash);
  o.target = slash == std::string_view::npos ? "/" : std::string(u.substr(slash));
  o.host_header = std::string(authority);

  std::string host;
  std::string port = "80";
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) usage("bad IPv6 literal in url");
    host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') usage("bad url authority");
      port = std::string(authority.substr(close + 2));
    }
  } else {
    size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = std::string(authority.substr(colon + 1));
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p <= 0 || p > 65535) usage("bad port in url");

  if (host == "localhost") host = "127.0.0.1";  // no resolver: keep it loopback by construction
  std::memset(&o.addr, 0, sizeof o.addr);
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    if ((ntohl(v4.sin_addr.s_addr) >> 24) != 127) usage("refusing a non-loopback address");
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<uint16_t>(p));
    std::memcpy(&o.addr, &v4, sizeof v4);
    o.addr_len = sizeof v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) usage("refusing a non-loopback address");
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<uint16_t>(p));
    std::memcpy(&o.addr, &v6, sizeof v6);
    o.addr_len = sizeof v6;
  } else {
    usage("host must be a loopback IP literal or localhost");
  }
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--url") o.url = next();
    else if (a == "--method") o.method = next();
    else if (a == "--header" || a == "-H") o.headers.push_back(next());
    else if (a == "--size") o.size = parse_u64("--size", next());
    else if (a == "--concurrency" || a == "-c")
      o.concurrency = static_cast<int>(parse_u64("--concurrency", next()));
    else if (a == "--requests-per-conn" || a == "-n")
      o.requests_per_conn = parse_u64("--requests-per-conn", next());
    else if (a == "--duration" || a == "-d") o.duration_s = parse_double("--duration", next());
    else if (a == "--unique-path") o.unique_path = true;
    else if (a == "--max-seconds") o.max_seconds = parse_double("--max-seconds", next());
    else if (a == "--name") o.name = next();
    else if (a == "--help" || a == "-h") usage(nullptr);
    else usage(("unknown argument " + a).c_str());
  }
  if (o.url.empty()) usage("--url is required");
  if (o.method != "PUT" && o.method != "POST") usage("--method must be PUT or POST");
  if (o.concurrency < 1 || o.concurrency > 4096) usage("--concurrency must be 1-4096");
  if (o.requests_per_conn && o.duration_s)
    usage("give --requests-per-conn or --duration, not both");
  if (!o.requests_per_conn && !o.duration_s) o.requests_per_conn = 1;
  if (o.requests_per_conn && *o.requests_per_conn == 0) usage("--requests-per-conn must be >= 1");
  for (auto& h : o.headers) {
    if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos)
      usage("--header must look like 'Name: value'");
  }
  for (char c : o.name)
    if (c == ' ' || c == '=' || c < 0x21) usage("--name must not contain spaces or '='");
  parse_url(o);
  return o;
}

// Shared read-only body source. Pseudo-random bytes so that nothing on the
// way (compression, dedup) can make the benchmark cheaper than real data.
std::vector<char> make_pattern() {
  std::vector<char> buf(kChunk);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (auto& c : buf) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return buf;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Transport failure on a connection: the worker records it and stops/reconnects.
struct io_error {
  std::string what;
};

struct response {
  int status = 0;
  bool close = false;   // server asked to close, or body ran to EOF
  std::string snippet;  // first bytes of the body, for error messages
};

class connection {
 public:
  connection(const options& o, steady::time_point hard_deadline)
      : o_(o), deadline_(hard_deadline) {}
  ~connection() { close(); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  bool is_open() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
    pos_ = 0;
  }

  void open() {
    close();
    fd_ = ::socket(o_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw io_error{std::string("socket: ") + std::strerror(errno)};
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one,
                 sizeof one);  // small requests must not wait on Nagle
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&o_.addr), o_.addr_len) < 0) {
      if (errno != EINPROGRESS) throw io_error{std::string("connect: ") + std::strerror(errno)};
      wait(POLLOUT);
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) throw io_error{std::string("connect: ") + std::strerror(err)};
    }
  }

  // Sends head then `size` body bytes, head and body together in one
  // sendmsg() when they fit (small requests cost one syscall). Returns false
  // if the server answered early (readable before the body was done): the
  // caller reads that answer and must not reuse the connection.
  bool send_request(const std::string& head, uint64_t size, const std::vector<char>& pattern) {
    size_t head_off = 0;
    uint64_t sent = 0;
    while (head_off < head.size() || sent < size) {
      iovec iov[2];
      int n = 0;
      if (head_off < head.size())
        iov[n++] = {const_cast<char*>(head.data()) + head_off, head.size() - head_off};
      if (sent < size) {
        size_t off = static_cast<size_t>(sent % pattern.size());
        size_t len = static_cast<size_t>(std::min<uint64_t>(size - sent, pattern.size() - off));
        iov[n++] = {const_cast<char*>(pattern.data()) + off, len};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n);
      ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (w > 0) {
        size_t h = std::min(static_cast<size_t>(w), head.size() - head_off);
        head_off += h;
        sent += static_cast<uint64_t>(w) - h;
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (wait(POLLOUT | POLLIN) & POLLIN) return false;
        continue;
      }
      throw io_error{std::string("send: ") + std::strerror(errno)};
    }
    return true;
  }

  response read_response() {
    if (avail().empty()) wait(POLLIN);  // usually not there yet: skip a recv() that would fail
    for (;;) {
      response r = read_one();
      if (r.status >= 200 || r.status == 101) return r;  // skip interim 1xx (e.g. 100 Continue)
    }
  }

 private:
  short wait(short events) {
    for (;;) {
      auto now = steady::now();
      if (now >= deadline_) throw io_error{"hard deadline (--max-seconds) reached"};
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now).count() + 1;
      pollfd pfd{fd_, events, 0};
      int rc = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(ms, 1000)));
      if (rc < 0 && errno != EINTR) throw io_error{std::string("poll: ") + std::strerror(errno)};
      if (rc > 0) {
        // On POLLERR/POLLHUP report every asked event ready: the caller's next
        // send/recv then surfaces the real error or EOF.
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
          return static_cast<short>(pfd.revents | events);
        return pfd.revents;
      }
    }
  }

  // Appends more bytes to buf_; returns false on EOF.
  bool fill() {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    } else if (pos_ > kReadChunk) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    for (;;) {
      ssize_t r = ::recv(fd_, buf_.data() + old, kReadChunk, 0);
      if (r > 0) {
        buf_.resize(old + static_cast<size_t>(r));
        return true;
      }
      if (r == 0) {
        buf_.resize(old);
        return false;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(POLLIN);
        continue;
      }
      buf_.resize(old);
      throw io_error{std::string("recv: ") + std::strerror(errno)};
    }
  }

  std::string_view avail() const { return std::string_view(buf_).substr(pos_); }

  std::string read_line() {
    for (;;) {
      auto a = avail();
      size_t nl = a.find("\r\n");
      if (nl != std::string_view::npos) {
        std::string line(a.substr(0, nl));
        pos_ += nl + 2;
        return line;
      }
      if (a.size() > kMaxHead) throw io_error{"response line too long"};
      if (!fill()) throw io_error{"connection closed before the response was complete"};
    }
  }

  // Consumes n body bytes, keeping the first few for error messages.
  void skip(uint64_t n, std::string& snippet) {
    while (n > 0) {
      if (avail().empty() && !fill()) throw io_error{"connection closed inside the response body"};
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, avail().size()));
      if (snippet.size() < kErrorSnippet)
        snippet.append(avail().substr(0, std::min(take, kErrorSnippet - snippet.size())));
      pos_ += take;
      n -= take;
    }
  }

  response read_one() {
    response r;
    std::string status_line = read_line();
    // "HTTP/1.1 201 Created"
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ')
      throw io_error{"bad status line: " + status_line.substr(0, 80)};
    r.status = std::atoi(status_line.c_str() + 9);
    if (r.status < 100 || r.status > 999)
      throw io_error{"bad status code: " + status_line.substr(0, 80)};
    const bool http10 = status_line[7] == '0';
    r.close = http10;

    std::optional<uint64_t> content_length;
    bool chunked = false;
    size_t head_bytes = status_line.size();
    for (;;) {
      std::string line = read_line();
      if (line.empty()) break;
      head_bytes += line.size();
      if (head_bytes > kMaxHead) throw io_error{"response head too large"};
      size_t colon = line.find(':');
      if (colon == std::string::npos) throw io_error{"bad header line: " + line.substr(0, 80)};
      std::string_view name = trim(std::string_view(line).substr(0, colon));
      std::string_view value = trim(std::string_view(line).substr(colon + 1));
      if (iequals(name, "Content-Length")) {
        char* end = nullptr;
        std::string v(value);
        content_length = std::strtoull(v.c_str(), &end, 10);
        if (v.empty() || *end) throw io_error{"bad Content-Length: " + v};
      } else if (iequals(name, "Transfer-Encoding")) {
        // Only "chunked" as the final coding is framing we can follow.
        std::string v(value);
        for (auto& c : v) c = static_cast<char>(std::tolower(c));
        chunked = v.size() >= 7 && v.compare(v.size() - 7, 7, "chunked") == 0;
      } else if (iequals(name, "Connection")) {
        std::string v(value);
        for (auto& c : v) c = static_cast<char>(std::tolower(c));
        if (v.find("close") != std::string::npos) r.close = true;
        if (http10 && v.find("keep-alive") != std::string::npos) r.close = false;
      }
    }

    if ((r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304)
      return r;  // no body
    if (chunked) {
      for (;;) {
        std::string size_line = read_line();
        char* end = nullptr;
        uint64_t n = std::strtoull(size_line.c_str(), &end, 16);
        if (end == size_line.c_str()) throw io_error{"bad chunk size: " + size_line.substr(0, 40)};
        if (n == 0) {
          while (!read_line().empty()) {  // trailers
          }
          break;
        }
        skip(n, r.snippet);
        if (!read_line().empty()) throw io_error{"missing CRLF after chunk"};
      }
    } else if (content_length) {
      skip(*content_length, r.snippet);
    } else {
      // No framing: the body runs to EOF, and the connection is done.
      for (;;) {
        auto a = avail();
        if (r.snippet.size() < kErrorSnippet)
          r.snippet.append(a.substr(0, kErrorSnippet - r.snippet.size()));
        pos_ = buf_.size();
        if (!fill()) break;
      }
      r.close = true;
    }
    return r;
  }

  const options& o_;
  steady::time_point deadline_;
  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
};

struct shared_state {
  std::mutex mu;
  int printed_errors = 0;
};

struct worker_result {
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t bytes = 0;                // body bytes of successful requests
  std::vector<double> latencies_ms;  // successful requests only
  steady::time_point last_done{};
};

void report_error(shared_state& st, int conn, const std::string& what) {
  std::lock_guard lock(st.mu);
  if (st.printed_errors < kMaxPrintedErrors)
    std::fprintf(stderr, "error: conn %d: %s\n", conn, what.c_str());
  else if (st.printed_errors == kMaxPrintedErrors)
    std::fprintf(stderr, "error: (further errors not printed)\n");
  ++st.printed_errors;
}

std::string target_for(const options& o, int conn, uint64_t i) {
  if (!o.unique_path) return o.target;
  std::string id = std::to_string(conn) + "-" + std::to_string(i);
  std::string t = o.target;
  size_t at = t.find("{id}");
  if (at != std::string::npos) return t.replace(at, 4, id);
  size_t q = t.find('?');
  std::string path = t.substr(0, q);
  std::string query = q == std::string::npos ? "" : t.substr(q);
  if (!path.ends_with('/')) path += '/';
  return path + id + query;
}

void run_worker(const options& o, int conn, const std::vector<char>& pattern,
                steady::time_point start, steady::time_point hard_deadline, shared_state& st,
                worker_result& out) {
  connection c(o, hard_deadline);
  std::string fixed_headers = "Host: " + o.host_header + "\r\nUser-Agent: upgate_load\r\n";
  bool has_ct = false;
  for (auto& h : o.headers) {
    fixed_headers += h + "\r\n";
    if (iequals(trim(std::string_view(h).substr(0, h.find(':'))), "Content-Type")) has_ct = true;
  }
  if (!has_ct) fixed_headers += "Content-Type: application/octet-stream\r\n";
  fixed_headers += "Content-Length: " + std::to_string(o.size) + "\r\n\r\n";

  const auto soft_end = o.duration_s ? start + std::chrono::duration_cast<steady::duration>(
                                                   std::chrono::duration<double>(*o.duration_s))
                                     : steady::time_point::max();
  for (uint64_t i = 0;; ++i) {
    if (o.requests_per_conn && i >= *o.requests_per_conn) break;
    if (o.duration_s && steady::now() >= soft_end) break;
    if (steady::now() >= hard_deadline) {
      ++out.errors;
      report_error(st, conn, "hard deadline (--max-seconds) reached");
      break;
    }
    std::string head = o.method + " " + target_for(o, conn, i) + " HTTP/1.1\r\n" + fixed_headers;
    auto t0 = steady::now();
    try {
      if (!c.is_open()) c.open();
      bool complete = c.send_request(head, o.size, pattern);
      response r = c.read_response();
      auto t1 = steady::now();
      out.last_done = t1;
      if (r.status >= 200 && r.status < 300 && complete) {
        ++out.ok;
        out.bytes += o.size;
        out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      } else {
        ++out.errors;
        std::string body = r.snippet;
        for (auto& ch : body)
          if (ch == '\n' || ch == '\r') ch = ' ';
        report_error(st, conn,
                     "HTTP " + std::to_string(r.status) +
                         (complete ? "" : " (answered before the body was sent)") + ": " + body);
      }
      if (r.close || !complete) c.close();
    } catch (const io_error& e) {
      ++out.errors;
      out.last_done = steady::now();
      report_error(st, conn, e.what);
      // A broken connection usually means the server is gone or refusing:
      // stop this worker rather than spin on errors.
      break;
    }
  }
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest-rank: the smallest value with at least p% of samples at or below it.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  options o = parse_args(argc, argv);
  const std::vector<char> pattern = make_pattern();

  const auto start = steady::now();
  const auto hard_deadline = start + std::chrono::duration_cast<steady::duration>(
                                         std::chrono::duration<double>(o.max_seconds));
  shared_state st;
  std::vector<worker_result> results(static_cast<size_t>(o.concurrency));
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (int i = 0; i < o.concurrency; ++i)
    threads.emplace_back(run_worker, std::cref(o), i, std::cref(pattern), start, hard_deadline,
                         std::ref(st), std::ref(results[static_cast<size_t>(i)]));
  for (auto& t : threads) t.join();
  auto end = steady::now();
  // Elapsed runs to the last completed request, not to thread teardown.
  auto last = start;
  for (auto& r : results) last = std::max(last, r.last_done);
  if (last > start) end = last;

  uint64_t ok = 0, errors = 0, bytes = 0;
  std::vector<double> lat;
  for (auto& r : results) {
    ok += r.ok;
    errors += r.errors;
    bytes += r.bytes;
    lat.insert(lat.end(), r.latencies_ms.begin(), r.latencies_ms.end());
  }
  std::sort(lat.begin(), lat.end());
  const double elapsed = std::chrono::duration<double>(end - start).count();
  const double mibps = elapsed > 0 ? static_cast<double>(bytes) / 1048576.0 / elapsed : 0;
  const double rps = elapsed > 0 ? static_cast<double>(ok) / elapsed : 0;
  const double p50 = percentile(lat, 50), p99 = percentile(lat, 99),
               max = lat.empty() ? 0 : lat.back();

  std::printf("target:      %s %s (%d conn, %" PRIu64 " B body)\n", o.method.c_str(), o.url.c_str(),
              o.concurrency, o.size);
  std::printf("requests:    %" PRIu64 " ok, %" PRIu64 " errors\n", ok, errors);
  std::printf("bytes:       %" PRIu64 " (request bodies of ok requests)\n", bytes);
  std::printf("elapsed:     %.3f s\n", elapsed);
  std::printf("throughput:  %.1f MiB/s (MiB = 2^20 bytes)\n", mibps);
  std::printf("rate:        %.1f requests/s\n", rps);
  std::printf(
      "latency:     p50 %.3f ms, p99 %.3f ms, max %.3f ms (request start to full response)\n", p50,
      p99, max);
  std::printf("RESULT name=%s requests=%" PRIu64 " errors=%" PRIu64 " bytes=%" PRIu64
              " elapsed_s=%.3f mibps=%.2f rps=%.2f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
              o.name.c_str(), ok, errors, bytes, elapsed, mibps, rps, p50, p99, max);
  std::fflush(stdout);
  return (errors > 0 || ok == 0) ? 1 : 0;
}
