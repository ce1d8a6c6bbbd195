#pragma once
// The one streaming upload operation every dialect uses: it reads the request
// body (raw, or multipart/form-data), streams the file into a core::Upload
// while it arrives, commits it and sends the answer. A dialect says only what
// differs (UploadHooks): the upload's spec, its field rules and checks, and
// its answer and error envelope.
//
// The multipart side, in the order things happen:
//   - text fields are buffered one at a time (UploadHooks::field_limit) and
//     handed to on_field() when they end, before or after the file part;
//   - the upload opens as soon as ready() says the fields it needs have come
//     (before the body for dialects whose spec is known up front); file bytes
//     that arrive earlier wait, bounded (kMaxPendingFileBytes);
//   - when the body has ended, finish() sees every field ("late attach": a
//     name, meta or checksum sent after the file) and may still edit the spec;
//   - then one commit, and answer().
// A refused upload is dropped before the error goes out, so a client that sees
// the error never sees its bytes stored.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/result.h"
#include "core/types.h"
#include "http/exchange.h"
#include "http/multipart.h"

namespace up::core {
class Upload;
class UploadService;
struct UploadSpec;
}  // namespace up::core

namespace up::http {

// File bytes held while the upload is not open yet (a form's credential
// fields must be verified first): about one network read in practice.
constexpr size_t kMaxPendingFileBytes = 4 * 1024 * 1024;

// The file part as it began (raw bodies: `seen` only).
struct FilePart {
  bool seen = false;
  std::string filename;      // as sent, see PartHeaders::filename
  std::string content_type;  // "" when absent
};

// What a dialect tells the upload operation. One object per request; the
// operation calls it from the request's coroutine only, except spec(), which
// runs on the blocking pool while the coroutine waits (unless spec_blocks()
// says it need not).
class UploadHooks {
 public:
  virtual ~UploadHooks() = default;

  // ---- opening the upload
  // Whether spec() may be called now. Asked before the body is read and
  // after each piece of it. Default: at once (the spec needs no form field).
  virtual bool ready(const FilePart& file) const { return true; }
  // Blocking (runs on the pool, then core::UploadService::begin): the upload's
  // spec from what has arrived. An error refuses the upload.
  virtual Result<core::UploadSpec> spec(const FilePart& file) = 0;
  // False when spec() never blocks (it hands back what the dialect settled
  // before the body): the upload then opens on the I/O thread whenever
  // core::UploadService::begin_at_once can, without a trip to the pool.
  virtual bool spec_blocks() const { return true; }
  // After the upload opened (its limit is known), before more bytes go in.
  virtual Status opened(core::Upload& upload) { return ok(); }

  // ---- the multipart form (not called for a raw body)
  virtual bool is_file_part(const PartHeaders& part) const { return part.name == "file"; }
  // The file part begins. A second one is refused with second_file_part().
  virtual Status on_file_part(const PartHeaders& part) { return ok(); }
  virtual Error second_file_part() const {
    return Error(Errc::kBadMultipart, "more than one file part");
  }
  // How many bytes of a text field to keep; nullopt skips the field unread.
  // Past the limit, or past max_fields_bytes() for names and values together,
  // the request is refused with field_too_large(name).
  virtual std::optional<size_t> field_limit(const PartHeaders& part) const { return 8 * 1024; }
  virtual size_t max_fields_bytes() const { return 256 * 1024; }
  virtual Error field_too_large(const std::string& name) const {
    return Error(Errc::kInvalidArgument, "form field too large");
  }
  // A kept text field, complete (refuse duplicates here if the dialect does).
  virtual Status on_field(const std::string& name, std::string&& value) { return ok(); }
  // The body ended without a file part, or before the upload could open.
  virtual Error missing_file() const {
    return Error(Errc::kMissingField, "no multipart part named \"file\"");
  }

  // ---- the file's bytes (raw bodies too)
  // Sees file bytes as they are parsed, before they are stored.
  virtual Status on_file_data(std::string_view data) { return ok(); }
  virtual Status on_file_end() { return ok(); }
  // The dialect's wording of an append error (kTooLarge names its limit).
  virtual Error append_error(const Error& e, const core::Upload& upload) const { return e; }

  // ---- the end
  // The body has ended and every field arrived: last checks, and spec edits
  // (name, content type, meta) before the commit.
  virtual Status finish(core::Upload& upload, const FilePart& file) { return ok(); }
  // The answer for the committed object (may do more work, e.g. a callback).
  virtual net::awaitable<Result<Response>> answer(Exchange& ex, const Object& object) = 0;
  // The dialect's envelope for an error.
  virtual Response error_response(const Error& e) const = 0;
};

// Reads the body, stores the upload, answers the request (exactly once).
// `boundary` is the multipart boundary (http::multipart_boundary), nullopt for
// a raw body (the whole body is the file).
net::awaitable<void> receive_upload(Exchange& ex, core::UploadService& uploads, UploadHooks& hooks,
                                    std::optional<std::string> boundary);

// Logs the detail of an internal error for the operator (clients get a
// generic message). Every dialect's failure path goes through this.
void log_if_internal(const Exchange& ex, const Error& e);

}  // namespace up::http
