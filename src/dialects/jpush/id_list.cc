#include "dialects/jpush/id_list.h"

#include <string>

namespace up::dialects::jpush {

Status IdListValidator::fail_line(const char* rule) {
  failed_ = true;
  error_ = Error(Errc::kBadContent, "line " + std::to_string(line_) + ": " + rule);
  return fail(error_);
}

Status IdListValidator::feed(std::string_view data) {
  if (failed_) return fail(error_);
  for (unsigned char c : data) {
    if (need_ == 0) {
      if (c < 0x80) {
        UP_TRY(code_point(c, 1));
        continue;
      }
      // Strict UTF-8 (Unicode table 3-7): the lead byte fixes the length and
      // the range of the second byte, which rules out overlongs and surrogates.
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
        cp_ = c & 0x1F;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_ = 2;
        cp_ = c & 0x0F;
        if (c == 0xE0) lo_ = 0xA0;
        if (c == 0xED) hi_ = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_ = 3;
        cp_ = c & 0x07;
        if (c == 0xF0) lo_ = 0x90;
        if (c == 0xF4) hi_ = 0x8F;
      } else {
        return fail_line("not valid UTF-8 (the file must be UTF-8 text)");
      }
      len_ = need_ + 1;
      continue;
    }
    if (c < lo_ || c > hi_) return fail_line("not valid UTF-8 (the file must be UTF-8 text)");
    lo_ = 0x80;
    hi_ = 0xBF;
    cp_ = (cp_ << 6) | (c & 0x3F);
    if (--need_ == 0) UP_TRY(code_point(cp_, len_));
  }
  return ok();
}

Status IdListValidator::code_point(uint32_t cp, uint32_t bytes) {
  const bool first = first_cp_;
  first_cp_ = false;
  if (first && cp == 0xFEFF) return ok();
  if (cp == '\n') return end_line();
  if (cp == ' ' || cp == '\t' || cp == '\r') {
    if (id_bytes_ > 0) pending_ws_ += bytes;
    return ok();
  }
  // C0 and C1 controls and DEL cannot be part of an alias or registration id.
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return fail_line("control character in an id");
  id_bytes_ += pending_ws_ + bytes;
  pending_ws_ = 0;
  if (id_bytes_ > kMaxIdBytes) return fail_line("id longer than 40 bytes");
  return ok();
}

Status IdListValidator::end_line() {
  if (id_bytes_ > 0) ++ids_;
  id_bytes_ = pending_ws_ = 0;
  ++line_;
  return ok();
}

Status IdListValidator::finish() {
  if (failed_) return fail(error_);
  if (need_ != 0) return fail_line("not valid UTF-8 (truncated sequence at the end of the file)");
  if (id_bytes_ > 0) ++ids_;
  id_bytes_ = pending_ws_ = 0;
  if (ids_ == 0) {
    failed_ = true;
    error_ = Error(Errc::kBadContent, "empty file: no alias or registration_id in it");
    return fail(error_);
  }
  return ok();
}

}  // namespace up::dialects::jpush
