#pragma once
// `upgate openim ...`: what an OpenIM app needs to sign its own S3 POST policies.

#include "core/services.h"

namespace CLI {
class App;
}

namespace up::dialects::openim {

// Adds `openim credentials --tenant T --app A`: the app's S3 form credentials.
void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run);

}  // namespace up::dialects::openim
