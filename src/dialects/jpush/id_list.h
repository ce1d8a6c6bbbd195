#pragma once
// Streaming validator for a JPush id-list file (alias or registration_id, one per
// line). Fed the file part chunk by chunk, split at any byte; keeps no line in
// memory, only counters and a partial UTF-8 sequence.
//
// Rules (vendor doc "Upload file"): UTF-8 only; each line is trimmed of spaces,
// tabs and CR; a trimmed id is at most 40 bytes and holds no control characters;
// blank lines are skipped (the doc trims newlines), but a file without a single
// id is "empty" and refused. A UTF-8 byte-order mark at the very start is ignored
// (Windows editors write one). The size limit is enforced by core::Upload.

#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace up::dialects::jpush {

class IdListValidator {
 public:
  static constexpr uint64_t kMaxIdBytes = 40;

  // kBadContent naming the rule and the 1-based line on the first violation;
  // every later call returns the same error.
  Status feed(std::string_view data);
  // Call once after the last byte: checks the final line and that some id was seen.
  Status finish();

  uint64_t ids() const { return ids_; }
  uint64_t lines() const { return line_; }

 private:
  Status code_point(uint32_t cp, uint32_t bytes);
  Status end_line();
  Status fail_line(const char* rule);

  uint64_t line_ = 1;
  uint64_t ids_ = 0;
  uint64_t id_bytes_ = 0;    // from the first to the last non-blank character
  uint64_t pending_ws_ = 0;  // blanks after the last non-blank (kept only if more follows)
  bool first_cp_ = true;     // BOM detection
  // UTF-8 decoder state: the code point so far, bytes still expected, the
  // sequence length, and the allowed range of the second byte.
  uint32_t cp_ = 0;
  uint32_t need_ = 0;
  uint32_t len_ = 0;
  unsigned char lo_ = 0x80, hi_ = 0xBF;
  bool failed_ = false;
  Error error_;
};

}  // namespace up::dialects::jpush
