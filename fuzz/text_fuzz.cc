// libFuzzer target for up::valid_utf8, up::acceptable_file_name,
// up::to_valid_utf8 and up::valid_media_type (src/core/text.h), checked against a slow reference
// written independently from the Unicode Standard's table of well-formed byte sequences (Table
// 3-7), not from the decoder in text.cc.
//
// Checks:
//   - valid_utf8 agrees with the reference on the input, on the input less its
//     first or last byte (cut sequences), and on code points encoded from the
//     input: shortest forms of scalar values are valid; surrogates, values
//     above U+10FFFF and overlong forms are not;
//   - a valid input decodes (by the reference) and re-encodes to itself;
//   - acceptable_file_name agrees with its definition: valid UTF-8, 1..1024
//     bytes, no C0 control, no DEL, no C1 control (U+0080-U+009F) and no ".."
//     segment between '/' or '\\';
//   - to_valid_utf8 gives valid UTF-8, leaves valid input unchanged, is
//     idempotent, and turns each invalid byte into one U+FFFD (so the output's
//     length is the input's plus 2 per replaced byte);
//   - valid_media_type agrees with a regular expression written from the RFC
//     9110 grammar (type "/" subtype *( OWS ";" OWS [ token "=" ( token /
//     quoted-string ) ] ), obs-text excluded) plus the length cap and no
//     trailing white space; an accepted type never holds CR, LF, NUL or 8-bit
//     bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "fuzz_check.h"

namespace {

// Table 3-7: lead byte range -> allowed range of the second byte, total length.
struct Row {
  unsigned char lead_lo, lead_hi, second_lo, second_hi;
  int length;
};
constexpr Row kRows[] = {
    {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
    {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
    {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
};

// The code points of s, or nullopt if s is not well-formed UTF-8.
std::optional<std::vector<uint32_t>> reference_decode(std::string_view s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const Row* row = nullptr;
    for (const Row& r : kRows)
      if (lead >= r.lead_lo && lead <= r.lead_hi) row = &r;
    if (row == nullptr) return std::nullopt;
    if (s.size() - i < static_cast<size_t>(row->length)) return std::nullopt;
    uint32_t cp = row->length == 1 ? lead : lead & (0xFF >> (row->length + 1));
    for (int k = 1; k < row->length; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      const unsigned char lo = k == 1 ? row->second_lo : 0x80;
      const unsigned char hi = k == 1 ? row->second_hi : 0xBF;
      if (b < lo || b > hi) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    out.push_back(cp);
    i += row->length;
  }
  return out;
}

// Encodes cp (< 2^21) in `length` bytes, overlong if length is more than needed.
void encode(uint32_t cp, int length, std::string& out) {
  if (length == 1) {
    out += static_cast<char>(cp);
    return;
  }
  static constexpr unsigned char kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  out += static_cast<char>(kLead[length] | (cp >> (6 * (length - 1))));
  for (int k = length - 2; k >= 0; --k) out += static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3F));
}

int shortest_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

void check_valid_utf8(std::string_view s) {
  const auto ref = reference_decode(s);
  FUZZ_CHECK(up::valid_utf8(s) == ref.has_value(), "valid_utf8 disagrees with the reference");
  if (ref) {
    std::string again;
    for (uint32_t cp : *ref) encode(cp, shortest_length(cp), again);
    FUZZ_CHECK(again == s, "valid UTF-8 does not re-encode to itself");
  }
}

void check_file_name(std::string_view s) {
  bool want = !s.empty() && s.size() <= 1024 && reference_decode(s).has_value();
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) want = false;
  if (const auto cps = reference_decode(s))
    for (uint32_t cp : *cps)
      if (cp >= 0x80 && cp <= 0x9F) want = false;
  std::string_view rest = s;
  for (;;) {
    const size_t sep = rest.find_first_of("/\\");
    if (rest.substr(0, sep) == "..") want = false;
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 1);
  }
  FUZZ_CHECK(up::acceptable_file_name(s) == want,
             "acceptable_file_name disagrees with its definition");
}

// Code points from the input, 4 bytes each: the low 21 bits are the value, the
// top bits choose an encoding length (shortest, or 1..3 bytes longer when
// possible: overlong).
void check_encoded(const uint8_t* data, size_t size) {
  std::string text;
  bool valid = true;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint32_t word = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) |
                          (static_cast<uint32_t>(data[i + 3]) << 24);
    // Bias toward the interesting edges: small values and the surrogate block.
    uint32_t cp = word & 0x1FFFFF;
    if ((word >> 30) == 1) cp &= 0xFFFF;
    if ((word >> 30) == 2) cp = 0xD700 + (cp & 0x1FFF);
    const int shortest = shortest_length(cp);
    int length = shortest + static_cast<int>((word >> 22) & 3);
    if (length > 4) length = shortest;
    encode(cp, length, text);
    if (length != shortest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) valid = false;
  }
  FUZZ_CHECK(up::valid_utf8(text) == valid, "valid_utf8 wrong on encoded code points");
  check_valid_utf8(text);
}

void check_to_valid_utf8(std::string_view s) {
  const std::string out = up::to_valid_utf8(s);
  FUZZ_CHECK(reference_decode(out).has_value(), "to_valid_utf8 gave invalid UTF-8");
  if (reference_decode(s)) FUZZ_CHECK(out == s, "to_valid_utf8 changed valid input");
  FUZZ_CHECK(up::to_valid_utf8(out) == out, "to_valid_utf8 is not idempotent");
  FUZZ_CHECK(out.size() >= s.size() && (out.size() - s.size()) % 2 == 0,
             "to_valid_utf8 output length is not input + 2 per replacement");
}

void check_media_type(std::string_view s) {
  // The grammar's *( OWS ";" OWS [ parameter ] ) is written *( OWS ";" [ OWS parameter ] ): the
  // same strings once trailing white space is excluded, but with one way to split the white space
  // between ';'s, so std::regex's backtracking stays polynomial ("a/b ; ; ; ... \x01" took
  // minutes).
  static const std::regex kMediaType(
      "[-!#$%&'*+.^_`|~0-9A-Za-z]+/[-!#$%&'*+.^_`|~0-9A-Za-z]+"
      "([ \t]*;([ \t]*[-!#$%&'*+.^_`|~0-9A-Za-z]+=([-!#$%&'*+.^_`|~0-9A-Za-z]+|"
      "\"([\t !#-\\[\\]-~]|\\\\[\t -~])*\"))?)*");
  const bool want = !s.empty() && s.size() <= up::kMaxMediaTypeBytes && s.back() != ' ' &&
                    s.back() != '\t' && std::regex_match(s.begin(), s.end(), kMediaType);
  const bool got = up::valid_media_type(s);
  FUZZ_CHECK(got == want, "valid_media_type disagrees with the RFC 9110 grammar");
  if (got)
    for (unsigned char c : s)
      FUZZ_CHECK(c == '\t' || (c >= 0x20 && c < 0x7f),
                 "an accepted media type has a control or "
                 "8-bit byte");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  check_valid_utf8(s);
  if (size > 0) {
    check_valid_utf8(s.substr(1));
    check_valid_utf8(s.substr(0, size - 1));
  }
  check_file_name(s);
  check_encoded(data, size);
  check_to_valid_utf8(s);
  if (size <= up::kMaxMediaTypeBytes + 1) check_media_type(s);
  return 0;
}
