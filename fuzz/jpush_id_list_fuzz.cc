// libFuzzer target for the JPush id-list validator
// (src/dialects/jpush/id_list.h), checked against a slow reference written from
// the rules in that header, on the whole file at once:
//   - fed in chunks split where the input's own bytes say, the verdict, the
//     error message and the id count equal those of one feed of the whole file;
//   - a file that is not strict UTF-8 is refused;
//   - otherwise, after an initial byte-order mark is dropped, the file is split
//     at '\n'; each line trimmed of spaces, tabs and CRs at both ends is an id
//     if not empty; an id of over 40 bytes or with a C0/C1 control or DEL (other
//     than interior spaces, tabs and CRs) refuses the file, reported on that
//     line; a file with no id is refused; else the id count matches.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "dialects/jpush/id_list.h"
#include "fuzz_check.h"

namespace {

using up::dialects::jpush::IdListValidator;

struct Verdict {
  bool ok = false;
  std::string message;
  uint64_t ids = 0;
};

Verdict run(std::string_view data, const std::vector<size_t>& cuts) {
  IdListValidator v;
  Verdict out;
  size_t at = 0;
  for (size_t cut : cuts) {
    if (auto st = v.feed(data.substr(at, cut - at)); !st) {
      out.message = st.error().message;
      return out;
    }
    at = cut;
  }
  if (auto st = v.feed(data.substr(at)); !st) {
    out.message = st.error().message;
    return out;
  }
  if (auto st = v.finish(); !st) {
    out.message = st.error().message;
    return out;
  }
  out.ok = true;
  out.ids = v.ids();
  return out;
}

// Decodes one code point of valid UTF-8 at s[i]; advances i.
uint32_t next_code_point(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  int len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  uint32_t cp = len == 1 ? lead : lead & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The verdict of the rules above; for a refused file, `line` is the 1-based
// line at fault (0 for "not UTF-8" and "no id").
struct Reference {
  bool ok = false;
  uint64_t line = 0;
  uint64_t ids = 0;
};

Reference reference(std::string_view data) {
  Reference r;
  if (!up::valid_utf8(data)) return r;
  if (data.starts_with("\xEF\xBB\xBF")) data.remove_prefix(3);
  uint64_t line_no = 0;
  while (true) {
    ++line_no;
    const size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    while (!line.empty() && blank(line.front())) line.remove_prefix(1);
    while (!line.empty() && blank(line.back())) line.remove_suffix(1);
    if (line.size() > IdListValidator::kMaxIdBytes) {
      r.line = line_no;
      return r;
    }
    for (size_t i = 0; i < line.size();) {
      const uint32_t cp = next_code_point(line, i);
      if (!(cp < 0x80 && blank(static_cast<char>(cp))) &&
          (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))) {
        r.line = line_no;
        return r;
      }
    }
    if (!line.empty()) ++r.ids;
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  r.ok = r.ids > 0;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const Verdict whole = run(data, {});

  // Cut points from the data itself: every byte below 16 ends a chunk there.
  std::vector<size_t> cuts;
  for (size_t i = 0; i < size; ++i)
    if (bytes[i] < 16) cuts.push_back(i + (bytes[i] & 1));
  const Verdict split = run(data, cuts);
  FUZZ_CHECK(split.ok == whole.ok && split.message == whole.message && split.ids == whole.ids,
             "the verdict depends on how the file was split");

  const Reference ref = reference(data);
  FUZZ_CHECK(whole.ok == ref.ok, "accepted/refused differs from the reference");
  if (ref.ok) FUZZ_CHECK(whole.ids == ref.ids, "id count differs from the reference");
  if (!ref.ok && ref.line > 0)
    FUZZ_CHECK(whole.message.starts_with("line " + std::to_string(ref.line) + ":"),
               "the error names another line than the reference");
  return 0;
}
