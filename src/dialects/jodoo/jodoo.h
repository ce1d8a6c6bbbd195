#pragma once
// The Jodoo dialect (spec/jodoo.md): the Jodoo REST file and data APIs under
// /api/v5/app/entry/, and the Qiniu-style form upload (POST /) that Jodoo's
// upload tokens point at. An upgate tenant is a Jodoo company, an upgate app
// with dialect "jodoo" is a Jodoo app (its id is the app_id), and the app's
// settings name its entries (forms) and their fields (settings.h).

#include <chrono>
#include <string>
#include <vector>

#include "core/admin_command.h"
#include "core/result.h"
#include "http/handler.h"

namespace up::core {
struct Services;
}

namespace up::dialects::jodoo {

struct Options {
  // "host:port" targets upload callbacks may reach; empty refuses them all.
  std::vector<std::string> callback_allow;
  std::chrono::milliseconds callback_timeout{5000};
  // The `url` handed out with each token; Services::public_url when empty.
  std::string upload_url;
};

http::HandlerPtr make_handler(core::Services& services, Options options);

// A tenant's current AccessKey and SecretKey: what the receiver of upload
// callbacks needs to check their `QBox` signature (e.g. with a Qiniu SDK's
// isQiniuCallback). Blocking.
struct Credentials {
  std::string access_key;
  std::string secret_key;
};
Result<Credentials> credentials(core::Services& services, std::string_view tenant_id);

// `upgate jodoo credentials --tenant T`: the tenant's Qiniu AccessKey/SecretKey.
void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run);

}  // namespace up::dialects::jodoo
