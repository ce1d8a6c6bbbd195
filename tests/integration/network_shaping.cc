#include "integration/network_shaping.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <random>
#include <sstream>

#include <openssl/err.h>
#include <openssl/evp.h>

namespace up::testing {

using Clock = std::chrono::steady_clock;

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string hex(const unsigned char* md, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 15]);
  }
  return out;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void update(const char* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  std::string hex_digest() {
    unsigned char md[32];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    return hex(md, n);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void set_buffers(int fd, int rcvbuf, int sndbuf) {
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
}

// Blocking connect to 127.0.0.1:port, then non-blocking. -1 on failure.
int connect_loopback(uint16_t port, int rcvbuf, int sndbuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Before connect: the window scale is chosen from the receive buffer then.
  set_buffers(fd, rcvbuf, sndbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

}  // namespace

// ---- Network namespace ---------------------------------------------------------

NamespaceStatus enter_private_network() {
  NamespaceStatus st;
  if (const char* no = std::getenv("UPGATE_TEST_NO_NETNS"); no && *no && std::string(no) != "0") {
    st.detail = "UPGATE_TEST_NO_NETNS is set";
    return st;
  }
  if (::geteuid() != 0) {
    st.detail = "not root (euid " + std::to_string(::geteuid()) + ")";
    return st;
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    st.detail = errno_text("unshare(CLONE_NEWNET)");
    return st;
  }
  // Loopback up and MTU 1500 by ioctl, so no tool is needed for the namespace
  // to work at all (without them it would have no usable network).
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool up = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  if (up) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    up = ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  }
  ifr.ifr_mtu = 1500;
  const bool mtu = up && ::ioctl(s, SIOCSIFMTU, &ifr) == 0;
  if (s >= 0) ::close(s);
  if (!up) {
    // Stuck in a namespace without loopback: nothing can work; say so loudly.
    st.detail = errno_text("bringing lo up in the new namespace");
    return st;
  }
  st.ok = true;
  st.detail = std::string("private network namespace, lo up") + (mtu ? ", mtu 1500" : "");
  return st;
}

NamespaceStatus shape_loopback(uint64_t rate_kbit, uint32_t burst_bytes, uint32_t latency_ms) {
  const std::string cmd = "tc qdisc replace dev lo root tbf rate " + std::to_string(rate_kbit) +
                          "kbit burst " + std::to_string(burst_bytes) + " latency " +
                          std::to_string(latency_ms) + "ms 2>&1";
  int rc = -1;
  std::string out = run_command(cmd, &rc);
  NamespaceStatus st;
  st.ok = rc == 0;
  st.detail = st.ok ? "lo: " + run_command("tc qdisc show dev lo 2>&1")
                    : "`" + cmd + "` failed (" + std::to_string(rc) + "): " + out;
  while (!st.detail.empty() && st.detail.back() == '\n') st.detail.pop_back();
  return st;
}

// ---- Pacer ---------------------------------------------------------------------------

Pacer::Pacer(uint64_t bytes_per_second, uint64_t burst)
    : rate_(bytes_per_second), burst_(static_cast<double>(burst)), tokens_(0), last_(Clock::now()) {
}

void Pacer::refill() {
  auto now = Clock::now();
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() *
                                           static_cast<double>(rate_));
  last_ = now;
}

size_t Pacer::acquire(size_t want) {
  if (rate_ == 0 || want == 0) return want;
  // Wait for a useful amount (not single bytes), but never more than a burst.
  const double need = std::min<double>({static_cast<double>(want), 4096.0, burst_});
  for (int i = 0; i < 100000; ++i) {  // bounded; each round sleeps for the missing tokens
    refill();
    if (tokens_ >= need) break;
    std::this_thread::sleep_for(
        std::chrono::duration<double>((need - tokens_) / static_cast<double>(rate_)));
  }
  return static_cast<size_t>(std::min<double>(static_cast<double>(want), tokens_));
}

void Pacer::consume(size_t n) {
  if (rate_ != 0) tokens_ -= static_cast<double>(n);
}

// ---- Connection ------------------------------------------------------------------------

std::unique_ptr<Connection> Connection::open(uint16_t port, const ConnectionOptions& opts,
                                             std::string* why) {
  int fd = connect_loopback(port, opts.rcvbuf, opts.sndbuf);
  if (fd < 0) {
    if (why) *why = errno_text("connect");
    return nullptr;
  }
  std::unique_ptr<Connection> c(new Connection(fd, opts));
  if (!opts.tls) return c;
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  c->ssl_ = c->ctx_ ? SSL_new(c->ctx_) : nullptr;
  if (!c->ssl_) {
    if (why) *why = "SSL_new failed";
    return nullptr;
  }
  // The test's certificate is self-signed: no verification, as `curl -k`.
  SSL_set_verify(c->ssl_, SSL_VERIFY_NONE, nullptr);
  SSL_set_mode(c->ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_fd(c->ssl_, fd);
  for (int i = 0; i < 1000; ++i) {
    int r = SSL_connect(c->ssl_);
    if (r == 1) return c;
    int e = SSL_get_error(c->ssl_, r);
    if ((e == SSL_ERROR_WANT_READ && c->wait(POLLIN)) ||
        (e == SSL_ERROR_WANT_WRITE && c->wait(POLLOUT)))
      continue;
    break;
  }
  if (why) *why = "TLS handshake failed: " + std::to_string(ERR_get_error());
  return nullptr;
}

Connection::~Connection() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::has_data() {
  pollfd p{fd_, POLLIN, 0};
  const bool socket_readable = ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
  if (!ssl_) return socket_readable;
  if (SSL_pending(ssl_) > 0) return true;
  if (!socket_readable) return false;
  // Readable TLS bytes may be only a session ticket (TLS 1.3 sends them after
  // the handshake): peek, which consumes such records, to see if data came.
  char b;
  const int r = SSL_peek(ssl_, &b, 1);
  if (r > 0) return true;
  const int e = SSL_get_error(ssl_, r);
  ERR_clear_error();
  return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;  // closed or failed: go read
}

bool Connection::wait(short events) {
  pollfd p{fd_, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(opts_.io_timeout.count()));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

bool Connection::send_all(const char* data, size_t len) {
  while (len > 0) {
    ssize_t n;
    if (ssl_) {
      int r = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(len, 1 << 20)));
      if (r <= 0) {
        int e = SSL_get_error(ssl_, r);
        if ((e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)) ||
            (e == SSL_ERROR_WANT_READ && wait(POLLIN)))
          continue;
        return false;
      }
      n = r;
    } else {
      n = ::send(fd_, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait(POLLOUT)) continue;
        return false;
      }
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

ssize_t Connection::recv_some(char* buf, size_t len) {
  for (;;) {
    if (ssl_) {
      int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(len, 1 << 20)));
      if (r > 0) return r;
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_ZERO_RETURN) return 0;
      if ((e == SSL_ERROR_WANT_READ && wait(POLLIN)) ||
          (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)))
        continue;
      // A peer that closes without close_notify looks like this.
      if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) return 0;
      return -1;
    }
    ssize_t n = ::recv(fd_, buf, len, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait(POLLIN)) continue;
    return -1;
  }
}

// ---- HTTP --------------------------------------------------------------------------------

namespace {

bool readable_now(Connection& c) { return !c.pending().empty() || c.has_data(); }

// Fills c.pending() with more bytes; false on close or error.
bool fill(Connection& c, size_t want = 64 * 1024) {
  char buf[64 * 1024];
  ssize_t n = c.recv_some(buf, std::min(want, sizeof buf));
  if (n <= 0) return false;
  c.pending().append(buf, static_cast<size_t>(n));
  return true;
}

bool read_head(Connection& c, Exchange& ex) {
  for (int rounds = 0; rounds < 100000; ++rounds) {
    auto end = c.pending().find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.pending().size() > 1 << 20 || !fill(c)) return false;
      continue;
    }
    std::istringstream in(c.pending().substr(0, end));
    c.pending().erase(0, end + 4);
    std::string line;
    std::getline(in, line);
    if (line.size() < 12) return false;
    ex.status = std::atoi(line.c_str() + 9);
    ex.headers.clear();
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      ex.headers[name] = line.substr(std::min(line.size(), line.find_first_not_of(' ', colon + 1)));
    }
    if (ex.status != 100) return true;  // else an interim answer: the real one follows
  }
  return false;
}

void read_body(Connection& c, const std::string& method, Exchange& ex, const ExchangeOptions& o) {
  if (method == "HEAD" || ex.status == 204 || ex.status == 304 || ex.status < 200) return;
  Sha256 sha;
  auto take = [&](size_t n) {
    sha.update(c.pending().data(), n);
    if (o.keep_body) ex.body.append(c.pending().data(), n);
    c.pending().erase(0, n);
    ex.body_bytes += n;
    if (o.on_progress) o.on_progress(ex.body_bytes);
  };
  auto cl = ex.headers.find("content-length");
  if (ex.headers.count("transfer-encoding")) {
    ex.error = "chunked responses are not read by this client";
  } else if (cl != ex.headers.end()) {
    uint64_t left = std::strtoull(cl->second.c_str(), nullptr, 10);
    while (left > 0) {
      if (c.pending().empty()) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(left, 64 * 1024));
        if (o.read_pacer) want = o.read_pacer->acquire(want);
        if (!fill(c, want)) {
          ex.error = "connection closed with " + std::to_string(left) + " body bytes missing";
          break;
        }
        if (o.read_pacer) o.read_pacer->consume(c.pending().size());
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, c.pending().size()));
      take(n);
      left -= n;
    }
  } else {
    for (int rounds = 0; rounds < 10'000'000; ++rounds) {  // until close
      if (!c.pending().empty()) take(c.pending().size());
      if (!fill(c)) break;
    }
  }
  ex.body_sha256 = sha.hex_digest();
}

}  // namespace

Exchange http_exchange(Connection& c, const std::string& method, const std::string& target,
                       const Headers& headers, const BodySource* body, const ExchangeOptions& o) {
  Exchange ex;
  const auto start = Clock::now();
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (o.close) head += "Connection: close\r\n";
  for (auto& [k, v] : headers) head += k + ": " + v + "\r\n";
  if (body) head += "Content-Length: " + std::to_string(body->total()) + "\r\n";
  head += "\r\n";
  bool ok = c.send_all(head.data(), head.size());
  if (ok && body) {
    Sha256 file_sha;
    std::vector<char> buf(64 * 1024);
    const uint64_t total = std::min(body->total(), o.stop_after);
    const uint64_t file_end = body->prefix.size() + body->size;
    for (uint64_t off = 0; ok && off < total;) {
      // The server may answer before the body is complete (an error, a
      // timeout): stop sending and read what it says.
      if (readable_now(c)) break;
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), total - off));
      if (o.send_pacer) n = o.send_pacer->acquire(n);
      // The piece never crosses the file's bounds, so the hash sees only file bytes.
      if (off < body->prefix.size()) {
        n = std::min<size_t>(n, body->prefix.size() - off);
        std::memcpy(buf.data(), body->prefix.data() + off, n);
      } else if (off < file_end) {
        n = static_cast<size_t>(std::min<uint64_t>(n, file_end - off));
        body->gen(buf.data(), n, off - body->prefix.size());
        file_sha.update(buf.data(), n);
      } else {
        n = std::min<size_t>(n, static_cast<size_t>(body->total() - off));
        std::memcpy(buf.data(), body->suffix.data() + (off - file_end), n);
      }
      ok = c.send_all(buf.data(), n);
      if (!ok) break;
      if (o.send_pacer) o.send_pacer->consume(n);
      off += n;
      ex.sent_bytes = off;
    }
    ex.file_sha256 = file_sha.hex_digest();
    if (!ok) ex.error = "sending the body failed after " + std::to_string(ex.sent_bytes) + " bytes";
  }
  // Even after a failed send the server may have answered (e.g. 503 then close).
  if (read_head(c, ex)) {
    read_body(c, method, ex, o);
  } else if (ex.error.empty()) {
    ex.error = "no response";
  }
  ex.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return ex;
}

Exchange http_exchange(Connection& c, const std::string& method, const std::string& target,
                       const Headers& headers, const std::string& body, const ExchangeOptions& o) {
  const bool has_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  BodySource src;
  src.prefix = body;
  return http_exchange(c, method, target, headers, has_body ? &src : nullptr, o);
}

// ---- TcpProxy ------------------------------------------------------------------------------

struct TcpProxy::Pipe {
  struct Chunk {
    std::string data;
    size_t off = 0;
    Clock::time_point release;
  };
  struct Way {
    std::deque<Chunk> queue;
    size_t queued = 0;
    bool eof = false;   // the source closed its side
    bool shut = false;  // ... and that was passed on
    uint64_t forwarded = 0;
    bool pause_done = false;
    Clock::time_point paused_until{};
    Clock::time_point last_release{};
  };
  int fd[2] = {-1, -1};  // [kUp]: the client's socket (read for kUp), [kDown]: the server's
  Way way[2];
  bool dead = false;
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  int src(int d) const { return fd[d == kUp ? 0 : 1]; }
  int dst(int d) const { return fd[d == kUp ? 1 : 0]; }
};

TcpProxy::TcpProxy(uint16_t upstream_port, Shape up, Shape down) : upstream_(upstream_port) {
  shape_[kUp] = up;
  shape_[kDown] = down;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::listen(listen_fd_, 64) == 0) {
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (wake_[1] >= 0) {
    char x = 1;
    (void)!::write(wake_[1], &x, 1);
  }
  thread_.join();
  for (int f : {listen_fd_, wake_[0], wake_[1]})
    if (f >= 0) ::close(f);
}

void TcpProxy::run() {
  // Bounded per direction, so a paused or slow side pushes back on its sender.
  constexpr size_t kMaxQueued = 256 * 1024;
  // Small socket buffers: what the proxy holds back is not hidden in the kernel.
  constexpr int kSocketBuffer = 64 * 1024;
  std::mt19937 rng(12345);  // fixed seed: the same jitter every run
  std::list<std::unique_ptr<Pipe>> pipes;
  while (!stop_) {
    const auto now = Clock::now();
    std::vector<pollfd> fds;
    std::vector<std::pair<Pipe*, int>> owners;  // per entry after the first two: pipe, fd index
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    auto next = now + std::chrono::milliseconds(100);
    for (auto& p : pipes) {
      short ev[2] = {0, 0};  // by fd index
      for (int d : {kUp, kDown}) {
        auto& w = p->way[d];
        const bool paused = w.paused_until > now;
        if (paused) next = std::min(next, w.paused_until);
        if (paused) continue;
        if (!w.eof && w.queued < kMaxQueued) ev[d == kUp ? 0 : 1] |= POLLIN;
        if (!w.queue.empty()) {
          if (w.queue.front().release <= now) ev[d == kUp ? 1 : 0] |= POLLOUT;
          else next = std::min(next, w.queue.front().release);
        }
      }
      for (int i : {0, 1}) {
        // Nothing wanted: a negative fd, so a hung-up socket does not wake poll at once.
        fds.push_back({ev[i] ? p->fd[i] : -1, ev[i], 0});
        owners.emplace_back(p.get(), i);
      }
    }
    int r = ::poll(fds.data(), fds.size(), std::max(1, remaining_ms(next)));
    if (r < 0 && errno != EINTR) break;
    if (stop_) break;
    if (fds[0].revents) {
      char buf[16];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    if (fds[1].revents & POLLIN) {
      for (int i = 0; i < 16; ++i) {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) break;
        set_buffers(c, kSocketBuffer, kSocketBuffer);
        int s = connect_loopback(upstream_, kSocketBuffer, kSocketBuffer);
        if (s < 0) {
          ::close(c);
          continue;
        }
        auto p = std::make_unique<Pipe>();
        p->fd[0] = c;
        p->fd[1] = s;
        pipes.push_back(std::move(p));
      }
    }
    // Reads and writes for every pipe whose sockets are ready (or time came).
    std::map<Pipe*, std::array<short, 2>> ready;
    for (size_t i = 2; i < fds.size(); ++i)
      ready[owners[i - 2].first][static_cast<size_t>(owners[i - 2].second)] = fds[i].revents;
    const auto t = Clock::now();
    for (auto& [p, rev] : ready) {
      for (int d : {kUp, kDown}) {
        auto& w = p->way[d];
        const Shape& sh = shape_[d];
        if (w.paused_until > t) continue;
        const short src_ev = rev[d == kUp ? 0 : 1], dst_ev = rev[d == kUp ? 1 : 0];
        if (dst_ev & POLLERR) p->dead = true;
        if (!w.eof && w.queued < kMaxQueued && (src_ev & (POLLIN | POLLHUP | POLLERR))) {
          std::string data(sh.chunk, '\0');
          ssize_t n = ::recv(p->src(d), data.data(), data.size(), 0);
          if (n > 0) {
            data.resize(static_cast<size_t>(n));
            auto jitter = sh.jitter.count() > 0
                              ? std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(
                                    0, sh.jitter.count())(rng))
                              : std::chrono::milliseconds(0);
            w.last_release = std::max(w.last_release, t + sh.delay + jitter);
            w.queued += data.size();
            w.queue.push_back({std::move(data), 0, w.last_release});
          } else if (n == 0) {
            w.eof = true;
          } else if (errno != EAGAIN && errno != EINTR) {
            p->dead = true;
          }
        }
        if (!w.queue.empty() && w.queue.front().release <= t && (dst_ev & POLLOUT)) {
          auto& ch = w.queue.front();
          size_t n = ch.data.size() - ch.off;
          if (!w.pause_done && sh.pause.count() > 0)
            n = static_cast<size_t>(std::min<uint64_t>(n, sh.pause_after - w.forwarded));
          ssize_t wr = n ? ::send(p->dst(d), ch.data.data() + ch.off, n, MSG_NOSIGNAL) : 0;
          if (wr > 0) {
            ch.off += static_cast<size_t>(wr);
            w.queued -= static_cast<size_t>(wr);
            w.forwarded += static_cast<uint64_t>(wr);
            forwarded_[d] += static_cast<uint64_t>(wr);
            if (ch.off == ch.data.size()) w.queue.pop_front();
          } else if (wr < 0 && errno != EAGAIN && errno != EINTR) {
            p->dead = true;
          }
        }
        if (!w.pause_done && sh.pause.count() > 0 && w.forwarded >= sh.pause_after) {
          w.pause_done = true;
          w.paused_until = Clock::now() + sh.pause;
          ++pauses_[d];
        }
        if (w.eof && w.queue.empty() && !w.shut) {
          ::shutdown(p->dst(d), SHUT_WR);
          w.shut = true;
        }
      }
    }
    pipes.remove_if([](const std::unique_ptr<Pipe>& p) {
      return p->dead || (p->way[0].shut && p->way[1].shut);
    });
  }
}

}  // namespace up::testing
