#pragma once
// Incremental multipart/form-data parser (RFC 7578 / RFC 2046). Bytes are fed in
// pieces of any size, split at any byte; part bodies are handed to a sink chunk
// by chunk and never buffered whole. Memory is bounded by the boundary length
// plus the part-header limit, whatever the body size.
//
// Tolerates what real clients send (spec/http.md): a quoted boundary, a preamble
// (e.g. a lone CRLF) before the first boundary, `Name:value` headers with no
// space after the colon, an epilogue after the closing boundary. A body that
// ends before the closing boundary is an error (finish()).
//
// No Beast, no I/O: usable from fuzzers and any dialect.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace up::http {

struct MultipartLimits {
  size_t max_part_header_bytes = 16 * 1024;  // all header lines of one part
  size_t max_parts = 64;
};

struct PartHeaders {
  std::string name;           // form field name from Content-Disposition
  std::string filename;       // as sent (raw UTF-8; "%22"/"%0D"/"%0A" unescaped); filename* wins
  bool has_filename = false;  // a file part (filename or filename* present)
  std::string content_type;   // the part's Content-Type, "" when absent
  std::vector<std::pair<std::string, std::string>> headers;  // all, names lower-cased
};

// Receives parse events. Returning an error from a callback stops parsing and
// that error is returned from feed().
class MultipartSink {
 public:
  virtual ~MultipartSink() = default;
  virtual Status on_part_begin(const PartHeaders& part) = 0;
  // Zero or more times. `data` points into the bytes given to feed() (valid
  // while the caller keeps them) or into the parser (valid until it is destroyed).
  virtual Status on_part_data(std::string_view data) = 0;
  virtual Status on_part_end() = 0;
};

class MultipartParser {
 public:
  // `boundary` is the bare boundary value (without leading "--", unquoted).
  explicit MultipartParser(const std::string& boundary, MultipartLimits limits = {});

  // Feeds the next bytes of the body. kBadMultipart on malformed input (with a
  // message saying what), or whatever a sink callback returned.
  Status feed(std::string_view data, MultipartSink& sink);
  // Call at the end of the body: kBadMultipart unless the closing boundary was seen.
  Status finish(MultipartSink& sink);
  // True once the closing boundary was parsed (the rest is epilogue, ignored).
  bool done() const;

 private:
  enum class State {
    kPreamble,      // discarding bytes until the first delimiter
    kBoundaryTail,  // after "--boundary": "--", transport padding or CRLF
    kBoundaryDash,  // after "--boundary-": expecting the second '-'
    kBoundaryCR,    // after the boundary line's CR: expecting LF
    kHeaders,       // part header lines
    kBody,          // part body, until the next delimiter
    kEpilogue,      // after the closing boundary: everything ignored
    kFailed,        // error_ says why; every later call returns it
  };
  struct Scan {
    size_t consumed = 0;
    bool found = false;  // a whole delimiter ended at `consumed`
  };

  Status run(std::string_view data, MultipartSink& sink);
  Result<Scan> scan(std::string_view data, MultipartSink* sink);
  Status start_part();
  Status header_line(std::string_view line, MultipartSink& sink);
  Status end_headers(MultipartSink& sink);

  State state_ = State::kPreamble;
  std::string delimiter_;  // "\r\n--" + boundary
  MultipartLimits limits_;
  // In kPreamble/kBody: the last match_ bytes seen are delimiter_[0, match_),
  // so they need not be stored; the first skip_ of them were never received
  // (the implied CRLF before a leading boundary) and are never emitted.
  size_t match_ = 0;
  size_t skip_ = 0;
  std::string pending_;  // kHeaders: the incomplete header line
  PartHeaders part_;
  size_t parts_ = 0;
  size_t header_bytes_ = 0;  // padding + header bytes of the current part
  Error error_;
};

}  // namespace up::http
