#include "storage/s3/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace up::storage::s3 {
namespace {

constexpr size_t kMaxKeptBody = 4 << 20;
constexpr size_t kLargeBuffer = 512 << 10;
constexpr std::string_view kUnsigned = "UNSIGNED-PAYLOAD";
// A streamed body (Request::source) moves at its client's pace: upgate's own
// idle timeout (60 s between body reads by default) ends a silent client
// first; a store that stops reading is given up on after this.
constexpr long kSourceStallSeconds = 120;

UnixMs wall_ms() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

// One handle per thread, reset between calls: curl keeps its connection cache
// in the handle, so a pool thread's calls reuse an open connection.
CURL* thread_handle() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  struct Holder {
    CURL* h = curl_easy_init();
    ~Holder() { curl_easy_cleanup(h); }
  };
  thread_local Holder holder;
  curl_easy_reset(holder.h);
  return holder.h;
}

struct Transfer {
  const Request* request = nullptr;
  Response* response = nullptr;
  std::string_view body;  // what is left to send
  bool too_large = false;
  bool aborted = false;  // the source gave up
};

size_t on_read(char* out, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->source) {
    std::optional<size_t> got = t->request->source(std::span<char>(out, size * n));
    if (!got) {
      t->aborted = true;
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  size_t take = std::min(size * n, t->body.size());
  std::copy_n(t->body.data(), take, out);
  t->body.remove_prefix(take);
  return take;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view piece(data, size * n);
  // The status is known once headers are in: only a 2xx body goes to the sink.
  if (t->request->sink && t->response->status / 100 == 2)
    return t->request->sink(piece) ? piece.size() : 0;
  if (t->response->body.size() + piece.size() > kMaxKeptBody) {
    t->too_large = true;
    return 0;
  }
  t->response->body.append(piece);
  return piece.size();
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new answer (after 100 Continue): start over
    t->response->headers.clear();
    auto sp = line.find(' ');
    t->response->status = sp == std::string_view::npos ? 0 : std::atoi(line.data() + sp + 1);
    return line.size();
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  t->response->headers.emplace_back(std::move(name), std::string(value));
  return line.size();
}

using SList = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

}  // namespace

std::string Response::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

std::string Response::error_code() const { return xml_text(body, "Code"); }

Client::Client(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  const bool default_port = endpoint_.port.empty() ||
                            (endpoint_.scheme == "http" && endpoint_.port == "80") ||
                            (endpoint_.scheme == "https" && endpoint_.port == "443");
  host_header_ = (endpoint_.path_style ? "" : endpoint_.bucket + ".") + endpoint_.host +
                 (default_port ? "" : ":" + endpoint_.port);
}

std::string Client::describe() const {
  return endpoint_.scheme + "://" + host_header_ +
         (endpoint_.path_style ? "/" + endpoint_.bucket : "");
}

Result<Response> Client::send(const Request& request) const {
  auto delay = std::chrono::milliseconds(100);
  const int attempts = request.idempotent ? std::max(1, endpoint_.attempts) : 1;
  for (int i = 1;; ++i) {
    if (request.restart) request.restart();
    auto r = send_once(request);
    bool retry = !r ? r.error().code == Errc::kUnavailable : r->status >= 500;
    if (!retry || i >= attempts) {
      if (r && r->status >= 500) r = fail(error_from(*r, request.method + " " + request.key));
      note_reachable(r);
      return r;
    }
    std::this_thread::sleep_for(delay);
    delay *= 4;
  }
}

void Client::note_reachable(const Result<Response>& r) const {
  if (!r && r.error().code == Errc::kUnavailable) {
    if (!down_->exchange(true))
      log::error("object store unavailable (requests that need it get 503): " + r.error().message);
  } else if (down_->exchange(false)) {
    log::error("object store " + describe() + " reachable again");
  }
}

Result<Response> Client::send_once(const Request& request) const {
  std::string path = endpoint_.path_style ? "/" + endpoint_.bucket : "";
  if (!request.key.empty() || !endpoint_.path_style) path += "/" + uri_encode(request.key, true);
  const std::string query = canonical_query(request.query);
  std::string url =
      endpoint_.scheme + "://" + host_header_ + path + (query.empty() ? "" : "?") + query;
  Fields signed_extra = request.headers;
  Fields auth = sign(SignInput{.method = request.method,
                               .canonical_uri = path,
                               .query = &request.query,
                               .headers = &signed_extra,
                               .host = host_header_,
                               .payload_hash = kUnsigned,
                               .region = endpoint_.region,
                               .access_key = endpoint_.access_key,
                               .secret_key = endpoint_.secret_key,
                               .now = wall_ms()});
  SList list(nullptr, curl_slist_free_all);
  auto add = [&list](const std::string& line) {
    list.reset(curl_slist_append(list.release(), line.c_str()));
  };
  add("Host: " + host_header_);
  add("Expect:");  // no 100-continue round trip
  for (const auto& [k, v] : signed_extra) add(k + ": " + v);
  for (const auto& [k, v] : auth) add(k + ": " + v);

  Response response;
  Transfer t{&request, &response, request.body, false, false};
  CURL* h = thread_handle();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(endpoint_.connect_timeout.count()));
  if (request.source) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, kSourceStallSeconds);
  } else {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<int64_t>(1, endpoint_.stall.count() / 1000)));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  // Large bodies move in 512 KiB steps, not curl's 64 KiB up and 16 KiB down:
  // an eighth of the callbacks, copies and socket calls per part or piece.
  if (request.body.size() >= kLargeBuffer || request.source || request.sink)
    curl_easy_setopt(h, request.sink ? CURLOPT_BUFFERSIZE : CURLOPT_UPLOAD_BUFFERSIZE,
                     static_cast<long>(kLargeBuffer));
  if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(
        h, CURLOPT_INFILESIZE_LARGE,
        static_cast<curl_off_t>(request.source ? request.source_size : request.body.size()));
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_WRITE_ERROR && t.too_large)
    return fail(Errc::kStorageIo, "S3 " + describe() + ": answer over 4 MiB");
  if (rc == CURLE_WRITE_ERROR && request.sink && response.status / 100 == 2)
    return fail(Errc::kStorageIo, "S3 " + describe() + ": reading the answer stopped");
  if (rc == CURLE_ABORTED_BY_CALLBACK && t.aborted)
    return fail(Errc::kStorageIo, "S3 " + describe() + ": the body was cut short");
  if (rc != CURLE_OK)
    return fail(Errc::kUnavailable, "S3 " + describe() + " unreachable: " + curl_easy_strerror(rc));
  return response;
}

Error error_from(const Response& response, std::string_view what) {
  const std::string code = response.error_code();
  const std::string detail = "S3 " + std::string(what) + ": HTTP " +
                             std::to_string(response.status) + (code.empty() ? "" : " " + code);
  // InternalError also comes inside a 200 (a copy that failed after the headers).
  if (response.status >= 500 || code == "SlowDown" || code == "InternalError")
    return Error(Errc::kUnavailable, detail);
  if (response.status == 404 && (code.empty() || code == "NoSuchKey"))
    return Error(Errc::kObjectNotFound, detail);
  if (response.status == 412) return Error(Errc::kAlreadyExists, detail);
  return Error(Errc::kStorageIo, detail);
}

std::string xml_text(std::string_view xml, std::string_view tag, size_t from, size_t* next) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  size_t a = xml.find(open, from);
  size_t b = a == std::string_view::npos ? a : xml.find(close, a + open.size());
  if (b == std::string_view::npos) {
    if (next) *next = std::string_view::npos;
    return {};
  }
  if (next) *next = b + close.size();
  std::string_view raw = xml.substr(a + open.size(), b - a - open.size());
  std::string out;
  out.reserve(raw.size());
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  for (size_t i = 0; i < raw.size();) {
    bool matched = false;
    if (raw[i] == '&') {
      for (const auto& [ent, c] : kEntities) {
        if (raw.substr(i).starts_with(ent)) {
          out += c;
          i += ent.size();
          matched = true;
          break;
        }
      }
    }
    if (!matched) out += raw[i++];
  }
  return out;
}

}  // namespace up::storage::s3
