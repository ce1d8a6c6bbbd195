#pragma once
// What the SQLite and PostgreSQL schemas share: an ordered, append-only list
// of steps (each store's DDL in its own dialect: sqlite/migrations.cc,
// postgres/pg_migrations.cc), and the walk over the steps a database has not
// recorded yet. A step that has shipped never changes; a schema change is a
// new step with the next version.

#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace up::meta {

struct Migration {
  int version;           // 1, 2, 3, ... in order, no gaps
  std::string_view sql;  // one or more statements
};

// Applies, in order, each step of `steps` newer than `current` (the version
// the database records) with apply(step), stopping at the first failure.
// kMetaIo before applying anything if `current` is newer than the last step.
// REQUIRES: `steps` ascending.
template <class Apply>
Status apply_newer_steps(int current, std::span<const Migration> steps, const Apply& apply) {
  const int known = steps.empty() ? 0 : steps.back().version;
  if (current > known) {
    // Written by a newer upgate: running an old binary on a newer schema could
    // corrupt data it does not understand.
    return fail(Errc::kMetaIo, "metadata schema version " + std::to_string(current) +
                                   " is newer than this upgate supports (" + std::to_string(known) +
                                   "); upgrade upgate");
  }
  for (const Migration& m : steps) {
    if (m.version <= current) continue;
    UP_TRY(apply(m));
  }
  return ok();
}

}  // namespace up::meta
