// libFuzzer target for the kintone dialect's parsers of untrusted input
// (src/dialects/kintone): the record query subset, `qs` query strings and
// upload file names (UTF-8 or GBK).
//
// Checks:
//   - parse_query never accepts a limit over 500 or an offset over 10,000,
//     and what it accepts re-parses to the same spec when printed back in the
//     canonical form;
//   - parse_query_string yields only strings and arrays of strings;
//   - decode_file_name returns valid UTF-8 that is an acceptable file name.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "core/text.h"
#include "dialects/kintone/file_name.h"
#include "dialects/kintone/params.h"
#include "dialects/kintone/query.h"
#include "fuzz_check.h"

namespace {

using up::dialects::kintone::RecordQuerySpec;

std::string canonical(const RecordQuerySpec& q) {
  std::string s =
      "$id > " + std::to_string(q.after_id) + " order by $id " + (q.descending ? "desc" : "asc");
  if (q.limit) s += " limit " + std::to_string(*q.limit);
  s += " offset " + std::to_string(q.offset);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto q = up::dialects::kintone::parse_query(in)) {
    FUZZ_CHECK(!q->limit || *q->limit <= up::dialects::kintone::kMaxReadRecords,
               "limit over 500 accepted");
    FUZZ_CHECK(q->offset <= up::dialects::kintone::kMaxOffset, "offset over 10000 accepted");
    auto again = up::dialects::kintone::parse_query(canonical(*q));
    FUZZ_CHECK(again.has_value(), "canonical form refused");
    FUZZ_CHECK(again->after_id == q->after_id && again->descending == q->descending &&
                   again->limit == q->limit && again->offset == q->offset,
               "canonical form parses differently");
  }

  if (auto p = up::dialects::kintone::parse_query_string(in)) {
    for (const auto& [name, value] : *p) {
      FUZZ_CHECK(value.is_string() || value.is_array(), "a parameter neither string nor array");
      if (value.is_array())
        for (const auto& item : value.as_array())
          FUZZ_CHECK(item.is_string(), "an array item not a string");
    }
  }

  if (auto name = up::dialects::kintone::decode_file_name(in)) {
    FUZZ_CHECK(up::valid_utf8(*name), "decoded name not UTF-8");
    FUZZ_CHECK(up::acceptable_file_name(*name), "decoded name not acceptable");
  }
  return 0;
}
