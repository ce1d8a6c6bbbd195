#include "storage/s3/s3_writer.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "core/log.h"

namespace up::storage::s3 {
namespace {

// What a writer and its part uploads on the pool share: the part uploads may
// finish after the writer is gone, and then the last one aborts the upload.
struct Parts {
  std::mutex mu;
  std::vector<std::string> etags;  // [part number - 1]
  int in_flight = 0;
  std::optional<Error> error;  // the first failed part
  bool abandoned = false;      // no commit will come: abort when in_flight drops to 0
  core::Waiter writer;         // waiting for in_flight to drop
  // A sent part's buffer, kept for the next part: a fresh 16 MiB buffer per
  // part cost a page fault per 4 KiB (a third of the upload's CPU in perf).
  std::string spare;
};

class S3Writer final : public BlobWriter {
 public:
  S3Writer(ContextPtr context, std::string_view locator)
      : ctx_(std::move(context)), key_(ctx_->key(locator)) {}

  ~S3Writer() override {
    if (!committed_) abandon();
  }

  // storage::BlobWriter
  net::awaitable<Status> append(std::string_view data) override {
    if (finished_) co_return fail(Errc::kInternal, "S3 writer: already committed or failed");
    const uint64_t part_size = ctx_->options.part_size;
    while (!data.empty()) {
      size_t take = std::min<uint64_t>(part_size - buf_.size(), data.size());
      if (buf_.capacity() < buf_.size() + take) grow(buf_.size() + take);
      buf_.append(data.substr(0, take));
      data.remove_prefix(take);
      written_ += take;
      if (buf_.size() < part_size) continue;
      if (auto st = co_await send_part(); !st) {
        finished_ = true;
        abandon();
        co_return st;
      }
    }
    co_return ok();
  }

  // storage::BlobWriter
  net::awaitable<Status> commit() override {
    if (finished_) co_return fail(Errc::kInternal, "S3 writer: already committed or failed");
    finished_ = true;
    // No co_await inside ?: (g++ 12 destroys such a result twice).
    Status st = ok();
    if (upload_id_.empty())
      st = co_await core::run_blocking(ctx_->pool, [this] { return put_new(*ctx_, key_, buf_); });
    else st = co_await finish_multipart();
    if (!st) {
      abandon();
      co_return st;
    }
    committed_ = true;
    buf_ = std::string();
    std::lock_guard lock(parts_state_->mu);
    parts_state_->spare = std::string();
    co_return ok();
  }

  // storage::BlobWriter
  uint64_t bytes_written() const override { return written_; }

 private:
  // Room for `need` bytes in buf_. The first part grows by doubling (a small
  // blob holds little memory); later ones reuse a sent part's buffer, or take
  // a whole part at once.
  void grow(uint64_t need) {
    const uint64_t part_size = ctx_->options.part_size;
    if (parts_ == 0) {
      buf_.reserve(std::min<uint64_t>(part_size, std::max<uint64_t>(2 * buf_.capacity(), need)));
      return;
    }
    if (buf_.empty()) {
      std::lock_guard lock(parts_state_->mu);
      if (parts_state_->spare.capacity() >= part_size) buf_ = std::move(parts_state_->spare);
      parts_state_->spare = std::string();
    }
    buf_.reserve(part_size);
  }

  // Hands the full buffer to the pool as the next part, then waits until no
  // more than parts_in_memory parts are held (this one's successor included).
  net::awaitable<Status> send_part() {
    if (upload_id_.empty()) {
      auto id =
          co_await core::run_blocking(ctx_->pool, [this] { return initiate_upload(*ctx_, key_); });
      if (!id) co_return fail(id.error());
      upload_id_ = std::move(*id);
    }
    const int number = ++parts_;
    {
      std::lock_guard lock(parts_state_->mu);
      ++parts_state_->in_flight;
      parts_state_->etags.resize(static_cast<size_t>(number));
    }
    ctx_->pool.post([ctx = ctx_, state = parts_state_, key = key_, id = upload_id_, number,
                     body = std::move(buf_)]() mutable {
      auto etag = upload_part(*ctx, key, id, number, body, false);
      std::unique_lock lock(state->mu);
      if (etag) state->etags[static_cast<size_t>(number) - 1] = std::move(*etag);
      else if (!state->error) state->error = etag.error();
      if (!state->abandoned && state->spare.capacity() < body.capacity()) {
        body.clear();
        state->spare = std::move(body);
      }
      const bool abort_now = --state->in_flight == 0 && state->abandoned;
      core::Resume waiter = state->writer.take();
      lock.unlock();
      if (abort_now) abort_upload(*ctx, key, id);
      if (waiter) waiter();
    });
    buf_ = std::string();
    co_return co_await wait_until_at_most(static_cast<int>(ctx_->options.parts_in_memory) - 1);
  }

  // Waits until at most `n` parts are in flight; the first part error, if any.
  net::awaitable<Status> wait_until_at_most(int n) {
    Parts& state = *parts_state_;
    // Named: g++ 12 destroys temporaries of a co_await expression twice.
    const std::function<bool()> ready = [&] { return state.in_flight <= n; };
    co_await state.writer.until(state.mu, ready);
    std::lock_guard lock(state.mu);
    if (state.error) co_return fail(*state.error);
    co_return ok();
  }

  net::awaitable<Status> finish_multipart() {
    if (!buf_.empty()) {
      if (auto st = co_await send_part(); !st) co_return st;
    }
    if (auto st = co_await wait_until_at_most(0); !st) co_return st;
    co_return co_await core::run_blocking(ctx_->pool, [this]() -> Status {
      UP_TRY(complete_upload(*ctx_, key_, upload_id_, parts_state_->etags));
      upload_id_.clear();  // nothing left to abort
      return ok();
    });
  }

  // No commit will come: the upload is aborted now, or by the last part in
  // flight when it finishes.
  void abandon() {
    if (upload_id_.empty()) return;
    bool now = false;
    {
      std::lock_guard lock(parts_state_->mu);
      parts_state_->abandoned = true;
      now = parts_state_->in_flight == 0;
    }
    if (now)
      ctx_->pool.post([ctx = ctx_, key = key_, id = upload_id_] { abort_upload(*ctx, key, id); });
    upload_id_.clear();
  }

  ContextPtr ctx_;
  std::string key_;
  std::string buf_;
  uint64_t written_ = 0;
  std::string upload_id_;
  int parts_ = 0;
  std::shared_ptr<Parts> parts_state_ = std::make_shared<Parts>();
  bool finished_ = false;
  bool committed_ = false;
};

// What a streamed PUT's writer and its transfer on the pool share: a short
// queue of filled buffers between append() and curl's read callback. The
// transfer may outlive the writer (a dropped writer cancels it); the last one
// to go frees the store's single-PUT slot.
struct Stream {
  explicit Stream(ContextPtr c) : ctx(std::move(c)) {}
  ~Stream() { --ctx->single_puts_running; }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  ContextPtr ctx;
  std::mutex mu;
  std::condition_variable more;    // the transfer waits for bytes (or the end, or a cancel)
  std::deque<std::string> queue;   // filled buffers, in order
  size_t front_sent = 0;           // of queue.front()
  std::vector<std::string> spare;  // sent buffers, for the writer to fill again
  bool end = false;                // every byte is queued (commit)
  bool cancel = false;             // abort the PUT: the store keeps nothing
  bool done = false;               // the PUT answered or failed
  Status result = ok();
  core::Waiter writer;  // waiting for room in the queue or for done

  // Curl's read callback: the next bytes of the body, waiting for the writer.
  std::optional<size_t> take(std::span<char> out) {
    std::unique_lock lock(mu);
    more.wait(lock, [this] { return cancel || end || !queue.empty(); });
    if (cancel) return std::nullopt;
    if (queue.empty()) return size_t{0};
    std::string& front = queue.front();
    const size_t n = std::min(out.size(), front.size() - front_sent);
    std::memcpy(out.data(), front.data() + front_sent, n);
    front_sent += n;
    if (front_sent < front.size()) return n;
    front.clear();
    spare.push_back(std::move(front));
    queue.pop_front();
    front_sent = 0;
    core::Resume w = writer.take();
    lock.unlock();
    if (w) w();
    return n;
  }

  void finish(Status st) {
    std::unique_lock lock(mu);
    done = true;
    result = std::move(st);
    core::Resume w = writer.take();
    lock.unlock();
    if (w) w();
  }

  void abort() {
    std::lock_guard lock(mu);
    cancel = true;
    more.notify_all();
  }
};

// One PUT of a blob whose size is known, streamed while the client sends
// (s3_blob_store.h): append() copies into 1 MiB buffers handed to the
// transfer, waiting while kQueued of them are unsent; commit() waits for the
// answer. Anything short of a commit with exactly the announced bytes aborts
// the transfer before its last byte, so the store keeps nothing.
class StreamingPutWriter final : public BlobWriter {
 public:
  StreamingPutWriter(ContextPtr context, std::string_view locator, uint64_t size)
      : stream_(std::make_shared<Stream>(std::move(context))), key_(stream_->ctx->key(locator)),
        size_(size) {}

  ~StreamingPutWriter() override {
    if (!committed_) stream_->abort();
  }

  // storage::BlobWriter
  net::awaitable<Status> append(std::string_view data) override {
    if (finished_) co_return fail(Errc::kInternal, "S3 writer: already committed or failed");
    if (data.size() > size_ - written_) {
      co_return give_up(fail(Errc::kSizeMismatch, "S3 store: more bytes than the " +
                                                      std::to_string(size_) + " announced"));
    }
    if (!started_) start();
    while (!data.empty()) {
      if (fill_.capacity() < kBuffer) fill_.reserve(kBuffer);
      const size_t take = std::min(kBuffer - fill_.size(), data.size());
      fill_.append(data.substr(0, take));
      data.remove_prefix(take);
      written_ += take;
      if (fill_.size() < kBuffer) continue;
      if (auto st = co_await hand_over(false); !st) co_return give_up(st);
    }
    co_return ok();
  }

  // storage::BlobWriter
  net::awaitable<Status> commit() override {
    if (finished_) co_return fail(Errc::kInternal, "S3 writer: already committed or failed");
    if (written_ != size_) {
      co_return give_up(fail(Errc::kSizeMismatch, "S3 store: got " + std::to_string(written_) +
                                                      " bytes, " + std::to_string(size_) +
                                                      " announced"));
    }
    if (!started_) start();
    Status st = co_await hand_over(true);
    if (!st) co_return give_up(st);
    finished_ = true;
    committed_ = true;
    co_return ok();
  }

  // storage::BlobWriter
  uint64_t bytes_written() const override { return written_; }

  static constexpr size_t kBuffer = 1 << 20;
  static constexpr size_t kQueued = 4;

 private:
  // Starts the PUT on the pool (at the first byte: create() sends nothing).
  void start() {
    started_ = true;
    stream_->ctx->pool.post([stream = stream_, key = key_, size = size_] {
      bool cancelled = false;
      {
        std::lock_guard lock(stream->mu);
        cancelled = stream->cancel;
      }
      if (cancelled) {
        stream->finish(fail(Errc::kStorageIo, "S3 PUT " + key + ": cancelled"));
        return;
      }
      Request r = make_request("PUT", key);
      r.headers = {{"if-none-match", "*"}};
      r.source_size = size;
      r.source = [raw = stream.get()](std::span<char> out) { return raw->take(out); };
      auto res = stream->ctx->client.send(r);
      Status st = ok();
      if (!res) st = fail(res.error());
      else if (res->status == 412 || res->status == 409)
        st = fail(Errc::kAlreadyExists, "S3 store: a blob already has this locator");
      else if (res->status / 100 != 2) st = fail(error_from(*res, "PUT " + key));
      stream->finish(std::move(st));
    });
  }

  // Queues the filled buffer (`last`: and the end of the body), then waits
  // until fewer than kQueued are unsent (`last`: until the PUT answered).
  net::awaitable<Status> hand_over(bool last) {
    {
      std::lock_guard lock(stream_->mu);
      if (!fill_.empty()) stream_->queue.push_back(std::move(fill_));
      fill_ = std::string();
      if (!stream_->spare.empty()) {
        fill_ = std::move(stream_->spare.back());
        stream_->spare.pop_back();
      }
      stream_->end = last;
      stream_->more.notify_all();
    }
    Stream& stream = *stream_;
    const std::function<bool()> ready = [&] {
      return stream.done || (!last && stream.queue.size() < kQueued);
    };
    co_await stream.writer.until(stream.mu, ready);  // named: see wait_until_at_most
    std::lock_guard lock(stream.mu);
    if (stream.done && !stream.result) co_return stream.result;
    if (stream.done && !last)  // answered before the whole body went
      co_return fail(Errc::kStorageIo, "S3 PUT " + key_ + ": answered before the body's end");
    co_return ok();
  }

  Status give_up(Status st) {
    finished_ = true;
    stream_->abort();
    return st;
  }

  std::shared_ptr<Stream> stream_;
  std::string key_;
  uint64_t size_;
  std::string fill_;  // the buffer being filled
  uint64_t written_ = 0;
  bool started_ = false;
  bool finished_ = false;
  bool committed_ = false;
};

}  // namespace

BlobWriterPtr make_writer(ContextPtr context, std::string_view locator,
                          std::optional<uint64_t> size_hint) {
  const S3BlobStoreOptions& o = context->options;
  if (size_hint && *size_hint > o.part_size && *size_hint <= o.single_put_max) {
    // A slot, unless single_puts are running: then multipart, which holds a
    // pool thread only while a part is on its way.
    unsigned running = context->single_puts_running.load();
    while (running < o.single_puts &&
           !context->single_puts_running.compare_exchange_weak(running, running + 1)) {
    }
    if (running < o.single_puts)
      return std::make_unique<StreamingPutWriter>(std::move(context), locator, *size_hint);
  }
  return std::make_unique<S3Writer>(std::move(context), locator);
}

Status put_new(const Context& c, const std::string& key, std::string_view body) {
  Request r = make_request("PUT", key);
  r.headers = {{"if-none-match", "*"}};
  r.body = body;
  auto res = c.client.send(r);
  if (!res) return fail(res.error());
  if (res->status / 100 == 2) return ok();
  if (res->status == 412 || res->status == 409)
    return fail(Errc::kAlreadyExists, "S3 store: a blob already has this locator");
  return fail(error_from(*res, "PUT " + key));
}

Result<std::string> initiate_upload(const Context& c, const std::string& key) {
  Request r = make_request("POST", key);
  r.query = {{"uploads", ""}};
  auto res = c.client.send(r);
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(error_from(*res, "CreateMultipartUpload " + key));
  std::string id = xml_text(res->body, "UploadId");
  if (id.empty()) return fail(Errc::kStorageIo, "S3 CreateMultipartUpload: no UploadId");
  return id;
}

Result<std::string> upload_part(const Context& c, const std::string& key, const std::string& id,
                                int number, std::string_view body, bool retry) {
  Request r = make_request("PUT", key, retry);
  r.query = {{"partNumber", std::to_string(number)}, {"uploadId", id}};
  r.body = body;
  auto res = c.client.send(r);
  if (!res) return fail(res.error());
  if (res->status / 100 != 2) return fail(error_from(*res, "UploadPart " + key));
  std::string etag = res->header("etag");
  if (etag.empty()) return fail(Errc::kStorageIo, "S3 UploadPart " + key + ": no ETag");
  return etag;
}

Status complete_upload(const Context& c, const std::string& key, const std::string& upload_id,
                       const std::vector<std::string>& etags) {
  // RGW 16 ignores If-None-Match on CompleteMultipartUpload (AWS S3 honours
  // it): the HEAD refuses an existing blob there, short of a race (header).
  auto head = c.client.send(make_request("HEAD", key, true));
  if (!head) return fail(head.error());
  if (head->status == 200)
    return fail(Errc::kAlreadyExists, "S3 store: a blob already has this locator");
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i)
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
           "</ETag></Part>";
  xml += "</CompleteMultipartUpload>";
  Request r = make_request("POST", key);
  r.query = {{"uploadId", upload_id}};
  r.headers = {{"if-none-match", "*"}};
  r.body = xml;
  auto res = c.client.send(r);
  if (!res) return fail(res.error());
  if (res->status == 412)
    return fail(Errc::kAlreadyExists, "S3 store: a blob already has this locator");
  // S3 may answer 200 and report the failure in the body. RGW's answer has an
  // empty ETag (../shared/services/README.md): nothing here reads it.
  if (res->status / 100 != 2 || res->body.find("<Error>") != std::string::npos)
    return fail(error_from(*res, "CompleteMultipartUpload " + key));
  return ok();
}

void abort_upload(const Context& c, const std::string& key, const std::string& upload_id) {
  Request r = make_request("DELETE", key, true);
  r.query = {{"uploadId", upload_id}};
  auto res = c.client.send(r);
  if (!res) {
    log::error("S3 AbortMultipartUpload " + key + ": " + res.error().message);
  } else if (res->status / 100 != 2 && res->status != 404) {
    log::error(error_from(*res, "AbortMultipartUpload " + key).message);
  }
}

}  // namespace up::storage::s3
