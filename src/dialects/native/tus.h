#pragma once
// tus 1.0.0 (https://tus.io/protocols/resumable-upload) at /v1/tus/, with the
// creation, creation-with-upload, creation-defer-length, termination,
// concatenation, expiration and checksum extensions, and the upload grants
// a browser creates uploads with (POST /v1/upload-grants). Wire format in
// tus_wire.h; pieces, offsets and the final object in core::ResumableUploads.
//
// Every PATCH body is one piece at the index of its first byte's offset; the
// upload's offset is the sum of the pieces contiguous from 0, so an
// acknowledged (204) chunk is durable and every process sees it. A chunk cut
// off mid-body keeps what arrived (a piece), so the client resumes from it.
// A PATCH or DELETE takes the upload over from a request of this process
// still writing a chunk of it (docs/resumable.md).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/resumable.h"
#include "dialects/dialect_prelude.h"
#include "dialects/native/tus_wire.h"

namespace up::core {
struct Principal;
struct Services;
}  // namespace up::core

namespace up::dialects::native {

struct ChunkWriter;

class Tus {
 public:
  explicit Tus(core::Services& services);
  ~Tus();

  // /v1/tus[/<upload token>], every method: authenticates creation itself
  // (API key or grant); the upload URL is the credential of the rest.
  net::awaitable<void> handle(Exchange& ex, const std::vector<std::string_view>& parts);
  // POST /v1/upload-grants: a single-use, short-lived credential to create
  // one tus upload, for the principal's app.
  net::awaitable<void> mint_grant(Exchange& ex, const core::Principal& p);

 private:
  // What the pieces of an upload say (blocking to compute).
  struct Progress {
    core::ResumableStatus status = core::ResumableStatus::kOpen;
    std::optional<Object> object;  // kCompleted
    uint64_t offset = 0;
    std::optional<uint64_t> length;   // declared, or sent later (deferred)
    std::vector<core::Piece> pieces;  // contiguous from 0
  };
  // The outcome of one chunk.
  struct Stored {
    uint64_t offset = 0;
    std::optional<Object> object;  // the upload completed with this chunk
  };

  net::awaitable<void> options(Exchange& ex);
  net::awaitable<void> create(Exchange& ex);
  net::awaitable<void> create_final(Exchange& ex, tus::UploadToken t,
                                    const std::vector<std::string>& partials);
  net::awaitable<void> head(Exchange& ex, const tus::UploadToken& t);
  net::awaitable<void> patch(Exchange& ex, const tus::UploadToken& t);
  net::awaitable<void> terminate(Exchange& ex, const tus::UploadToken& t);

  // Authenticates a creation (API key or grant): tenant, app, limit, credential.
  net::awaitable<Result<tus::UploadToken>> creator(Exchange& ex);
  // Reads Upload-Length / Upload-Defer-Length / Upload-Metadata into `t`.
  Status read_creation_headers(const Exchange& ex, tus::UploadToken& t) const;
  // The token of /v1/tus/<token>, verified and unexpired.
  Result<tus::UploadToken> upload_of(std::string_view token) const;

  // Streams the request body into the upload at `offset` (a piece, or the
  // final object directly when it carries the whole upload), checking the
  // checksum; completes the upload when it reaches its length.
  // `self`: this request as Writers knows it (a takeover stops the body).
  // `opened`: the chunk opened already (open_chunk), else opened here.
  // `stall`: time without a byte that ends the body (0: the server's idle
  // timeout).
  net::awaitable<Result<Stored>> store_chunk(Exchange& ex, const tus::UploadToken& t,
                                             const Progress& at,
                                             const std::optional<tus::Checksum>& sum,
                                             ChunkWriter& self, core::UploadPtr opened = nullptr,
                                             std::chrono::milliseconds stall = {});
  // The bytes the upload may still take after `at`.
  static uint64_t room_of(const tus::UploadToken& t, const Progress& at);
  // Blocking.
  // The chunk at `at.offset`: a staged piece (of `content_length` bytes, when
  // sent: a hint), or the final object when `whole`.
  Result<core::UploadPtr> open_chunk(const tus::UploadToken& t, const Progress& at, bool whole,
                                     std::optional<uint64_t> content_length);
  Result<Progress> progress(const tus::UploadToken& t);
  Status set_deferred_length(const tus::UploadToken& t, uint64_t length);
  Result<Object> complete(const tus::UploadToken& t, const Progress& p);
  core::UploadSpec final_spec(const tus::UploadToken& t, uint64_t length) const;

  std::string location(const tus::UploadToken& t) const;
  net::awaitable<void> fail_with(Exchange& ex, const Error& e);

  // Chunks being committed, by upload id. A client whose connection broke
  // asks HEAD at once, often before the server has noticed the break and
  // stored what arrived; HEAD and PATCH wait for those commits (in this
  // process; another process answers 409 and the client asks again), so the
  // client resumes after the kept bytes instead of re-sending them into a 409.
  class Committing;
  // Requests of this process writing a chunk, by upload id: a newer PATCH or
  // DELETE of the upload asks them to stop and waits until they let go of it
  // (a client resuming on a new connection while the old one stalls).
  class Writers;

  core::Services& s_;
  std::string upload_key_;  // signs upload URLs
  std::string grant_key_;   // signs grants
  std::unique_ptr<Committing> committing_;
  std::unique_ptr<Writers> writers_;
};

}  // namespace up::dialects::native
