#include "http/upload_receiver.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/fixture.h"

namespace up::http {
namespace {

// An exchange whose body arrives in the given pieces; blocking work runs inline.
class FakeExchange final : public Exchange {
 public:
  explicit FakeExchange(std::vector<std::string> pieces) : pieces_(std::move(pieces)) {}

  std::string_view method() const override { return "POST"; }
  std::string_view target() const override { return "/up"; }
  std::string_view path() const override { return "/up"; }
  std::optional<std::string> query(std::string_view) const override { return std::nullopt; }
  std::optional<std::string_view> header(std::string_view) const override { return std::nullopt; }
  std::optional<uint64_t> content_length() const override { return std::nullopt; }
  std::string_view request_id() const override { return "req-1"; }
  std::string_view remote_address() const override { return "127.0.0.1"; }
  net::awaitable<Result<std::string_view>> read_chunk() override {
    if (next_ == pieces_.size()) co_return std::string_view();
    co_return std::string_view(pieces_[next_++]);
  }
  net::awaitable<Result<std::string>> read_all(uint64_t) override {
    co_return fail(Errc::kInternal, "not used");
  }
  net::awaitable<void> send(Response response) override {
    ++sent_;
    response_ = std::move(response);
    co_return;
  }
  net::awaitable<void> send_blob(Response, core::ObjectReader) override { co_return; }
  net::awaitable<void> offload(std::function<void()> work) override {
    ++offloads_;
    work();
    co_return;
  }
  net::awaitable<void> suspend(const std::function<void(Resume)>& start) override {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    start([&] {
      std::lock_guard lock(mu);
      done = true;
      cv.notify_one();
    });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
    co_return;
  }
  void log_field(std::string_view, std::string) override {}

  int sent_ = 0;
  int offloads_ = 0;  // trips to the blocking pool
  Response response_;

 private:
  std::vector<std::string> pieces_;
  size_t next_ = 0;
};

// Records what the operation asked, answers with the object's size; errors
// become "<code number>: <message>" with status 400.
class RecordingHooks final : public UploadHooks {
 public:
  Result<core::UploadSpec> spec(const FilePart& file) override {
    spec_calls.push_back(fields);
    core::UploadSpec s = testing::spec_for("t1", file.filename.empty() ? "raw" : file.filename);
    s.max_bytes = max_bytes;
    return s;
  }
  bool spec_blocks() const override { return blocks; }
  bool ready(const FilePart& file) const override {
    return ready_field.empty() || fields.count(ready_field) > 0;
  }
  Status on_field(const std::string& name, std::string&& value) override {
    fields[name] = std::move(value);
    return ok();
  }
  Status finish(core::Upload& upload, const FilePart&) override {
    if (auto it = fields.find("name"); it != fields.end()) upload.spec().name = it->second;
    finished_with = fields;
    return refuse_at_finish ? fail(Errc::kBadName, "refused") : ok();
  }
  net::awaitable<Result<Response>> answer(Exchange&, const Object& object) override {
    stored = object;
    co_return json_response(200, std::to_string(object.size));
  }
  Response error_response(const Error& e) const override {
    Response r = json_response(400, e.message);
    r.header("X-Code", std::to_string(static_cast<int>(e.code)));
    return r;
  }

  std::string ready_field;
  bool blocks = true;
  uint64_t max_bytes = 1 << 20;
  bool refuse_at_finish = false;
  std::map<std::string, std::string> fields;
  std::vector<std::map<std::string, std::string>> spec_calls;
  std::map<std::string, std::string> finished_with;
  std::optional<Object> stored;
};

const std::string kForm =
    "--XX\r\n"
    "Content-Disposition: form-data; name=\"token\"\r\n\r\n"
    "t0k\r\n"
    "--XX\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "hello world\r\n"
    "--XX\r\n"
    "Content-Disposition: form-data; name=\"name\"\r\n\r\n"
    "late.txt\r\n"
    "--XX--\r\n";

// The body cut into pieces of `size` bytes (0: whole).
std::vector<std::string> pieces(const std::string& body, size_t size) {
  if (size == 0) return {body};
  std::vector<std::string> out;
  for (size_t i = 0; i < body.size(); i += size) out.push_back(body.substr(i, size));
  return out;
}

class UploadReceiverTest : public ::testing::Test, protected testing::CoreFixture {
 protected:
  void receive(FakeExchange& ex, RecordingHooks& hooks, std::optional<std::string> boundary) {
    net::io_context ioc;
    net::co_spawn(ioc, receive_upload(ex, uploads, hooks, std::move(boundary)), net::detached);
    ioc.run();
    ASSERT_EQ(ex.sent_, 1);
  }
};

TEST_F(UploadReceiverTest, RawBodyIsTheFile) {
  FakeExchange ex({"hel", "lo ", "world"});
  RecordingHooks hooks;
  receive(ex, hooks, std::nullopt);
  EXPECT_EQ(ex.response_.status, 200);
  ASSERT_TRUE(hooks.stored);
  EXPECT_EQ(hooks.stored->size, 11u);
  EXPECT_EQ(hooks.stored->sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(blob_count(), 1u);
}

// A spec that never blocks opens the upload without the pool once the app's
// limits are cached (the first upload reads them there); one that may block
// always goes to the pool.
TEST_F(UploadReceiverTest, SpecThatNeverBlocksOpensWithoutThePool) {
  for (bool blocks : {false, true}) {
    ASSERT_TRUE(directory.update_tenant(*directory.tenant("t1")));  // empties the cache
    FakeExchange first({"hello"}), second({"world!"});
    RecordingHooks hooks;
    hooks.blocks = blocks;
    receive(first, hooks, std::nullopt);
    EXPECT_EQ(first.response_.status, 200) << first.response_.body;
    EXPECT_EQ(first.offloads_, 1) << blocks;
    RecordingHooks again;
    again.blocks = blocks;
    receive(second, again, std::nullopt);
    EXPECT_EQ(second.response_.status, 200) << second.response_.body;
    EXPECT_EQ(second.offloads_, blocks ? 1 : 0) << blocks;
    ASSERT_TRUE(again.stored);
    EXPECT_EQ(again.stored->size, 6u);
    auto kept = files.get("t1", again.stored->id);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->size, 6u);
  }
}

TEST_F(UploadReceiverTest, FormOpensWhenReadyAndSeesLateFields) {
  for (size_t size : {0, 1, 7, 64}) {
    FakeExchange ex(pieces(kForm, size));
    RecordingHooks hooks;
    hooks.ready_field = "token";
    receive(ex, hooks, "XX");
    EXPECT_EQ(ex.response_.status, 200) << size << ": " << ex.response_.body;
    // Opened once, after the token and (unless the body came in one piece)
    // before the late name.
    ASSERT_EQ(hooks.spec_calls.size(), 1u) << size;
    EXPECT_EQ(hooks.spec_calls[0].count("token"), 1u);
    if (size != 0) EXPECT_EQ(hooks.spec_calls[0].count("name"), 0u) << size;
    EXPECT_EQ(hooks.finished_with.at("name"), "late.txt");
    ASSERT_TRUE(hooks.stored);
    EXPECT_EQ(hooks.stored->size, 11u) << size;
    EXPECT_EQ(hooks.stored->name, "late.txt");
  }
}

TEST_F(UploadReceiverTest, FileBytesWaitUntilTheUploadOpens) {
  // "name" comes last, so every file byte arrives before the upload opens.
  FakeExchange ex(pieces(kForm, 5));
  RecordingHooks hooks;
  hooks.ready_field = "name";
  receive(ex, hooks, "XX");
  EXPECT_EQ(ex.response_.status, 200) << ex.response_.body;
  ASSERT_TRUE(hooks.stored);
  EXPECT_EQ(hooks.stored->sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
}

TEST_F(UploadReceiverTest, RefusedUploadLeavesNothing) {
  FakeExchange ex({kForm});
  RecordingHooks hooks;
  hooks.refuse_at_finish = true;
  receive(ex, hooks, "XX");
  EXPECT_EQ(ex.response_.status, 400);
  EXPECT_EQ(ex.response_.body, "refused");
  EXPECT_FALSE(hooks.stored);
  EXPECT_EQ(blob_count(), 0u);
}

TEST_F(UploadReceiverTest, TheLimitStopsTheBody) {
  FakeExchange ex({kForm});
  RecordingHooks hooks;
  hooks.max_bytes = 5;
  receive(ex, hooks, "XX");
  EXPECT_EQ(ex.response_.status, 400);
  EXPECT_EQ(ex.response_.headers.back().second, std::to_string(static_cast<int>(Errc::kTooLarge)));
  EXPECT_EQ(blob_count(), 0u);
}

TEST_F(UploadReceiverTest, FormWithoutFilePartIsRefused) {
  FakeExchange ex(
      {"--XX\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n--XX--\r\n"});
  RecordingHooks hooks;
  receive(ex, hooks, "XX");
  EXPECT_EQ(ex.response_.body, "no multipart part named \"file\"");
  EXPECT_EQ(blob_count(), 0u);
}

TEST_F(UploadReceiverTest, SecondFilePartIsRefused) {
  const std::string part =
      "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nx\r\n";
  FakeExchange ex({part + part + "--XX--\r\n"});
  RecordingHooks hooks;
  receive(ex, hooks, "XX");
  EXPECT_EQ(ex.response_.body, "more than one file part");
}

TEST_F(UploadReceiverTest, LongFieldIsRefused) {
  FakeExchange ex({"--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" +
                   std::string(9000, 'n') + "\r\n--XX--\r\n"});
  RecordingHooks hooks;
  receive(ex, hooks, "XX");
  EXPECT_EQ(ex.response_.body, "form field too large");
}

}  // namespace
}  // namespace up::http
