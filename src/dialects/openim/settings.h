#pragma once
// Per-app OpenIM settings, read from App::settings_json (opaque to the core):
//   {"admin_user_ids": ["imAdmin"], "bucket": "openim", "region": "us-east-1",
//    "token_expire_days": 90, "access_url_expire_seconds": 43200,
//    "form_data_direct": false}
// Absent or malformed members keep these defaults (OpenIM's own), so a bad
// setting never takes an app down.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace up::dialects::openim {

struct Settings {
  std::vector<std::string> admin_user_ids = {"imAdmin"};
  std::string bucket = "openim";
  std::string region = "us-east-1";
  int64_t token_expire_days = 90;
  int64_t access_url_expire_seconds = 12 * 3600;
  // initiate_form_data hands out the blob store's own presigned POST, so the
  // bytes go to the object store, not through upgate (as OpenIM over MinIO).
  // On a store without direct uploads (local disk) the form stays upgate's.
  bool form_data_direct = false;

  bool is_admin(std::string_view user_id) const;
};

Settings parse_settings(std::string_view settings_json);

}  // namespace up::dialects::openim
