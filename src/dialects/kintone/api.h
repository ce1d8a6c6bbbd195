#pragma once
// The JSON endpoints of the kintone REST API (everything but file.json), as
// blocking calls over the core's records: record, records, records/cursor,
// bulkRequest, app, app/form/fields, app/form/layout (spec/kintone.md §4.1).
//
// Mapping: a kintone app is an upgate app with dialect "kintone"; a record is
// a core::Record with form_id "" whose seq is $id and revision $revision;
// data_json maps field codes to kintone values. FILE values are stored as
//   [{"fileKey": "<object id>", "name", "contentType", "size": "<n>"}]
// so reads need no object lookups. Writes take [{"fileKey": "<upload key>"}]:
// the key of a temporary object (UploadSpec::key), attached by the write; on
// update a file already on the record may be kept by its record fileKey.
// Upload keys and record fileKeys (object ids) never resolve as each other.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/types.h"
#include "dialects/kintone/auth.h"
#include "dialects/kintone/errors.h"
#include "dialects/kintone/query.h"

namespace up::core {
struct Services;
}

namespace up::dialects::kintone {

inline constexpr size_t kMaxWriteRecords = 100;
inline constexpr size_t kMaxBulkRequests = 20;
inline constexpr size_t kMaxCursors = 10;             // per tenant, as kintone
inline constexpr UnixMs kCursorLifetimeMs = 600'000;  // 10 minutes

// Thread-safe; calls block. Cursors live in the metadata store (core::CursorService),
// so every process sharing it serves them.
class Api {
 public:
  Api(core::Services& services, Authenticator& auth);

  // `endpoint` is the path between "/v1/" and ".json" ("records/cursor").
  // CB_NO01 (kRouteNotFound) for endpoints not served here.
  KResult<boost::json::value> call(const Caller& caller, std::string_view method,
                                   std::string_view endpoint, const boost::json::object& params);

  // The object of a record fileKey the caller may read (it is attached to a
  // record of an app the caller may view). GAIA_BL01 otherwise.
  KResult<Object> downloadable(const Caller& caller, std::string_view file_key);
  // downloadable()'s answer from the caches alone (the object and its app read
  // within their bounds: core/files.h, core/directory.h), else empty. Never
  // blocks: an I/O thread may call it and go to the blocking pool only on a miss.
  // The object as the cache holds it (no copy).
  std::optional<KResult<std::shared_ptr<const Object>>> downloadable_cached(
      const Caller& caller, std::string_view file_key);

 private:
  KResult<boost::json::value> get_record(const Caller& c, const boost::json::object& p);
  // POST record.json and records.json: validated and built first, then one
  // all-or-nothing insert (a bulkRequest of additions shares that insert).
  KResult<std::vector<Record>> build_additions(const Caller& c, std::string_view endpoint,
                                               const boost::json::object& p);
  KResult<boost::json::value> add(const Caller& c, std::string_view endpoint,
                                  const boost::json::object& p);
  KResult<std::string> find_by_update_key(const Caller& c, const AppAccess& app,
                                          const boost::json::value& key, const std::string& path);
  KResult<boost::json::value> update_record(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> get_records(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> update_records(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> delete_records(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> create_cursor(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> read_cursor(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> delete_cursor(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> bulk(const Caller& c, const boost::json::object& p);
  // The app the parameter `name` names, opened to read its settings (any permission).
  KResult<AppAccess> app_settings(const Caller& c, const boost::json::object& p, const char* name);
  KResult<boost::json::value> app_info(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> form_fields(const Caller& c, const boost::json::object& p);
  KResult<boost::json::value> form_layout(const Caller& c, const boost::json::object& p);

  core::Services& s_;
  Authenticator& auth_;
};

}  // namespace up::dialects::kintone
