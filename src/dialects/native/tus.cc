// tus 1.0.0 on the native API (tus.h). Docs: docs/openapi.yaml, README.

#include "dialects/native/tus.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/native/errors.h"
#include "dialects/native/request.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::native {
namespace {

using tus::Concat;

// Upload-Expires: a day after creation, unless the app's settings say otherwise
// ({"tus": {"expires_seconds": N}}, a minute to 30 days).
constexpr UnixMs kUploadLifetimeMs = 24 * 3'600'000;
constexpr int64_t kMinLifetimeS = 60, kMaxLifetimeS = 30 * 24 * 3600;
// The piece index holding a deferred Upload-Length once it is sent (an empty
// piece whose meta says the length): above any offset an upload can reach.
constexpr uint64_t kLengthIndex = 1ull << 62;
constexpr int64_t kGrantDefaultTtlS = 3600;
constexpr int64_t kGrantMaxTtlS = 24 * 3600;

core::ResumableRef ref_of(const tus::UploadToken& t) { return {t.tenant_id, t.app_id, t.id}; }

// Every tus answer names the protocol version.
http::Response tus_answer(int status) {
  http::Response r = http::empty_response(status);
  r.header("Tus-Resumable", std::string(tus::kVersion));
  return r;
}

// {"tus": {<name>: N}} of an app's settings, if N is an integer in [lo, hi].
// App settings are the dialect's opaque JSON: a value out of range means the
// default.
std::optional<int64_t> tus_setting(const std::string& settings_json, std::string_view name,
                                   int64_t lo, int64_t hi) {
  boost::system::error_code ec;
  json::value v = json::parse(settings_json, ec);
  const json::value* n = nullptr;
  if (!ec && v.is_object())
    if (auto* tus = v.as_object().if_contains("tus"); tus && tus->is_object())
      n = tus->as_object().if_contains(name);
  if (!n || !n->is_int64() || n->as_int64() < lo || n->as_int64() > hi) return std::nullopt;
  return n->as_int64();
}

// How long an upload of the app lives (see kUploadLifetimeMs).
UnixMs lifetime_ms(const std::string& settings_json) {
  auto secs = tus_setting(settings_json, "expires_seconds", kMinLifetimeS, kMaxLifetimeS);
  return secs ? *secs * 1000 : kUploadLifetimeMs;
}

// The app's quota and how long its tus uploads live. `cached_only`: empty
// unless the Directory's caches hold both (never blocks).
using AppLimits = std::pair<core::EffectiveQuota, UnixMs>;
std::optional<Result<AppLimits>> app_limits(core::Directory& directory, const tus::UploadToken& t,
                                            bool cached_only) {
  if (cached_only) {
    auto quota = directory.quota_cached(t.tenant_id, t.app_id);
    auto app = directory.app_cached(t.tenant_id, t.app_id);
    if (!quota || !app) return std::nullopt;
    return AppLimits(*quota, lifetime_ms(app->settings_json));
  }
  auto quota = directory.quota_for(t.tenant_id, t.app_id);
  if (!quota) return fail(quota.error());
  auto app = directory.app(t.tenant_id, t.app_id);  // cached by quota_for
  if (!app) return fail(app.error());
  return AppLimits(*quota, lifetime_ms(app->settings_json));
}

// {"tus": {"stall_seconds": N}}: a PATCH body that sends no byte for N
// seconds ends there, keeping what arrived, so the upload is free for the
// client's next request after N s instead of the server's idle timeout. For
// uploads spread over processes, where a stalled request cannot be taken
// over (docs/resumable.md). Default, or out of range: the idle timeout.
constexpr int64_t kMaxStallS = 3600;
std::chrono::milliseconds stall_limit(const std::string& settings_json) {
  auto secs = tus_setting(settings_json, "stall_seconds", 1, kMaxStallS);
  return std::chrono::seconds(secs.value_or(0));
}

std::optional<uint64_t> length_in(const std::string& meta_json) {
  boost::system::error_code ec;
  json::value v = json::parse(meta_json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto* l = v.as_object().if_contains("length");
  if (!l || !l->is_uint64()) {
    if (l && l->is_int64() && l->as_int64() >= 0) return static_cast<uint64_t>(l->as_int64());
    return std::nullopt;
  }
  return l->as_uint64();
}

std::string length_meta(uint64_t length) {
  json::object o;
  o["length"] = length;
  return json::serialize(o);
}

json::object grant_json(const std::string& grant, UnixMs expires_at, uint64_t max_size,
                        const std::string& app_id) {
  json::object o;
  o["grant"] = grant;
  o["expires_at"] = format_iso8601(expires_at);
  o["max_size"] = max_size;
  o["app_id"] = app_id;
  return o;
}

core::PieceSpec piece_spec(const tus::UploadToken& t, uint64_t offset, uint64_t room) {
  core::PieceSpec spec;
  spec.index = offset;
  spec.expires_at = t.expires_at;
  spec.max_bytes = room;
  spec.owner = t.key_id;
  spec.key_id = t.key_id;
  return spec;
}

// How long a request that takes an upload over waits for the one writing it
// to let go (it stops at once unless its store is slow to take the bytes).
constexpr auto kTakeOverWait = std::chrono::seconds(3);

}  // namespace

// A request writing a chunk, as a request taking its upload over sees it.
// `ex`, `stop` and `resent` are touched only on `executor` (the thread
// serving the request); `on_release` under Tus::Writers' lock.
struct ChunkWriter {
  ChunkWriter(net::any_io_executor e, Exchange& x, uint64_t at)
      : executor(std::move(e)), ex(&x), offset(at) {}
  const net::any_io_executor executor;
  Exchange* ex;           // null once the request let go of the upload
  const uint64_t offset;  // where its chunk starts
  bool stop = false;      // asked to stop: its body ends at the next read
  bool resent = false;    // by a PATCH that sends this chunk's bytes again
  std::vector<std::function<void()>> on_release;
};

namespace {

Error taken_over() {
  return Error(Errc::kFailedPrecondition, "a newer request took the upload over");
}

// Ends a body that sends no byte for `limit` (a tus chunk's stall limit,
// shorter than the server's idle timeout): the read waiting is cancelled on
// the request's own thread. Only time spent waiting for a byte counts, so a
// client sending slowly, or a store slow to take the bytes, is never cut.
// Lives on the request's executor.
class StallWatch {
 public:
  StallWatch(const net::any_io_executor& executor, Exchange& ex, std::chrono::milliseconds limit) {
    if (limit.count() <= 0) return;
    state_ = std::make_shared<State>(executor, ex, limit);
    arm(state_, Clock::now() + limit);
  }
  ~StallWatch() {
    if (!state_) return;
    state_->ex = nullptr;
    state_->timer.cancel();
  }
  StallWatch(const StallWatch&) = delete;
  StallWatch& operator=(const StallWatch&) = delete;

  // Around each read of the body.
  void reading(bool on) {
    if (!state_) return;
    state_->reading = on;
    state_->since = Clock::now();
  }
  bool stalled() const { return state_ && state_->stalled; }

 private:
  using Clock = std::chrono::steady_clock;
  struct State {
    State(const net::any_io_executor& e, Exchange& x, std::chrono::milliseconds l)
        : timer(e), ex(&x), limit(l) {}
    net::steady_timer timer;
    Exchange* ex;  // null once the body is done
    std::chrono::milliseconds limit;
    Clock::time_point since;  // when the read waiting began
    bool reading = false;
    bool stalled = false;
  };
  // One wait per `limit`, not one per read: woken early, it waits again from
  // the start of the read now waiting.
  static void arm(const std::shared_ptr<State>& s, Clock::time_point when) {
    s->timer.expires_at(when);
    s->timer.async_wait([s](const boost::system::error_code& ec) {
      if (ec || !s->ex) return;
      const auto now = Clock::now();
      if (!s->reading) return arm(s, now + s->limit);
      if (now < s->since + s->limit) return arm(s, s->since + s->limit);
      s->stalled = true;
      s->ex->cancel_read();
    });
  }
  std::shared_ptr<State> state_;
};

// Streams the request body into `up` (and `digest`). The error of a body that
// ended early (the client went away, stalled or broke the framing, or a newer
// request took the upload over) comes back as a value: the bytes before it
// are in `up`. An error storing them fails.
net::awaitable<Result<std::optional<Error>>> pump_body(Exchange& ex, core::Upload& up,
                                                       crypto::Digest* digest,
                                                       const ChunkWriter& self, StallWatch& watch) {
  for (;;) {
    if (self.stop) co_return std::optional<Error>(taken_over());
    watch.reading(true);
    auto chunk = co_await ex.read_chunk();
    watch.reading(false);
    if (self.stop) co_return std::optional<Error>(taken_over());
    if (!chunk && watch.stalled())
      co_return std::optional<Error>(Error(Errc::kTimeout, "no byte of the chunk came in time"));
    if (!chunk) co_return std::optional<Error>(chunk.error());
    if (chunk->empty()) co_return std::optional<Error>();
    if (digest) digest->update(*chunk);
    if (auto st = co_await up.append(*chunk); !st) co_return fail(st.error());
  }
}

// The grant endpoint is a native route: native envelope and statuses.
net::awaitable<void> fail_native(Exchange& ex, const Error& e) {
  http::log_if_internal(ex, e);
  co_await ex.send(error_response(e));
}

// The server writes what it is given; an answer to HEAD must have no body,
// or a kept-alive connection would read it as the next answer.
http::Response without_head_body(const Exchange& ex, http::Response r) {
  if (ex.method() == "HEAD") r.body.clear();
  return r;
}

bool version_ok(const Exchange& ex) {
  auto v = ex.header("Tus-Resumable");
  return v && *v == tus::kVersion;
}

// Whether the request has a body (creation-with-upload).
bool has_body(const Exchange& ex) {
  if (auto cl = ex.content_length()) return *cl > 0;
  return ex.header("Transfer-Encoding").has_value();
}

Status offset_stream(const Exchange& ex) {
  auto ct = ex.header("Content-Type");
  if (ct && http::media_type(*ct) == tus::kOffsetStream) return ok();
  return fail(Errc::kBadContentType, "tus bodies must be application/offset+octet-stream");
}

Result<std::optional<tus::Checksum>> checksum_of(const Exchange& ex) {
  auto h = ex.header("Upload-Checksum");
  if (!h) return std::optional<tus::Checksum>();
  auto c = tus::parse_checksum(*h);
  if (!c) return fail(c.error());
  return std::optional<tus::Checksum>(std::move(*c));
}

}  // namespace

class Tus::Committing {
 public:
  void begin(const std::string& id) {
    std::lock_guard lock(mu_);
    ++entries_[id].count;
  }
  void end(const std::string& id) {
    std::vector<Exchange::Resume> waiters;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(id);
      if (it == entries_.end() || --it->second.count > 0) return;
      waiters = std::move(it->second.waiters);
      entries_.erase(it);
    }
    for (auto& resume : waiters) resume();
  }
  // The offset this process last stored for an upload of known length, so
  // that the next PATCH need not read its pieces (ResumableUploads::begin_piece
  // still checks, holding the staged blob, that no piece is at that offset and
  // the upload is open: another process's chunks, completion or termination
  // are noticed there).
  struct Known {
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  void remember(const std::string& id, Known k) {
    std::lock_guard lock(mu_);
    if (known_.size() >= kMaxKnown && !known_.contains(id)) known_.erase(known_.begin());
    known_.insert_or_assign(id, k);
  }
  std::optional<Known> recall(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = known_.find(id);
    if (it == known_.end()) return std::nullopt;
    return it->second;
  }
  void forget(const std::string& id) {
    std::lock_guard lock(mu_);
    known_.erase(id);
  }

  // Until no commit of `id` is in progress.
  net::awaitable<void> wait(Exchange& ex, const std::string& id) {
    {
      std::lock_guard lock(mu_);
      if (!entries_.contains(id)) co_return;
    }
    const std::function<void(Exchange::Resume)> start = [this, &id](Exchange::Resume resume) {
      std::unique_lock lock(mu_);
      auto it = entries_.find(id);
      if (it != entries_.end()) return it->second.waiters.push_back(std::move(resume));
      lock.unlock();
      resume();
    };
    co_await ex.suspend(start);
  }

 private:
  struct Entry {
    int count = 0;
    std::vector<Exchange::Resume> waiters;
  };
  // Uploads in flight in this process; any may be dropped (it is re-read).
  static constexpr size_t kMaxKnown = 4096;
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, Known, std::less<>> known_;
};

namespace {
// Runs `end` when its scope ends (a commit marked in progress).
class ScopeEnd {
 public:
  explicit ScopeEnd(std::function<void()> end) : end_(std::move(end)) {}
  ~ScopeEnd() { end_(); }
  ScopeEnd(const ScopeEnd&) = delete;
  ScopeEnd& operator=(const ScopeEnd&) = delete;

 private:
  std::function<void()> end_;
};
}  // namespace

class Tus::Writers {
 public:
  // Registers a request about to write the chunk at `offset` of upload `id`
  // (before it opens the chunk, so a newer request always finds it).
  std::shared_ptr<ChunkWriter> add(const std::string& id, net::any_io_executor executor,
                                   Exchange& ex, uint64_t offset) {
    auto w = std::make_shared<ChunkWriter>(std::move(executor), ex, offset);
    std::lock_guard lock(mu_);
    by_id_[id].push_back(w);
    return w;
  }
  // Once `w` let go of the upload (its chunk closed, the staged blob's lock
  // released), before it answers. On w's executor; again is a no-op.
  void remove(const std::string& id, ChunkWriter& w) {
    std::vector<std::function<void()>> released;
    {
      std::lock_guard lock(mu_);
      auto it = by_id_.find(id);
      if (it != by_id_.end()) {
        it->second.remove_if([&w](const auto& p) { return p.get() == &w; });
        if (it->second.empty()) by_id_.erase(it);
      }
      w.ex = nullptr;
      released = std::move(w.on_release);
    }
    for (auto& f : released) f();
  }

  // Asks every request of this process writing upload `id` to stop, and
  // waits until they have let go of it, at most kTakeOverWait (then the
  // caller goes on and finds the upload busy: 409, as from another process).
  // `resend_from`: the offset the caller sends bytes from (a PATCH).
  net::awaitable<void> take_over(const std::string& id, std::optional<uint64_t> resend_from) {
    const net::any_io_executor executor = co_await net::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + kTakeOverWait;
    for (;;) {
      // A timer of its own per writer waited for: a late release of one
      // cannot cut the wait for the next one short.
      auto released = std::make_shared<net::steady_timer>(executor, deadline);
      {
        std::lock_guard lock(mu_);
        auto it = by_id_.find(id);
        if (it == by_id_.end()) break;
        const std::shared_ptr<ChunkWriter> w = it->second.front();
        w->on_release.emplace_back(
            [executor, released] { net::post(executor, [released] { released->cancel(); }); });
        // Stopped on its own thread: its socket is touched there only.
        net::post(w->executor, [w, resend_from] {
          if (!w->ex) return;
          w->stop = true;
          if (resend_from == w->offset) w->resent = true;
          w->ex->cancel_read();
        });
      }
      auto [ec] = co_await released->async_wait(net::as_tuple(net::use_awaitable));
      if (!ec) break;  // the deadline passed
    }
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::list<std::shared_ptr<ChunkWriter>>, std::less<>> by_id_;
};

Tus::Tus(core::Services& services)
    : s_(services), upload_key_(services.secrets.derive("tus-upload/v1")),
      grant_key_(services.secrets.derive("upload-grant/v1")),
      committing_(std::make_unique<Committing>()), writers_(std::make_unique<Writers>()) {}

Tus::~Tus() = default;

net::awaitable<void> Tus::handle(Exchange& ex, const std::vector<std::string_view>& parts) {
  const std::string_view method = ex.method();
  if (method == "OPTIONS" && parts.size() <= 3) co_return co_await options(ex);
  if (parts.size() > 3) co_return co_await fail_with(ex, Error(Errc::kRouteNotFound));
  if (!version_ok(ex)) co_return co_await ex.send(without_head_body(ex, tus_version_mismatch()));
  if (parts.size() == 2) {
    if (method == "POST") co_return co_await create(ex);
    co_return co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "create uploads with POST"));
  }
  auto t = upload_of(parts[2]);
  if (!t) co_return co_await fail_with(ex, t.error());
  ex.log_field("tenant", t->tenant_id);
  // Clients behind proxies that drop PATCH and DELETE send POST with the
  // method in X-HTTP-Method-Override (tus 1.0.0, "Method Overriding").
  std::string_view verb = method;
  if (auto o = ex.header("X-HTTP-Method-Override"); o && method == "POST") verb = *o;
  if (verb == "HEAD") co_return co_await head(ex, *t);
  if (verb == "PATCH") co_return co_await patch(ex, *t);
  if (verb == "DELETE") co_return co_await terminate(ex, *t);
  co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "an upload takes HEAD, PATCH or DELETE"));
}

net::awaitable<void> Tus::options(Exchange& ex) {
  http::Response r = http::empty_response(204);
  r.header("Tus-Resumable", std::string(tus::kVersion))
      .header("Tus-Version", std::string(tus::kVersion))
      .header("Tus-Extension", std::string(tus::kExtensions))
      .header("Tus-Max-Size", std::to_string(s_.directory.default_max_object_bytes()))
      .header("Tus-Checksum-Algorithm", std::string(tus::kChecksumAlgorithms));
  co_await ex.send(std::move(r));
}

// ---- creation ---------------------------------------------------------------

net::awaitable<Result<tus::UploadToken>> Tus::creator(Exchange& ex) {
  tus::UploadToken t;
  auto h = ex.header("Authorization");
  std::string token;
  if (h && starts_with_ignoring_case(*h, "Bearer ")) token = std::string(h->substr(7));
  while (!token.empty() && token.back() == ' ') token.pop_back();
  std::optional<uint64_t> grant_max;
  if (token.starts_with(tus::kGrantPrefix)) {
    auto g = tus::decode_grant(token, grant_key_);
    if (!g) co_return fail(g.error());
    if (g->expires_at <= s_.clock.now())
      co_return fail(Errc::kUnauthenticated, "upload grant expired");
    t.tenant_id = g->tenant_id;
    t.app_id = g->app_id;
    t.key_id = g->key_id;  // a key deleted since stops its grants' uploads too
    t.grant_id = g->id;
    t.grant_expires_at = g->expires_at;  // + the upload's lifetime, below
    grant_max = g->max_bytes;
  } else {
    auto p = co_await authenticate(ex, s_.auth);
    if (!p) co_return fail(p.error());
    auto app = app_of(ex, *p);
    if (!app) co_return fail(app.error());
    t.tenant_id = p->tenant_id;
    t.app_id = *app;
    t.key_id = p->key_id;
  }
  // From the Directory's caches on this thread when they hold both, else on the pool.
  std::optional<Result<AppLimits>> limits = app_limits(s_.directory, t, /*cached_only=*/true);
  if (!limits) limits = co_await blocking(ex, [&] { return *app_limits(s_.directory, t, false); });
  if (!*limits) co_return fail(limits->error());
  const auto& [quota, lifetime] = **limits;
  t.max_bytes = std::min(quota.max_object_bytes, grant_max.value_or(quota.max_object_bytes));
  t.expires_at = s_.clock.now() + lifetime;
  // A grant's single use is remembered as long as an upload it created may complete.
  if (!t.grant_id.empty()) t.grant_expires_at += lifetime;
  co_return t;
}

Status Tus::read_creation_headers(const Exchange& ex, tus::UploadToken& t) const {
  if (auto m = ex.header("Upload-Metadata")) {
    auto meta = tus::parse_metadata(*m);
    if (!meta) return fail(meta.error());
    // Sent back verbatim in HEAD answers.
    if (has_control_characters(*m))
      return fail(Errc::kInvalidArgument, "Upload-Metadata has control characters");
    t.metadata = std::string(*m);
    if (auto it = meta->find("filename"); it != meta->end()) t.name = it->second;
    for (const char* key : {"filetype", "contentType"}) {
      auto it = meta->find(key);
      // A type that could not be stored is ignored, as an unknown key is.
      if (it != meta->end() && valid_media_type(it->second)) t.content_type = it->second;
    }
    if (!t.name.empty() && !acceptable_file_name(t.name))
      return fail(Errc::kBadName, "filename must be UTF-8 without control characters");
  }
  if (t.concat == Concat::kFinal) return ok();  // its length is the partials'
  auto length = ex.header("Upload-Length");
  auto defer = ex.header("Upload-Defer-Length");
  if (length && defer)
    return fail(Errc::kInvalidArgument, "send Upload-Length or Upload-Defer-Length, not both");
  if (defer) {
    if (*defer != "1") return fail(Errc::kInvalidArgument, "Upload-Defer-Length must be 1");
    return ok();
  }
  if (!length) return fail(Errc::kMissingField, "send Upload-Length or Upload-Defer-Length: 1");
  auto n = tus::parse_size(*length, "Upload-Length");
  if (!n) return fail(n.error());
  if (*n > t.max_bytes)
    return fail(Errc::kTooLarge, "Upload-Length is over the largest upload allowed (" +
                                     std::to_string(t.max_bytes) + " bytes)");
  t.length = *n;
  return ok();
}

net::awaitable<void> Tus::create(Exchange& ex) {
  auto t = co_await creator(ex);
  if (!t) co_return co_await fail_with(ex, t.error());
  ex.log_field("tenant", t->tenant_id);
  std::vector<std::string> partials;
  if (auto c = ex.header("Upload-Concat")) {
    auto concat = tus::parse_concat(*c);
    if (!concat) co_return co_await fail_with(ex, concat.error());
    t->concat = concat->kind;
    partials = std::move(concat->tokens);
  }
  if (auto st = read_creation_headers(ex, *t); !st) co_return co_await fail_with(ex, st.error());
  t->id = s_.resumable.new_id();
  if (t->concat == Concat::kFinal) co_return co_await create_final(ex, std::move(*t), partials);

  // An empty upload is complete at once; otherwise nothing is stored before a body.
  const bool empty_upload = t->length == 0u && t->concat == Concat::kNone;
  if (!has_body(ex) && !empty_upload) {
    http::Response r = tus_answer(201);
    r.header("Location", location(*t)).header("Upload-Expires", tus::http_date(t->expires_at));
    co_return co_await ex.send(std::move(r));
  }
  if (has_body(ex)) {
    if (auto st = offset_stream(ex); !st) co_return co_await fail_with(ex, st.error());
  }
  auto sum = checksum_of(ex);
  if (!sum) co_return co_await fail_with(ex, sum.error());
  Progress fresh;
  fresh.length = t->length;
  const net::any_io_executor executor = co_await net::this_coro::executor;
  const std::shared_ptr<ChunkWriter> self = writers_->add(t->id, executor, ex, 0);
  const ScopeEnd done_writing([this, &t, &self] { writers_->remove(t->id, *self); });
  auto stored = co_await store_chunk(ex, *t, fresh, *sum, *self);
  if (!stored) co_return co_await fail_with(ex, stored.error());
  http::Response r = tus_answer(201);
  r.header("Location", location(*t)).header("Upload-Offset", std::to_string(stored->offset));
  if (stored->object) r.header("Upgate-File-Id", stored->object->id);
  else r.header("Upload-Expires", tus::http_date(t->expires_at));
  co_await ex.send(std::move(r));
}

// Upload-Concat: final;<urls>: the partials (finished, of the same app) are
// assembled into the final object at once.
net::awaitable<void> Tus::create_final(Exchange& ex, tus::UploadToken t,
                                       const std::vector<std::string>& partials) {
  std::vector<tus::UploadToken> parts;
  for (const std::string& token : partials) {
    auto u = upload_of(token);
    if (!u || u->concat != Concat::kPartial || u->tenant_id != t.tenant_id || u->app_id != t.app_id)
      co_return co_await fail_with(
          ex, Error(Errc::kInvalidArgument,
                    "Upload-Concat names an upload that is not a live partial upload of this app"));
    parts.push_back(std::move(*u));
  }
  auto done = co_await blocking(ex, [&]() -> Result<Object> {
    Progress all;
    all.length = 0;
    for (const tus::UploadToken& u : parts) {
      auto p = progress(u);
      if (!p) return fail(p.error());
      if (p->status != core::ResumableStatus::kOpen || !p->length || p->offset != *p->length)
        return fail(Errc::kFailedPrecondition, "a partial upload is not complete");
      *all.length += *p->length;
      std::move(p->pieces.begin(), p->pieces.end(), std::back_inserter(all.pieces));
    }
    if (*all.length > t.max_bytes)
      return fail(Errc::kTooLarge,
                  "the partial uploads together are over the largest upload "
                  "allowed (" +
                      std::to_string(t.max_bytes) + " bytes)");
    t.length = all.length;
    return complete(t, all);
  });
  if (!done) co_return co_await fail_with(ex, done.error());
  http::Response r = tus_answer(201);
  r.header("Location", location(t)).header("Upgate-File-Id", done->id);
  co_await ex.send(std::move(r));
}

// ---- an upload -------------------------------------------------------------

Result<tus::UploadToken> Tus::upload_of(std::string_view token) const {
  auto t = tus::decode_upload_token(token, upload_key_);
  if (!t) return fail(Errc::kNotFound, "no such upload");
  // A final upload is complete from its creation on: nothing of it expires.
  if (t->concat != Concat::kFinal && t->expires_at <= s_.clock.now())
    return fail(Errc::kGrantExpired, "upload expired");
  return t;
}

net::awaitable<void> Tus::head(Exchange& ex, const tus::UploadToken& t) {
  co_await committing_->wait(ex, t.id);
  auto p = co_await blocking(ex, [&] { return progress(t); });
  if (!p) co_return co_await fail_with(ex, p.error());
  if (p->status == core::ResumableStatus::kTerminated)
    co_return co_await fail_with(ex, Error(Errc::kNotFound, "upload terminated"));
  // Every byte arrived but the upload was not completed (a crash in between,
  // or a lost answer): complete it now, as the client will not PATCH again.
  if (p->status == core::ResumableStatus::kOpen && p->length && p->offset == *p->length &&
      t.concat == Concat::kNone) {
    auto done = co_await blocking(ex, [&] { return complete(t, *p); });
    if (!done) co_return co_await fail_with(ex, done.error());
    p->object = std::move(*done);
  }
  http::Response r = tus_answer(200);
  r.header("Upload-Offset", std::to_string(p->offset)).header("Cache-Control", "no-store");
  if (p->length) r.header("Upload-Length", std::to_string(*p->length));
  else r.header("Upload-Defer-Length", "1");
  if (!t.metadata.empty()) r.header("Upload-Metadata", t.metadata);
  if (t.concat == Concat::kPartial) r.header("Upload-Concat", "partial");
  if (t.concat == Concat::kFinal) r.header("Upload-Concat", "final");
  if (p->object) r.header("Upgate-File-Id", p->object->id);
  else r.header("Upload-Expires", tus::http_date(t.expires_at));
  co_await ex.send(std::move(r));
}

net::awaitable<void> Tus::patch(Exchange& ex, const tus::UploadToken& t) {
  if (t.concat == Concat::kFinal)
    co_return co_await fail_with(
        ex, Error(Errc::kPermissionDenied, "a final upload is assembled, not patched"));
  if (auto st = offset_stream(ex); !st) co_return co_await fail_with(ex, st.error());
  auto offset_header = ex.header("Upload-Offset");
  if (!offset_header)
    co_return co_await fail_with(ex, Error(Errc::kMissingField, "send Upload-Offset"));
  auto offset = tus::parse_size(*offset_header, "Upload-Offset");
  if (!offset) co_return co_await fail_with(ex, offset.error());
  auto sum = checksum_of(ex);
  if (!sum) co_return co_await fail_with(ex, sum.error());
  std::optional<uint64_t> new_length;
  if (auto l = ex.header("Upload-Length")) {
    auto n = tus::parse_size(*l, "Upload-Length");
    if (!n) co_return co_await fail_with(ex, n.error());
    new_length = *n;
  }

  // A request of this process still writing the upload (its connection
  // stalled, and the client resumed on a new one) is stopped first.
  co_await writers_->take_over(t.id, *offset);
  const net::any_io_executor executor = co_await net::this_coro::executor;
  const std::shared_ptr<ChunkWriter> self = writers_->add(t.id, executor, ex, *offset);
  const ScopeEnd done_writing([this, &t, &self] { writers_->remove(t.id, *self); });
  co_await committing_->wait(ex, t.id);
  core::UploadPtr opened;  // after done_writing: the chunk closes before takers are told
                           // (store_chunk tells them itself, before the answer)
  std::chrono::milliseconds stall{0};
  auto p = co_await blocking(ex, [&]() -> Result<Progress> {
    if (auto app = s_.directory.app(t.tenant_id, t.app_id))  // cached
      stall = stall_limit(app->settings_json);
    // The chunk this process expects next is opened in this one trip,
    // without reading the pieces; anything else (or a failure to open) reads
    // them.
    auto known = committing_->recall(t.id);
    if (known && known->offset == *offset && (!new_length || *new_length == known->length)) {
      Progress at;
      at.offset = known->offset;
      at.length = known->length;
      auto up = open_chunk(t, at, false, ex.content_length());
      if (up) {
        opened = std::move(*up);
        return at;
      }
      committing_->forget(t.id);
    }
    return progress(t);
  });
  if (!p) co_return co_await fail_with(ex, p.error());
  if (p->status == core::ResumableStatus::kTerminated)
    co_return co_await fail_with(ex, Error(Errc::kNotFound, "upload terminated"));
  if (*offset != p->offset)
    co_return co_await fail_with(ex, Error(Errc::kFailedPrecondition,
                                           "Upload-Offset is " + std::to_string(*offset) +
                                               ", the upload is at " + std::to_string(p->offset)));
  if (new_length && p->length && *new_length != *p->length)
    co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "Upload-Length cannot change"));
  if (new_length && !p->length) {
    if (*new_length > t.max_bytes || *new_length < p->offset)
      co_return co_await fail_with(
          ex, Error(Errc::kTooLarge, "Upload-Length must be from the offset to " +
                                         std::to_string(t.max_bytes) + " bytes"));
    auto st = co_await blocking(ex, [&] { return set_deferred_length(t, *new_length); });
    if (!st) co_return co_await fail_with(ex, st.error());
    p->length = new_length;
  }
  if (p->status == core::ResumableStatus::kCompleted) {
    if (has_body(ex))
      co_return co_await fail_with(ex, Error(Errc::kFailedPrecondition, "the upload is complete"));
    http::Response r = tus_answer(204);
    r.header("Upload-Offset", std::to_string(p->offset));
    if (p->object) r.header("Upgate-File-Id", p->object->id);
    co_return co_await ex.send(std::move(r));
  }
  auto stored = co_await store_chunk(ex, t, *p, *sum, *self, std::move(opened), stall);
  if (!stored) co_return co_await fail_with(ex, stored.error());
  http::Response r = tus_answer(204);
  r.header("Upload-Offset", std::to_string(stored->offset));
  if (stored->object) r.header("Upgate-File-Id", stored->object->id);
  else r.header("Upload-Expires", tus::http_date(t.expires_at));
  co_await ex.send(std::move(r));
}

net::awaitable<void> Tus::terminate(Exchange& ex, const tus::UploadToken& t) {
  co_await writers_->take_over(t.id, std::nullopt);
  committing_->forget(t.id);
  auto st = co_await blocking(ex, [&] { return s_.resumable.terminate(ref_of(t), t.expires_at); });
  if (!st) co_return co_await fail_with(ex, st.error());
  co_await ex.send(tus_answer(204));
}

Result<core::UploadPtr> Tus::open_chunk(const tus::UploadToken& t, const Progress& at, bool whole,
                                        std::optional<uint64_t> content_length) {
  if (whole) return s_.resumable.begin_whole(ref_of(t), final_spec(t, *at.length));
  core::PieceSpec spec = piece_spec(t, at.offset, room_of(t, at));
  spec.staged = true;  // chunks are sequential: written once, never copied
  spec.size_hint = content_length;
  return s_.resumable.begin_piece(ref_of(t), spec);
}

uint64_t Tus::room_of(const tus::UploadToken& t, const Progress& at) {
  return at.length ? *at.length - at.offset : t.max_bytes - at.offset;
}

net::awaitable<Result<Tus::Stored>> Tus::store_chunk(Exchange& ex, const tus::UploadToken& t,
                                                     const Progress& at,
                                                     const std::optional<tus::Checksum>& sum,
                                                     ChunkWriter& self, core::UploadPtr opened,
                                                     std::chrono::milliseconds stall) {
  const std::optional<uint64_t> cl = ex.content_length();
  const uint64_t room = room_of(t, at);
  if (cl && *cl > room)
    co_return fail(Errc::kTooLarge, at.length ? "the chunk goes past Upload-Length"
                                              : "the chunk goes past the largest upload allowed");
  // The whole upload in one body goes straight into the final object: no
  // piece, no copy.
  bool whole = !opened && at.offset == 0 && at.length && t.concat == Concat::kNone &&
               cl.value_or(0) == *at.length;
  const core::ResumableRef ref = ref_of(t);
  // Requests taking over are told when this returns, after the chunk closed
  // (the staged blob's lock went; `chunk` is a local, not the parameter, so
  // it goes first) and before the answer: a write to a stalled connection
  // must not hold them up.
  const ScopeEnd done_writing([this, &t, &self] { writers_->remove(t.id, self); });
  core::UploadPtr chunk = std::move(opened);
  if (!chunk && whole) {
    // Opened on this thread when the app's limits are cached: a small upload
    // in one creation-with-upload saves a trip to the pool and back.
    if (auto now = s_.resumable.begin_whole_at_once(ref, final_spec(t, *at.length))) {
      if (!*now) co_return fail(now->error());
      chunk = std::move(**now);
    }
  }
  if (!chunk) {
    auto o = co_await blocking(ex, [&] { return open_chunk(t, at, whole, cl); });
    if (!o) co_return fail(o.error());
    chunk = std::move(*o);
  }
  core::Upload& up = *chunk;
  std::optional<crypto::Digest> digest;
  if (sum) digest.emplace(sum->algo);
  Result<std::optional<Error>> cut;
  {
    const net::any_io_executor executor = co_await net::this_coro::executor;
    StallWatch watch(executor, ex, stall);
    cut = co_await pump_body(ex, up, digest ? &*digest : nullptr, self, watch);
  }
  if (!cut) co_return fail(cut.error());
  if (*cut) {
    // What arrived of a chunk cut off is kept, so the client resumes from it:
    // the connection was lost or stalled (kUnavailable, kTimeout), or it
    // closed mid-body, which the server reports as a body ending early
    // (kInvalidArgument, as it does broken chunk framing: the bytes before
    // the break were sent as they are all the same). Not when a checksum was
    // to vouch for the whole chunk.
    //
    // Nor when a newer PATCH took the upload over to send the same bytes
    // again, from this chunk's offset: the client resumed from the offset
    // HEAD gave it, which this chunk's bytes are not part of, as none was
    // acknowledged. Keeping them would move the offset under that PATCH, and
    // it would get 409: tus-js-client retries that (HEAD, then PATCH at the
    // new offset), but throws away the body it sent (with its default chunk
    // size, the rest of the file), spends one more of its retryDelays (1 s)
    // and sends the bytes again all the same. A PATCH at another offset, or
    // a DELETE, leaves them kept like any cut chunk's, and the PATCH's offset
    // is checked against them (409 "offset mismatch" if it no longer matches).
    if (sum || up.size() == 0 || self.resent) co_return fail(**cut);
    if (whole) {
      // Not the whole upload after all: what came is its first piece (the
      // spec begin_piece gives piece 0), not the final object.
      auto spec = co_await blocking(
          ex, [&] { return s_.resumable.piece_upload_spec(ref, piece_spec(t, 0, room)); });
      if (!spec) co_return fail(spec.error());
      up.spec() = std::move(*spec);
      whole = false;
    }
  } else if (digest && digest->final() != sum->digest) {
    co_return fail(Errc::kChecksumMismatch, "Upload-Checksum does not match the chunk");
  }
  Stored out;
  out.offset = at.offset + up.size();
  // An empty piece would take this offset's index from the next chunk.
  if (whole || up.size() > 0) {
    committing_->begin(t.id);
    const ScopeEnd mark([this, &t] { committing_->end(t.id); });
    Result<Object> committed = co_await up.commit();
    if (!committed) {
      committing_->forget(t.id);
      co_return fail(committed.error());
    }
    if (!whole && at.length && t.concat == Concat::kNone)
      committing_->remember(t.id, {out.offset, *at.length});
    if (*cut) co_return fail(**cut);  // kept; the answer goes nowhere anyway
    if (whole) out.object = std::move(*committed);
  }
  chunk.reset();  // lets go of the staged blob, which completing seals
  if (!out.object && at.length && out.offset == *at.length && t.concat == Concat::kNone) {
    auto done = co_await blocking(ex, [&]() -> Result<Object> {
      auto p = progress(t);
      if (!p) return fail(p.error());
      if (!p->length) p->length = at.length;
      return complete(t, *p);
    });
    committing_->forget(t.id);
    if (!done) co_return fail(done.error());
    out.object = std::move(*done);
  }
  co_return out;
}

// ---- blocking helpers -------------------------------------------------------

Result<Tus::Progress> Tus::progress(const tus::UploadToken& t) {
  const core::ResumableRef ref = ref_of(t);
  auto state = s_.resumable.state(ref);
  if (!state) return fail(state.error());
  Progress p;
  p.status = state->status;
  p.length = t.length;
  if (state->status == core::ResumableStatus::kCompleted && state->object) {
    p.object = state->object;
    p.offset = state->object->size;
    p.length = state->object->size;
  }
  if (state->status != core::ResumableStatus::kOpen) return p;
  auto pieces = s_.resumable.pieces(ref);
  if (!pieces) return fail(pieces.error());
  for (core::Piece& piece : *pieces) {
    if (piece.index == kLengthIndex) {
      if (!p.length) p.length = length_in(piece.object.meta_json);
      continue;
    }
    // Ascending by index: the ones that continue the bytes so far count.
    if (piece.index != p.offset) continue;
    p.offset += piece.object.size;
    p.pieces.push_back(std::move(piece));
  }
  return p;
}

Status Tus::set_deferred_length(const tus::UploadToken& t, uint64_t length) {
  core::PieceSpec spec;
  spec.index = kLengthIndex;
  spec.expires_at = t.expires_at;
  spec.max_bytes = 0;
  spec.owner = t.key_id;
  spec.key_id = t.key_id;
  spec.meta_json = length_meta(length);
  auto up = s_.resumable.begin_piece(ref_of(t), spec);
  if (!up) return fail(up.error());
  auto committed = (*up)->commit_blocking();
  if (!committed) return fail(committed.error());
  return ok();
}

Result<Object> Tus::complete(const tus::UploadToken& t, const Progress& p) {
  const core::ResumableRef ref = ref_of(t);
  auto o = s_.resumable.complete(ref, final_spec(t, p.length.value_or(p.offset)), p.pieces);
  if (!o && o.error().code == Errc::kAlreadyExists) {
    // Completed meanwhile (another process, a retry): that object is the answer.
    auto state = s_.resumable.state(ref);
    if (state && state->object) return *state->object;
  }
  return o;
}

core::UploadSpec Tus::final_spec(const tus::UploadToken& t, uint64_t length) const {
  core::UploadSpec spec;
  spec.tenant_id = t.tenant_id;
  spec.app_id = t.app_id;
  spec.name = t.name.empty() ? "upload" : t.name;
  if (!t.content_type.empty()) spec.content_type = t.content_type;
  spec.declared_size = length;
  spec.max_bytes = t.max_bytes;
  spec.key_id = t.key_id;
  spec.owner = t.key_id;
  spec.grant_id = t.grant_id;
  spec.grant_expires_at = t.grant_expires_at;
  return spec;
}

// ---- answers ----------------------------------------------------------------

// Relative, so a client reaching the server through a proxy or another host
// name keeps using that (clients resolve it against the creation URL).
std::string Tus::location(const tus::UploadToken& t) const {
  return "/v1/tus/" + tus::encode_upload_token(t, upload_key_);
}

net::awaitable<void> Tus::fail_with(Exchange& ex, const Error& e) {
  http::log_if_internal(ex, e);
  co_await ex.send(without_head_body(ex, tus_error_response(e)));
}

// ---- grants -----------------------------------------------------------------

// POST /v1/upload-grants?app= {"max_size": <bytes>, "ttl_seconds": <1-86400>}
net::awaitable<void> Tus::mint_grant(Exchange& ex, const core::Principal& p) {
  auto app = app_of(ex, p);
  if (!app) co_return co_await fail_native(ex, app.error());
  auto body = co_await read_json_object(ex);
  if (!body) co_return co_await fail_native(ex, body.error());
  std::optional<uint64_t> max_size;
  int64_t ttl = kGrantDefaultTtlS;
  if (auto* m = body->if_contains("max_size")) {
    if (!m->is_int64() || m->as_int64() < 0)
      co_return co_await fail_native(
          ex, Error(Errc::kInvalidArgument, "max_size must be a non-negative integer"));
    max_size = static_cast<uint64_t>(m->as_int64());
  }
  if (auto* s = body->if_contains("ttl_seconds")) {
    if (!s->is_int64() || s->as_int64() < 1 || s->as_int64() > kGrantMaxTtlS)
      co_return co_await fail_native(ex,
                                     Error(Errc::kInvalidArgument, "ttl_seconds must be 1-86400"));
    ttl = s->as_int64();
  }
  auto quota = co_await blocking(ex, [&] { return s_.directory.quota_for(p.tenant_id, *app); });
  if (!quota) co_return co_await fail_native(ex, quota.error());
  tus::UploadGrant g;
  g.tenant_id = p.tenant_id;
  g.app_id = *app;
  g.id = random_hex(16);
  g.key_id = p.key_id;
  g.max_bytes = std::min(quota->max_object_bytes, max_size.value_or(quota->max_object_bytes));
  g.expires_at = s_.clock.now() + ttl * 1000;
  co_await ex.send(
      http::json_response(201, json::serialize(grant_json(tus::encode_grant(g, grant_key_),
                                                          g.expires_at, g.max_bytes, g.app_id))));
}

}  // namespace up::dialects::native
