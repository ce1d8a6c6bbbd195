#pragma once
// A kintone record write (record.json, records.json, bulkRequest) as it is
// built: field values checked against the app's schema, FILE values' upload
// keys resolved to objects of the app (see api.h for the mapping).

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/types.h"
#include "dialects/kintone/auth.h"
#include "dialects/kintone/errors.h"
#include "dialects/kintone/settings.h"

namespace up::core {
struct Services;
}

namespace up::dialects::kintone {

// A refusal of one field: kInvalidArgument under the field's `errors` key.
tl::unexpected<Failure> invalid(std::string field, std::string message);
// A record's data_json as an object ({} if it is not one).
boost::json::object data_of(const Record& r);

// One record write being built: its fields resolved against the app schema,
// upload keys resolved to objects.
class RecordWriter {
 public:
  RecordWriter(core::Services& s, const Caller& caller, const AppAccess& app,
               const Record* existing)
      : s_(s), caller_(caller), app_(app), existing_(existing) {
    if (existing_) data_ = data_of(*existing_);
  }

  // `path` is "record" or "records[3].record": the prefix of `errors` keys.
  KResult<void> apply(const boost::json::value* record, const std::string& path, bool adding);

  std::string data_json() const;

  // Every object the record references after this write.
  std::vector<std::string> file_ids() const;

 private:
  KResult<boost::json::value> field_value(const FieldDef& def, const boost::json::value& v,
                                          const std::string& key);

  KResult<boost::json::value> files(const boost::json::value& v, const std::string& key);

  static boost::json::object entry_of(const Object& o);

  // An upload key (the key of a temporary of this app, or of the caller's
  // upload app, copied in), or on update the record fileKey of a file the
  // record already has.
  KResult<boost::json::object> resolve(const std::string& file_key, const std::string& field);

  std::optional<boost::json::object> kept_entry(const std::string& id) const;

  // A password user's upload lands in the tenant's default app (file.json names
  // no app); the record's app gets its own copy, and the staged one goes.
  Result<Object> copy_into_app(const Object& staged);

  core::Services& s_;
  const Caller& caller_;
  const AppAccess& app_;
  const Record* existing_;
  boost::json::object data_;
};

}  // namespace up::dialects::kintone
