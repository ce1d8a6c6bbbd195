#pragma once
// What a records/cursor keeps besides its position (the read it continues), as
// the text core::Cursor::state carries through the metadata store: a cursor
// made through one upgate process is read through another. No I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dialects/kintone/query.h"

namespace up::dialects::kintone {

struct CursorRead {
  std::vector<std::string> fields;  // empty: every field
  RecordQuerySpec query;
  uint64_t size = 100;  // records per read
  uint64_t total = 0;   // records the cursor serves in all
};

std::string cursor_state(const CursorRead& r);
// kInternal if `state` was not written by cursor_state.
Result<CursorRead> parse_cursor_state(std::string_view state);

}  // namespace up::dialects::kintone
