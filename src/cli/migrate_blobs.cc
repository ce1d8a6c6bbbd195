#include "cli/migrate_blobs.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/log.h"
#include "core/resumable.h"
#include "meta/meta_store.h"
#include "storage/blob_store.h"

namespace up::cli {
namespace {

namespace json = boost::json;
namespace net = boost::asio;

constexpr size_t kPage = 500;          // blobs listed and looked up per batch
constexpr size_t kChunk = 256 * 1024;  // bytes moved per read
constexpr uint64_t kWhole = std::numeric_limits<uint64_t>::max();

void print(const json::object& o) {
  std::printf("%s\n", json::serialize(o).c_str());
  std::fflush(stdout);  // progress must show while a long run goes on
}

// The size and SHA-256 (hex) of what a stream held.
struct Hashed {
  uint64_t size = 0;
  std::string sha256;
};

// Reads `reader` to its end, hashing, and appends each piece to `sink` if set.
net::awaitable<Result<Hashed>> drain(storage::BlobReader& reader, storage::BlobWriter* sink) {
  crypto::Digest digest(crypto::Digest::Algo::kSha256);
  std::vector<char> buf(kChunk);
  Hashed out;
  for (;;) {
    auto n = co_await reader.read(buf);
    if (!n) co_return fail(n.error());
    if (*n == 0) break;
    const std::string_view piece(buf.data(), *n);
    digest.update(piece);
    out.size += *n;
    if (sink) {
      if (auto st = co_await sink->append(piece); !st) co_return fail(st.error());
    }
  }
  out.sha256 = crypto::to_hex(digest.final());
  co_return out;
}

// What `store` holds under `locator`, hashed; nullopt when nothing is there.
net::awaitable<Result<std::optional<Hashed>>> hash_blob(storage::BlobStore& store,
                                                        const std::string& locator) {
  auto reader = co_await store.open(locator, 0, kWhole);
  if (!reader) {
    if (reader.error().code == Errc::kObjectNotFound) co_return std::optional<Hashed>();
    co_return fail(reader.error());
  }
  auto hashed = co_await drain(**reader, nullptr);
  if (!hashed) co_return fail(hashed.error());
  co_return std::optional<Hashed>(std::move(*hashed));
}

std::string describe(const Hashed& h) {
  return std::to_string(h.size) + " bytes, sha256 " + h.sha256;
}

enum class Outcome { kCopied, kSkipped, kFailed };

// Streams the blob of `row` from `from` into a new blob of `to`, committed only
// when what streamed matches the row; then reads the copy back.
net::awaitable<Outcome> copy_blob(storage::BlobStore& from, storage::BlobStore& to,
                                  const Object& row, std::string& why) {
  const Hashed want{row.size, row.sha256};
  auto writer = to.create(row.locator);
  if (!writer) {
    why = "destination: " + writer.error().message;
    co_return Outcome::kFailed;
  }
  auto reader = co_await from.open(row.locator, 0, kWhole);
  if (!reader) {
    why = "source: " + reader.error().message;
    co_return Outcome::kFailed;
  }
  auto sent = co_await drain(**reader, writer->get());
  if (!sent) {
    why = "copy: " + sent.error().message;  // the uncommitted writer leaves nothing
    co_return Outcome::kFailed;
  }
  if (sent->size != want.size || sent->sha256 != want.sha256) {
    why = "the source blob (" + describe(*sent) + ") does not match its file row (" +
          describe(want) + "): not copied";
    co_return Outcome::kFailed;
  }
  if (auto st = co_await (*writer)->commit(); !st) {
    why = "destination: " + st.error().message;
    co_return Outcome::kFailed;
  }
  auto back = co_await hash_blob(to, row.locator);
  if (back && *back && (*back)->size == want.size && (*back)->sha256 == want.sha256)
    co_return Outcome::kCopied;
  why = back ? (*back ? "read back as " + describe(**back) : std::string("gone when read back"))
             : "read back: " + back.error().message;
  // A copy that reads back wrong must not stay: the next run copies it again.
  if (auto st = to.remove(row.locator); !st) why += "; removing it failed: " + st.error().message;
  co_return Outcome::kFailed;
}

// One blob whose file row is `row`: skipped when the destination already
// holds it (an earlier run), else copied.
net::awaitable<Outcome> migrate_blob(storage::BlobStore& from, storage::BlobStore& to,
                                     const Object& row, std::string& why) {
  auto there = co_await hash_blob(to, row.locator);
  if (!there) {
    why = "destination: " + there.error().message;
    co_return Outcome::kFailed;
  }
  if (!*there) co_return co_await copy_blob(from, to, row, why);
  if ((*there)->size == row.size && (*there)->sha256 == row.sha256) co_return Outcome::kSkipped;
  why = "the destination already holds a different blob under this locator (" + describe(**there) +
        "): remove it there, then run again";
  co_return Outcome::kFailed;
}

json::object counts(const MigrateBlobsSummary& s) {
  return {{"copied", s.copied},
          {"skipped", s.skipped},
          {"failed", s.failed},
          {"unreferenced", s.unreferenced},
          {"bytes_copied", s.bytes_copied},
          {"bytes_skipped", s.bytes_skipped}};
}

// Counts one blob's outcome; prints a failure at once.
void record(MigrateBlobsSummary& s, Outcome outcome, const Object& row, const std::string& why) {
  switch (outcome) {
    case Outcome::kCopied:
      ++s.copied;
      s.bytes_copied += row.size;
      break;
    case Outcome::kSkipped:
      ++s.skipped;
      s.bytes_skipped += row.size;
      break;
    case Outcome::kFailed:
      ++s.failed;
      print({{"failed", row.locator}, {"tenant", row.tenant_id}, {"file", row.id}, {"error", why}});
      break;
  }
}

void print_summary(const MigrateBlobsSummary& s, const MigrateBlobsOptions& options) {
  json::object o = counts(s);
  const bool done = s.complete && s.failed == 0;
  o["migrated"] = done;
  if (done) {
    o["switch_with"] = "--blobs '" + options.to_spec + "'";
    log::notice("every file's blob is at the destination; restart each upgate with --blobs '" +
                options.to_spec + "' (or UPGATE_BLOBS) to switch; the source is left as it was\n");
  } else if (s.failed > 0) {
    log::notice(
        "some blobs failed (see the lines above); do not switch yet: fix them and run "
        "again, which skips what is already copied\n");
  } else {
    log::notice("stopped at --max-copies; run again to copy the rest\n");
  }
  print(o);
}

// One page's blobs with a row, migrated by `jobs` coroutines at once (S3
// answers each small request in milliseconds: one at a time, a store of small
// files would take that many round trips in a row). All on this thread's
// io_context; the stores' blocking calls run on their pool.
class PageRun {
 public:
  PageRun(storage::BlobStore& from, storage::BlobStore& to, const MigrateBlobsOptions& options,
          MigrateBlobsSummary& summary)
      : from_(from), to_(to), options_(options), s_(summary) {}

  // Returns when every row is done or --max-copies is reached; whether rows are left.
  bool run(const std::vector<const Object*>& rows) {
    rows_ = &rows;
    next_ = 0;
    while (next_ < rows.size() && !stopped()) {
      net::io_context io;
      for (unsigned j = 0; j < std::max(1u, options_.jobs); ++j)
        net::co_spawn(io, worker(), net::detached);
      io.run();  // a worker that stops for --max-copies leaves the rest to this loop
    }
    return next_ < rows.size();
  }
  bool stopped() const { return options_.max_copies > 0 && s_.copied >= options_.max_copies; }

 private:
  net::awaitable<void> worker() {
    while (next_ < rows_->size() &&
           !(options_.max_copies > 0 && s_.copied + in_flight_ >= options_.max_copies)) {
      const Object& row = *(*rows_)[next_++];
      std::string why;
      ++in_flight_;
      const Outcome outcome = co_await migrate_blob(from_, to_, row, why);
      --in_flight_;
      record(s_, outcome, row, why);
      if (std::chrono::steady_clock::now() - last_progress_ > std::chrono::seconds(5)) {
        print({{"progress", counts(s_)}});
        last_progress_ = std::chrono::steady_clock::now();
      }
    }
  }

  storage::BlobStore& from_;
  storage::BlobStore& to_;
  const MigrateBlobsOptions& options_;
  MigrateBlobsSummary& s_;
  const std::vector<const Object*>* rows_ = nullptr;
  size_t next_ = 0;
  uint64_t in_flight_ = 0;
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};

}  // namespace

Result<MigrateBlobsSummary> migrate_blobs(meta::MetaStore& meta, storage::BlobStore& from,
                                          storage::BlobStore& to,
                                          const MigrateBlobsOptions& options) {
  MigrateBlobsSummary s;
  PageRun run(from, to, options, s);
  std::string after;
  do {
    auto page = from.list("", after, kPage);
    if (!page) return fail(Error(page.error().code, "--from: " + page.error().message));
    std::vector<std::string> locators;
    for (const storage::BlobEntry& e : page->entries) locators.push_back(e.locator);
    auto rows = meta.objects_by_locator(locators);
    if (!rows) return fail(Error(rows.error().code, "metadata: " + rows.error().message));
    std::vector<const Object*> referenced;
    for (const std::optional<Object>& row : *rows) {
      // A staged blob holds a tus upload in flight, whose pieces are ranges
      // of it: not a file's blob, and not continued on another store.
      if (row && !core::is_staged_piece(*row)) referenced.push_back(&*row);
      else ++s.unreferenced;
    }
    const bool left = run.run(referenced);
    if (run.stopped() && (left || !page->next_after.empty())) {
      print_summary(s, options);
      return s;
    }
    after = std::move(page->next_after);
  } while (!after.empty());
  s.complete = true;
  print_summary(s, options);
  return s;
}

}  // namespace up::cli
