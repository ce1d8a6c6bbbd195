#include "core/uploads.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/ids.h"
#include "core/object_rules.h"
#include "core/text.h"
#include "meta/meta_store.h"

namespace up::core {
namespace {

constexpr uint64_t kQetagBlock = 4 * 1024 * 1024;

// A content type is sent back verbatim in Content-Type (downloads, signed
// links) and in JSON, so only a well-formed media type may be stored. Empty
// means "unknown" (downloads say application/octet-stream).
Status check_content_type(const std::string& content_type) {
  if (content_type.empty() || valid_media_type(content_type)) return ok();
  return fail(Errc::kBadContentType,
              "content type must be a media type (type/subtype; parameters) of at most " +
                  std::to_string(kMaxMediaTypeBytes) + " visible ASCII characters");
}

std::string finish_qetag(const std::string& block_digests, bool single_block) {
  // One block: 0x16 + sha1(data); more: 0x96 + sha1(concatenated block sha1s).
  std::string raw;
  if (single_block) {
    raw = "\x16" + block_digests;
  } else {
    raw = "\x96" + crypto::sha1(block_digests);
  }
  return crypto::base64url(raw, true);
}

// Bodies up to this size are hashed on the thread that receives them; past it,
// in batches of about kHashBatch on the hash pool. SHA-256 alone costs about as
// much CPU as receiving and writing the bytes, so a large upload on one I/O
// thread would otherwise run at half the rate two cores allow.
constexpr uint64_t kHashInlineBytes = 1024 * 1024;
constexpr size_t kHashBatch = 256 * 1024;

}  // namespace

// The digests of one body, fed its bytes in order, and the batch being hashed
// on the hash pool (one at a time: the next waits for it, so order holds).
struct BodyHashes {
  crypto::Digest sha256{crypto::Digest::Algo::kSha256};
  std::optional<crypto::Digest> md5;
  bool want_crc32 = false;
  uint32_t crc32 = 0;
  // Qiniu etag: SHA-1 of each 4 MiB block, then of the concatenated block digests.
  std::optional<crypto::Digest> qetag_block;
  uint64_t qetag_block_fill = 0;
  std::string qetag_block_digests;

  // Bytes appended but not hashed yet; the pool job's while `busy`.
  std::string batch;
  std::mutex mu;
  bool busy = false;  // guarded by mu, as is `waiter`
  Resume waiter;

  void update(std::string_view data) {
    sha256.update(data);
    if (want_crc32) crc32 = crypto::crc32_update(crc32, data);
    if (md5) md5->update(data);
    while (qetag_block && !data.empty()) {
      const uint64_t take = std::min<uint64_t>(data.size(), kQetagBlock - qetag_block_fill);
      qetag_block->update(data.substr(0, take));
      qetag_block_fill += take;
      data.remove_prefix(take);
      if (qetag_block_fill == kQetagBlock) finish_qetag_block();
    }
  }
  void finish_qetag_block() {
    qetag_block_digests += qetag_block->final();
    qetag_block.emplace(crypto::Digest::Algo::kSha1);
    qetag_block_fill = 0;
  }
  // The pool job: hashes `batch`, then wakes whoever waits for it.
  void hash_batch() {
    update(batch);
    batch.clear();
    Resume resume;
    {
      const std::lock_guard lock(mu);
      busy = false;
      resume = std::move(waiter);
    }
    if (resume) resume();
  }
};

namespace {

// Resumes when no batch is being hashed (at once, mostly: it ran while the
// caller received the next bytes).
net::awaitable<void> batch_hashed(BodyHashes& h) {
  {
    const std::lock_guard lock(h.mu);
    if (!h.busy) co_return;
  }
  const std::function<void(Resume)> wait = [&h](Resume resume) {
    std::unique_lock lock(h.mu);
    if (h.busy) {
      h.waiter = std::move(resume);
      return;
    }
    lock.unlock();
    resume();
  };
  co_await suspend(wait);
}

}  // namespace

Upload::Upload(UploadSpec spec, EffectiveQuota quota, std::string locator,
               storage::BlobWriterPtr writer, UploadService& service)
    : spec_(std::move(spec)), quota_(quota), locator_(std::move(locator)),
      writer_(std::move(writer)), service_(service), clock_(service.clock_),
      hashes_(std::make_shared<BodyHashes>()) {
  limit_ = quota_.max_object_bytes;
  if (spec_.max_bytes) limit_ = std::min(limit_, *spec_.max_bytes);
  if (spec_.want_md5) hashes_->md5.emplace(crypto::Digest::Algo::kMd5);
  if (spec_.want_qetag) hashes_->qetag_block.emplace(crypto::Digest::Algo::kSha1);
  hashes_->want_crc32 = spec_.want_crc32;
  // crc32() is read before commit (a form's crc32 field), so it is never behind.
  offload_ = service_.hash_pool_ != nullptr && !spec_.want_crc32;
  if (spec_.staged) {
    // The piece continues the blob's running hash when this process has it
    // (or the blob starts here); otherwise it hashes its own bytes only.
    if (spec_.staged->at == 0) {
      staged_seed_.emplace(crypto::Digest::Algo::kSha256);
    } else {
      staged_seed_ = service_.running_.take(spec_.staged->locator, spec_.staged->at);
    }
    if (staged_seed_) hashes_->sha256 = staged_seed_->copy();
  }
}

// An uncommitted writer removes its temp data (a staged one leaves it to the
// next extend()); an unstored staged piece gives its starting hash back.
Upload::~Upload() {
  if (spec_.staged && staged_seed_ && !committed_)
    service_.running_.put(spec_.staged->locator, spec_.staged->at, std::move(*staged_seed_));
}

net::awaitable<Status> Upload::append(std::string_view data) {
  if (auto st = count(data); !st) co_return st;
  co_await hash(data);
  if (!writer_) co_return ok();  // adopted: the bytes are stored already
  co_return co_await writer_->append(data);
}

uint32_t Upload::crc32() const { return hashes_->crc32; }

Status Upload::count(std::string_view data) {
  if (data.size() > limit_ - size_) {
    return fail(Errc::kTooLarge, "file larger than " + std::to_string(limit_) + " bytes");
  }
  size_ += data.size();
  return ok();
}

net::awaitable<void> Upload::hash(std::string_view data) {
  BodyHashes& h = *hashes_;
  if (!offload_ || size_ <= kHashInlineBytes) {
    h.update(data);  // before any batch: in order
    co_return;
  }
  co_await batch_hashed(h);
  h.batch.append(data);
  if (h.batch.size() < kHashBatch) co_return;
  {
    const std::lock_guard lock(h.mu);
    h.busy = true;
  }
  service_.hash_pool_->post([hashes = hashes_] { hashes->hash_batch(); });
}

net::awaitable<void> Upload::hashed() {
  BodyHashes& h = *hashes_;
  co_await batch_hashed(h);
  if (h.batch.empty()) co_return;
  h.update(h.batch);
  h.batch.clear();
}

Result<Object> Upload::finish() {
  // Again here: dialects set late fields (a form's Content-Type field, a
  // part's header) through spec() after begin().
  UP_TRY(check_content_type(spec_.content_type));
  if (size_ < spec_.min_bytes) {
    return fail(Errc::kTooSmall, "file smaller than " + std::to_string(spec_.min_bytes) + " bytes");
  }
  Object o;
  o.id = spec_.object_id.empty() ? locator_ : spec_.object_id;
  o.tenant_id = spec_.tenant_id;
  o.app_id = spec_.app_id;
  o.key = spec_.key;
  o.name = spec_.name;
  o.content_type = spec_.content_type;
  o.size = size_;
  BodyHashes& h = *hashes_;
  if (staged_seed_) staged_after_ = h.sha256.copy();
  o.sha256 = crypto::to_hex(h.sha256.final());
  if (h.md5) o.md5 = crypto::to_hex(h.md5->final());
  if (h.qetag_block) {
    // An empty payload is one empty block, like Qiniu's.
    if (h.qetag_block_fill > 0 || h.qetag_block_digests.empty()) h.finish_qetag_block();
    o.qetag = finish_qetag(h.qetag_block_digests, h.qetag_block_digests.size() == 20);
  }
  o.locator = locator_;
  o.state = spec_.state;
  o.created_at = clock_.now();
  o.expires_at = spec_.expires_at;
  o.transaction_id = spec_.transaction_id;
  o.owner = spec_.owner;
  o.meta_json = spec_.meta_json;
  return o;
}

InsertOptions Upload::insert_options() const {
  InsertOptions opts;
  opts.grant_id = spec_.grant_id;
  opts.grant_expires_at = spec_.grant_expires_at;
  opts.key_id = spec_.key_id;
  opts.app_max_bytes = quota_.app_max_bytes;
  opts.app_max_objects = quota_.app_max_objects;
  if (spec_.max_app_objects)
    opts.app_max_objects =
        std::min(opts.app_max_objects.value_or(UINT64_MAX), *spec_.max_app_objects);
  opts.tenant_max_bytes = quota_.tenant_max_bytes;
  opts.tenant_max_objects = quota_.tenant_max_objects;
  opts.now = clock_.now();
  return opts;
}

net::awaitable<Result<Object>> Upload::commit() {
  co_await hashed();
  auto o = finish();
  if (!o) co_return o;
  // Bytes first, then metadata: a crash in between leaves an orphan blob that
  // the sweeper collects, never a row without its bytes.
  if (writer_) {
    if (auto st = co_await writer_->commit(); !st) co_return fail(st.error());
  }
  // Named, not temporaries of the co_await expressions: g++ 12 destroys those twice.
  const InsertOptions options = insert_options();
  if (auto st = co_await service_.insert(*o, options); !st) {
    // Adopted: not ours to remove; staged: the next extend() drops the bytes.
    if (!writer_ || (spec_.staged && locator_ == spec_.staged->locator)) co_return fail(st.error());
    // Not acknowledged, so not kept. If this removal fails too, the blob is an
    // orphan and the sweeper takes it.
    storage::BlobStore& blobs = service_.blobs_;
    const std::function<void()> remove = [&] { (void)blobs.remove(o->locator); };
    co_await service_.pool_.run(remove);
    co_return fail(st.error());
  }
  committed_ = true;
  if (staged_after_)
    service_.running_.put(spec_.staged->locator, spec_.staged->at + size_,
                          std::move(*staged_after_));
  co_return o;
}

Status Upload::append_object(const Object& source, uint64_t offset) {
  return await_blocking<Status>([&] { return copy_in(source, offset); });
}

Status Upload::assume(uint64_t size, crypto::Digest sha256) {
  if (size > limit_)
    return fail(Errc::kTooLarge, "file larger than " + std::to_string(limit_) + " bytes");
  size_ = size;
  hashes_->sha256 = std::move(sha256);
  return ok();
}

net::awaitable<Status> Upload::copy_in(const Object& source, uint64_t offset) {
  auto reader = co_await service_.blobs_.open(source.locator, offset, source.size);
  if (!reader) co_return fail(reader.error());
  if ((*reader)->size() != source.size)
    co_return fail(Errc::kStorageIo, "stored object shorter than recorded");
  std::array<char, 256 * 1024> buf;
  for (;;) {
    auto n = co_await (*reader)->read(buf);
    if (!n) co_return fail(n.error());
    if (*n == 0) co_return ok();
    if (auto st = co_await append(std::string_view(buf.data(), *n)); !st) co_return st;
  }
}

Result<Object> Upload::commit_blocking() {
  return await_blocking<Result<Object>>([this] { return commit(); });
}

UploadService::UploadService(Directory& directory, meta::MetaStore& meta, storage::BlobStore& blobs,
                             const Clock& clock, BlockingPool& pool, BlockingPool* hash_pool)
    : directory_(directory), meta_(meta), blobs_(blobs), clock_(clock), pool_(pool),
      hash_pool_(hash_pool),
      inserts_(pool, [this](const std::vector<ObjectInsert*>& batch) { insert_batch(batch); }) {}

net::awaitable<Status> UploadService::insert(const Object& object, const InsertOptions& options) {
  ObjectInsert row{&object, &options};
  co_await inserts_.commit(row);
  co_return row.result;
}

void UploadService::insert_batch(const std::vector<ObjectInsert*>& batch) {
  std::vector<ObjectInsert> rows;
  rows.reserve(batch.size());
  for (ObjectInsert* row : batch) rows.push_back(*row);
  insert_objects(meta_, rows);
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(rows[i].result);
}

Result<UploadPtr> UploadService::begin(UploadSpec spec) {
  UP_TRY(check_content_type(spec.content_type));
  auto quota = directory_.quota_for(spec.tenant_id, spec.app_id);
  if (!quota) return fail(quota.error());
  uint64_t limit = quota->max_object_bytes;
  if (spec.max_bytes) limit = std::min(limit, *spec.max_bytes);
  if (spec.declared_size && *spec.declared_size > limit) {
    return fail(Errc::kTooLarge, "file larger than " + std::to_string(limit) + " bytes");
  }
  std::string locator = new_object_id(clock_.now());
  Result<storage::BlobWriterPtr> writer;
  if (spec.staged) {
    // Every piece of a staged blob shares its locator; each is an object of its own.
    if (spec.object_id.empty()) spec.object_id = locator;
    writer = blobs_.extend(spec.staged->locator, spec.staged->at);
    if (writer) locator = spec.staged->locator;
  }
  if (!spec.staged || (!writer && (writer.error().code == Errc::kUnimplemented ||
                                   writer.error().code == Errc::kObjectNotFound)))
    writer = blobs_.create(locator);
  if (!writer) return fail(writer.error());
  return std::make_unique<Upload>(std::move(spec), *quota, std::move(locator), std::move(*writer),
                                  *this);
}

Result<DirectUpload> UploadService::direct_post(const storage::DirectPostLimits& limits) {
  DirectUpload d;
  d.locator = new_object_id(clock_.now());
  auto post = blobs_.direct_post(d.locator, limits);
  if (!post) return fail(post.error());
  d.post = std::move(*post);
  return d;
}

net::awaitable<Result<Object>> UploadService::adopt(UploadSpec spec, std::string locator) {
  if (auto st = check_content_type(spec.content_type); !st) co_return fail(st.error());
  auto quota = co_await run_blocking(
      pool_, [&] { return directory_.quota_for(spec.tenant_id, spec.app_id); });
  if (!quota) co_return fail(quota.error());
  auto reader = co_await blobs_.open(locator, 0, UINT64_MAX);
  if (!reader) co_return fail(reader.error());
  const uint64_t size = (*reader)->size();
  if (spec.declared_size && size != *spec.declared_size)
    co_return fail(Errc::kSizeMismatch, "stored " + std::to_string(size) + " bytes, expected " +
                                            std::to_string(*spec.declared_size));
  Upload upload(std::move(spec), *quota, std::move(locator), nullptr, *this);
  std::string buf(256 * 1024, '\0');
  for (;;) {
    auto n = co_await (*reader)->read(buf);
    if (!n) co_return fail(n.error());
    if (*n == 0) break;
    if (auto st = co_await upload.append(std::string_view(buf.data(), *n)); !st)
      co_return fail(st.error());
  }
  if (upload.size() != size) co_return fail(Errc::kStorageIo, "stored object changed while read");
  co_return co_await upload.commit();
}

Result<Object> UploadService::seal(UploadSpec spec, const std::string& staged, uint64_t size) {
  const std::string locator = new_object_id(clock_.now());
  UP_TRY(blobs_.seal(staged, size, locator));
  return record_stored(std::move(spec), locator, size, running_.take(staged, size));
}

Result<Object> UploadService::compose(UploadSpec spec, const std::string& staged,
                                      std::span<const storage::BlobRange> ranges) {
  uint64_t size = 0;
  for (const storage::BlobRange& r : ranges) size += r.length;
  auto hash = running_.take(staged, size);
  if (!hash) return fail(Errc::kUnimplemented, "the pieces' hash is not known here");
  const std::string locator = new_object_id(clock_.now());
  if (auto st = blobs_.compose(locator, ranges); !st) {
    running_.put(staged, size, std::move(*hash));
    return fail(st.error());
  }
  return record_stored(std::move(spec), locator, size, std::move(hash));
}

Result<Object> UploadService::record_stored(UploadSpec spec, const std::string& locator,
                                            uint64_t size, std::optional<crypto::Digest> sha256) {
  auto object = [&]() -> Result<Object> {
    if (!sha256 || spec.want_md5 || spec.want_qetag || spec.want_crc32)
      return await_blocking<Result<Object>>([&] { return adopt(std::move(spec), locator); });
    auto quota = directory_.quota_for(spec.tenant_id, spec.app_id);
    if (!quota) return fail(quota.error());
    Upload upload(std::move(spec), *quota, locator, nullptr, *this);
    UP_TRY(upload.assume(size, std::move(*sha256)));
    return upload.commit_blocking();
  }();
  // Not recorded: the new name goes (sealed: the staged blob keeps the bytes).
  if (!object) (void)blobs_.remove(locator);
  return object;
}

std::optional<crypto::Digest> RunningHashes::take(const std::string& locator, uint64_t end) {
  const std::lock_guard lock(mu_);
  auto it = entries_.find(locator);
  if (it == entries_.end()) return std::nullopt;
  std::optional<crypto::Digest> state;
  if (it->second.end == end) state = std::move(it->second.state);
  entries_.erase(it);
  return state;
}

void RunningHashes::put(const std::string& locator, uint64_t end, crypto::Digest state) {
  const std::lock_guard lock(mu_);
  // Full: any entry may go (its upload then reads its bytes once at seal).
  if (entries_.size() >= kMaxEntries && !entries_.contains(locator))
    entries_.erase(entries_.begin());
  entries_.insert_or_assign(locator, Entry{end, std::move(state)});
}

std::string qiniu_etag(std::string_view data) {
  std::string digests;
  size_t off = 0;
  do {
    digests += crypto::sha1(data.substr(off, kQetagBlock));
    off += kQetagBlock;
  } while (off < data.size());
  const bool single = digests.size() == 20;
  return finish_qetag(digests, single);
}

}  // namespace up::core
