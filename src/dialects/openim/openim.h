#pragma once
// The OpenIM dialect (spec/openim.md): OpenIM's /auth and /object API under
// /openim/<tenant>/<app> (the API address an OpenIM client is given), and the
// S3-compatible POST-policy form endpoint <s3_prefix>/<bucket> that its
// initiate_form_data answers point at. An upgate app with dialect "openim" is
// one OpenIM instance.

#include <string>

#include "core/admin_command.h"
#include "http/handler.h"

namespace up::core {
struct Services;
}

namespace up::dialects::openim {

struct Options {
  std::string s3_prefix = "/s3";  // the form endpoint's path prefix, below "/"
};

http::HandlerPtr make_handler(core::Services& services, Options options);

// The app's S3 form credentials, for apps that sign their own POST policies
// (printed by `upgate openim credentials`). The secret is derived, never stored.
struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;
  std::string bucket;
};
S3Credentials s3_credentials(const core::Services& services, std::string_view tenant_id,
                             std::string_view app_id, std::string_view settings_json);

// `upgate openim credentials --tenant T --app A`: the app's S3 form credentials.
void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run);

}  // namespace up::dialects::openim
