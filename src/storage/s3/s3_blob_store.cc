#include "storage/s3/s3_blob_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "core/sigv4.h"
#include "storage/locator.h"
#include "storage/s3/s3_writer.h"

namespace up::storage {
namespace {

using s3::Context;
using s3::ContextPtr;
using s3::make_request;
using s3::Request;

// "2026-12-03T06:30:00.123Z" (ListObjectsV2, ListMultipartUploads); 0 if malformed.
UnixMs parse_time(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return 0;
  UnixMs ms = static_cast<UnixMs>(timegm(&tm)) * 1000;
  if (*end == '.') ms += std::atoi(end + 1) % 1000;  // RGW: three digits
  return ms;
}

// One ranged GET of a reader, fetched on the pool; the reader may be gone
// before it is done, so it owns nothing of the reader's. `dropped` (set by a
// reader destroyed first) stops the transfer early.
struct Piece {
  std::mutex mu;
  bool done = false;
  Status status = ok();
  std::string data;
  core::Waiter reader;  // the reader, waiting for done
  std::atomic<bool> dropped{false};
};

// Reads its range as ranged GETs, up to `pieces_ahead` pieces ahead of the
// caller: while the caller sends piece k, pieces k+1..k+N are on their way,
// so RGW's latency per request overlaps instead of adding up (with one piece
// ahead a 1 GiB download ran at a third of RGW's own rate). Bytes go out
// strictly in order; the first failed piece fails the read and every read
// after it. Pieces start at 256 KiB and double up to read_piece, so the first
// bytes go out early and a large range takes few requests. Memory: at most
// 1 + pieces_ahead pieces per reader.
class S3Reader final : public BlobReader {
 public:
  // `first`: the range's first bytes, fetched already (by open()).
  S3Reader(ContextPtr context, std::string key, uint64_t offset, uint64_t size, std::string first)
      : ctx_(std::move(context)), key_(std::move(key)), next_(offset + first.size()),
        end_(offset + size), size_(size),
        piece_len_(std::min<uint64_t>(2 * kFirstPiece, ctx_->options.read_piece)),
        current_(std::move(first)) {
    fill_window();  // the next pieces are on their way while the first goes out
  }

  ~S3Reader() override {
    for (const auto& piece : ahead_) piece->dropped = true;
  }

  // The first piece open() fetches: a small read is one request.
  static constexpr uint64_t kFirstPiece = 256u << 10;

  // storage::BlobReader
  uint64_t size() const override { return size_; }

  // storage::BlobReader
  net::awaitable<Result<size_t>> read(std::span<char> out) override {
    if (out.empty()) co_return size_t{0};
    if (!failed_) co_return fail(failed_.error());
    if (pos_ == current_.size()) {
      if (ahead_.empty()) co_return size_t{0};  // the range is read
      std::shared_ptr<Piece> piece = std::move(ahead_.front());
      ahead_.pop_front();
      // Named: g++ 12 destroys temporaries of a co_await expression twice.
      const std::function<bool()> fetched = [&piece] { return piece->done; };
      co_await piece->reader.until(piece->mu, fetched);
      if (!piece->status) {
        failed_ = piece->status;
        co_return fail(failed_.error());
      }
      spare_ = std::move(current_);
      current_ = std::move(piece->data);
      pos_ = 0;
      fill_window();
    }
    size_t n = std::min(out.size(), current_.size() - pos_);
    std::memcpy(out.data(), current_.data() + pos_, n);
    pos_ += n;
    co_return n;
  }

 private:
  // Starts GETs until pieces_ahead are on their way or the range is asked for.
  // The first reuses the buffer of the piece just consumed, so a download
  // cycles through its few buffers instead of faulting in fresh pages for
  // every piece (a third of its CPU once).
  void fill_window() {
    const size_t window = std::max(1u, ctx_->options.pieces_ahead);
    while (ahead_.size() < window && next_ < end_) {
      const uint64_t n = std::min(piece_len_, end_ - next_);
      auto piece = std::make_shared<Piece>();
      ctx_->pool.post(
          [ctx = ctx_, key = key_, offset = next_, n, piece, data = std::move(spare_)]() mutable {
            data.clear();
            Status st = s3::fetch_range(*ctx, key, offset, n, data, &piece->dropped);
            std::unique_lock lock(piece->mu);
            piece->status = std::move(st);
            piece->data = std::move(data);
            piece->done = true;
            core::Resume waiter = piece->reader.take();
            lock.unlock();
            if (waiter) waiter();
          });
      spare_ = std::string();
      ahead_.push_back(std::move(piece));
      next_ += n;
      piece_len_ = std::min(2 * piece_len_, ctx_->options.read_piece);
    }
  }

  ContextPtr ctx_;
  std::string key_;
  uint64_t next_;  // where the next piece to fetch starts in the object
  uint64_t end_;
  uint64_t size_;
  uint64_t piece_len_;
  std::deque<std::shared_ptr<Piece>> ahead_;  // the fetches on their way, in order
  std::string current_;                       // the piece being read
  std::string spare_;                         // the buffer of the piece read last
  size_t pos_ = 0;
  Status failed_ = ok();  // the first failed piece's error
};

class S3BlobStore final : public BlobStore {
 public:
  explicit S3BlobStore(ContextPtr context) : ctx_(std::move(context)) {}

  // storage::BlobStore
  Result<BlobWriterPtr> create(std::string_view locator,
                               std::optional<uint64_t> size_hint = {}) override {
    UP_TRY(check_locator(locator));
    return s3::make_writer(ctx_, locator, size_hint);
  }

  // storage::BlobStore
  net::awaitable<Result<BlobReaderPtr>> open(std::string_view locator, uint64_t offset,
                                             uint64_t length) override {
    if (auto st = check_locator(locator); !st) co_return fail(st.error());
    std::string key = ctx_->key(locator);
    co_return co_await core::run_blocking(
        ctx_->pool, [&]() -> Result<BlobReaderPtr> { return open_ranged(key, offset, length); });
  }

  // storage::BlobStore
  Status remove(std::string_view locator) override {
    UP_TRY(check_locator(locator));
    std::string key = ctx_->key(locator);
    auto res = ctx_->client.send(make_request("DELETE", key, true));
    if (!res) return fail(res.error());
    if (res->status / 100 == 2 || res->status == 404) return ok();
    return fail(s3::error_from(*res, "DELETE " + key));
  }

  // storage::BlobStore
  Result<BlobPage> list(std::string_view prefix, std::string_view after, size_t limit) override;

  // storage::BlobStore
  Result<uint64_t> remove_stale_temporaries(UnixMs older_than) override;

  // storage::BlobStore
  Result<DirectPost> direct_post(std::string_view locator,
                                 const DirectPostLimits& limits) const override;

  // storage::BlobStore
  Status compose(std::string_view locator, std::span<const BlobRange> ranges) override {
    return s3::compose(*ctx_, locator, ranges);
  }

  // storage::BlobStore
  bool shared() const override { return true; }

 private:
  Result<BlobReaderPtr> open_ranged(const std::string& key, uint64_t offset, uint64_t length);

  ContextPtr ctx_;
};

// One ranged GET: the object's size (Content-Range) and the range's first
// bytes together, where a HEAD and then a GET took two round trips (half the
// rate of small downloads). Blocking.
Result<BlobReaderPtr> S3BlobStore::open_ranged(const std::string& key, uint64_t offset,
                                               uint64_t length) {
  // Even an empty range asks for a byte: the answer says whether the object exists.
  const uint64_t want = std::clamp<uint64_t>(length, 1, S3Reader::kFirstPiece);
  std::string first;
  Request r = make_request("GET", key, true);
  r.headers = {
      {"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + want - 1)}};
  r.restart = [&first] { first.clear(); };
  r.sink = [&first, want](std::string_view bytes) {
    if (first.size() + bytes.size() > want) return false;
    first.append(bytes);
    return true;
  };
  auto res = ctx_->client.send(r);
  if (!res) return fail(res.error());
  if (res->status == 404) return fail(Errc::kObjectNotFound);
  if (res->status == 416) {
    // The offset is at or past the end (an empty object): RGW's 416 has no
    // size, so ask for it. Rare: a download never starts past the end.
    res = ctx_->client.send(make_request("HEAD", key, true));
    if (!res) return fail(res.error());
    if (res->status == 404) return fail(Errc::kObjectNotFound);
    if (res->status / 100 != 2) return fail(s3::error_from(*res, "HEAD " + key));
    const uint64_t total = std::strtoull(res->header("content-length").c_str(), nullptr, 10);
    if (offset < total) return fail(Errc::kStorageIo, "S3 GET " + key + ": range refused");
    return std::make_unique<S3Reader>(ctx_, key, total, 0, std::string());
  }
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "GET " + key));
  // 206 with "bytes <a>-<b>/<size>".
  const std::string range = res->header("content-range");
  const size_t slash = range.rfind('/');
  if (res->status != 206 || slash == std::string::npos)
    return fail(Errc::kStorageIo, "S3 GET " + key + ": no Content-Range in the answer");
  const uint64_t total = std::strtoull(range.c_str() + slash + 1, nullptr, 10);
  const uint64_t start = std::min(offset, total);
  const uint64_t size = std::min(length, total - start);
  if (first.size() > size) first.resize(size);  // the range asked for a byte more
  if (first.size() != std::min(want, size))
    return fail(Errc::kStorageIo, "S3 GET " + key + ": short answer");
  return std::make_unique<S3Reader>(ctx_, key, start, size, std::move(first));
}

Result<DirectPost> S3BlobStore::direct_post(std::string_view locator,
                                            const DirectPostLimits& limits) const {
  UP_TRY(check_locator(locator));
  // The same form upgate's OpenIM endpoint issues (minio-go's), signed with
  // the store's own keys: the secret never leaves, the access key id does, as
  // in any presigned S3 URL.
  const S3BlobStoreOptions& o = ctx_->options;
  sigv4::PostFormRequest r;
  r.bucket = o.bucket;
  r.key = ctx_->key(locator);
  r.content_type = limits.content_type;
  r.max_size = limits.max_bytes;
  r.now = limits.now;
  r.expires_at = limits.expires_at;
  r.access_key_id = o.access_key;
  r.secret_key = o.secret_key;
  r.region = o.region;
  return DirectPost{ctx_->client.describe(), sigv4::post_form(r)};
}

Result<BlobPage> S3BlobStore::list(std::string_view prefix, std::string_view after, size_t limit) {
  const std::string base = ctx_->key_prefix();
  BlobPage page;
  std::string token;
  for (;;) {
    Request r = make_request("GET", {}, true);
    r.query = {{"list-type", "2"},
               {"prefix", base + std::string(prefix)},
               {"max-keys", std::to_string(std::min<size_t>(limit - page.entries.size(), 1000))}};
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    else if (!after.empty()) r.query.emplace_back("start-after", base + std::string(after));
    auto res = ctx_->client.send(r);
    if (!res) return fail(res.error());
    if (res->status / 100 != 2) return fail(s3::error_from(*res, "ListObjectsV2"));
    const std::string& xml = res->body;
    for (size_t at = xml.find("<Contents>"); at != std::string::npos;
         at = xml.find("<Contents>", at + 1)) {
      std::string key = s3::xml_text(xml, "Key", at);
      // Objects under the prefix that are no blob of ours (a deeper folder) are skipped.
      std::string_view locator = std::string_view(key).substr(std::min(base.size(), key.size()));
      if (!key.starts_with(base) || !is_valid_locator(locator) || locator <= after) continue;
      page.entries.push_back(BlobEntry{
          std::string(locator), std::strtoull(s3::xml_text(xml, "Size", at).c_str(), nullptr, 10),
          parse_time(s3::xml_text(xml, "LastModified", at))});
    }
    if (page.entries.size() >= limit) {
      page.entries.resize(limit);
      page.next_after = page.entries.back().locator;
      return page;
    }
    token = s3::xml_text(xml, "NextContinuationToken");
    if (s3::xml_text(xml, "IsTruncated") != "true" || token.empty()) return page;
  }
}

// When a multipart upload last moved: its newest part's LastModified (RGW
// and S3 give it per part in ListParts, to the millisecond), or its Initiated
// time before the first part. Aging by Initiated alone would let one process's
// sweep abort another's upload that runs longer than the grace. A part still
// on its way is not listed: an upload is live as long as each part arrives
// within the grace.
Result<UnixMs> last_activity(const Context& ctx, const std::string& key,
                             const std::string& upload_id, UnixMs initiated) {
  UnixMs newest = initiated;
  std::string marker;
  for (;;) {
    Request r = make_request("GET", key, true);
    r.query = {{"uploadId", upload_id}};
    if (!marker.empty()) r.query.emplace_back("part-number-marker", marker);
    auto res = ctx.client.send(r);
    if (!res) return fail(res.error());
    // RGW 16 answers NoSuchKey for an upload whose part was cut off by a
    // gateway restart, though ListMultipartUploads still lists it (measured):
    // such an upload is aged by its start and aborted like any other.
    if (res->status == 404) return newest;
    if (res->status / 100 != 2) return fail(s3::error_from(*res, "ListParts " + key));
    const std::string& xml = res->body;
    for (size_t at = xml.find("<Part>"); at != std::string::npos; at = xml.find("<Part>", at + 1))
      newest = std::max(newest, parse_time(s3::xml_text(xml, "LastModified", at)));
    marker = s3::xml_text(xml, "NextPartNumberMarker");
    if (s3::xml_text(xml, "IsTruncated") != "true" || marker.empty()) return newest;
  }
}

Result<uint64_t> S3BlobStore::remove_stale_temporaries(UnixMs older_than) {
  uint64_t removed = 0;
  std::string key_marker, id_marker;
  for (;;) {
    Request r = make_request("GET", {}, true);
    r.query = {{"uploads", ""}, {"prefix", ctx_->key_prefix()}};
    if (!key_marker.empty()) {
      r.query.emplace_back("key-marker", key_marker);
      r.query.emplace_back("upload-id-marker", id_marker);
    }
    auto res = ctx_->client.send(r);
    if (!res) return fail(res.error());
    if (res->status / 100 != 2) return fail(s3::error_from(*res, "ListMultipartUploads"));
    const std::string& xml = res->body;
    for (size_t at = xml.find("<Upload>"); at != std::string::npos;
         at = xml.find("<Upload>", at + 1)) {
      std::string key = s3::xml_text(xml, "Key", at);
      std::string id = s3::xml_text(xml, "UploadId", at);
      const UnixMs initiated = parse_time(s3::xml_text(xml, "Initiated", at));
      if (initiated >= older_than) continue;
      auto active = last_activity(*ctx_, key, id, initiated);
      if (!active) return fail(active.error());
      if (*active >= older_than) continue;
      s3::abort_upload(*ctx_, key, id);
      ++removed;
    }
    key_marker = s3::xml_text(xml, "NextKeyMarker");
    id_marker = s3::xml_text(xml, "NextUploadIdMarker");
    if (s3::xml_text(xml, "IsTruncated") != "true" || key_marker.empty()) return removed;
  }
}

// "http://host:port" -> scheme, host, port.
Status split_endpoint(const std::string& url, s3::Endpoint& e) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return fail(Errc::kInvalidArgument, "endpoint needs http(s)://");
  e.scheme = url.substr(0, scheme_end);
  if (e.scheme != "http" && e.scheme != "https")
    return fail(Errc::kInvalidArgument, "endpoint must be http:// or https://");
  std::string authority = url.substr(scheme_end + 3);
  if (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.empty() || authority.find_first_of("/?#@ ") != std::string::npos)
    return fail(Errc::kInvalidArgument, "endpoint must be scheme://host[:port]");
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    e.port = authority.substr(colon + 1);
    authority.resize(colon);
  }
  e.host = authority;
  return ok();
}

}  // namespace

namespace s3 {

Status fetch_range(const Context& ctx, const std::string& key, uint64_t offset, uint64_t n,
                   std::string& data, const std::atomic<bool>* stop) {
  const size_t base = data.size();
  Request r = make_request("GET", key, true);
  r.headers = {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + n - 1)}};
  r.restart = [&data, base, n] {
    data.resize(base);
    data.reserve(base + n);
  };
  r.sink = [&data, base, n, stop](std::string_view bytes) {
    if (data.size() - base + bytes.size() > n || (stop && *stop)) return false;
    data.append(bytes);
    return true;
  };
  auto res = ctx.client.send(r);
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(s3::error_from(*res, "GET " + key));
  if (data.size() - base != n) return fail(Errc::kStorageIo, "S3 GET " + key + ": short answer");
  return ok();
}

}  // namespace s3

Result<BlobStorePtr> open_s3_blob_store(const S3BlobStoreOptions& options,
                                        core::BlockingPool& pool) {
  if (options.bucket.empty()) return fail(Errc::kInvalidArgument, "S3: no bucket");
  if (options.part_size < (5ull << 20) || options.parts_in_memory < 1 || options.read_piece == 0 ||
      options.pieces_ahead < 1)
    return fail(Errc::kInvalidArgument,
                "S3: part size under 5 MiB, no parts in memory or no pieces ahead");
  if (options.single_put_max > (5ull << 30) ||
      (options.single_put_max > 0 && options.single_puts < 1))
    return fail(Errc::kInvalidArgument,
                "S3: single_put_max_mb over 5120 (S3's single-PUT limit), or single_puts 0");
  s3::Endpoint e;
  e.bucket = options.bucket;
  e.region = options.region;
  e.path_style = options.path_style;
  e.access_key = options.access_key;
  e.secret_key = options.secret_key;
  e.attempts = options.attempts;
  UP_TRY(split_endpoint(options.endpoint.empty() ? "https://s3." + options.region + ".amazonaws.com"
                                                 : options.endpoint,
                        e));
  auto ctx = std::make_shared<const Context>(s3::Client(std::move(e)), options, pool);
  // One listing proves the endpoint, the bucket and the keys.
  Request probe = make_request("GET", {}, true);
  probe.query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", ctx->key_prefix()}};
  auto res = ctx->client.send(probe);
  const std::string where = ctx->client.describe();
  if (!res) return fail(Errc::kUnavailable, res.error().message + " (check the endpoint)");
  if (res->status / 100 == 2) return BlobStorePtr(std::make_unique<S3BlobStore>(std::move(ctx)));
  const std::string code = res->error_code();
  if (code == "NoSuchBucket")
    return fail(Errc::kStorageIo, "S3 bucket " + options.bucket + " does not exist at " + where);
  if (res->status == 403)
    return fail(
        Errc::kStorageIo,
        "S3 " + where + " refused the keys (" + code +
            "): check the S3 keys (UPGATE_S3_ACCESS_KEY, UPGATE_S3_SECRET_KEY or the config file)");
  return fail(s3::error_from(*res, "listing " + where));
}

}  // namespace up::storage
