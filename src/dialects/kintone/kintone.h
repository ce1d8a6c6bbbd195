#pragma once
// The kintone REST API (/k/v1/..., /k/guest/{space}/v1/...), spec/kintone.md.
// An upgate app with dialect "kintone" is a kintone app; see api.h for the
// record mapping, auth.h for credentials and settings.h for the settings.

#include "core/admin_command.h"
#include "dialects/kintone/auth.h"
#include "http/handler.h"

namespace up::core {
struct Services;
}

namespace up::dialects::kintone {

http::HandlerPtr make_handler(core::Services& services, Options options);

// `upgate kintone users set|delete`, `spaces set`, `tokens create` (cli.cc).
void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run);

}  // namespace up::dialects::kintone
