#pragma once
// The subset of kintone's record query language that @kintone/rest-api-client
// and @kintone/cli send (spec/kintone.md §4.4):
//   [$id > N | $id >= N] [order by $id [asc|desc]] [limit L] [offset O]
// Keywords are case-insensitive; N may be quoted ("5"). Without "order by",
// kintone sorts by $id descending, and so does this. Anything else is refused
// (kInvalidArgument naming what), never guessed at. No Beast, no I/O.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/result.h"

namespace up::dialects::kintone {

struct RecordQuerySpec {
  uint64_t after_id = 0;  // only records with $id strictly greater
  bool descending = true;
  std::optional<uint64_t> limit;
  uint64_t offset = 0;
};

inline constexpr uint64_t kMaxReadRecords = 500;
inline constexpr uint64_t kMaxOffset = 10'000;  // kintone's own cap on offset

// kInvalidArgument for what the subset does not cover, a limit over 500 or an
// offset over 10,000.
Result<RecordQuerySpec> parse_query(std::string_view query);

}  // namespace up::dialects::kintone
