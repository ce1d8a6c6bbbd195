#include "http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <list>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <tuple>

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/blocking.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/text.h"
#include "http/any_stream.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/request_log.h"
#include "http/stream_io.h"

namespace up::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kTok = net::as_tuple(net::use_awaitable);
constexpr size_t kChunkBytes = 256 * 1024;  // the fixed body buffer of a connection
constexpr auto kLingerTime = 2s;            // reading what a refused client still sends
constexpr uint64_t kLingerBytes = 64ull << 20;
// Room in a connection's read buffer beyond the header limit: one body chunk.
// Beast lets chunk extensions and trailers grow the buffer without bound;
// this caps them (the read then fails with http::error::buffer_overflow).
constexpr size_t kBufferSlack = 2 * kChunkBytes;
// What a connection's read buffer keeps between requests: a request's header
// mostly fits.
constexpr size_t kIdleBufferBytes = 8 * 1024;
// A body from a local file up to this size is read and sent with its header in
// one write (one packet; pread + write are no more calls than write + sendfile).
constexpr uint64_t kSmallFileBody = 16 * 1024;

// Room for a request head's target and fields, per connection (a larger head
// takes more from the heap, given back after its request).
constexpr size_t kHeadArenaBytes = 2 * 1024;

using TcpStream = beast::tcp_stream;
// A request's target and fields live in its connection's arena (HeadArena),
// not in a heap allocation each: three per small GET.
using HeadAllocator = std::pmr::polymorphic_allocator<char>;
using RequestParser = bhttp::request_parser<bhttp::buffer_body, HeadAllocator>;
using ChunkPtr = std::unique_ptr<std::array<char, kChunkBytes>>;
using TlsStream = ssl::stream<beast::tcp_stream>;

// What one connection shares with the shutdown path. Only touched on the
// connection's strand.
struct ConnState {
  TcpStream* lowest = nullptr;
  bool idle = true;
  bool closed = false;
};

// The headers a browser may read (CORS): the tus ones too, which a browser's
// tus client reads (native /v1/tus/).
constexpr std::string_view kExposeHeaders =
    "ETag, Location, X-Request-Id, Content-Disposition, Content-Range, Upload-Offset, "
    "Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension, "
    "Upload-Metadata, Upload-Expires, Upload-Concat, Upload-Defer-Length, "
    "Tus-Checksum-Algorithm, Upgate-File-Id";

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

Error from_beast(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return Error{Errc::kTimeout, "timed out reading the body"};
  if (is_http_error(ec))
    return Error{Errc::kInvalidArgument, "malformed request body: " + ec.message()};
  return Error{Errc::kUnavailable, "connection lost: " + ec.message()};
}

// Why a request whose header Beast accepted still has ambiguous framing or
// routing (RFC 9112 sections 3.2 and 6), or nullptr. Two parties reading such a
// request differently is what request smuggling exploits, so it is refused
// and the connection closed. Beast itself refuses Content-Length together
// with chunked and differing Content-Length values.
const char* ambiguous_framing(const RequestParser& parser) {
  const auto& req = parser.get();
  // One walk over the request's few fields, by their parsed names, rather than
  // a count() each (a lookup by name in Beast's ordered set).
  size_t lengths = 0, encodings = 0, hosts = 0;
  bool length_list = false;
  for (const auto& f : req) {
    switch (f.name()) {
      case bhttp::field::content_length:
        ++lengths;
        length_list = length_list || f.value().find(',') != beast::string_view::npos;
        break;
      case bhttp::field::transfer_encoding: ++encodings; break;
      case bhttp::field::host: ++hosts; break;
      default: break;
    }
  }
  if (lengths > 1 || length_list) return "more than one Content-Length";
  if (encodings > 0) {
    if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (!parser.chunked()) return "Transfer-Encoding whose final coding is not chunked";
  }
  if (hosts > 1) return "more than one Host";
  if (hosts == 0 && req.version() >= 11) return "no Host header";
  return nullptr;
}

// The access-log lines of one I/O thread's connections, written together: one
// write(2) per turn of that thread's event loop instead of one per request (the
// write was 4% of a small GET). Lines stay whole; a session writes what is
// pending before it closes its connection, Server::run before it returns.
// Touched only by the thread running the context, and by Server::run once
// every I/O thread is done.
class AccessLogBatch {
 public:
  explicit AccessLogBatch(net::io_context& context) : context_(context) {}
  AccessLogBatch(const AccessLogBatch&) = delete;
  AccessLogBatch& operator=(const AccessLogBatch&) = delete;

  // Appends one line, written by `append(std::string&)`.
  template <class Append>
  void add(Append&& append) {
    append(pending_);
    if (pending_.size() >= kFlushBytes) return flush();
    if (flush_posted_) return;
    flush_posted_ = true;
    // Queued behind the completions already due in this turn of the loop: a
    // busy thread writes their lines at once, an idle one writes its line now.
    net::post(context_, [this] {
      flush_posted_ = false;
      flush();
    });
  }
  void flush() {
    if (pending_.empty()) return;
    log::access(pending_);
    pending_.clear();
  }

 private:
  static constexpr size_t kFlushBytes = 32 * 1024;
  net::io_context& context_;
  std::string pending_;
  bool flush_posted_ = false;
};

// The plain connections of one I/O thread that wait for their next request,
// oldest first, and the sweep that cuts those idle past the limit: one timer
// per thread rather than a deadline armed and cancelled on every keep-alive
// request (its schedule, its cancel and the cancelled wait's completion, with
// the stream's type-erased read, were a seventh of a small GET's
// instructions). A connection is cut between `limit` and `limit` plus one
// tick (an eighth of it) after its last request. Touched only by the thread
// running the context.
class IdleConnections {
 public:
  struct Waiter {
    explicit Waiter(tcp::socket& s) : socket(s) {}
    tcp::socket& socket;
    std::chrono::steady_clock::time_point since;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool linked = false;
  };

  IdleConnections() = default;
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;

  // Appended last: `since` is now, so the list stays oldest first.
  void add(Waiter& w) {
    w.since = std::chrono::steady_clock::now();
    w.prev = tail_;
    w.next = nullptr;
    (tail_ ? tail_->next : head_) = &w;
    tail_ = &w;
    w.linked = true;
  }
  void remove(Waiter& w) {
    if (!w.linked) return;
    (w.prev ? w.prev->next : head_) = w.next;
    (w.next ? w.next->prev : tail_) = w.prev;
    w.linked = false;
  }

  // Cuts the waits older than `limit`, every tick, until the context stops
  // (the frame goes with it). Every connection ends before its context
  // stops (Server::run), so no waiter outlives its connection here.
  net::awaitable<void> sweep(std::chrono::steady_clock::duration limit) {
    net::steady_timer timer(co_await net::this_coro::executor);
    const auto tick = std::clamp<std::chrono::steady_clock::duration>(limit / 8, 5ms, 1s);
    for (;;) {
      timer.expires_after(tick);
      auto [ec] = co_await timer.async_wait(kTok);
      if (ec) co_return;
      const auto now = std::chrono::steady_clock::now();
      while (head_ != nullptr && now - head_->since >= limit) {
        Waiter& w = *head_;
        remove(w);
        beast::error_code ignored;
        w.socket.cancel(ignored);  // its read ends with operation_aborted
      }
    }
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// Lets the process hold as many connections as its hard limit allows: the
// usual soft limit (1024) is far below what idle keep-alive clients need.
void raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace

struct Server::Impl {
  explicit Impl(ServerConfig c, std::vector<HandlerPtr> h)
      : cfg(std::move(c)), handlers(std::move(h)) {}

  ServerConfig cfg;
  std::vector<HandlerPtr> handlers;
  // The accept loops, signals and shutdown, and a share of the connections.
  net::io_context ioc{1};
  // One more context per further I/O thread, each run by that thread alone:
  // connections stay on one thread, whose own posts skip the scheduler's lock
  // and the wake-ups of a context shared by every I/O thread.
  std::vector<std::unique_ptr<net::io_context>> workers;
  size_t next_context = 0;  // round robin; only the accept loops touch it
  // One per context: [0] for ioc, [i] for workers[i - 1].
  std::vector<std::unique_ptr<AccessLogBatch>> access_logs;
  std::vector<std::unique_ptr<IdleConnections>> idle;  // as access_logs
  std::optional<ssl::context> tls;
  std::vector<tcp::acceptor> acceptors;
  std::vector<std::string> urls;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::mutex conns_mu;
  std::list<std::pair<net::any_io_executor, std::shared_ptr<ConnState>>> conns;

  Status bind(const std::string& spec);
  net::awaitable<void> accept_loop(tcp::acceptor& acceptor);
  size_t next_connection_context();
  net::io_context& context(size_t i) { return i == 0 ? ioc : *workers[i - 1]; }
  net::awaitable<void> connection(tcp::socket socket, AccessLogBatch& access_log,
                                  IdleConnections& idle);
  net::awaitable<void> session(AnyStream& stream, ConnState& state, std::string remote,
                               AccessLogBatch& access_log, IdleConnections& idle);
  net::awaitable<void> linger(AnyStream& stream);
  net::awaitable<void> refuse(AnyStream& stream, int status, std::string reason);
  net::awaitable<void> drain_then_stop();
  void begin_stop();
  // Closes every connection still open (after the grace period).
  void cut_connections();
};

// ---------------------------------------------------------------------------
// One request on a connection.

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(Server::Impl& server, AnyStream& stream, beast::flat_buffer& buffer,
               RequestParser& parser, ChunkPtr& chunk, std::string_view remote,
               std::string& log_fields, std::string& head_out)
      : server_(server), stream_(stream), buffer_(buffer), parser_(parser), chunk_storage_(chunk),
        remote_(remote), started_(std::chrono::steady_clock::now()), log_fields_(log_fields),
        head_out_(head_out) {
    log_fields_.clear();
    auto& req = parser_.get();
    // Views of the parser's copy, which lives as long as this exchange.
    target_ = std::string_view(req.target().data(), req.target().size());
    auto q = target_.find('?');
    path_ = target_.substr(0, q);
    if (q != std::string_view::npos) query_ = target_.substr(q + 1);
    const std::string_view incoming = header("X-Request-Id").value_or(std::string_view{});
    if (safe_request_id(incoming)) {
      request_id_ = incoming;  // the parser's copy, as target_
    } else {
      generated_id_ = new_request_id();
      request_id_ = generated_id_.view();
    }
  }

  // request_id_ may point into this object (generated_id_).
  ExchangeImpl(const ExchangeImpl&) = delete;
  ExchangeImpl& operator=(const ExchangeImpl&) = delete;

  // http::Exchange
  std::string_view method() const override { return parser_.get().method_string(); }
  std::string_view target() const override { return target_; }
  std::string_view path() const override { return path_; }
  std::optional<std::string> query(std::string_view name) const override {
    std::string_view rest = query_;
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      auto eq = pair.find('=');
      std::string_view k = pair.substr(0, eq);
      if (k != name) continue;
      std::string v(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
      for (char& c : v)
        if (c == '+') c = ' ';
      if (v.find('%') == std::string::npos) return v;  // nothing to decode: no second copy
      auto decoded = percent_decode(v);
      return decoded ? *decoded : v;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    // The fields walked in order, lengths compared first, rather than Beast's
    // find(), which compares names letter by letter down its ordered set: a
    // request has a few fields. The first of that name, as find() gives.
    for (const auto& f : parser_.get()) {
      const auto n = f.name_string();
      if (n.size() == name.size() && beast::iequals(n, name))
        return std::string_view(f.value().data(), f.value().size());
    }
    return std::nullopt;
  }
  std::optional<uint64_t> content_length() const override {
    auto n = parser_.content_length();
    if (!n) return std::nullopt;
    return *n;
  }
  std::string_view request_id() const override { return request_id_; }
  std::string_view remote_address() const override { return remote_; }

  net::awaitable<Result<std::string_view>> read_chunk() override {
    if (body_done()) co_return std::string_view{};
    if (!continue_sent_) {
      continue_sent_ = true;
      // A body of known length on a plain connection is read past Beast (see
      // read_raw); a chunked one, or any under TLS, goes through the parser.
      if (auto n = content_length(); n && stream_.plain()) raw_left_ = *n;
      auto expect = parser_.get()[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        stream_.tcp().expires_after(server_.cfg.idle_timeout);
        auto [ec, n] = co_await bhttp::async_write(stream_, cont, kTok);
        if (ec) {
          broken_ = true;
          co_return fail(from_beast(ec));
        }
      }
    }
    if (raw_left_) co_return co_await read_raw();
    // Beast reads only as much as the buffer's spare capacity: give it room
    // for a whole chunk while a body streams (idle connections stay small).
    if (buffer_.capacity() < kChunkBytes) buffer_.reserve(kChunkBytes);
    auto& chunk = this->chunk();
    for (;;) {
      parser_.get().body().data = chunk.data();
      parser_.get().body().size = chunk.size();
      // read_some, not read: a read returns what arrived rather than waiting
      // for a full chunk, so the idle timeout is time without progress even
      // for a body slower than a chunk per timeout.
      ReadDeadline deadline(stream_.tcp(), server_.cfg.idle_timeout);
      auto [rec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser_, kTok);
      beast::error_code ec = deadline.result(rec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        // A malformed body still gets its answer (the session then lingers
        // and closes); a lost or timed-out connection gets none.
        if (!is_http_error(ec)) broken_ = true;
        co_return fail(from_beast(ec));
      }
      const size_t got = chunk.size() - parser_.get().body().size;
      bytes_in_ += got;
      if (got > 0 || parser_.is_done()) co_return std::string_view(chunk.data(), got);
    }
  }

  // The next piece of a body of known length, read from the socket into the
  // chunk without Beast's parser: its buffer_body copies every byte once
  // more, and it reads 64 KiB at most. The parser, left after the header,
  // then never finishes: body_done() says when the body has been read.
  net::awaitable<Result<std::string_view>> read_raw() {
    auto& chunk = this->chunk();
    const auto want = static_cast<size_t>(std::min<uint64_t>(*raw_left_, chunk.size()));
    size_t got = 0;
    // Other connections of this thread first: receive_some returns at once
    // while bytes keep arriving. The yield also lets more arrive for this
    // read. A cancel_read() meanwhile finds no operation to cancel: the flag
    // carries it.
    reading_ = true;
    read_cancelled_ = false;
    co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
    reading_ = false;
    if (read_cancelled_) {
      broken_ = true;
      co_return fail(from_beast(net::error::operation_aborted));
    }
    if (buffer_.size() > 0) {
      // The body's first bytes, read with the header (or a pipelined
      // request's, which stay in the buffer past this body's end).
      got = net::buffer_copy(net::buffer(chunk.data(), want), buffer_.data());
      buffer_.consume(got);
    } else {
      auto [ec, n] =
          co_await receive_some(stream_.tcp(), chunk.data(), want, server_.cfg.idle_timeout);
      if (ec == net::error::eof) ec = bhttp::error::partial_message;  // as Beast says it
      if (ec) {
        if (!is_http_error(ec)) broken_ = true;
        co_return fail(from_beast(ec));
      }
      got = n;
    }
    *raw_left_ -= got;
    bytes_in_ += got;
    co_return std::string_view(chunk.data(), got);
  }

  void cancel_read() override {
    if (reading_) read_cancelled_ = true;
    stream_.tcp().cancel();
  }

  net::awaitable<Result<std::string>> read_all(uint64_t limit) override {
    if (auto n = content_length(); n && *n > limit)
      co_return fail(Errc::kTooLarge, "body larger than " + std::to_string(limit) + " bytes");
    std::string body;
    for (;;) {
      auto piece = co_await read_chunk();
      if (!piece) co_return fail(piece.error());
      if (piece->empty()) co_return body;
      if (body.size() + piece->size() > limit)
        co_return fail(Errc::kTooLarge, "body larger than " + std::to_string(limit) + " bytes");
      body.append(*piece);
    }
  }

  net::awaitable<void> send(Response r) override {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
    add_headers(res, r);
    if (!headers_safe(res)) {
      // Only fixed headers: the refused ones must not go out in any form.
      r = json_response(500, R"({"error":"internal error"})");
      res = bhttp::response<bhttp::string_body>{bhttp::status::internal_server_error, 11};
      res.set(bhttp::field::server, "upgate");
      res.set("X-Request-Id", request_id_);
      res.set(bhttp::field::content_type, "application/json; charset=utf-8");
      res.keep_alive(keep_alive());
    }
    res.body() = std::move(r.body);
    res.prepare_payload();
    status_ = r.status;
    responded_ = true;
    stream_.tcp().expires_after(server_.cfg.idle_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream_, res, kTok);
    bytes_out_ += n;
    if (ec) broken_ = true;
  }

  net::awaitable<void> send_blob(Response head, core::ObjectReader reader) override {
    // The header is written by hand, not through Beast's fields and serializer:
    // for a small download they cost more than the rest of the response.
    const uint64_t size = reader.size();
    std::string& out = head_out_;
    out.clear();
    if (!append_head(out, head, size))
      co_return co_await send(json_response(500, R"({"error":"internal error"})"));
    status_ = head.status;
    responded_ = true;
    if (auto bytes = reader.bytes()) {
      // In memory (a small blob, mostly): header and body in one writev from
      // where they are, here, without a coroutine of its own when the socket
      // takes it all, as it mostly does.
      const std::array<net::const_buffer, 2> both{net::buffer(out),
                                                  net::buffer(bytes->data(), bytes->size())};
      beast::error_code ec;
      const size_t sent = write_now(both, ec);
      if (!ec && sent < out.size() + bytes->size()) {
        beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(both);
        rest.consume(sent);
        stream_.tcp().expires_after(server_.cfg.idle_timeout);
        std::tie(ec, std::ignore) = co_await net::async_write(stream_, rest, kTok);
      }
      if (ec) {
        broken_ = true;
        co_return;
      }
      bytes_out_ += size;
      co_return;
    }
    const core::ObjectReader::File file = reader.file();
    const bool sendfile = stream_.plain() && file.fd >= 0 && size > kSmallFileBody;
    if (!sendfile && size <= kChunkBytes) {
      // A small body goes out with its header in one write.
      if (auto ec = co_await send_whole(out, reader)) broken_ = true;
      co_return;
    }
    stream_.tcp().expires_after(server_.cfg.idle_timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(out), kTok);
    // The status line is gone already: after a failure all we can do is cut
    // the response short.
    if (!ec) {
      if (sendfile) {
        // Content-Length framing: the raw bytes are the whole body.
        ec = co_await send_file(stream_.tcp(), file.fd, file.offset, size, server_.cfg.idle_timeout,
                                bytes_out_);
        if (ec) broken_ = true;
        co_return;
      }
      ec = co_await send_chunks(reader);
    }
    if (ec) broken_ = true;
  }

  net::awaitable<void> offload(std::function<void()> work) override {
    co_await server_.cfg.blocking->run(std::move(work));
  }

  net::awaitable<void> suspend(const std::function<void(Resume)>& start) override {
    co_await core::suspend(start);
  }

  void log_field(std::string_view name, std::string value) override {
    append_json_field(log_fields_, name, value);
  }

  // Server side.
  bool responded() const { return responded_; }
  bool broken() const { return broken_; }
  bool body_done() const { return raw_left_ ? *raw_left_ == 0 : parser_.is_done(); }
  // Keep the connection when the client wants to, the body was read to its
  // end (else the next request's start is unknown) and we are not stopping.
  bool keep_alive() const {
    return !broken_ && parser_.get().keep_alive() && body_done() && !server_.stopping.load();
  }
  // Appends this request's access-log line to `out`.
  void append_log_line(std::string& out) const {
    const auto us =
        std::chrono::round<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
    append_access_line(
        out, AccessEntry{request_id_, remote_, method(), path_, status_, bytes_in_, bytes_out_,
                         static_cast<uint64_t>(std::max<int64_t>(0, us.count())), log_fields_});
  }

 private:
  // A whole response of at most kChunkBytes of body after its header `out`:
  // read onto the header's end, then written at once. A failed read sends
  // nothing (the connection is cut).
  net::awaitable<beast::error_code> send_whole(const std::string& head,
                                               core::ObjectReader& reader) {
    // Its own buffer of the response's size, not zeroed: the connection's
    // chunk is given back between requests, and taking it again for 4 KiB
    // cost more than the rest.
    const size_t size = static_cast<size_t>(reader.size());
    const size_t total = head.size() + size;
    auto out = std::make_unique_for_overwrite<char[]>(total);
    std::memcpy(out.get(), head.data(), head.size());
    size_t have = 0;
    while (have < size) {
      auto got = co_await reader.read(std::span<char>(out.get() + head.size() + have, size - have));
      if (!got || *got == 0) co_return beast::error_code(net::error::eof);
      have += *got;
    }
    beast::error_code wec;
    const size_t sent = write_now(net::buffer(out.get(), total), wec);
    if (wec) co_return wec;
    if (sent == total) {
      bytes_out_ += size;
      co_return beast::error_code{};
    }
    stream_.tcp().expires_after(server_.cfg.idle_timeout);
    auto [ec, n] =
        co_await net::async_write(stream_, net::buffer(out.get() + sent, total - sent), kTok);
    if (ec) co_return ec;
    bytes_out_ += size;
    co_return beast::error_code{};
  }

  // Writes what of `buffers` a plain connection's socket takes at once: mostly
  // all of it, here, without an asynchronous operation and its timer. The
  // socket is non-blocking (connection()), so a full send buffer leaves the
  // rest to the caller's async_write (not an error); nothing is written on TLS.
  template <class Buffers>
  size_t write_now(const Buffers& buffers, beast::error_code& ec) {
    ec = {};
    if (!stream_.plain()) return 0;
    const size_t sent = net::write(stream_.tcp().socket(), buffers, ec);
    if (ec == net::error::would_block || ec == net::error::try_again) ec = {};
    return sent;
  }

  // The body of send_blob read from the reader and written chunk by chunk
  // (TLS, or a store without local files), after its header.
  net::awaitable<beast::error_code> send_chunks(core::ObjectReader& reader) {
    uint64_t left = reader.size();
    auto& chunk = this->chunk();
    while (left > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      auto got = co_await reader.read(std::span<char>(chunk.data(), want));
      if (!got || *got == 0) co_return beast::error_code(net::error::eof);
      left -= *got;
      stream_.tcp().expires_after(server_.cfg.idle_timeout);
      auto [wec, wn] = co_await net::async_write(stream_, net::buffer(chunk.data(), *got), kTok);
      if (wec) co_return wec;
      bytes_out_ += *got;
    }
    co_return beast::error_code{};
  }

  // The status line and header of a response with a `content_length` body, as
  // Beast writes them (add_headers' fields, then Content-Length), appended to
  // `out`. False, with nothing to send, when a header is unsafe (headers_safe).
  bool append_head(std::string& out, const Response& r, uint64_t content_length) const {
    // Names are tokens by construction (HeaderName), so only values are checked.
    for (const auto& [name, value] : r.headers)
      if (!safe_value(name, value)) return false;
    const std::string_view origin = header("Origin").value_or(std::string_view{});
    const bool cors =
        !origin.empty() && server_.cfg.cors_allowed && server_.cfg.cors_allowed(origin);
    if (cors && !safe_value("Access-Control-Allow-Origin", origin)) return false;
    const bool close = !keep_alive();
    DecimalDigits status_digits{}, length_digits{};
    const std::string_view status = format_decimal(status_digits, static_cast<uint64_t>(r.status));
    const std::string_view length = format_decimal(length_digits, content_length);
    const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
    // Run twice: to size the room, then to fill it; one append each cost more
    // than the rest of the header (a length and a capacity check apiece).
    const auto pieces = [&](auto&& put) {
      const auto field = [&put](std::string_view name, std::string_view value) {
        put(name);
        put(": ");
        put(value);
        put("\r\n");
      };
      put("HTTP/1.1 ");
      put(status);
      put(" ");
      put(std::string_view(reason.data(), reason.size()));
      put("\r\n");
      field("Server", "upgate");
      field("X-Request-Id", request_id_);
      for (const auto& [name, value] : r.headers) field(name, value);
      put(r.lines);
      if (cors) {
        field("Access-Control-Allow-Origin", origin);
        field("Access-Control-Expose-Headers", kExposeHeaders);
        field("Vary", "Origin");
      }
      if (close) field("Connection", "close");
      field("Content-Length", length);
      put("\r\n");
    };
    size_t need = 0;
    pieces([&need](std::string_view s) { need += s.size(); });
    const size_t at = out.size();
    out.resize(at + need);
    char* p = out.data() + at;
    pieces([&p](std::string_view s) {
      std::memcpy(p, s.data(), s.size());
      p += s.size();
    });
    return true;
  }

  bool safe_value(std::string_view name, std::string_view value) const {
    if (safe_header_value(value)) return true;
    log::request_error(request_id_, "refused to send header \"" + json_escape(name) +
                                        "\" (a control byte in its name or value); answered 500");
    return false;
  }

  // The connection's body buffer, allocated on first use so that idle
  // connections cost little.
  std::array<char, kChunkBytes>& chunk() {
    // For overwrite: zeroing 64 KiB per request showed in profiles.
    if (!chunk_storage_)
      chunk_storage_ = std::make_unique_for_overwrite<std::array<char, kChunkBytes>>();
    return *chunk_storage_;
  }

  template <class Res>
  void add_headers(Res& res, const Response& r) {
    res.set(bhttp::field::server, "upgate");
    res.set("X-Request-Id", request_id_);
    for (auto& [name, value] : r.headers) res.insert(std::string_view(name), value);
    for (std::string_view rest = r.lines; !rest.empty();) {
      const size_t end = rest.find("\r\n");
      const std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
      const size_t colon = line.find(": ");
      res.insert(line.substr(0, colon),
                 colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 2));
    }
    auto origin = parser_.get()[bhttp::field::origin];
    if (!origin.empty() && server_.cfg.cors_allowed && server_.cfg.cors_allowed(origin)) {
      res.set(bhttp::field::access_control_allow_origin, origin);
      res.set(bhttp::field::access_control_expose_headers, kExposeHeaders);
      res.set(bhttp::field::vary, "Origin");
    }
    res.keep_alive(keep_alive());
  }

  // The last wall against header injection (response splitting): a header
  // name or value with CR, LF, NUL or another control byte is never sent,
  // whatever stored text it came from; the request is answered 500 instead.
  // Dialects validate what they store; this catches what they missed.
  template <class Res>
  bool headers_safe(const Res& res) const {
    for (const auto& f : res) {
      if (safe_header_name(f.name_string()) && safe_header_value(f.value())) continue;
      log::request_error(request_id_, "refused to send header \"" + json_escape(f.name_string()) +
                                          "\" (a control byte in its name or value); answered 500");
      return false;
    }
    return true;
  }

  Server::Impl& server_;
  AnyStream& stream_;
  beast::flat_buffer& buffer_;
  RequestParser& parser_;
  ChunkPtr& chunk_storage_;
  std::string_view remote_;
  std::chrono::steady_clock::time_point started_;
  std::string_view target_, path_, query_;
  RequestId generated_id_;       // ours, when the client sent no usable X-Request-Id
  std::string_view request_id_;  // the client's or generated_id_
  // The connection's, emptied per request: its room is kept (an allocation
  // per request otherwise, as most requests log a field).
  std::string& log_fields_;
  // The connection's, for a response's head written by hand (send_blob): its
  // room is kept, as log_fields_'.
  std::string& head_out_;
  bool continue_sent_ = false;
  std::optional<uint64_t> raw_left_;  // the body's bytes still to come when read_raw reads it
  bool reading_ = false;              // read_raw's yield under way
  bool read_cancelled_ = false;       // cancel_read() during it
  bool responded_ = false;
  bool broken_ = false;
  int status_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

// ---------------------------------------------------------------------------

// A CORS preflight's answer (given here, for every route); empty for any
// other request.
std::optional<Response> preflight(const Server::Impl& server, const ExchangeImpl& ex) {
  auto origin = ex.header("Origin");
  if (ex.method() != "OPTIONS" || !origin || !ex.header("Access-Control-Request-Method"))
    return std::nullopt;
  Response r = empty_response(204);
  if (server.cfg.cors_allowed && server.cfg.cors_allowed(*origin)) {
    r.header("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    auto asked = ex.header("Access-Control-Request-Headers");
    r.header("Access-Control-Allow-Headers", asked ? std::string(*asked) : "*");
    r.header("Access-Control-Max-Age", "600");
  }
  return r;
}

// The first handler that takes the request; null when none does.
Handler* route(const Server::Impl& server, const ExchangeImpl& ex) {
  for (const auto& handler : server.handlers)
    if (handler->matches(ex.method(), ex.path())) return handler.get();
  return nullptr;
}

net::awaitable<void> Server::Impl::linger(AnyStream& stream) {
  // The client may still be sending a body we refused. Closing now would reset
  // the connection and could destroy our answer before it is read; read and
  // drop what comes for a short while instead (as nginx's lingering close).
  beast::error_code ec;
  stream.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16 * 1024> scratch;
  uint64_t dropped = 0;
  stream.tcp().expires_after(kLingerTime);
  while (dropped < kLingerBytes) {
    auto [rec, n] = co_await stream.tcp().async_read_some(net::buffer(scratch), kTok);
    if (rec) break;
    dropped += n;
  }
}

// Answers a request that never reached a handler and closes the connection.
net::awaitable<void> Server::Impl::refuse(AnyStream& stream, int status, std::string reason) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, "upgate");
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = std::string(bhttp::obsolete_reason(res.result())) + ": " + reason + "\n";
  res.keep_alive(false);
  res.prepare_payload();
  stream.tcp().expires_after(cfg.idle_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, kTok);
  if (!ec) co_await linger(stream);
}

net::awaitable<void> Server::Impl::session(AnyStream& stream, ConnState& state, std::string remote,
                                           AccessLogBatch& access_log, IdleConnections& idle) {
  beast::flat_buffer buffer(cfg.header_limit_bytes + kBufferSlack);
  ChunkPtr chunk;
  std::string log_fields, head_out;  // ExchangeImpl's
  // Emptied before each request, once the last one's parser is gone.
  std::array<std::byte, kHeadArenaBytes> head_room;
  std::pmr::monotonic_buffer_resource head_arena(head_room.data(), head_room.size());
  for (bool first = true;; first = false) {
    head_arena.release();
    RequestParser parser(std::piecewise_construct, std::make_tuple(),
                         std::make_tuple(HeadAllocator(&head_arena)));
    parser.header_limit(cfg.header_limit_bytes);
    parser.body_limit(boost::none);  // handlers enforce their own limits while streaming
    state.idle = true;
    if (stopping.load()) co_return;
    if (!first && buffer.size() == 0) {
      // Idle between requests: give the body buffers back. A buffer of a
      // header's size stays (taking it again cost a malloc and a free per
      // keep-alive request).
      if (buffer.capacity() > kIdleBufferBytes) buffer.shrink_to_fit();
      if (head_out.capacity() > kIdleBufferBytes) head_out = std::string();  // a long name's
      chunk.reset();
      // Between requests the idle timeout applies; once bytes arrive, the
      // header timeout (so a client trickling its headers is cut off). A
      // plain connection reads from its socket, past the stream's deadline
      // timer: its thread's sweep keeps the idle timeout.
      beast::error_code ec;
      size_t n = 0;
      if (stream.plain()) {
        IdleConnections::Waiter waiter(stream.tcp().socket());
        idle.add(waiter);
        std::tie(ec, n) =
            co_await stream.tcp().socket().async_read_some(buffer.prepare(4096), kTok);
        idle.remove(waiter);
      } else {
        stream.tcp().expires_after(cfg.idle_timeout);
        std::tie(ec, n) = co_await stream.async_read_some(buffer.prepare(4096), kTok);
      }
      if (ec) co_return;
      buffer.commit(n);
    }
    beast::error_code ec;
    if (buffer.size() > 0) {
      // A header that arrived whole (most do) is parsed here, without an
      // asynchronous read and its deadline timer. The same parser and limits
      // as async_read_header, which takes over for the rest of a partial one.
      buffer.consume(parser.put(buffer.data(), ec));
      if (ec == bhttp::error::need_more) ec = {};
    }
    if (!ec && !parser.is_header_done()) {
      // The header timeout covers the header only: the deadline must be gone
      // before the body streams, or it cuts every transfer longer than it.
      ReadDeadline deadline(stream.tcp(), cfg.header_timeout);
      auto [rec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTok);
      ec = deadline.result(rec);
    }
    state.idle = false;
    if (ec) {
      int status = 0;
      std::string reason;
      if (ec == bhttp::error::header_limit) {
        status = 431;
        reason =
            "request line and headers exceed " + std::to_string(cfg.header_limit_bytes) + " bytes";
      } else if (is_http_error(ec)) {
        status = 400;
        reason = ec.message();
      } else if (ec == beast::error::timeout && buffer.size() > 0) {
        status = 408;
        reason = "headers not received in time";
      }
      if (status) co_await refuse(stream, status, std::move(reason));
      co_return;
    }
    if (const char* problem = ambiguous_framing(parser)) {
      co_await refuse(stream, 400, problem);
      co_return;
    }
    ExchangeImpl ex(*this, stream, buffer, parser, chunk, remote, log_fields, head_out);
    // Served here, not in a coroutine of its own: one frame less per request.
    if (auto answer = preflight(*this, ex)) {
      co_await ex.send(std::move(*answer));
    } else if (Handler* handler = route(*this, ex)) {
      try {
        co_await handler->handle(ex);
      } catch (const std::exception& e) {
        // Dialects report errors as Results; an exception here is a bug. Answer
        // 500 if we still can, and keep serving.
        log::request_error(ex.request_id(), std::string("failed: ") + e.what());
      }
      if (!ex.responded() && !ex.broken())
        co_await ex.send(json_response(500, "{\"error\":\"internal error\"}"));
    } else {
      co_await ex.send(json_response(404, "{\"error\":\"no such route\"}"));
    }
    if (cfg.access_log) access_log.add([&ex](std::string& out) { ex.append_log_line(out); });
    if (!ex.keep_alive()) {
      // The client sees the connection end next: its line is written first.
      access_log.flush();
      if (!ex.broken() && !ex.body_done()) co_await linger(stream);
      co_return;
    }
  }
}

net::awaitable<void> Server::Impl::connection(tcp::socket socket, AccessLogBatch& access_log,
                                              IdleConnections& idle) {
  struct Active {
    std::atomic<int>& n;
    explicit Active(std::atomic<int>& c) : n(c) { ++n; }
    ~Active() { --n; }
  } active_guard(active);
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto ep = socket.remote_endpoint(ec);
  std::string remote = ec ? "" : ep.address().to_string();
  auto executor = socket.get_executor();
  auto state = std::make_shared<ConnState>();
  std::list<std::pair<net::any_io_executor, std::shared_ptr<ConnState>>>::iterator reg;
  {
    std::lock_guard lock(conns_mu);
    reg = conns.emplace(conns.end(), executor, state);
  }
  if (tls) {
    TlsStream stream(std::move(socket), *tls);
    state->lowest = &stream.next_layer();
    stream.next_layer().expires_after(cfg.header_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kTok);
    if (!hec) {
      // Named, not a temporary of the co_await expression: g++ 12 destroys those twice.
      auto any = any_stream(stream);
      co_await session(*any, *state, remote, access_log, idle);
      stream.next_layer().expires_after(2s);
      co_await stream.async_shutdown(kTok);
    }
    state->closed = true;
  } else {
    // Non-blocking for send_whole's synchronous try (asynchronous operations
    // do not depend on it).
    socket.non_blocking(true, ec);
    TcpStream stream(std::move(socket));
    state->lowest = &stream;
    auto any = any_stream(stream);
    co_await session(*any, *state, remote, access_log, idle);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    state->closed = true;
  }
  std::lock_guard lock(conns_mu);
  conns.erase(reg);
}

net::awaitable<void> Server::Impl::accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    const size_t i = next_connection_context();
    auto [ec, socket] = co_await acceptor.async_accept(context(i), kTok);
    if (stopping.load() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: back off rather than spin.
      net::steady_timer t(ioc, 50ms);
      co_await t.async_wait(kTok);
      continue;
    }
    auto ex = socket.get_executor();
    net::co_spawn(ex, connection(std::move(socket), *access_logs[i], *idle[i]), net::detached);
  }
}

size_t Server::Impl::next_connection_context() { return next_context++ % (workers.size() + 1); }

Status Server::Impl::bind(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos)
    return fail(Errc::kInvalidArgument, "listen address needs HOST:PORT: " + spec);
  std::string host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port_num = 0;
  try {
    port_num = std::stoul(spec.substr(colon + 1));
  } catch (...) {
    return fail(Errc::kInvalidArgument, "bad port in " + spec);
  }
  if (port_num > 65535) return fail(Errc::kInvalidArgument, "bad port in " + spec);
  std::vector<std::string> hosts = {host};
  // Clients (the kintone SDK) insist on "localhost", which may resolve to either family.
  if (host == "localhost") hosts = {"127.0.0.1", "::1"};
  auto port = static_cast<unsigned short>(port_num);
  for (const std::string& h : hosts) {
    beast::error_code ec;
    auto addr = net::ip::make_address(h, ec);
    if (ec) return fail(Errc::kInvalidArgument, "bad listen address " + h);
    tcp::endpoint ep(addr, port);
    tcp::acceptor acc(ioc);
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && addr.is_v6()) acc.set_option(net::ip::v6_only(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      // ::1 may be missing (IPv6 disabled): the IPv4 half of localhost is enough.
      if (host == "localhost" && addr.is_v6()) continue;
      return fail(Errc::kUnavailable,
                  "cannot listen on " + h + ":" + std::to_string(port) + ": " + ec.message());
    }
    port = acc.local_endpoint().port();  // the second family gets the same port
    std::string shown = addr.is_v6() ? "[" + h + "]" : h;
    if (host == "localhost") shown = "localhost";
    std::string url =
        std::string(tls ? "https" : "http") + "://" + shown + ":" + std::to_string(port);
    if (urls.empty() || urls.back() != url) urls.push_back(url);
    acceptors.push_back(std::move(acc));
  }
  return ok();
}

void Server::Impl::begin_stop() {
  if (stopping.exchange(true)) return;
  for (auto& acc : acceptors) {
    beast::error_code ec;
    acc.close(ec);
  }
  std::lock_guard lock(conns_mu);
  // (No structured binding: clang 14, which lint runs, cannot capture one.)
  for (auto& conn : conns) {
    net::post(conn.first, [state = conn.second] {
      if (state->idle && !state->closed && state->lowest) state->lowest->cancel();
    });
  }
}

void Server::Impl::cut_connections() {
  std::lock_guard lock(conns_mu);
  for (auto& conn : conns) {
    net::post(conn.first, [state = conn.second] {
      if (!state->closed && state->lowest) state->lowest->close();
    });
  }
}

net::awaitable<void> Server::Impl::drain_then_stop() {
  auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_grace;
  net::steady_timer timer(ioc);
  while (active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(20ms);
    co_await timer.async_wait(kTok);
  }
  if (active.load() > 0) {
    // Past the grace: what is left is cut, and each request ends at its next
    // socket operation. One awaiting a blocking call (a metadata commit, an S3
    // transfer) ends once that call returns: the call resumes it on its I/O
    // context, so the contexts run until then (the pool's own shutdown would
    // wait for the call anyway).
    cut_connections();
    const auto noted = std::chrono::steady_clock::now() + 1s;
    bool said = false;
    while (active.load() > 0) {
      if (!said && std::chrono::steady_clock::now() > noted) {
        log::notice("shutdown: " + std::to_string(active.load()) +
                    " request(s) past the grace period wait for a storage call to return");
        said = true;
      }
      timer.expires_after(20ms);
      co_await timer.async_wait(kTok);
    }
  }
  ioc.stop();
}

Server::Server(ServerConfig config, std::vector<HandlerPtr> handlers)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(handlers))) {}

Server::~Server() = default;

Status Server::start() {
  auto& cfg = impl_->cfg;
  if (cfg.blocking == nullptr) return fail(Errc::kInvalidArgument, "no pool for blocking work");
  raise_open_file_limit();
  if (!cfg.tls_cert_file.empty() || !cfg.tls_key_file.empty()) {
    try {
      impl_->tls.emplace(ssl::context::tls_server);
      impl_->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1);
      impl_->tls->use_certificate_chain_file(cfg.tls_cert_file);
      impl_->tls->use_private_key_file(cfg.tls_key_file, ssl::context::pem);
    } catch (const std::exception& e) {
      return fail(Errc::kUnavailable, std::string("TLS setup failed: ") + e.what());
    }
  }
  for (const auto& spec : cfg.listen) UP_TRY(impl_->bind(spec));
  if (impl_->acceptors.empty()) return fail(Errc::kUnavailable, "nothing to listen on");
  return ok();
}

std::vector<std::string> Server::urls() const { return impl_->urls; }

void Server::run() {
  auto& impl = *impl_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> idle_guards;
  for (unsigned i = 1; i < std::max(1u, impl.cfg.io_threads); ++i) {
    auto& worker = *impl.workers.emplace_back(std::make_unique<net::io_context>(1));
    idle_guards.push_back(net::make_work_guard(worker));  // runs until stopped, not until idle
  }
  impl.access_logs.push_back(std::make_unique<AccessLogBatch>(impl.ioc));
  for (auto& worker : impl.workers)
    impl.access_logs.push_back(std::make_unique<AccessLogBatch>(*worker));
  for (size_t i = 0; i < impl.access_logs.size(); ++i) {
    auto& idle = *impl.idle.emplace_back(std::make_unique<IdleConnections>());
    net::co_spawn(impl.context(i), idle.sweep(impl.cfg.idle_timeout), net::detached);
  }
  for (auto& acc : impl.acceptors) net::co_spawn(impl.ioc, impl.accept_loop(acc), net::detached);
  net::signal_set signals(impl.ioc, SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int) {
    if (!ec) stop();
  });
  std::vector<std::thread> threads;
  for (auto& worker : impl.workers) threads.emplace_back([&w = *worker] { w.run(); });
  impl.ioc.run();  // until drain_then_stop
  for (auto& worker : impl.workers) worker->stop();
  for (auto& t : threads) t.join();
  // The accept loops' last accepts (aborted by begin_stop, or just done) hold
  // sockets of the workers' contexts: they finish before those contexts go.
  impl.ioc.restart();
  impl.ioc.poll();
  // Coroutines left on the contexts (none of a connection) go now, while what they touch lives.
  idle_guards.clear();
  impl.workers.clear();
  // Every I/O thread is done: the lines still pending go out before run returns.
  for (auto& batch : impl.access_logs) batch->flush();
}

void Server::stop() {
  net::post(impl_->ioc, [impl = impl_.get()] {
    impl->begin_stop();
    net::co_spawn(impl->ioc, impl->drain_then_stop(), net::detached);
  });
}

}  // namespace up::http
