#pragma once
// Admin commands a dialect adds to the `upgate` command line (in its cli.cc,
// declared in its main header as `add_admin_commands(app, run)`).

#include <functional>
#include <string>

#include "core/result.h"

namespace CLI {
class App;
}

namespace up::core {

struct Services;

// Acts on the services; returns what to print on stdout (a JSON line).
using AdminCommand = std::function<Result<std::string>(Services&)>;
// Given by the composition root: opens the services on the data directory,
// runs one command, prints its output or logs its error, and sets the exit code.
using RunAdminCommand = std::function<void(const AdminCommand&)>;

}  // namespace up::core
