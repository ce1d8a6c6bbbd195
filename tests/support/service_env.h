#pragma once
// The real engines the tests run against (PostgreSQL, Ceph RGW) are started by
// the shared services scripts beside the source tree (UP_SERVICES_DIR, set by
// CMake: ../shared/services). Each `up` script prints `export NAME=value`
// lines; this is the one place that runs a script and reads those lines.

#include <string>

#include "core/result.h"

namespace up::testing::services {

// Runs `<env> bash <UP_SERVICES_DIR>/<script>` (`env`: "NAME=value " words for
// the script, e.g. "PG_PORT=5433 PG_DIR=/tmp/x "; it also inherits this
// process's environment) and returns what it printed on stdout.
// kUnavailable, naming the script's path, when it is missing or exits non-zero:
// the tests that need it then fail, never skip.
Result<std::string> run(const std::string& script, const std::string& env = {});

// The value of NAME in `export NAME=value` lines ("" when absent).
std::string exported(const std::string& out, const std::string& name);

}  // namespace up::testing::services
