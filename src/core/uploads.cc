#include "core/uploads.h"

#include <algorithm>
#include <cstdint>

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
               storage::BlobWriterPtr writer, storage::BlobStore& blobs, meta::MetaStore& meta,
               const Clock& clock)
    : spec_(std::move(spec)), quota_(quota), locator_(std::move(locator)),
      writer_(std::move(writer)), blobs_(blobs), meta_(meta), clock_(clock) {
  limit_ = quota_.max_object_bytes;
  if (spec_.max_bytes) limit_ = std::min(limit_, *spec_.max_bytes);
  if (spec_.want_md5) md5_.emplace(crypto::Digest::Algo::kMd5);
  if (spec_.want_qetag) qetag_block_.emplace(crypto::Digest::Algo::kSha1);
}

Upload::~Upload() = default;  // an uncommitted writer removes its temp data

Status Upload::append(std::string_view data) {
  if (data.size() > limit_ - size_) {
    return fail(Errc::kTooLarge, "file larger than " + std::to_string(limit_) + " bytes");
  }
  UP_TRY(writer_->append(data));
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
  o.id = locator_;
  o.tenant_id = spec_.tenant_id;
  o.app_id = spec_.app_id;
  o.key = spec_.key;
  o.name = spec_.name;
  o.content_type = spec_.content_type;
  o.size = size_;
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

Result<Object> Upload::commit() {
  auto o = finish();
  if (!o) return o;
  // Bytes first, then metadata: a crash in between leaves an orphan blob that
  // the sweeper collects, never a row without its bytes.
  UP_TRY(writer_->commit());
  if (auto st = insert_object(meta_, *o, insert_options()); !st) {
    // Not acknowledged, so not kept. If this removal fails too, the blob is an
    // orphan and the sweeper takes it.
    (void)blobs_.remove(o->locator);
    return fail(st.error());
  }
  return o;
}

UploadService::UploadService(Directory& directory, meta::MetaStore& meta, storage::BlobStore& blobs,
                             const Clock& clock)
    : directory_(directory), meta_(meta), blobs_(blobs), clock_(clock) {}

UploadService::~UploadService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (committer_.joinable()) committer_.join();
}

void UploadService::commit_batched(Upload& upload, CommitDone done) {
  {
    std::lock_guard lock(mu_);
    if (!committer_.joinable()) committer_ = std::thread([this] { run_committer(); });
    queue_.push_back(QueuedCommit{&upload, std::move(done)});
  }
  wake_.notify_one();
}

void UploadService::run_committer() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::vector<QueuedCommit> batch;
    batch.swap(queue_);
    lock.unlock();
    commit_together(batch);
    lock.lock();
  }
}

// Upload::commit() for many uploads at once, in the same order: every body
// durable first (one blob-store sync), then every row (one transaction).
void UploadService::commit_together(std::vector<QueuedCommit>& batch) {
  std::vector<Result<Object>> objects;
  objects.reserve(batch.size());
  std::vector<storage::BlobWriter*> writers;
  std::vector<size_t> writer_of;  // writers[k] belongs to batch[writer_of[k]]
  for (size_t i = 0; i < batch.size(); ++i) {
    objects.push_back(batch[i].upload->finish());
    if (!objects[i]) continue;
    writers.push_back(batch[i].upload->writer_.get());
    writer_of.push_back(i);
  }
  const std::vector<Status> written = blobs_.commit_batch(writers);

  std::vector<InsertOptions> options(batch.size());
  std::vector<ObjectInsert> inserts;
  std::vector<size_t> insert_of;
  for (size_t k = 0; k < writers.size(); ++k) {
    const size_t i = writer_of[k];
    if (!written[k]) {
      objects[i] = fail(written[k].error());
      continue;
    }
    options[i] = batch[i].upload->insert_options();
    inserts.push_back(ObjectInsert{&*objects[i], &options[i]});
    insert_of.push_back(i);
  }
  insert_objects(meta_, inserts);
  for (size_t k = 0; k < inserts.size(); ++k) {
    if (inserts[k].result) continue;
    const size_t i = insert_of[k];
    (void)blobs_.remove(objects[i]->locator);  // as in Upload::commit()
    objects[i] = fail(inserts[k].result.error());
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(objects[i]));
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
  const std::string id = new_object_id(clock_.now());
  auto writer = blobs_.create(id);
  if (!writer) return fail(writer.error());
  return std::make_unique<Upload>(std::move(spec), *quota, id, std::move(*writer), blobs_, meta_,
                                  clock_);
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
