#pragma once
// The query and command types of the core use cases (listing objects and
// records, writing records, inserting objects). Dialects build these; core
// hands them to the MetaStore. No store header is needed to use them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace up::core {

struct ObjectQuery {
  std::string tenant_id;
  std::string app_id;                // empty: all apps of the tenant
  std::optional<ObjectState> state;  // unset: every state but kDeleted
  std::string after_id;              // cursor: ids strictly greater than this
  uint32_t limit = 100;
  std::optional<UnixMs> live_at;  // when set, hide objects with expires_at <= live_at
};

struct ObjectPage {
  std::vector<Object> objects;  // ascending by id
  bool more = false;            // another page exists after the last id
};

// How a record write binds files (the rule is core/records.cc, bind_files).
// Every object id in a written record's file_ids must name a live object of
// the record's tenant and app that is
//  - kTemporary, unexpired at `now`, and of transaction `transaction_id` when
//    it has one: it becomes kAttached with no expiry; or
//  - already bound to this same record (an update keeping it).
// Else kObjectNotFound / kTransactionMismatch / kObjectNotTemporary, and the
// write changes nothing. Objects an update or a delete leaves unreferenced are
// marked kDeleted (the sweeper removes them).
struct BindOptions {
  std::string transaction_id;
  UnixMs now = 0;
};

struct RecordUpdate {
  std::string id;
  std::optional<uint64_t> expected_revision;  // kRevisionConflict if it differs
  std::string data_json;                      // replaces the record's
  std::vector<std::string> file_ids;          // replaces the record's
  std::string updater;
};

struct RecordQuery {
  std::string tenant_id;
  std::string app_id;
  std::string form_id;
  uint64_t after_seq = 0;   // only records with seq strictly greater
  bool descending = false;  // by seq
  uint32_t limit = 100;
  uint64_t offset = 0;
  bool with_total = false;  // count every record after_seq selects, ignoring limit/offset
};

struct RecordPage {
  std::vector<Record> records;
  std::optional<uint64_t> total;  // when with_total
};

// The rules an object insert must pass (core/upload_rules.h); all checks and
// the insert are one store transaction, so two racing uploads can never both
// succeed.
struct InsertOptions {
  // When set, recorded as used; kGrantUsed if it already was (single-use grants).
  std::string grant_id;
  UnixMs grant_expires_at = 0;  // after this the record of its use may be dropped
  // When set, the API key that authorized the upload must still exist and be
  // enabled as the insert commits, else kKeyDisabled: revoking a key stops its
  // uploads in flight too.
  std::string key_id;
  // Limits checked against the usage of the object's app and of its tenant,
  // including the new object. Unset: unchecked. kQuotaExceeded / kObjectLimit.
  std::optional<uint64_t> app_max_bytes, app_max_objects;
  std::optional<uint64_t> tenant_max_bytes, tenant_max_objects;
  // Objects of the tenant already expired at `now` do not count: when a limit
  // would refuse the insert, they are marked kDeleted first (as the sweeper
  // would) and the limits checked again. 0: no such step.
  UnixMs now = 0;
};

// One insert of a batch (core::insert_objects) and its result.
struct ObjectInsert {
  const Object* object = nullptr;
  const InsertOptions* opts = nullptr;
  Status result = ok();
};

}  // namespace up::core
