#include "core/uploads.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>

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

}  // namespace

Upload::Upload(UploadSpec spec, EffectiveQuota quota, std::string locator,
               storage::BlobWriterPtr writer, UploadService& service)
    : spec_(std::move(spec)), quota_(quota), locator_(std::move(locator)),
      writer_(std::move(writer)), service_(service), clock_(service.clock_) {
  limit_ = quota_.max_object_bytes;
  if (spec_.max_bytes) limit_ = std::min(limit_, *spec_.max_bytes);
  if (spec_.want_md5) md5_.emplace(crypto::Digest::Algo::kMd5);
  if (spec_.want_qetag) qetag_block_.emplace(crypto::Digest::Algo::kSha1);
  if (spec_.staged) {
    // The piece continues the blob's running hash when this process has it
    // (or the blob starts here); otherwise it hashes its own bytes only.
    if (spec_.staged->at == 0) {
      staged_seed_.emplace(crypto::Digest::Algo::kSha256);
    } else {
      staged_seed_ = service_.running_.take(spec_.staged->locator, spec_.staged->at);
    }
    if (staged_seed_) sha256_ = staged_seed_->copy();
  }
}

// An uncommitted writer removes its temp data (a staged one leaves it to the
// next extend()); an unstored staged piece gives its starting hash back.
Upload::~Upload() {
  if (spec_.staged && staged_seed_ && !committed_)
    service_.running_.put(spec_.staged->locator, spec_.staged->at, std::move(*staged_seed_));
}

net::awaitable<Status> Upload::append(std::string_view data) {
  if (auto st = count_and_hash(data); !st) co_return st;
  if (!writer_) co_return ok();  // adopted: the bytes are stored already
  co_return co_await writer_->append(data);
}

Status Upload::count_and_hash(std::string_view data) {
  if (data.size() > limit_ - size_) {
    return fail(Errc::kTooLarge, "file larger than " + std::to_string(limit_) + " bytes");
  }
  size_ += data.size();
  sha256_.update(data);
  if (spec_.want_crc32) crc32_ = crypto::crc32_update(crc32_, data);
  if (md5_) md5_->update(data);
  while (qetag_block_ && !data.empty()) {
    const uint64_t take = std::min<uint64_t>(data.size(), kQetagBlock - qetag_block_fill_);
    qetag_block_->update(data.substr(0, take));
    qetag_block_fill_ += take;
    data.remove_prefix(take);
    if (qetag_block_fill_ == kQetagBlock) finish_qetag_block();
  }
  return ok();
}

void Upload::finish_qetag_block() {
  qetag_block_digests_ += qetag_block_->final();
  qetag_block_.emplace(crypto::Digest::Algo::kSha1);
  qetag_block_fill_ = 0;
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
  if (staged_seed_) staged_after_ = sha256_.copy();
  o.sha256 = crypto::to_hex(sha256_.final());
  if (md5_) o.md5 = crypto::to_hex(md5_->final());
  if (qetag_block_) {
    // An empty payload is one empty block, like Qiniu's.
    if (qetag_block_fill_ > 0 || qetag_block_digests_.empty()) finish_qetag_block();
    o.qetag = finish_qetag(qetag_block_digests_, qetag_block_digests_.size() == 20);
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
  auto o = finish();
  if (!o) co_return o;
  // Named, not temporaries of the co_await expressions: g++ 12 destroys those twice.
  const InsertOptions options = insert_options();
  ObjectInsert row{&*o, &options};
  if (auto st = co_await service_.commit_blob_then_row(writer_.get(), row); !st)
    co_return fail(st.error());
  if (const Status& st = row.result; !st) {
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
  sha256_ = std::move(sha256);
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
                             const Clock& clock, BlockingPool& pool)
    : directory_(directory), meta_(meta), blobs_(blobs), clock_(clock), pool_(pool),
      inserts_(pool, [this](const std::vector<ObjectInsert*>& batch) { insert_batch(batch); }) {}

net::awaitable<Status> UploadService::commit_blob_then_row(storage::BlobWriter* writer,
                                                           ObjectInsert& row) {
  // Bytes first, then metadata: a crash in between leaves an orphan blob that
  // the sweeper collects, never a row without its bytes.
  if (writer && writer->commit_is_own_sync() && !in_run_to_completion()) {
    // One trip to the pool: the blob's sync, then the row queued from that
    // pool thread, which leads its batch itself when none is running. A trip
    // each cost two more thread switches per commit. (Code run to completion
    // on a pool thread is there already: both run inline.)
    Status synced = ok();
    const std::function<void(Resume)> start = [&](const Resume& resume) {
      pool_.post([&, resume] {
        synced = await_blocking<Status>([writer] { return writer->commit(); });
        if (synced) {
          inserts_.submit_async_here(row, resume);
        } else {
          resume();
        }
      });
    };
    co_await suspend(start);
    co_return synced;
  }
  if (writer) {
    if (auto st = co_await writer->commit(); !st) co_return st;
  }
  co_await inserts_.commit(row);
  co_return ok();
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
  return open(std::move(spec), *quota);
}

std::optional<Result<UploadPtr>> UploadService::begin_at_once(UploadSpec& spec) {
  if (spec.staged) return std::nullopt;  // extend() opens the staged blob's file
  if (auto st = check_content_type(spec.content_type); !st) return fail(st.error());
  auto quota = directory_.quota_cached(spec.tenant_id, spec.app_id);
  if (!quota) return std::nullopt;
  return open(std::move(spec), *quota);
}

Result<UploadPtr> UploadService::open(UploadSpec spec, const EffectiveQuota& quota) {
  uint64_t limit = quota.max_object_bytes;
  if (spec.max_bytes) limit = std::min(limit, *spec.max_bytes);
  if (spec.declared_size && *spec.declared_size > limit) {
    return fail(Errc::kTooLarge, "file larger than " + std::to_string(limit) + " bytes");
  }
  std::string locator = new_object_id(clock_.now());
  Result<storage::BlobWriterPtr> writer;
  if (spec.staged) {
    // Every piece of a staged blob shares its locator; each is an object of its own.
    if (spec.object_id.empty()) spec.object_id = locator;
    writer = blobs_.extend(spec.staged->locator, spec.staged->at, spec.staged->size_hint);
    if (writer) locator = spec.staged->locator;
  }
  if (!spec.staged || (!writer && (writer.error().code == Errc::kUnimplemented ||
                                   writer.error().code == Errc::kObjectNotFound)))
    writer = blobs_.create(locator, spec.declared_size);
  if (!writer) return fail(writer.error());
  return std::make_unique<Upload>(std::move(spec), quota, std::move(locator), std::move(*writer),
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
