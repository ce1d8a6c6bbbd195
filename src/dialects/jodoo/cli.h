#pragma once
// `upgate jodoo ...`: what the receiver of Jodoo upload callbacks needs.

#include "core/services.h"

namespace CLI {
class App;
}

namespace up::dialects::jodoo {

// Adds `jodoo credentials --tenant T`: the tenant's Qiniu AccessKey/SecretKey.
void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run);

}  // namespace up::dialects::jodoo
