#pragma once
// `upgate migrate-meta --from sqlite:<path> --to postgresql://...`: copies the
// metadata of a single-machine upgate into PostgreSQL, for users who move to
// several processes (issue 14). Blobs and master.key stay where they are.

#include <string>

#include "core/result.h"

namespace up::cli {

// Brings both schemas to this binary's version, then, in one transaction on
// the target, refuses a target with any row, copies every table of the
// source, and compares each table's row count and checksum (an
// order-independent sum of SHA-256 of its rows' canonical text) read back
// from the target with the source's. Commits only when all match, so a failed
// run leaves the target empty and can simply be run again. Prints one JSON
// line per table and one summary line. The source should not be written to
// meanwhile: it is read in one snapshot, so later writes would not be copied.
Status migrate_meta(const std::string& from, const std::string& to);

}  // namespace up::cli
