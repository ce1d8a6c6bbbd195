// BlobStore::compose on S3: a new object made of ranges of others, joined by
// the store (UploadPartCopy) so that the bytes do not pass through upgate.
//
// The plan, in one pass over the ranges. S3 wants every part but the last to
// be at least 5 MiB; a copied part can only be one range of one object.
// - A range of 5 MiB or more is copied (UploadPartCopy), split in parts of at
//   most 5 GiB (S3's largest part).
// - Smaller ranges are read through (ranged GETs) into a buffer that goes out
//   as a normal part each time it holds part_size bytes (16 MiB by default).
// - When a range to copy comes while the buffer holds bytes: under 5 MiB, the
//   range's first bytes are read to fill it to 5 MiB; the buffer goes out as a
//   part, and the rest of the range is copied (or read, if under 5 MiB now).
// So at most 5 MiB per large range and the small ranges themselves pass
// through upgate, and at most parts_in_memory parts of part_size are held (as
// the writer). What is left in the buffer at the end is the last part, of any
// size. A plan that ends before the first part (under part_size in all, only
// small ranges, or no ranges: an empty blob) is one PUT. Ranges of length 0
// are skipped.
//
// Parts go out four at a time on threads of the compose's own (class Parts)
// while the calling thread reads the small ranges' bytes for the next part.
//
// Never overwriting: the PUT carries If-None-Match, the multipart upload HEADs
// the key before completing, as the writer does. Any failure aborts the
// upload, so nothing is left under the locator.

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "storage/locator.h"
#include "storage/s3/s3_writer.h"

namespace up::storage::s3 {
namespace {

constexpr uint64_t kMinPart = 5ull << 20;  // S3: every part but the last
constexpr uint64_t kMaxPart = 5ull << 30;  // S3: the largest part
constexpr size_t kMaxParts = 10000;        // S3: parts of one upload

// UploadPartCopy of bytes [offset, offset + n) of `source`: the part's ETag.
// Idempotent (the same part number copied again replaces the part): retried.
Result<std::string> copy_part(const Context& c, const std::string& key, const std::string& id,
                              int number, const std::string& source, uint64_t offset, uint64_t n) {
  Request r = make_request("PUT", key, true);
  r.query = {{"partNumber", std::to_string(number)}, {"uploadId", id}};
  r.headers = {{"x-amz-copy-source", "/" + c.options.bucket + "/" + uri_encode(source, false)},
               {"x-amz-copy-source-range",
                "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + n - 1)}};
  auto res = c.client.send(r);
  if (!res) return fail(res.error());
  // A copy may fail after S3 has sent its 200: the error is then the body.
  // RGW answers a missing source with 404 NoSuchKey, a range past the end
  // with InvalidRange, and CopyPartResult with the ETag unquoted.
  std::string etag = res->status / 100 == 2 ? xml_text(res->body, "ETag") : std::string();
  if (res->status / 100 != 2 || res->body.find("<Error>") != std::string::npos)
    return fail(error_from(*res, "UploadPartCopy " + source));
  if (etag.empty()) return fail(Errc::kStorageIo, "S3 UploadPartCopy " + source + ": no ETag");
  return etag;
}

// The parts of one upload: their numbers and ETags, sent on up to kThreads
// threads of its own while the caller reads the next bytes. RGW copies a
// part in one request at some tens of MiB/s: one part at a time was slower
// than reading the bytes through upgate, whose writer keeps two parts in
// flight (bench/README.md). Parts read through hold their bytes: at most
// parts_in_memory of them are held, the one the caller fills included.
class Parts {
 public:
  static constexpr size_t kThreads = 4;

  Parts(const Context& context, const std::string& key) : c_(context), key_(key) {}
  ~Parts() { (void)wait(true); }
  Parts(const Parts&) = delete;
  Parts& operator=(const Parts&) = delete;

  // Numbers a new part; kUnimplemented past S3's 10,000.
  Result<int> add() {
    std::lock_guard lock(mu_);
    if (etags_.size() == kMaxParts)
      return fail(Errc::kUnimplemented, "S3 compose " + key_ + ": over 10,000 parts");
    etags_.emplace_back();
    return static_cast<int>(etags_.size());
  }

  // Queues part `number`: a copy of [offset, offset + n) of `source`.
  Status copy(const std::string& upload_id, int number, const std::string& source, uint64_t offset,
              uint64_t n) {
    std::unique_lock lock(mu_);
    return queue(lock, Job{upload_id, number, source, offset, n, {}});
  }

  // Queues part `number` made of `body`, then waits until no more than
  // parts_in_memory - 1 such parts are on their way. The buffer to fill next
  // goes back in `body` (a sent part's, to spare page faults, as the writer).
  Status send(const std::string& upload_id, int number, std::string& body) {
    std::unique_lock lock(mu_);
    ++bodies_;
    UP_TRY(queue(lock, Job{upload_id, number, {}, 0, 0, std::move(body)}));
    const unsigned most = c_.options.parts_in_memory - 1;
    sent_.wait(lock, [&] { return bodies_ <= most || error_; });
    body = std::move(spare_);
    body.clear();
    if (error_) return fail(*error_);
    return ok();
  }

  // Waits for the parts queued (`drop`: only for those under way, as the
  // compose fails); the first error of any.
  Status wait(bool drop = false) {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      if (drop) jobs_.clear();
    }
    ready_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::lock_guard lock(mu_);
    closing_ = false;
    if (error_) return fail(*error_);
    return ok();
  }

  // REQUIRES: wait() returned since the last part was queued.
  const std::vector<std::string>& etags() const { return etags_; }

 private:
  struct Job {
    std::string upload_id;
    int number;
    std::string source;  // a copy of [offset, offset + n) of it, or
    uint64_t offset, n;
    std::string body;  // these bytes (not empty)
  };

  Status queue(std::unique_lock<std::mutex>& lock, Job job) {
    (void)lock;
    if (error_) return fail(*error_);
    jobs_.push_back(std::move(job));
    if (threads_.size() < kThreads) {
      try {
        threads_.emplace_back([this] { work(); });
      } catch (const std::system_error& e) {  // no thread to be had: the parts queued wait
        if (threads_.empty())
          return fail(Errc::kUnavailable, std::string("S3 compose: ") + e.what());
      }
    }
    ready_.notify_one();
    return ok();
  }

  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ready_.wait(lock, [this] { return !jobs_.empty() || closing_; });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      Result<std::string> etag = std::string();
      if (!error_) {  // after a failure the compose fails: nothing more is sent
        lock.unlock();
        etag = job.body.empty()
                   ? copy_part(c_, key_, job.upload_id, job.number, job.source, job.offset, job.n)
                   : upload_part(c_, key_, job.upload_id, job.number, job.body, true);
        lock.lock();
        if (etag) etags_[static_cast<size_t>(job.number) - 1] = std::move(*etag);
        else if (!error_) error_ = etag.error();
      }
      if (!job.body.empty()) {
        --bodies_;
        if (spare_.capacity() < job.body.capacity()) spare_ = std::move(job.body);
        sent_.notify_all();
      }
    }
  }

  const Context& c_;
  const std::string& key_;
  std::mutex mu_;
  std::condition_variable ready_;  // a job queued, or closing
  std::condition_variable sent_;   // a part with a body sent
  std::deque<Job> jobs_;
  std::vector<std::thread> threads_;
  std::vector<std::string> etags_;  // [part number - 1]
  std::optional<Error> error_;      // the first failed part
  unsigned bodies_ = 0;             // parts with a body queued or under way
  std::string spare_;               // a sent part's buffer
  bool closing_ = false;
};

// One compose: the parts sent so far and the bytes read for the next one.
// Blocking; its parts go out on threads of their own (Parts).
class Composer {
 public:
  Composer(const Context& context, std::string key) : c_(context), key_(std::move(key)) {}
  ~Composer() {
    (void)parts_.wait(true);  // no copy may still run into the aborted upload
    if (!upload_id_.empty()) abort_upload(c_, key_, upload_id_);
  }
  Composer(const Composer&) = delete;
  Composer& operator=(const Composer&) = delete;

  Status add(const std::string& source, uint64_t offset, uint64_t n) {
    if (n < kMinPart) return read(source, offset, n);
    if (!buffer_.empty()) {
      if (buffer_.size() < kMinPart) {
        const uint64_t fill = kMinPart - buffer_.size();
        UP_TRY(read(source, offset, fill));
        offset += fill;
        n -= fill;
      }
      if (!buffer_.empty()) UP_TRY(send_buffer());  // read() sent it if part_size is 5 MiB
      if (n < kMinPart) return read(source, offset, n);
    }
    // Equal parts of at most 5 GiB: each at least 2.5 GiB once split.
    const uint64_t count = (n + kMaxPart - 1) / kMaxPart;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t len = n / count + (i < n % count ? 1 : 0);
      auto number = next_part();
      if (!number) return fail(number.error());
      UP_TRY(parts_.copy(upload_id_, *number, source, offset, len));
      offset += len;
    }
    return ok();
  }

  Status finish() {
    if (upload_id_.empty()) return put_new(c_, key_, buffer_);
    if (!buffer_.empty()) UP_TRY(send_buffer());
    UP_TRY(parts_.wait());
    UP_TRY(complete_upload(c_, key_, upload_id_, parts_.etags()));
    upload_id_.clear();  // nothing left to abort
    return ok();
  }

 private:
  // Reads [offset, offset + n) of `source` into the buffer, sending it as a
  // part each time it holds part_size bytes.
  Status read(const std::string& source, uint64_t offset, uint64_t n) {
    const uint64_t part_size = c_.options.part_size;
    while (n > 0) {
      if (buffer_.capacity() < part_size) buffer_.reserve(part_size);
      const uint64_t take = std::min(n, part_size - buffer_.size());
      UP_TRY(fetch_range(c_, source, offset, take, buffer_));
      offset += take;
      n -= take;
      if (buffer_.size() == part_size) UP_TRY(send_buffer());
    }
    return ok();
  }

  Status send_buffer() {
    auto number = next_part();
    if (!number) return fail(number.error());
    return parts_.send(upload_id_, *number, buffer_);
  }

  // Starts the upload on its first part; the next part's number.
  Result<int> next_part() {
    if (upload_id_.empty()) {
      auto id = initiate_upload(c_, key_);
      if (!id) return fail(id.error());
      upload_id_ = std::move(*id);
    }
    return parts_.add();
  }

  const Context& c_;
  std::string key_;
  std::string upload_id_;
  std::string buffer_;  // read through, not sent yet
  Parts parts_{c_, key_};
};

}  // namespace

Status compose(const Context& context, std::string_view locator,
               std::span<const BlobRange> ranges) {
  UP_TRY(check_locator(locator));
  for (const BlobRange& r : ranges) UP_TRY(check_locator(r.locator));
  Composer composer(context, context.key(locator));
  for (const BlobRange& r : ranges) {
    if (r.length > 0) UP_TRY(composer.add(context.key(r.locator), r.offset, r.length));
  }
  return composer.finish();
}

}  // namespace up::storage::s3
