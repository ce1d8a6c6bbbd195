#pragma once
// `upgate kintone ...`: the kintone dialect's users, guest spaces and API
// tokens (settings.h says where each is kept). Each command prints JSON.

#include "core/services.h"

namespace CLI {
class App;
}

namespace up::dialects::kintone {

// Adds `kintone users set|delete`, `kintone spaces set` and `kintone tokens create`.
void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run);

}  // namespace up::dialects::kintone
