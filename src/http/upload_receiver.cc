#include "http/upload_receiver.h"

#include <utility>
#include <vector>

#include "core/log.h"
#include "core/uploads.h"

namespace up::http {
namespace {

// Parses the form for the receiver. File bytes are not stored from inside
// feed(): they are queued (views into the fed bytes or the parser, valid until
// the next feed) and the coroutine stores them after each feed, so storing may
// suspend.
class FormReader final : public MultipartSink {
 public:
  FormReader(UploadHooks& hooks, FilePart& file, std::vector<std::string_view>& queue)
      : hooks_(hooks), file_(file), queue_(queue) {}

  Status on_part_begin(const PartHeaders& part) override {
    if (hooks_.is_file_part(part)) {
      if (file_.seen) return fail(hooks_.second_file_part());
      UP_TRY(hooks_.on_file_part(part));
      file_.seen = in_file_ = true;
      file_.filename = part.filename;
      file_.content_type = part.content_type;
      return ok();
    }
    limit_ = hooks_.field_limit(part);
    if (!limit_) return ok();  // a field the dialect ignores
    in_field_ = true;
    name_ = part.name;
    value_.clear();
    fields_bytes_ += name_.size();
    if (fields_bytes_ > hooks_.max_fields_bytes()) return fail(hooks_.field_too_large(name_));
    return ok();
  }

  Status on_part_data(std::string_view data) override {
    if (in_file_) {
      UP_TRY(hooks_.on_file_data(data));  // validated before it is stored
      queue_.push_back(data);
      return ok();
    }
    if (!in_field_) return ok();
    fields_bytes_ += data.size();
    if (value_.size() + data.size() > *limit_ || fields_bytes_ > hooks_.max_fields_bytes())
      return fail(hooks_.field_too_large(name_));
    value_.append(data);
    return ok();
  }

  Status on_part_end() override {
    if (in_file_) {
      in_file_ = false;
      return hooks_.on_file_end();
    }
    if (!in_field_) return ok();
    in_field_ = false;
    return hooks_.on_field(name_, std::move(value_));
  }

 private:
  UploadHooks& hooks_;
  FilePart& file_;
  std::vector<std::string_view>& queue_;
  bool in_file_ = false, in_field_ = false;
  std::optional<size_t> limit_;
  std::string name_, value_;
  size_t fields_bytes_ = 0;
};

// One request's upload, from the first body byte to the commit.
class Receiver {
 public:
  Receiver(Exchange& ex, core::UploadService& uploads, UploadHooks& hooks)
      : ex_(ex), uploads_(uploads), hooks_(hooks) {}

  net::awaitable<Result<Object>> run(const std::optional<std::string>& boundary) {
    if (auto st = co_await open_when_ready(); !st) co_return fail(st.error());
    if (boundary) {
      MultipartParser parser(*boundary);
      FormReader form(hooks_, file_, queue_);
      if (auto st = co_await read_body(&parser, &form); !st) co_return fail(st.error());
      if (!file_.seen) co_return fail(hooks_.missing_file());
    } else {
      file_.seen = true;
      if (auto st = co_await read_body(nullptr, nullptr); !st) co_return fail(st.error());
      if (auto st = hooks_.on_file_end(); !st) co_return fail(st.error());
    }
    if (!upload_) co_return fail(hooks_.missing_file());
    if (auto st = hooks_.finish(*upload_, file_); !st) co_return fail(st.error());
    co_return co_await upload_->commit();
  }

  // Drops what was stored of a refused upload.
  void drop() { upload_.reset(); }

 private:
  // Pumps the body through the parser (or, raw, straight to the file).
  net::awaitable<Status> read_body(MultipartParser* parser, FormReader* form) {
    for (;;) {
      auto chunk = co_await ex_.read_chunk();
      if (!chunk) co_return fail(chunk.error());
      if (chunk->empty()) break;
      if (parser) {
        if (auto st = parser->feed(*chunk, *form); !st) co_return st;
      } else {
        if (auto st = hooks_.on_file_data(*chunk); !st) co_return st;
        queue_.push_back(*chunk);
      }
      if (auto st = co_await open_when_ready(); !st) co_return st;
      if (auto st = co_await store_queued(); !st) co_return st;
    }
    if (parser) co_return parser->finish(*form);
    co_return ok();
  }

  net::awaitable<Status> open_when_ready() {
    if (upload_ || !hooks_.ready(file_)) co_return ok();
    std::optional<Result<core::UploadPtr>> opened = open_at_once();
    if (!opened) {
      auto got = co_await blocking(ex_, [&]() -> Result<core::UploadPtr> {
        auto spec = hooks_.spec(file_);
        if (!spec) return fail(spec.error());
        return uploads_.begin(std::move(*spec));
      });
      opened.emplace(std::move(got));
    }
    if (!*opened) co_return fail(opened->error());
    upload_ = std::move(**opened);
    if (auto st = hooks_.opened(*upload_); !st) co_return st;
    const std::string pending = std::move(pending_);
    co_return co_await append(pending);
  }

  // The upload opened on this thread, or empty: open it on the pool (the
  // dialect's spec may block, or the service needs a read).
  std::optional<Result<core::UploadPtr>> open_at_once() {
    if (hooks_.spec_blocks()) return std::nullopt;
    auto spec = hooks_.spec(file_);
    if (!spec) return fail(spec.error());
    return uploads_.begin_at_once(*spec);
  }

  // Stores the file bytes of the last feed, or holds them until the upload opens.
  net::awaitable<Status> store_queued() {
    std::vector<std::string_view> queue = std::move(queue_);
    queue_.clear();
    for (std::string_view data : queue) {
      if (upload_) {
        if (auto st = co_await append(data); !st) co_return st;
        continue;
      }
      if (pending_.size() + data.size() > kMaxPendingFileBytes)
        co_return fail(Errc::kInvalidArgument, "file part arrived too fast to verify");
      pending_.append(data);
    }
    co_return ok();
  }

  // The one place file bytes go into the upload.
  net::awaitable<Status> append(std::string_view data) {
    if (data.empty()) co_return ok();
    if (auto st = co_await upload_->append(data); !st)
      co_return fail(hooks_.append_error(st.error(), *upload_));
    co_return ok();
  }

  Exchange& ex_;
  core::UploadService& uploads_;
  UploadHooks& hooks_;
  FilePart file_;
  core::UploadPtr upload_;
  std::vector<std::string_view> queue_;
  std::string pending_;
};

}  // namespace

void log_if_internal(const Exchange& ex, const Error& e) {
  if (e.kind() == Kind::kInternal) log::request_error(ex.request_id(), e.message);
}

net::awaitable<void> receive_upload(Exchange& ex, core::UploadService& uploads, UploadHooks& hooks,
                                    std::optional<std::string> boundary) {
  Receiver receiver(ex, uploads, hooks);
  auto object = co_await receiver.run(boundary);
  // No co_await inside a conditional expression: g++ 12 destroys its temporaries twice.
  Result<Response> answer = fail(Errc::kInternal);
  if (object) answer = co_await hooks.answer(ex, *object);
  else answer = fail(object.error());
  if (!answer) {
    receiver.drop();
    log_if_internal(ex, answer.error());
    co_return co_await ex.send(hooks.error_response(answer.error()));
  }
  co_await ex.send(std::move(*answer));
}

}  // namespace up::http
